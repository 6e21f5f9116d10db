"""PipelineRunsFunction: a pipeline execution ended → its run time and cost as metrics (+ failure alert)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from anomaly_sentinel import aws, pipeline_runs
from anomaly_sentinel.handler_kit import Acknowledged, HandlerKit
from anomaly_sentinel.pipeline_runs import RunEnded
from anomaly_sentinel.settings import PipelineRunsSettings

settings = PipelineRunsSettings.from_env()
kit = HandlerKit(settings)
sagemaker = aws.client("sagemaker")
sns = aws.client("sns")


@kit.once("ended")
def account_once(ended: RunEnded) -> dict[str, Any]:
    """Once per run end: metrics, and for a failed run one alert naming the step and reason."""
    run = pipeline_runs.collect(sagemaker, ended.execution_arn, ended)
    pipeline_runs.publish_metrics(run, kit.metrics, settings.pipeline_name)
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


@kit.handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ended = pipeline_runs.run_ended(event)
    if ended.status not in pipeline_runs.TERMINAL:
        return kit.ignored_event(
            "PipelineRunEventsIgnored", f"execution is {ended.status}, not ended", ended.identity
        )
    result = kit.first_delivery(context, lambda: account_once(ended=ended), ended.identity)
    if isinstance(result, Acknowledged):
        return result
    kit.logger.info(
        "pipeline run accounted",
        extra={
            "execution": ended.execution_arn,
            "status": result["status"],
            "seconds": result["durationSeconds"],
            "cost_usd": result["estimatedCostUsd"],
        },
    )
    return result
