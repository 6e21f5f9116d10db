"""Run time and cost of a pipeline execution, read from SageMaker once the execution has ended.

SageMaker reports how long each step ran and, for training jobs, the billable seconds; it does not
report money. The estimate here multiplies the billed instance seconds by on-demand list prices
kept in :data:`INSTANCE_PRICES_USD_PER_HOUR` (a table in code, never fetched: the Pricing API is
not reachable from every account and prices change rarely). An instance type missing from the
table is reported as unpriced, never counted as free.

Pure logic (parsing, estimating, alert and report text) sits above the AWS adapter
(:func:`collect`) and the metrics writer (:func:`publish_metrics`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field

from anomaly_sentinel.exceptions import EventParseError

if TYPE_CHECKING:
    from anomaly_sentinel.alerts import Alert

#: On-demand USD per instance-hour of SageMaker training, processing and batch transform in
#: us-east-1 (AWS price list as of 2026-11; the same rate applies to the three job kinds for these
#: types). Other regions cost up to ~30% more: the estimate is a guide, the bill is the truth.
#: Add a row when the pipeline's ``*InstanceType`` parameters name a new type (a test checks them).
INSTANCE_PRICES_USD_PER_HOUR: Mapping[str, float] = {
    "ml.t3.medium": 0.05,
    "ml.t3.large": 0.10,
    "ml.t3.xlarge": 0.20,
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.m5.2xlarge": 0.461,
    "ml.m5.4xlarge": 0.922,
    "ml.c5.large": 0.102,
    "ml.c5.xlarge": 0.204,
    "ml.c5.2xlarge": 0.408,
    "ml.c5.4xlarge": 0.816,
    "ml.r5.large": 0.151,
    "ml.r5.xlarge": 0.302,
}

#: Terminal statuses of a pipeline execution (the only ones the run rule delivers).
TERMINAL = ("Succeeded", "Failed", "Stopped")

JobKind = Literal["training", "processing", "transform"]
#: What a step's metadata names: a tuning step runs many training jobs.
StepJobKind = Literal["training", "tuning", "processing", "transform"]


@dataclass(frozen=True)
class JobUsage:
    """One SageMaker job a step ran: what it ran on and for how long it is billed."""

    kind: JobKind
    name: str
    step: str
    instance_type: str
    instance_count: int
    #: Wall-clock seconds billed per instance (training: BillableTimeInSeconds, which is lower
    #: than the run time with managed spot; processing/transform: start to end).
    billable_seconds: float
    #: Why the billed time is not known (then the job is unpriced, never free).
    unknown: str | None = None

    @property
    def instance_seconds(self) -> float:
        return self.billable_seconds * self.instance_count

    def cost(self, prices: Mapping[str, float] = INSTANCE_PRICES_USD_PER_HOUR) -> float | None:
        price = prices.get(self.instance_type)
        return None if price is None or self.unknown else self.instance_seconds / 3600 * price


@dataclass(frozen=True)
class StepRun:
    name: str
    status: str
    seconds: float | None
    failure_reason: str | None = None
    #: The CloudWatch log group and job name to look at, when the step ran a job.
    job: str | None = None
    job_kind: StepJobKind | None = None


@dataclass(frozen=True)
class RunCost:
    #: What the priced jobs cost.
    usd: float
    instance_seconds: float
    #: Jobs whose instance type has no price in the table, or that could not be described (their
    #: cost is not in ``usd``).
    unpriced: tuple[str, ...] = ()

    @property
    def estimate(self) -> float | None:
        """The run's cost, None when a job is unpriced: a partial sum is not the run's cost, nor is $0."""
        return None if self.unpriced else self.usd


@dataclass
class PipelineRun:
    execution_arn: str
    pipeline: str
    status: str
    seconds: float | None
    failure_reason: str | None = None
    steps: list[StepRun] = field(default_factory=list)
    jobs: list[JobUsage] = field(default_factory=list)

    @property
    def execution_id(self) -> str:
        return self.execution_arn.rsplit("/", 1)[-1]

    @property
    def training_billable_seconds(self) -> float | None:
        """Billed instance seconds of the training and tuning jobs (what the seed asks to track);
        None when a job's billed time is unknown (a partial sum is not the run's)."""
        training = [job for job in self.jobs if job.kind == "training"]
        if any(job.unknown for job in training):
            return None
        return sum(job.instance_seconds for job in training)

    def failed_steps(self) -> list[StepRun]:
        return [step for step in self.steps if step.status == "Failed"]


class RunEnded(BaseModel):
    """A "Pipeline Execution Status Change" event reduced to what identifies the run's end."""

    model_config = ConfigDict(frozen=True)

    execution_arn: str = Field(pattern=r"^arn:aws[a-z-]*:sagemaker:[^:]+:\d{12}:pipeline/.+/execution/.+$")
    status: str
    start: datetime | None = None
    end: datetime | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def identity(self) -> str:
        """SageMaker may send several events for one change: one run end is processed once."""
        return f"{self.execution_arn}#{self.status}"


def run_ended(event: Mapping[str, Any]) -> RunEnded:
    detail = event.get("detail") or {}
    try:
        return RunEnded(
            execution_arn=detail.get("pipelineExecutionArn", ""),
            status=detail.get("currentPipelineExecutionStatus", ""),
            start=detail.get("executionStartTime") or None,
            end=detail.get("executionEndTime") or None,
        )
    except ValidationError as error:
        raise EventParseError(f"not a pipeline execution status change: {error.errors()[0]['msg']}") from None


# ---------------------------------------------------------------------------- pure logic


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from ``start`` to ``end``; a time without a zone is UTC (as SageMaker's events mean).

    None when either is missing, or when the end is before the start: the clocks that wrote them
    disagree and the duration is unknown (0 would be a wrong number, a negative one worse).
    """
    if start is None or end is None:
        return None
    seconds = (_utc(end) - _utc(start)).total_seconds()
    return seconds if seconds >= 0 else None


#: Why a job's billed time is unknown when its times disagree.
END_BEFORE_START = "run time unknown: its end is before its start"


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def step_run(step: Mapping[str, Any]) -> StepRun:
    """One item of ListPipelineExecutionSteps → a :class:`StepRun` (the job it ran, if any)."""
    metadata = step.get("Metadata") or {}
    job: str | None = None
    kind: StepJobKind | None = None
    for key, job_kind in (
        ("TrainingJob", "training"),
        ("TuningJob", "tuning"),
        ("ProcessingJob", "processing"),
        ("TransformJob", "transform"),
    ):
        arn = (metadata.get(key) or {}).get("Arn")
        if arn:
            job, kind = str(arn).rsplit("/", 1)[-1], job_kind  # type: ignore[assignment]
            break
    return StepRun(
        name=str(step.get("StepName", "?")),
        status=str(step.get("StepStatus", "?")),
        seconds=seconds_between(step.get("StartTime"), step.get("EndTime")),
        failure_reason=step.get("FailureReason") or None,
        job=job,
        job_kind=kind,
    )


def estimate(jobs: list[JobUsage], prices: Mapping[str, float] = INSTANCE_PRICES_USD_PER_HOUR) -> RunCost:
    usd = 0.0
    unpriced: list[str] = []
    for job in jobs:
        cost = job.cost(prices)
        if cost is None:
            unpriced.append(f"{job.name} ({job.unknown or job.instance_type})")
        else:
            usd += cost
    return RunCost(
        usd=round(usd, 4), instance_seconds=sum(j.instance_seconds for j in jobs), unpriced=tuple(unpriced)
    )


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


# ---------------------------------------------------------------------------- AWS adapter


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
