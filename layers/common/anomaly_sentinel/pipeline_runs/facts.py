"""A pipeline run's facts: what ended, its steps, the jobs they ran and what those cost (no AWS calls).

SageMaker reports how long each step ran and, for training jobs, the billable seconds; it does not
report money. The estimate here multiplies the billed instance seconds by on-demand list prices
kept in :data:`INSTANCE_PRICES_USD_PER_HOUR` (a table in code, never fetched: the Pricing API is
not reachable from every account and prices change rarely). An instance type missing from the
table is reported as unpriced, never counted as free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field

from anomaly_sentinel.exceptions import EventParseError

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
