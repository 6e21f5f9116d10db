"""MonitoringAlertFunction: monitoring execution finished / drift alarm → alert (+ retraining)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from anomaly_sentinel import aws, monitoring
from anomaly_sentinel.handler_kit import Acknowledged, HandlerKit
from anomaly_sentinel.settings import MonitoringAlertSettings

settings = MonitoringAlertSettings.from_env()
kit = HandlerKit(settings)
sagemaker, s3, sns, sfn = (aws.client(name) for name in ("sagemaker", "s3", "sns", "stepfunctions"))
dynamodb = kit.once.dynamodb  # the lock table shares the idempotency store's client
responder = monitoring.MonitoringResponder(
    settings, sagemaker=sagemaker, s3=s3, sns=sns, sfn=sfn, dynamodb=dynamodb
)


@kit.once("signal")  # once per job ARN / alarm state change
def respond_once(signal: monitoring.MonitoringSignal) -> dict[str, Any]:
    result = responder.handle(signal)
    # Executions started, counted where they start: a redelivery replays the result without
    # counting again, and a signal folded into a running retraining starts none.
    kit.count_metric("RetrainingRequested", int(isinstance(result, monitoring.Done) and result.started))
    return result.model_dump()


@kit.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    kit.count_metric("MonitoringSignals")
    signal = monitoring.signal_from_event(event)
    result = responder.screen(signal)
    if result is None:
        stored = kit.first_delivery(
            context, lambda: respond_once(signal=signal), signal.identity, signal=signal.identity
        )
        if isinstance(stored, Acknowledged):
            return stored
        result = monitoring.result_from_json(stored)
    if isinstance(result, monitoring.Ignored):
        return kit.ignored_event(
            "MonitoringSignalsIgnored", result.reason, signal.identity, signal=signal.identity
        )
    logger_fields = ("status", "violations", "retrain", "retraining", "episode", "digest_signals")
    kit.logger.info(  # every decision with its reason: retrain or not, started, folded into an episode
        "monitoring signal handled",
        extra={"signal": signal.identity, **result.model_dump(include=set(logger_fields))},
    )
    kit.count_metric("MonitoringViolations", result.violations)
    return {"signal": signal.identity, **result.model_dump()}
