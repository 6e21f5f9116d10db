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
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

from moto.events.models import EventPattern

from sentinel.emulator import LOCAL_ENV, local_client
from sentinel.invoke import FunctionPool, LocalFunction
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
    def __init__(
        self,
        template: Template,
        overrides: dict[str, dict[str, str]] | None = None,
        pool: FunctionPool | None = None,
    ) -> None:
        self.template = template
        self.rules = template.rules()
        self.pool = pool or FunctionPool(template, overrides, base=LOCAL_ENV)
        self._patterns = {rule.logical_id: EventPattern.load(json.dumps(rule.pattern)) for rule in self.rules}
        self.deliveries: list[Delivery] = []
        self._inbox_url: str | None = None

    # ------------------------------------------------------------------ matching and delivery
    def matching(self, event: dict[str, Any]) -> list[RuleSpec]:
        return [rule for rule in self.rules if self._patterns[rule.logical_id].matches_event(event)]  # type: ignore[arg-type]

    def function(self, logical_id: str) -> LocalFunction:
        return self.pool(logical_id)

    def deliver(self, event: dict[str, Any]) -> list[Delivery]:
        delivered = []
        for rule in self.matching(event):
            delivery = self._invoke(rule, event)
            self.deliveries.append(delivery)
            delivered.append(delivery)
        return delivered

    def _invoke(self, rule: RuleSpec, event: dict[str, Any]) -> Delivery:
        if self.template.resource(rule.target).get("Type") == "AWS::Serverless::StateMachine":
            return self._start_execution(rule, event)
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

    def _start_execution(self, rule: RuleSpec, event: dict[str, Any]) -> Delivery:
        """State machine targets: the rule's InputTransformer applied, then StartExecution.

        The execution is named after the event id, so a redelivered event does not start twice
        (moto needs a name anyway); the rule's RetryPolicy bounds the attempts, then its DLQ.
        """
        from sentinel.stepfunctions import apply_input_transformer

        props = self.template.resource(rule.target).get("Properties", {})
        source = props.get("Events", {}).get(rule.logical_id.removeprefix(rule.target), {})
        options = self.template.resolve(source.get("Properties", {}))
        transformer = options.get("InputTransformer")
        payload = apply_input_transformer(transformer, event) if transformer else json.dumps(event)
        name = re.sub(r"[^A-Za-z0-9_-]", "-", f"{rule.logical_id[:40]}-{event.get('id', '')}")[:80]
        delivery = Delivery(
            rule.logical_id, rule.target, event.get("id", ""), event.get("detail-type", ""), event
        )
        retries = min(int(options.get("RetryPolicy", {}).get("MaximumRetryAttempts", 2)), 2)
        sfn = local_client("stepfunctions")
        for attempt in range(1, retries + 2):
            delivery.attempts = attempt
            try:
                started = sfn.start_execution(
                    stateMachineArn=self.template.ref(rule.target), name=name, input=payload
                )
                delivery.result = {"executionArn": started["executionArn"], "input": json.loads(payload)}
                delivery.error = None
                return delivery
            except sfn.exceptions.ExecutionAlreadyExists:
                delivery.result, delivery.error = {"executionName": name, "duplicate": True}, None
                return delivery
            except Exception as exc:  # noqa: BLE001 - reported like EventBridge's failed invocations
                delivery.error = f"{type(exc).__name__}: {exc}"
                log.warning("%s failed (attempt %d): %s", rule.target, attempt, delivery.error)
        dlq = options.get("DeadLetterConfig", {}).get("Arn")
        if dlq:
            sqs = local_client("sqs")
            url = sqs.get_queue_url(QueueName=str(dlq).rsplit(":", 1)[-1])["QueueUrl"]
            sqs.send_message(
                QueueUrl=url,
                MessageBody=json.dumps(event),
                MessageAttributes={
                    "ErrorMessage": {"DataType": "String", "StringValue": (delivery.error or "")[:1000]}
                },
            )
        return delivery

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
