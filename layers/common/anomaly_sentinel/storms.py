"""Storms stay small: one retraining per episode of drift, one alert per endpoint and hour.

Drift persists until a retrained model is in service, so every monitoring window, every
per-feature alarm and every Model Monitor run keeps saying "retrain" — often several at once.
Starting an execution for each would end in the state machine's lock and a "retraining already
running" report each time: twenty signals, twenty executions, forty alerts. Instead:

* an **episode** (:class:`Episodes`) is keyed by the endpoint retraining acts on, whatever the
  signal's source. The first signal that would retrain claims it with a conditional write and
  starts the one retraining; every later signal is folded into it while that retraining runs and
  for a cool-down after it ended (its stop time, from Step Functions). Then the episode is closed,
  and the next signal opens a new one;
* a retraining started some other way (its lock held, :func:`retraining_holder`) folds signals too;
* a **digest** per endpoint and hour (:func:`claim_digest`): the signal that opens an episode, or
  the first one folded in an hour, alerts; the others are counted on the digest item.

All items live in the idempotency table, next to the lock the state machine writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from botocore.exceptions import ClientError

from anomaly_sentinel.contracts.messages import RetrainLock

DIGEST_PREFIX: Final = "alert-digest#"
EPISODE_PREFIX: Final = "retrain-episode#"
#: How long an episode item outlives its cool-down (longer than any retraining runs).
EPISODE_RETENTION_SECONDS: Final = 7 * 86_400


def retraining_holder(dynamodb: Any, table: str, endpoint: str, now: int) -> str | None:
    """The execution holding the endpoint's retraining lock, or None when it is free or expired."""
    item = dynamodb.get_item(
        TableName=table, Key={"id": {"S": RetrainLock.item_id(endpoint)}}, ConsistentRead=True
    ).get("Item")
    return RetrainLock.current_holder(item, now)


def window_key(moment: datetime, hours: int = 1) -> str:
    """The window a signal falls in: UTC hours aligned to midnight, ``hours`` long."""
    start = moment.replace(hour=moment.hour // hours * hours, minute=0, second=0, microsecond=0)
    return f"{start:%Y-%m-%dT%H}"


def claim_digest(dynamodb: Any, table: str, endpoint: str, window: str, expiration: int) -> int:
    """Count one folded signal of the window; returns how many there are now (1: the first, alert)."""
    key = {"id": {"S": f"{DIGEST_PREFIX}{endpoint}#{window}"}}
    try:
        dynamodb.put_item(
            TableName=table,
            Item={**key, "signals": {"N": "1"}, "expiration": {"N": str(expiration)}},
            ConditionExpression="attribute_not_exists(id)",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        updated = dynamodb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="ADD signals :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(updated["Attributes"]["signals"]["N"])
    return 1


@dataclass(frozen=True)
class Episode:
    """The drift episode of an endpoint: the one retraining it started, when, and its signals."""

    execution: str
    started: int
    signals: int = 1


@dataclass(frozen=True)
class Admission:
    """What one retrain-worthy signal may do: start the episode's retraining, or be folded into it."""

    start: bool
    #: The execution to start, or the one this signal is folded into.
    execution: str
    #: Why, in words (alerted and logged).
    reason: str
    #: Signals of the episode so far (0 when folded into a retraining outside any episode).
    signals: int = 1
    #: What ends the folding ("the retraining ends", "the cool-down ends at ...").
    until: str = "the retraining ends"


class Episodes:
    """One retraining per episode of drift (see the module doc); built per responder."""

    def __init__(
        self, dynamodb: Any, sfn: Any, table: str, state_machine_arn: str, cooldown_seconds: int
    ) -> None:
        self.dynamodb, self.sfn = dynamodb, sfn
        self.table, self.state_machine_arn = table, state_machine_arn
        self.cooldown = cooldown_seconds

    def admit(self, endpoint: str, candidate: str, now: datetime) -> Admission:
        """Whether the signal whose execution would be ``candidate`` starts it or is folded."""
        at = int(now.timestamp())
        episode = self.read(endpoint)
        if episode is not None and episode.execution == candidate:  # this very signal, redelivered
            return Admission(True, candidate, "this signal opened the episode", episode.signals)
        if episode is not None:
            folded = self._open_reason(episode, at)
            if folded is not None:
                reason, until = folded
                return Admission(False, episode.execution, reason, self._count(endpoint), until)
        holder = retraining_holder(self.dynamodb, self.table, endpoint, at)
        if holder is not None and holder != candidate:
            return Admission(False, holder, f"retraining {holder} is already running", 0)
        if self._claim(endpoint, candidate, at, replacing=episode.execution if episode else None):
            return Admission(True, candidate, "opens a new episode of drift")
        opened = self.read(endpoint)  # another signal opened it a moment ago
        execution = opened.execution if opened is not None else candidate
        return Admission(
            False,
            execution,
            f"retraining {execution} was started by a signal of the same moment",
            self._count(endpoint),
        )

    def release(self, endpoint: str, execution: str) -> None:
        """Give up an episode whose retraining could not be started (a retry may open it again)."""
        try:
            self.dynamodb.delete_item(
                TableName=self.table,
                Key=self._key(endpoint),
                ConditionExpression="execution = :mine",
                ExpressionAttributeValues={":mine": {"S": execution}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def read(self, endpoint: str) -> Episode | None:
        item = self.dynamodb.get_item(TableName=self.table, Key=self._key(endpoint), ConsistentRead=True).get(
            "Item"
        )
        if not item or "execution" not in item:
            return None
        return Episode(
            execution=str(item["execution"]["S"]),
            started=int(item.get("started", {}).get("N", "0")),
            signals=int(item.get("signals", {}).get("N", "1")),
        )

    def _open_reason(self, episode: Episode, now: int) -> tuple[str, str] | None:
        """Why the episode still folds signals (its retraining runs, or cools down), None once closed."""
        arn = self.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{episode.execution}"
        try:
            described = self.sfn.describe_execution(executionArn=arn)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ExecutionDoesNotExist":
                raise
            described = {"status": "NOT STARTED", "stopDate": datetime.fromtimestamp(episode.started, UTC)}
        status = str(described.get("status", ""))
        if status == "RUNNING":
            return f"retraining {episode.execution} of this episode is running", "the retraining ends"
        stopped = described.get("stopDate")
        ended = int(stopped.timestamp()) if isinstance(stopped, datetime) else episode.started
        cooled = ended + self.cooldown
        if now < cooled:
            until = f"{datetime.fromtimestamp(cooled, UTC):%Y-%m-%dT%H:%M:%SZ}"
            return (
                f"retraining {episode.execution} of this episode ended ({status}) less than "
                f"{self.cooldown // 3600} h ago: cooling down until {until}",
                f"the cool-down ends at {until}",
            )
        return None

    def _claim(self, endpoint: str, execution: str, now: int, replacing: str | None) -> bool:
        condition = "attribute_not_exists(id)"
        values: dict[str, Any] = {}
        if replacing is not None:  # a closed episode: replaced only if nobody replaced it first
            condition += " OR execution = :closed"
            values[":closed"] = {"S": replacing}
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item={
                    **self._key(endpoint),
                    "execution": {"S": execution},
                    "started": {"N": str(now)},
                    "signals": {"N": "1"},
                    "expiration": {"N": str(now + self.cooldown + EPISODE_RETENTION_SECONDS)},
                },
                ConditionExpression=condition,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def _count(self, endpoint: str) -> int:
        """Count one more signal folded into the endpoint's episode; returns the episode's signals."""
        try:
            updated = self.dynamodb.update_item(
                TableName=self.table,
                Key=self._key(endpoint),
                UpdateExpression="ADD signals :one",
                ConditionExpression="attribute_exists(id)",
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:  # the episode expired meanwhile: nothing to count on
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return 0
        return int(updated["Attributes"]["signals"]["N"])

    @staticmethod
    def _key(endpoint: str) -> dict[str, dict[str, str]]:
        return {"id": {"S": f"{EPISODE_PREFIX}{endpoint}"}}
