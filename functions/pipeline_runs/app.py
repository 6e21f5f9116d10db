"""PipelineRunsFunction: a pipeline execution ended → its run time and cost as metrics (+ failure alert)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from anomaly_sentinel import aws, pipeline_runs
from anomaly_sentinel.idempotency import DuplicateInProgress, Once
from anomaly_sentinel.observability import duplicate_in_progress, ignored
from anomaly_sentinel.pipeline_runs import RunEnded
from anomaly_sentinel.settings import PipelineRunsSettings

settings = PipelineRunsSettings.from_env()
logger = Logger()
tracer = Tracer()
metrics = Metrics()
sagemaker = aws.client("sagemaker")
sns = aws.client("sns")
once = Once(settings.idempotency_table, settings.idempotency_ttl_seconds)


@once("ended")
def account_once(ended: RunEnded) -> dict[str, Any]:
    """Once per run end: metrics, and for a failed run one alert naming the step and reason."""
    run = pipeline_runs.collect(sagemaker, ended.execution_arn, ended)
    pipeline_runs.publish_metrics(run, metrics, settings.pipeline_name)
    alerted = None
    if run.status == "Failed":
        from anomaly_sentinel import alerts  # failed runs only: not loaded at cold start

        alert = pipeline_runs.failure_alert(run, settings.endpoint_name)
        alerted = alerts.publish(alert, sns, settings.alerts_topic_arn)
    return {
        **pipeline_runs.report_section(run),
        "failedSteps": [step.name for step in run.failed_steps()],
        "alert": alerted,
    }


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ended = pipeline_runs.run_ended(event)
    if ended.status not in pipeline_runs.TERMINAL:
        reason = f"execution is {ended.status}, not ended"
        return ignored(logger, metrics, "PipelineRunEventsIgnored", reason, ended.identity)
    once.register(context)
    try:
        result = account_once(ended=ended)
    except DuplicateInProgress:
        return duplicate_in_progress(logger, metrics, ended.identity)
    logger.info(
        "pipeline run accounted",
        extra={
            "execution": ended.execution_arn,
            "status": result["status"],
            "seconds": result["durationSeconds"],
            "cost_usd": result["estimatedCostUsd"],
        },
    )
    return result
