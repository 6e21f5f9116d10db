"""StartPipelineFunction: training data uploaded (S3 → EventBridge) → SageMaker pipeline started."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from anomaly_sentinel import aws, training
from anomaly_sentinel.events import S3Object, not_object_created, s3_object_from_eventbridge
from anomaly_sentinel.handler_kit import Acknowledged, HandlerKit
from anomaly_sentinel.settings import StartPipelineSettings

settings = StartPipelineSettings.from_env()
kit = HandlerKit(settings)
sagemaker = aws.client("sagemaker")


@kit.once("obj")
def start_once(obj: S3Object) -> dict[str, Any]:
    started = training.start_pipeline(obj, settings, sagemaker).model_dump()
    # here, not in the handler: a duplicate delivery returns the stored result without running this
    kit.count_metric("UploadsAccepted")
    return started


@kit.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    mismatch = not_object_created(event)
    if mismatch is not None:
        return kit.ignored_event("UploadsIgnored", mismatch, str(event.get("id", "")))
    obj = s3_object_from_eventbridge(event)
    reason = training.ignore_reason(obj, settings)
    if reason is not None:
        return kit.ignored_event("UploadsIgnored", reason, obj.identity, object=obj.uri)
    started = kit.first_delivery(context, lambda: start_once(obj=obj), obj.identity, object=obj.uri)
    if isinstance(started, Acknowledged):
        return started
    kit.logger.info("pipeline started", extra={"object": obj.identity, **started})
    return {"status": "started", "object": obj.uri, **started}
