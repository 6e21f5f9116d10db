"""StartPipelineFunction: training data uploaded (S3 → EventBridge) → SageMaker pipeline started."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from anomaly_sentinel import aws, training
from anomaly_sentinel.events import S3Object, not_object_created, s3_object_from_eventbridge
from anomaly_sentinel.idempotency import DuplicateInProgress, Once
from anomaly_sentinel.observability import duplicate_in_progress, ignored
from anomaly_sentinel.settings import StartPipelineSettings

settings = StartPipelineSettings.from_env()
logger = Logger()
tracer = Tracer()
metrics = Metrics()
sagemaker = aws.client("sagemaker")
once = Once(settings.idempotency_table, settings.idempotency_ttl_seconds)


@once("obj")
def start_once(obj: S3Object) -> dict[str, Any]:
    started = training.start_pipeline(obj, settings, sagemaker).model_dump()
    # here, not in the handler: a duplicate delivery returns the stored result without running this
    metrics.add_metric(name="UploadsAccepted", unit=MetricUnit.Count, value=1)
    return started


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    mismatch = not_object_created(event)
    if mismatch is not None:
        return ignored(logger, metrics, "UploadsIgnored", mismatch, str(event.get("id", "")))
    obj = s3_object_from_eventbridge(event)
    reason = training.ignore_reason(obj, settings)
    if reason is not None:
        return ignored(logger, metrics, "UploadsIgnored", reason, obj.identity, object=obj.uri)
    once.register(context)
    try:
        started = start_once(obj=obj)
    except DuplicateInProgress:
        return duplicate_in_progress(logger, metrics, obj.identity, object=obj.uri)
    logger.info("pipeline started", extra={"object": obj.identity, **started})
    return {"status": "started", "object": obj.uri, **started}
