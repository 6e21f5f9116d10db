"""DriftMonitorFunction: scheduled → one window of capture statistics vs the baseline → reports, event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from anomaly_sentinel import aws
from anomaly_sentinel.drift_monitor import DriftMonitor, Window
from anomaly_sentinel.exceptions import EventParseError
from anomaly_sentinel.handler_kit import Acknowledged, HandlerKit
from anomaly_sentinel.logs.adapters import log_drift_window
from anomaly_sentinel.settings import DriftMonitorSettings

settings = DriftMonitorSettings.from_env()
kit = HandlerKit(settings)
s3 = aws.client("s3")
sagemaker = aws.client("sagemaker")  # one client per service: each costs cold-start time
monitor = DriftMonitor(settings, s3=s3, sagemaker=sagemaker, events=aws.client("events"), metrics=kit.metrics)
logs = log_drift_window(settings, s3=s3, sagemaker=sagemaker, metrics=kit.metrics)


@kit.once("window")
def run_once(window: Window) -> dict[str, Any]:
    result = monitor.run(window).model_dump()
    if logs is not None:  # the log detector's window: OOV share and new templates (issue 21)
        result["logs"] = logs.run(list(window.hours()), window.start)
    return result


@kit.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    kit.count_metric("DriftMonitorRuns")  # duplicates too
    try:
        scheduled = datetime.fromisoformat(str(event["time"]))
    except (KeyError, ValueError) as exc:
        raise EventParseError(f"scheduled event {event.get('id', '?')} has no valid time") from exc
    window = monitor.window(scheduled)
    result = kit.first_delivery(
        context, lambda: run_once(window=window), window.identity, execution=window.identity
    )
    if isinstance(result, Acknowledged):
        return result
    kit.logger.info(
        "drift window monitored",
        extra={k: result[k] for k in ("execution", "status", "files", "records", "violations", "skipped")},
    )
    return result
