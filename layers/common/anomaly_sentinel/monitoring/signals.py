"""The three monitoring signals as typed EventBridge events, told apart once by their detail-type.

Powertools' parser idiom: one pydantic model per event with a ``Literal`` detail-type, a
discriminated union of them (:data:`MonitoringEvent`), and each event turned into its typed signal
(:class:`ProcessingJobSignal`, :class:`DriftWindowSignal`, :class:`AlarmSignal`). What differs by
signal kind (why it is not ours, the execution-name prefix, the retraining trigger) is said by
the signal's class, not by switching on a string.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, computed_field

from anomaly_sentinel.contracts import messages
from anomaly_sentinel.contracts.messages import DriftWindowEvent
from anomaly_sentinel.exceptions import EventParseError
from anomaly_sentinel.settings import MonitoringAlertSettings

Source = Literal["processing-job", "alarm", "drift-monitor"]

PROCESSING_JOB_EVENT = "SageMaker Processing Job State Change"
ALARM_EVENT = "CloudWatch Alarm State Change"
#: contracts.DRIFT_EVENT_DETAIL_TYPE (a Literal needs the text; a test checks they agree).
DRIFT_WINDOW_EVENT = "Drift Monitoring Execution Status Change"


# ---------------------------------------------------------------------------- signals


class AlarmMetric(BaseModel):
    """One metric an alarm watches: its name and the endpoint/schedule dimensions it carries."""

    model_config = ConfigDict(frozen=True)

    name: str = ""
    endpoint: str | None = None
    schedule: str | None = None


class AlarmState(BaseModel):
    """What a drift alarm's state change says, read once from the event."""

    model_config = ConfigDict(frozen=True)

    reason: str = ""
    latest: float | None = None
    threshold: float | None = None
    metrics: tuple[AlarmMetric, ...] = ()

    @property
    def endpoints(self) -> set[str]:
        return {metric.endpoint for metric in self.metrics if metric.endpoint}


class _Signal(BaseModel):
    """The event parsed once, reduced to what the use case needs; duplicates share ``identity``."""

    model_config = ConfigDict(frozen=True)

    name: str
    arn: str
    status: str
    occurred: str = ""
    #: The Step Functions execution-name prefix of a retraining this signal starts.
    execution_prefix: ClassVar[str]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def identity(self) -> str:
        """A monitoring execution's identity is its job ARN (a drift window's, its execution id)."""
        return self.arn

    def ignore_reason(self, settings: MonitoringAlertSettings) -> str | None:
        """Why the signal is not ours to handle (the rule already narrows; this is defence in depth)."""
        raise NotImplementedError


class ProcessingJobSignal(_Signal):
    """A processing job finished: maybe a Model Monitor execution (DescribeProcessingJob tells)."""

    source: Literal["processing-job"] = "processing-job"
    execution_prefix: ClassVar[str] = "monitor"

    def ignore_reason(self, settings: MonitoringAlertSettings) -> str | None:
        if not any(self.name.startswith(prefix) for prefix in settings.job_prefixes):
            return "job name outside the monitoring prefixes"
        if self.status not in ("Completed", "Failed", "Stopped"):
            return f"job not finished ({self.status or 'no status'})"
        return None


class DriftWindowSignal(_Signal):
    """The stack's own drift monitor finished a window: the endpoint and report folder it names."""

    source: Literal["drift-monitor"] = "drift-monitor"
    execution_prefix: ClassVar[str] = "drift"
    endpoint: str | None = None
    report_uri: str | None = None

    def ignore_reason(self, settings: MonitoringAlertSettings) -> str | None:
        if self.status not in ("Completed", "CompletedWithViolations"):
            return f"drift window status {self.status or 'unknown'}"
        if reason := foreign_endpoint(self.endpoint, settings.endpoint_name):
            return f"drift window {reason}"
        return None


class AlarmSignal(_Signal):
    """A drift alarm changed state; its identity is its ARN + the time of the change."""

    source: Literal["alarm"] = "alarm"
    execution_prefix: ClassVar[str] = "alarm"
    alarm: AlarmState = Field(default_factory=AlarmState, repr=False)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def identity(self) -> str:
        return f"{self.arn}#{self.occurred}"

    def ignore_reason(self, settings: MonitoringAlertSettings) -> str | None:
        if not self.name.startswith(settings.alarm_prefix):
            return "alarm name outside the drift-alarm prefix"
        if self.status != "ALARM":
            return f"alarm state is {self.status or 'unknown'}, not ALARM"
        # An alarm with no Endpoint dimension is ours by its name; one naming endpoints must name ours.
        endpoints = self.alarm.endpoints
        if endpoints and (reason := foreign_endpoint(endpoints, settings.endpoint_name)):
            return f"alarm {reason}"
        return None


MonitoringSignal = Annotated[
    ProcessingJobSignal | DriftWindowSignal | AlarmSignal, Field(discriminator="source")
]


def foreign_endpoint(endpoints: set[str] | str | None, ours: str) -> str | None:
    """Why a signal about ``endpoints`` is not this stack's business (None when it is)."""
    named = {endpoints} if isinstance(endpoints, str) else set(endpoints or ())
    if not named:
        return "the monitoring job names no endpoint"
    others = sorted(named - {ours})
    if others:
        return f"concerns endpoint {', '.join(others)}, not {ours}"
    return None


def ignore_reason(signal: MonitoringSignal, settings: MonitoringAlertSettings) -> str | None:
    """Why a signal is not ours to handle (None when it is)."""
    return signal.ignore_reason(settings)


# ---------------------------------------------------------------------------- events


class _Event(BaseModel):
    """The EventBridge envelope fields the signals read (lenient: AWS writes them)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    id: Any = None
    time: Any = None
    resources: Any = None


class ProcessingJobDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ProcessingJobName: str
    ProcessingJobArn: str
    ProcessingJobStatus: Any = ""


class ProcessingJobEvent(_Event):
    detail_type: Literal["SageMaker Processing Job State Change"] = Field(alias="detail-type")
    detail: ProcessingJobDetail

    def signal(self) -> ProcessingJobSignal:
        detail = self.detail
        return ProcessingJobSignal(
            name=detail.ProcessingJobName, arn=detail.ProcessingJobArn, status=str(detail.ProcessingJobStatus)
        )


class DriftWindowStatusEvent(_Event):
    detail_type: Literal["Drift Monitoring Execution Status Change"] = Field(alias="detail-type")
    #: Validated as :class:`~anomaly_sentinel.contracts.messages.DriftWindowEvent` (errors name the field).
    detail: dict[str, Any]

    def signal(self) -> DriftWindowSignal:
        window = messages.validate(DriftWindowEvent, self.detail, "drift window event")
        return DriftWindowSignal(
            name=window.execution,
            arn=window.execution,
            status=window.status,
            occurred=window.window_start or str(self.time or ""),
            endpoint=window.endpoint,
            report_uri=window.report_uri,
        )


class AlarmDetail(BaseModel):
    model_config = ConfigDict(extra="ignore")

    alarmName: str
    state: Any = None
    configuration: Any = None


class AlarmStateChangeEvent(_Event):
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    detail: AlarmDetail

    def signal(self) -> AlarmSignal:
        name = self.detail.alarmName
        state = self.detail.state if isinstance(self.detail.state, dict) else {}
        resources = self.resources or []
        return AlarmSignal(
            name=name,
            arn=str(resources[0] if resources else f"alarm:{name}"),
            status=str(state.get("value", "")),
            occurred=str(state.get("timestamp") or self.time or ""),
            alarm=_alarm_state(self.detail.configuration, state),
        )


MonitoringEvent = Annotated[
    ProcessingJobEvent | DriftWindowStatusEvent | AlarmStateChangeEvent, Field(discriminator="detail_type")
]
_EVENTS: TypeAdapter[ProcessingJobEvent | DriftWindowStatusEvent | AlarmStateChangeEvent] = TypeAdapter(
    MonitoringEvent
)
#: What a detail that does not validate lacks, by event.
_MISSING = {
    PROCESSING_JOB_EVENT: "processing job event without ProcessingJobName/ProcessingJobArn",
    ALARM_EVENT: "alarm event without alarmName",
}


def signal_from_event(event: dict[str, Any]) -> MonitoringSignal:
    """Recognise the three trigger events; anything else is an :class:`EventParseError`."""
    detail_type = event.get("detail-type")
    if not isinstance(event.get("detail"), dict):
        raise EventParseError(f"event {event.get('id', '?')} has no detail object")
    try:
        parsed = _EVENTS.validate_python(event)
    except ValidationError as exc:
        if exc.errors()[0]["type"].startswith("union_tag"):
            raise EventParseError(f"unexpected event type {detail_type!r}: not a monitoring signal") from None
        raise EventParseError(_MISSING.get(str(detail_type), f"malformed {detail_type} event")) from None
    return parsed.signal()


def _alarm_state(configuration: Any, state: dict[str, Any]) -> AlarmState:
    reason_data: Any = {}
    try:
        reason_data = json.loads(state.get("reasonData") or "{}")
    except (json.JSONDecodeError, TypeError, RecursionError):
        reason_data = {}
    reason_data = reason_data if isinstance(reason_data, dict) else {}
    recent = reason_data.get("recentDatapoints") or []
    threshold = reason_data.get("threshold")
    metrics = []
    for metric in (configuration or {}).get("metrics") or []:
        stat = ((metric or {}).get("metricStat") or {}).get("metric") or {}
        dimensions = stat.get("dimensions") or {}
        metrics.append(
            AlarmMetric(
                name=str(stat.get("name") or ""),
                endpoint=str(dimensions["Endpoint"]) if dimensions.get("Endpoint") else None,
                schedule=str(dimensions["MonitoringSchedule"])
                if dimensions.get("MonitoringSchedule")
                else None,
            )
        )
    return AlarmState(
        reason=str(state.get("reason") or ""),
        latest=float(recent[-1]) if recent and isinstance(recent[-1], int | float) else None,
        threshold=float(threshold) if isinstance(threshold, int | float) else None,
        metrics=tuple(metrics),
    )
