"""MonitoringAlertFunction: monitoring execution finished / drift alarm → alert (+ retraining)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from anomaly_sentinel import aws, monitoring
from anomaly_sentinel.idempotency import DuplicateInProgress, Once
from anomaly_sentinel.observability import duplicate_in_progress, ignored
from anomaly_sentinel.settings import MonitoringAlertSettings

settings = MonitoringAlertSettings.from_env()
logger = Logger()
tracer = Tracer()
metrics = Metrics()
sagemaker, s3, sns, sfn, dynamodb = (
    aws.client(name) for name in ("sagemaker", "s3", "sns", "stepfunctions", "dynamodb")
)
responder = monitoring.MonitoringResponder(
    settings, sagemaker=sagemaker, s3=s3, sns=sns, sfn=sfn, dynamodb=dynamodb
)
once = Once(settings.idempotency_table, settings.idempotency_ttl_seconds)


@once("signal")  # once per job ARN / alarm state change
def respond_once(signal: monitoring.MonitoringSignal) -> dict[str, Any]:
    result = responder.handle(signal)
    # Executions started, counted where they start: a redelivery replays the result without
    # counting again, and a signal folded into a running retraining starts none.
    started = result.get("execution")
    metrics.add_metric(
        name="RetrainingRequested",
        unit=MetricUnit.Count,
        value=int(bool(started) and not started["already_started"]),
    )
    return result


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name="MonitoringSignals", unit=MetricUnit.Count, value=1)
    signal = monitoring.signal_from_event(event)
    reason = monitoring.ignore_reason(signal, settings)
    if reason is None:
        once.register(context)
        try:
            result = respond_once(signal=signal)
        except DuplicateInProgress:
            return duplicate_in_progress(logger, metrics, signal.identity, signal=signal.identity)
        reason = result["reason"] if result["status"] == "ignored" else None
    if reason is not None:
        return ignored(
            logger, metrics, "MonitoringSignalsIgnored", reason, signal.identity, signal=signal.identity
        )
    logger.info(  # every decision with its reason: retrain or not, started, folded into an episode
        "monitoring signal handled",
        extra={
            "signal": signal.identity,
            **{
                k: result[k]
                for k in ("status", "violations", "retrain", "retraining", "episode", "digest_signals")
            },
        },
    )
    metrics.add_metric(name="MonitoringViolations", unit=MetricUnit.Count, value=result["violations"])
    return {"signal": signal.identity, **result}
