"""ScoreLogsFunction: a log file under LogsPrefix (S3 → EventBridge) → sessions scored, stored, alerted."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from anomaly_sentinel import aws, scoring
from anomaly_sentinel.events import S3Object, not_object_created, s3_object_from_eventbridge
from anomaly_sentinel.idempotency import DUPLICATE_IN_PROGRESS, DuplicateInProgress, Once
from anomaly_sentinel.logs.adapters import LogFileScorer, ignore_reason
from anomaly_sentinel.observability import ignored
from anomaly_sentinel.settings import ScoreLogsSettings

settings = ScoreLogsSettings.from_env()
logger = Logger()
tracer = Tracer()
metrics = Metrics()
scorer = LogFileScorer(
    settings,
    s3=aws.client("s3"),
    sagemaker=aws.client("sagemaker"),
    runtime=aws.client("sagemaker-runtime", config=scoring.runtime_config(settings.scoring_concurrency)),
    sns=aws.client("sns"),
    metrics=metrics,
)
once = Once(settings.idempotency_table, settings.idempotency_ttl_seconds)


@once("obj")
def score_once(obj: S3Object) -> dict[str, Any]:
    return scorer.process(obj).summary()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    mismatch = not_object_created(event)
    if mismatch is not None:
        return ignored(logger, metrics, "LogFilesIgnored", mismatch, str(event.get("id", "")))
    obj = s3_object_from_eventbridge(event)
    reason = ignore_reason(obj, settings)
    if reason is not None:
        return ignored(logger, metrics, "LogFilesIgnored", reason, obj.identity, object=obj.uri)
    once.register(context)
    try:
        result = score_once(obj=obj)
    except DuplicateInProgress:
        return ignored(
            logger, metrics, "DuplicatesInProgress", DUPLICATE_IN_PROGRESS, obj.identity, object=obj.uri
        )
    metrics.add_metric(name="LogFilesHandled", unit=MetricUnit.Count, value=1)  # duplicates too
    if result["status"] == "failed":  # alerted already; the reason is in the result
        logger.warning("log file failed", extra={"object": obj.identity, **result})
    else:
        logger.info("log file scored", extra={"object": obj.identity, **result})
    return result
