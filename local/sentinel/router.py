"""Event router of the embedded default: the EventBridge rules of template.yaml, applied locally.

Moto's EventBridge delivers rule matches to SQS but not to Lambda, so the router installs one
catch-all rule on the default bus feeding an inbox queue, drains it, and hands each event to every
function whose template pattern matches it (moto's own pattern matcher, patterns read from the
template: nothing is restated here). Failures are retried as Lambda's asynchronous invocation
would, then sent to the function's dead-letter queue with the error, as on AWS.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

from moto.events.models import EventPattern

from sentinel.emulator import LOCAL_ENV, local_client
from sentinel.invoke import LocalFunction
from sentinel.template import RuleSpec, Template

log = logging.getLogger(__name__)

INBOX_RULE = "sentinel-router"
INBOX_QUEUE = "sentinel-router-inbox"


@dataclass
class Delivery:
    rule: str
    target: str
    event_id: str
    detail_type: str
    event: dict[str, Any] = field(default_factory=dict, repr=False)
    result: Any = None
    error: str | None = None
    attempts: int = 1


def aws_shaped(event: dict[str, Any]) -> dict[str, Any]:
    """Make moto's S3 events look like S3's own: URL-encoded keys and ``etag`` spelled as on AWS."""
    if event.get("source") != "aws.s3":
        return event
    shaped = copy.deepcopy(event)
    obj = shaped.get("detail", {}).get("object", {})
    if "key" in obj:
        obj["key"] = quote_plus(obj["key"], safe="/")
    if "eTag" in obj:
        obj["etag"] = obj.pop("eTag")
    return shaped


class Router:
    def __init__(self, template: Template, overrides: dict[str, dict[str, str]] | None = None) -> None:
        self.template = template
        self.rules = template.rules()
        self.overrides = overrides or {}
        self._patterns = {rule.logical_id: EventPattern.load(json.dumps(rule.pattern)) for rule in self.rules}
        self._functions: dict[str, LocalFunction] = {}
        self.deliveries: list[Delivery] = []
        self._inbox_url: str | None = None

    # ------------------------------------------------------------------ matching and delivery
    def matching(self, event: dict[str, Any]) -> list[RuleSpec]:
        return [rule for rule in self.rules if self._patterns[rule.logical_id].matches_event(event)]  # type: ignore[arg-type]

    def function(self, logical_id: str) -> LocalFunction:
        if logical_id not in self._functions:
            spec = self.template.function(logical_id)
            environ = {**LOCAL_ENV, **self.overrides.get(logical_id, {})}
            self._functions[logical_id] = LocalFunction(spec, environ)
        return self._functions[logical_id]

    def deliver(self, event: dict[str, Any]) -> list[Delivery]:
        delivered = []
        for rule in self.matching(event):
            delivery = self._invoke(rule, event)
            self.deliveries.append(delivery)
            delivered.append(delivery)
        return delivered

    def _invoke(self, rule: RuleSpec, event: dict[str, Any]) -> Delivery:
        props = self.template.resource(rule.target).get("Properties", {})
        retries = int(props.get("EventInvokeConfig", {}).get("MaximumRetryAttempts", 2))
        delivery = Delivery(
            rule.logical_id, rule.target, event.get("id", ""), event.get("detail-type", ""), event
        )
        for attempt in range(1, retries + 2):
            delivery.attempts = attempt
            try:
                delivery.result = self.function(rule.target)(event)
                delivery.error = None
                return delivery
            except Exception as exc:  # noqa: BLE001 - the router reports every failure, as Lambda does
                delivery.error = f"{type(exc).__name__}: {exc}"
                log.warning("%s failed (attempt %d): %s", rule.target, attempt, delivery.error)
        self._dead_letter(rule.target, event, delivery.error or "")
        return delivery

    def _dead_letter(self, target: str, event: dict[str, Any], error: str) -> None:
        dlq = self.template.resource(target).get("Properties", {}).get("DeadLetterQueue")
        if not dlq:
            return
        arn = self.template.resolve(dlq["TargetArn"])
        sqs = local_client("sqs")
        url = sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps(event),
            MessageAttributes={"ErrorMessage": {"DataType": "String", "StringValue": error[:1000]}},
        )

    # ------------------------------------------------------------------ the emulator's bus
    def install(self) -> None:
        """A catch-all rule on the default bus → the router's inbox queue."""
        sqs, events = local_client("sqs"), local_client("events")
        self._inbox_url = sqs.create_queue(QueueName=INBOX_QUEUE)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self._inbox_url, AttributeNames=["QueueArn"])
        events.put_rule(Name=INBOX_RULE, EventPattern=json.dumps({"source": [{"prefix": ""}]}))
        events.put_targets(Rule=INBOX_RULE, Targets=[{"Id": "inbox", "Arn": arn["Attributes"]["QueueArn"]}])

    def drain(self, max_rounds: int = 50) -> list[Delivery]:
        """Deliver everything waiting in the inbox, including events the deliveries caused."""
        if self._inbox_url is None:
            raise RuntimeError("Router.install() must run before drain()")
        sqs = local_client("sqs")
        delivered: list[Delivery] = []
        for _ in range(max_rounds):
            messages = sqs.receive_message(QueueUrl=self._inbox_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return delivered
            for message in messages:
                sqs.delete_message(QueueUrl=self._inbox_url, ReceiptHandle=message["ReceiptHandle"])
                delivered.extend(self.deliver(aws_shaped(json.loads(message["Body"]))))
        raise RuntimeError(f"router inbox not empty after {max_rounds} rounds: an event loop?")
