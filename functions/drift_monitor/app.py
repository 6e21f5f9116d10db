"""DriftMonitorFunction: scheduled → one window of capture statistics vs the baseline → reports, event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from anomaly_sentinel import aws
from anomaly_sentinel.drift_monitor import DriftMonitor, Window
from anomaly_sentinel.exceptions import EventParseError
from anomaly_sentinel.idempotency import DuplicateInProgress, Once
from anomaly_sentinel.logs.adapters import log_drift_window
from anomaly_sentinel.observability import duplicate_in_progress
from anomaly_sentinel.settings import DriftMonitorSettings

settings = DriftMonitorSettings.from_env()
logger = Logger()
tracer = Tracer()
metrics = Metrics()
monitor = DriftMonitor(
    settings,
    s3=aws.client("s3"),
    sagemaker=aws.client("sagemaker"),
    events=aws.client("events"),
    metrics=metrics,
)
once = Once(settings.idempotency_table, settings.idempotency_ttl_seconds)
logs = log_drift_window(settings, s3=aws.client("s3"), sagemaker=aws.client("sagemaker"), metrics=metrics)


@once("window")
def run_once(window: Window) -> dict[str, Any]:
    result = monitor.run(window).model_dump()
    if logs is not None:  # the log detector's window: OOV share and new templates (issue 21)
        result["logs"] = logs.run(list(window.hours()), window.start)
    return result


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    metrics.add_metric(name="DriftMonitorRuns", unit=MetricUnit.Count, value=1)  # duplicates too
    try:
        scheduled = datetime.fromisoformat(str(event["time"]))
    except (KeyError, ValueError) as exc:
        raise EventParseError(f"scheduled event {event.get('id', '?')} has no valid time") from exc
    once.register(context)
    window = monitor.window(scheduled)
    try:
        result = run_once(window=window)
    except DuplicateInProgress:
        return duplicate_in_progress(logger, metrics, window.identity, execution=window.identity)
    logger.info(
        "drift window monitored",
        extra={k: result[k] for k in ("execution", "status", "files", "records", "violations", "skipped")},
    )
    return result
