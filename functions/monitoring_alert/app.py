"""MonitoringAlertFunction: monitoring execution finished / drift alarm → alert (+ retraining)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from anomaly_sentinel import alerts, aws, monitoring
from anomaly_sentinel.idempotency import Once
from anomaly_sentinel.monitoring import MonitoringSignal
from anomaly_sentinel.observability import ignored
from anomaly_sentinel.settings import MonitoringAlertSettings

settings = MonitoringAlertSettings.from_env()
policy = monitoring.RetrainingPolicy.from_settings(settings)
logger = Logger()
tracer = Tracer()
metrics = Metrics()
sagemaker = aws.client("sagemaker")
s3 = aws.client("s3")
sns = aws.client("sns")
sfn = aws.client("stepfunctions")
once = Once(settings.idempotency_table, settings.idempotency_ttl_seconds)


@once("signal")
def handle_once(signal: MonitoringSignal) -> dict[str, Any]:
    """Once per monitoring job ARN (or alarm state change): outcome → retraining → one alert."""
    if signal.source == "alarm":
        outcome = monitoring.outcome_from_alarm(signal, settings.endpoint_name)
    else:
        found = monitoring.outcome_from_processing_job(signal, settings.endpoint_name, sagemaker, s3)
        if found is None:
            return {"status": "ignored", "reason": "not a monitoring execution (no MonitoringScheduleArn)"}
        outcome = found
    decision = monitoring.decide(outcome, policy)
    started: dict[str, Any] | None = None
    if decision.retrain:
        name = monitoring.execution_name(signal)
        payload = monitoring.retrain_input(outcome, decision, settings.retrain_input_data_uri)
        started = monitoring.start_retraining(sfn, settings.state_machine_arn, name, payload)
        retraining = f"started execution {name} ({decision.reason})"
        if started["already_started"]:
            retraining = f"execution {name} already started ({decision.reason})"
    else:
        retraining = f"not started: {decision.reason}"
    alert = monitoring.build_alert(outcome, decision, retraining)
    sent = None
    if alert is not None:
        message_id = alerts.publish(alert, sns, settings.alerts_topic_arn)
        sent = {"kind": alert.kind, "severity": alert.severity, "message_id": message_id}
    return {
        "status": outcome.status,
        "endpoint": outcome.endpoint,
        "schedule": outcome.schedule,
        "job_arn": outcome.job_arn,
        "violations": len(outcome.violations),
        "violations_problem": outcome.violations_problem,
        "alert": sent,
        "retrain": decision.retrain,
        "retrain_reason": decision.reason,
        "execution": started,
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name="MonitoringSignals", unit=MetricUnit.Count, value=1)
    signal = monitoring.signal_from_event(event)
    reason = monitoring.ignore_reason(signal, settings)
    if reason is not None:
        return ignored(
            logger, metrics, "MonitoringSignalsIgnored", reason, signal.identity, signal=signal.identity
        )
    once.register(context)
    result = handle_once(signal=signal)
    logger.info(
        "monitoring signal handled",
        extra={
            "signal": signal.identity,
            "status": result.get("status"),
            "violations": result.get("violations"),
            "retrain": result.get("retrain"),
        },
    )
    if result.get("violations"):
        metrics.add_metric(name="MonitoringViolations", unit=MetricUnit.Count, value=result["violations"])
    if result.get("execution"):
        metrics.add_metric(name="RetrainingRequested", unit=MetricUnit.Count, value=1)
    return {"signal": signal.identity, **result}
