"""ScoreCaptureFunction: data-capture file lands in S3 (→ EventBridge) → scored, stored, alerted."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from anomaly_sentinel import aws, scoring
from anomaly_sentinel.events import S3Object
from anomaly_sentinel.handler_kit import HandlerKit
from anomaly_sentinel.object_events import handle_object_event
from anomaly_sentinel.score_capture import CaptureScorer, ignore_reason
from anomaly_sentinel.settings import ScoreCaptureSettings

settings = ScoreCaptureSettings.from_env()
kit = HandlerKit(settings)
scorer = CaptureScorer(
    settings,
    s3=aws.client("s3"),
    sagemaker=aws.client("sagemaker"),
    runtime=aws.client("sagemaker-runtime", config=scoring.runtime_config(settings.scoring_concurrency)),
    sns=aws.client("sns"),
    metrics=kit.metrics,
)


@kit.once("obj")
def score_once(obj: S3Object) -> dict[str, Any]:
    return scorer.process(obj).summary()


@kit.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_object_event(
        event,
        context,
        kit=kit,
        ignore_reason=lambda obj: ignore_reason(obj, settings),
        process_once=score_once,
        ignored_metric="CaptureFilesIgnored",
        handled_metric="CaptureFilesHandled",
        what="capture file",
    )
