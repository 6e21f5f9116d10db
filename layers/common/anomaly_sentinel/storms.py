"""Storms stay small: one retraining per endpoint at a time, one alert per endpoint and window.

Drift persists until a retrained model is in service, so while a retraining runs every monitoring
window (and every per-feature alarm) keeps saying "retrain". Starting an execution for each would
end in the state machine's lock and a "retraining already running" report each time: twenty
signals, twenty executions, forty alerts. Instead the responder reads the lock first
(:func:`retraining_holder`): when it is held, nothing is started, and only the first such signal
of an endpoint's window alerts (:func:`claim_digest`); the others are counted on the digest item.
Both items live in the idempotency table, next to the lock the state machine writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from botocore.exceptions import ClientError

from anomaly_sentinel.contracts import LOCK_PREFIX

DIGEST_PREFIX: Final = "alert-digest#"


def retraining_holder(dynamodb: Any, table: str, endpoint: str, now: int) -> str | None:
    """The execution holding the endpoint's retraining lock, or None when it is free or expired."""
    item = dynamodb.get_item(
        TableName=table, Key={"id": {"S": f"{LOCK_PREFIX}{endpoint}"}}, ConsistentRead=True
    ).get("Item")
    if not item or int(item.get("expiration", {}).get("N", "0")) < now:
        return None
    return str(item.get("holder", {}).get("S", "unknown"))


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
