"""What a pipeline run shows people: the report section, and the alert when it failed (no AWS calls)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from anomaly_sentinel.pipeline_runs.facts import INSTANCE_PRICES_USD_PER_HOUR, PipelineRun, StepRun, estimate

if TYPE_CHECKING:
    from anomaly_sentinel.alerts import Alert

_LOG_GROUPS = {
    "training": "/aws/sagemaker/TrainingJobs",
    "tuning": "/aws/sagemaker/TrainingJobs",  # its training jobs are named <tuning job>-NNN-<id>
    "processing": "/aws/sagemaker/ProcessingJobs",
    "transform": "/aws/sagemaker/TransformJobs",
}


def where_to_look(step: StepRun) -> str:
    if step.job and step.job_kind:
        stream = f"{step.job}-" if step.job_kind == "tuning" else f"{step.job}/"
        return f"CloudWatch Logs {_LOG_GROUPS[step.job_kind]}, streams starting {stream}"
    return "SageMaker Studio → Pipelines → the execution's graph (the step ran no job)"


def report_section(
    run: PipelineRun, prices: Mapping[str, float] = INSTANCE_PRICES_USD_PER_HOUR
) -> dict[str, Any]:
    """What a retraining report shows about the run's time and cost (JSON-ready)."""
    cost = estimate(run.jobs, prices)
    return {
        "pipelineExecutionArn": run.execution_arn,
        "status": run.status,
        "durationSeconds": run.seconds,
        "steps": [{"name": s.name, "status": s.status, "seconds": s.seconds} for s in run.steps],
        "trainingBillableSeconds": run.training_billable_seconds,
        "estimatedCostUsd": cost.estimate,
        "pricedJobsCostUsd": cost.usd,
        "unpricedJobs": list(cost.unpriced),
        "costBasis": "on-demand us-east-1 list prices per instance-hour (anomaly_sentinel.pipeline_runs)",
    }


def failure_alert(run: PipelineRun, endpoint: str) -> Alert:
    """The alert for a failed run: which step failed, why, and where its logs are."""
    # Imported here: only failed runs alert, so the alert model is not built at every cold start
    # (nor in RetrainSteps, which imports this module for the cost line only).
    from anomaly_sentinel.alerts import Alert

    failed = run.failed_steps()
    lines = [
        f"Pipeline {run.pipeline} execution {run.execution_id} ended {run.status}.",
        f"Execution: {run.execution_arn}",
    ]
    if run.failure_reason:
        lines.append(f"Execution failure reason: {run.failure_reason}")
    if failed:
        for step in failed:
            lines += [
                f"Failed step: {step.name}",
                f"  reason: {step.failure_reason or '(SageMaker gave none)'}",
                f"  where to look: {where_to_look(step)}",
            ]
    else:
        lines.append(
            "No step reports Failed: see the execution's FailureReason above and its graph in Studio."
        )
    lines.append(
        f"All steps: aws sagemaker list-pipeline-execution-steps --pipeline-execution-arn {run.execution_arn}"
    )
    first = failed[0].name if failed else "no failed step"
    return Alert(
        kind="operational",
        severity="critical",
        endpoint=endpoint,
        subject=f"Pipeline {run.pipeline} failed at {first}",
        body="\n".join(lines),
    )
