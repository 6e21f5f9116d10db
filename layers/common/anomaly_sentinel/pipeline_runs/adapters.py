"""A pipeline run's AWS side: SageMaker's describes and lists read into one run, its EMF metrics."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.exceptions import BotoCoreError, ClientError

from anomaly_sentinel.pipeline_runs.facts import (
    END_BEFORE_START,
    TERMINAL,
    JobKind,
    JobUsage,
    PipelineRun,
    RunCost,
    RunEnded,
    StepRun,
    estimate,
    seconds_between,
    step_run,
)
from anomaly_sentinel.pipeline_runs.report import report_section


def _pages(call: Any, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        page = call(**kwargs, **({"NextToken": token} if token else {}))
        yield from page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return


def _training_usage(sagemaker: Any, name: str, step: str) -> JobUsage:
    job = sagemaker.describe_training_job(TrainingJobName=name)
    resources = job.get("ResourceConfig") or {}
    billable = job.get("BillableTimeInSeconds")
    if billable is None:  # still stopping, or never started: the run time is the best evidence
        billable = _run_time(job.get("TrainingStartTime"), job.get("TrainingEndTime"))
    return JobUsage(
        kind="training",
        name=name,
        step=step,
        instance_type=str(resources.get("InstanceType", "?")),
        instance_count=int(resources.get("InstanceCount", 1)),
        billable_seconds=float(billable or 0),
        unknown=END_BEFORE_START if billable is None else None,
    )


def _run_time(start: datetime | None, end: datetime | None) -> float | None:
    """A job's run time: 0 when it never started or ended, None when its times disagree."""
    if start is None or end is None:
        return 0.0
    return seconds_between(start, end)


def job_usages(sagemaker: Any, step: StepRun) -> list[JobUsage]:
    """The jobs one step ran, with what they are billed for (a tuning step: every training job)."""
    if step.job is None or step.job_kind is None:
        return []
    if step.job_kind == "training":
        return [_training_usage(sagemaker, step.job, step.name)]
    if step.job_kind == "tuning":
        names = [
            summary["TrainingJobName"]
            for summary in _pages(
                sagemaker.list_training_jobs_for_hyper_parameter_tuning_job,
                "TrainingJobSummaries",
                HyperParameterTuningJobName=step.job,
            )
        ]
        return [_training_usage(sagemaker, name, step.name) for name in names]
    kind: JobKind = "processing" if step.job_kind == "processing" else "transform"
    if kind == "processing":
        job = sagemaker.describe_processing_job(ProcessingJobName=step.job)
        cluster = (job.get("ProcessingResources") or {}).get("ClusterConfig") or {}
        start, end = job.get("ProcessingStartTime"), job.get("ProcessingEndTime")
    else:
        job = sagemaker.describe_transform_job(TransformJobName=step.job)
        cluster = job.get("TransformResources") or {}
        start, end = job.get("TransformStartTime"), job.get("TransformEndTime")
    billed = _run_time(start, end)
    return [
        JobUsage(
            kind=kind,
            name=step.job,
            step=step.name,
            instance_type=str(cluster.get("InstanceType", "?")),
            instance_count=int(cluster.get("InstanceCount", 1)),
            billable_seconds=billed or 0.0,
            unknown=END_BEFORE_START if billed is None else None,
        )
    ]


def collect(sagemaker: Any, execution_arn: str, ended: RunEnded | None = None) -> PipelineRun:
    """DescribePipelineExecution + ListPipelineExecutionSteps + the jobs' describes → one run.

    The event's start and end times, when given, are the run's duration (Describe's
    LastModifiedTime can move after the end, e.g. when tags change).
    """
    described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
    status = str(described["PipelineExecutionStatus"])
    steps = [
        step_run(item)
        for item in _pages(
            sagemaker.list_pipeline_execution_steps,
            "PipelineExecutionSteps",
            PipelineExecutionArn=execution_arn,
        )
    ]
    run = PipelineRun(
        execution_arn=execution_arn,
        pipeline=str(described["PipelineArn"]).rsplit("/", 1)[-1],
        status=status,
        seconds=_run_seconds(described, status, ended),
        failure_reason=described.get("FailureReason") or None,
        steps=steps,
    )
    for step in steps:
        try:
            run.jobs.extend(job_usages(sagemaker, step))
        except (ClientError, BotoCoreError) as exc:
            # The run still ended as it did (and a failed one still alerts): the job is unpriced.
            code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
            kind: JobKind = "training" if step.job_kind == "tuning" else step.job_kind or "training"
            why = f"not described: {code or type(exc).__name__}"
            run.jobs.append(JobUsage(kind, str(step.job), step.name, "?", 1, 0.0, unknown=why))
    return run


def _run_seconds(described: Mapping[str, Any], status: str, ended: RunEnded | None) -> float | None:
    if ended is not None and ended.start and ended.end:
        return seconds_between(ended.start, ended.end)
    if status not in TERMINAL:
        return None
    return seconds_between(described.get("CreationTime"), described.get("LastModifiedTime"))


def publish_metrics(run: PipelineRun, metrics: Any, pipeline_name: str) -> RunCost:
    """EMF metrics of one run: duration, billable seconds, cost, outcome, and each step's duration.

    ``pipeline_name`` is the configured name (the ARN lower-cases it), so dashboards and alarms
    can name the dimension value from the template.
    """
    cost = estimate(run.jobs)
    metrics.add_dimension(name="PipelineName", value=pipeline_name)
    if run.seconds is not None:
        metrics.add_metric(name="PipelineRunDuration", unit=MetricUnit.Seconds, value=run.seconds)
    if run.training_billable_seconds is not None:
        metrics.add_metric(
            name="PipelineRunTrainingBillableSeconds",
            unit=MetricUnit.Seconds,
            value=run.training_billable_seconds,
        )
    if cost.estimate is not None:  # an unpriced run is counted, never published as costing $0
        metrics.add_metric(name="PipelineRunEstimatedCost", unit=MetricUnit.NoUnit, value=cost.estimate)
    else:
        metrics.add_metric(name="PipelineRunsUnpriced", unit=MetricUnit.Count, value=1)
    with single_metric(
        name="PipelineRuns", unit=MetricUnit.Count, value=1, default_dimensions=metrics.default_dimensions
    ) as outcome:
        outcome.add_dimension(name="PipelineName", value=pipeline_name)
        outcome.add_dimension(name="Status", value=run.status)
    for step in run.steps:
        if step.seconds is None:
            continue
        with single_metric(
            name="PipelineStepDuration",
            unit=MetricUnit.Seconds,
            value=step.seconds,
            default_dimensions=metrics.default_dimensions,
        ) as timed:
            timed.add_dimension(name="PipelineName", value=pipeline_name)
            timed.add_dimension(name="StepName", value=step.name)
    return cost


def cost_line(sagemaker: Any, execution_arn: str) -> str:
    """The retraining report's run time and estimated cost, in one line.

    Cost is information, not a decision: when SageMaker cannot be read the line says why and the
    retraining goes on.
    """
    try:
        section = report_section(collect(sagemaker, execution_arn))
    except (ClientError, BotoCoreError) as exc:
        code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else None
        return f"not available ({code or type(exc).__name__})"
    minutes = f"{section['durationSeconds'] / 60:.1f} min" if section["durationSeconds"] is not None else "-"
    if section["estimatedCostUsd"] is None:
        cost = (
            f"cost unknown: unpriced {', '.join(section['unpricedJobs'])} "
            f"(the priced jobs: ${section['pricedJobsCostUsd']:.2f} at on-demand list prices)"
        )
    else:
        cost = f"estimated ${section['estimatedCostUsd']:.2f} (on-demand list prices)"
    billed = section["trainingBillableSeconds"]
    return (
        f"pipeline run {minutes}, {len(section['steps'])} steps, training/tuning billed "
        f"{'an unknown time' if billed is None else f'{billed:.0f} s'}, {cost}"
    )
