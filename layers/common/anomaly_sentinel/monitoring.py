"""Monitoring signals → one outcome model → one alert, and the retraining policy.

Three signals reach MonitoringAlertFunction: a Model Monitor execution finishing (it runs as a
processing job, so it arrives as "SageMaker Processing Job State Change"), the stack's own drift
monitor finishing a window ("Drift Monitoring Execution Status Change", same report files), and a
drift alarm ("CloudWatch Alarm State Change" on ``feature_baseline_drift_<feature>`` metrics).
All are normalised into :class:`MonitoringOutcome`, so the alert, the policy and the retraining
request never care where the signal came from.

Pure functions (parsing, status, policy, alert text, names) are separated from the adapters at the
bottom (DescribeProcessingJob, ListMonitoringExecutions, the violations file on S3, StartExecution).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, computed_field

from anomaly_sentinel import alerts, storms
from anomaly_sentinel.alerts import Alert
from anomaly_sentinel.contracts import (
    DRIFT_EVENT_DETAIL_TYPE,
    S3UriError,
    messages,
    parse_s3_uri,
    read_at_most,
    read_document,
    s3_uri,
)
from anomaly_sentinel.contracts.messages import (
    DriftWindowEvent,
    RetrainRequest,
    Violation,
    violation_from_model_monitor,
)
from anomaly_sentinel.drift import SCORE_DRIFT_CHECK
from anomaly_sentinel.exceptions import (
    DocumentError,
    EventParseError,
    MessageError,
    RetrainStartError,
    ViolationsFileError,
)
from anomaly_sentinel.settings import MonitoringAlertSettings

Status = Literal["Completed", "CompletedWithViolations", "Failed", "Stopped"]
Source = Literal["processing-job", "alarm", "drift-monitor"]

PROCESSING_JOB_EVENT = "SageMaker Processing Job State Change"
ALARM_EVENT = "CloudWatch Alarm State Change"
#: The schedule name alerts show for the drift monitor's windows.
DRIFT_MONITOR_SCHEDULE = "drift-monitor"
#: Model Monitor writes this name; one documentation page spells it the other way: read both.
VIOLATIONS_FILES = ("constraint_violations.json", "constraints_violations.json")
VIOLATIONS_MAX_BYTES = 5 * 1024 * 1024
DRIFT_METRIC_PREFIX = "feature_baseline_drift_"
ALERT_VIOLATION_LINES = 25
EXECUTION_NAME_MAX = 80  # Step Functions execution names: 1-80 of [A-Za-z0-9_-]

_NOT_NAME_CHARS = re.compile(r"[^A-Za-z0-9-]+")


# ---------------------------------------------------------------------------- models


class MonitoringOutcome(BaseModel):
    """What one monitoring signal says, whichever route it came by."""

    model_config = ConfigDict(frozen=True)

    source: Source
    endpoint: str
    schedule: str | None = None
    job_arn: str
    status: Status
    violations: tuple[Violation, ...] = ()
    report_uri: str | None = None
    detail: str | None = None
    #: Why the violations could not be read (missing, empty, malformed), when they could not.
    violations_problem: str | None = None
    status_source: str = "event"


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


class MonitoringSignal(BaseModel):
    """The event parsed once, reduced to what the use case needs; duplicates share ``identity``."""

    model_config = ConfigDict(frozen=True)

    source: Source
    name: str
    arn: str
    status: str
    occurred: str = ""
    alarm: AlarmState | None = Field(default=None, repr=False)
    #: Drift monitor windows: the endpoint and the report folder the event names.
    endpoint: str | None = None
    report_uri: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def identity(self) -> str:
        """A monitoring execution's identity is its job ARN (a drift window's, its execution id); an
        alarm's is its ARN + state change time."""
        return self.arn if self.source != "alarm" else f"{self.arn}#{self.occurred}"


class RetrainingPolicy(BaseModel):
    """Which outcomes start a retraining run: counted check types, a minimum, persistence, drift alarms.

    "The data moved" (feature drift, new values, a drift alarm on feature metrics) alerts; "the
    model is now wrong" retrains: by the template's defaults only ``score_drift_check`` counts — the
    model flags more of the traffic than its alert budget — and only once it has persisted for
    ``min_windows`` consecutive drift windows (an incident of an hour is what the model is for).
    """

    model_config = ConfigDict(frozen=True)

    check_types: tuple[str, ...] = ()
    min_violations: int = Field(default=1, ge=1)
    on_alarm: bool = True
    min_windows: int = Field(default=1, ge=1)

    @classmethod
    def from_settings(cls, settings: MonitoringAlertSettings) -> RetrainingPolicy:
        return cls(
            check_types=settings.retrain_check_types,
            min_violations=settings.retrain_min_violations,
            on_alarm=settings.retrain_on_alarm,
            min_windows=settings.retrain_min_windows,
        )

    def counts(self, violation: Violation) -> bool:
        """A violation of a counted type; a score drift only once it has persisted long enough."""
        if violation.check_type not in self.check_types:
            return False
        if violation.check_type == SCORE_DRIFT_CHECK:
            return (violation.consecutive_windows or 1) >= self.min_windows
        return True


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    retrain: bool
    reason: str


# ---------------------------------------------------------------------------- pure logic


def signal_from_event(event: dict[str, Any]) -> MonitoringSignal:
    """Recognise the two trigger events; anything else is an :class:`EventParseError`."""
    detail_type = event.get("detail-type")
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise EventParseError(f"event {event.get('id', '?')} has no detail object")
    if detail_type == PROCESSING_JOB_EVENT:
        name, arn = detail.get("ProcessingJobName"), detail.get("ProcessingJobArn")
        if not isinstance(name, str) or not isinstance(arn, str):
            raise EventParseError("processing job event without ProcessingJobName/ProcessingJobArn")
        return MonitoringSignal(
            source="processing-job", name=name, arn=arn, status=str(detail.get("ProcessingJobStatus", ""))
        )
    if detail_type == DRIFT_EVENT_DETAIL_TYPE:
        window = messages.validate(DriftWindowEvent, detail, "drift window event")
        return MonitoringSignal(
            source="drift-monitor",
            name=window.execution,
            arn=window.execution,
            status=window.status,
            occurred=window.window_start or str(event.get("time") or ""),
            endpoint=window.endpoint,
            report_uri=window.report_uri,
        )
    if detail_type == ALARM_EVENT:
        name = detail.get("alarmName")
        state = detail.get("state")
        state = state if isinstance(state, dict) else {}
        if not isinstance(name, str):
            raise EventParseError("alarm event without alarmName")
        resources = event.get("resources") or []
        arn = resources[0] if resources else f"alarm:{name}"
        return MonitoringSignal(
            source="alarm",
            name=name,
            arn=str(arn),
            status=str(state.get("value", "")),
            occurred=str(state.get("timestamp") or event.get("time") or ""),
            alarm=_alarm_state(detail, state),
        )
    raise EventParseError(f"unexpected event type {detail_type!r}: not a monitoring signal")


def ignore_reason(signal: MonitoringSignal, settings: MonitoringAlertSettings) -> str | None:
    """Why a signal is not ours to handle (the rule already narrows; this is defence in depth)."""
    if signal.source == "processing-job":
        if not any(signal.name.startswith(prefix) for prefix in settings.job_prefixes):
            return "job name outside the monitoring prefixes"
        if signal.status not in ("Completed", "Failed", "Stopped"):
            return f"job not finished ({signal.status or 'no status'})"
        return None
    if signal.source == "drift-monitor":
        return _drift_ignore_reason(signal, settings)
    return _alarm_ignore_reason(signal, settings)


def _drift_ignore_reason(signal: MonitoringSignal, settings: MonitoringAlertSettings) -> str | None:
    if signal.status not in ("Completed", "CompletedWithViolations"):
        return f"drift window status {signal.status or 'unknown'}"
    if reason := foreign_endpoint(signal.endpoint, settings.endpoint_name):
        return f"drift window {reason}"
    return None


def _alarm_ignore_reason(signal: MonitoringSignal, settings: MonitoringAlertSettings) -> str | None:
    if not signal.name.startswith(settings.alarm_prefix):
        return "alarm name outside the drift-alarm prefix"
    if signal.status != "ALARM":
        return f"alarm state is {signal.status or 'unknown'}, not ALARM"
    # An alarm with no Endpoint dimension is ours by its name; one naming endpoints must name ours.
    endpoints = signal.alarm.endpoints if signal.alarm else set()
    if endpoints and (reason := foreign_endpoint(endpoints, settings.endpoint_name)):
        return f"alarm {reason}"
    return None


def own_violation(entry: Any) -> Violation:
    """An entry of a report the stack wrote (drift monitor): its figures are typed fields."""
    return messages.validate(Violation, entry, "violation entry")


def parse_violations(raw: bytes | str, *, model_monitor: bool) -> tuple[Violation, ...]:
    """Parse constraint_violations.json; :class:`ViolationsFileError` says what is wrong with it.

    ``model_monitor``: the file is Model Monitor's (its figures are read from the descriptions);
    otherwise the drift monitor's, whose entries must validate as :class:`Violation`.
    """
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    if not text.strip():
        raise ViolationsFileError("empty")
    try:
        document = read_document(text, max_bytes=VIOLATIONS_MAX_BYTES)
    except DocumentError as exc:
        raise ViolationsFileError(f"malformed: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("violations"), list):
        raise ViolationsFileError("malformed: no 'violations' list")
    read = violation_from_model_monitor if model_monitor else own_violation
    parsed: list[Violation] = []
    problems: list[str] = []
    for entry in document["violations"]:
        try:
            parsed.append(read(entry))
        except MessageError as exc:
            problems.append(str(exc))
    if problems:
        raise ViolationsFileError(
            f"malformed: {len(problems)} of {len(document['violations'])} entries do not validate "
            f"(first: {problems[0][:200]})"
        )
    return tuple(parsed)


def status_from_exit_message(processing_status: str, exit_message: str | None) -> Status | None:
    """The monitoring status a processing job reports; None when only the violations file can tell.

    A run with violations is a *Completed* processing job whose ExitMessage starts with
    ``CompletedWithViolations``.
    """
    if processing_status in ("Failed", "Stopped"):
        return processing_status  # type: ignore[return-value]
    message = (exit_message or "").strip()
    if message.startswith("CompletedWithViolations"):
        return "CompletedWithViolations"
    if message.startswith("Completed"):
        return "Completed"
    return None


def decide(outcome: MonitoringOutcome, policy: RetrainingPolicy) -> Decision:
    """Apply the retraining policy to an outcome."""
    if outcome.status != "CompletedWithViolations":
        return Decision(retrain=False, reason=f"status {outcome.status}")
    if outcome.source == "alarm":
        if policy.on_alarm:
            return Decision(retrain=True, reason="drift alarm in ALARM")
        return Decision(retrain=False, reason="drift alarms do not retrain (policy)")
    if outcome.violations_problem is not None:
        return Decision(retrain=False, reason=f"violations unreadable ({outcome.violations_problem})")
    counted = [v for v in outcome.violations if policy.counts(v)]
    persisting = [
        v.consecutive_windows or 1
        for v in outcome.violations
        if v.check_type == SCORE_DRIFT_CHECK and v.check_type in policy.check_types
    ]
    note = ""
    if persisting:
        note = (
            f"; the model's anomaly rate is beyond its budget for {max(persisting)} consecutive "
            f"window(s), {policy.min_windows} required"
        )
    elif outcome.violations and not counted:
        note = "; the data moved, the model's anomaly rate is within its budget: alert only"
    if len(counted) >= policy.min_violations:
        return Decision(
            retrain=True,
            reason=f"{len(counted)} counted violations >= {policy.min_violations} required{note}",
        )
    return Decision(
        retrain=False,
        reason=f"{len(counted)} counted violations < {policy.min_violations} required{note}",
    )


def execution_name(signal: MonitoringSignal) -> str:
    """Deterministic Step Functions execution name: duplicates of one signal collide on purpose."""
    digest = hashlib.sha256(signal.identity.encode("utf-8")).hexdigest()[:12]
    prefix = {"processing-job": "monitor", "alarm": "alarm", "drift-monitor": "drift"}[signal.source]
    slug = _NOT_NAME_CHARS.sub("-", signal.name).strip("-") or "signal"
    head = f"{prefix}-{slug}"[: EXECUTION_NAME_MAX - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}"


def retrain_input(outcome: MonitoringOutcome, decision: Decision, input_data_uri: str) -> RetrainRequest:
    """The state machine input: start a run (on ``input_data_uri`` when given), saying why."""
    return RetrainRequest(
        trigger={"alarm": "drift-alarm", "drift-monitor": "drift-monitor"}.get(outcome.source, "monitoring"),
        reason=f"{decision.reason}; {outcome.source} {outcome.job_arn}"[:1000],
        monitoring_job_arn=outcome.job_arn,
        endpoint=outcome.endpoint,
        input_data_uri=input_data_uri or None,
    )


def _count_line(violations: Iterable[Violation]) -> str:
    counts = Counter(alerts.shorten(v.check_type) for v in violations)
    return ", ".join(f"{kind} x{n}" for kind, n in sorted(counts.items()))


def build_alert(outcome: MonitoringOutcome, decision: Decision, retraining: str) -> Alert | None:
    """One alert per outcome: violations are a model alert, failed monitoring is operational.

    A clean run (Completed without violations) alerts nobody. ``retraining`` says what happened to
    the retraining request (started, already started, or why not).
    """
    where = outcome.schedule or "no schedule"
    lines = [
        f"Endpoint: {outcome.endpoint}",
        f"Monitoring schedule: {where}",
        f"Source: {outcome.source} {outcome.job_arn}",
        f"Status: {outcome.status} (from {outcome.status_source})",
    ]
    if outcome.report_uri:
        lines.append(f"Report: {outcome.report_uri}")
    if outcome.detail:
        lines.append(f"Detail: {outcome.detail[:500]}")
    if outcome.status in ("Failed", "Stopped"):
        lines.append(f"Retraining: {retraining}")
        return Alert(
            kind="monitoring-failed",
            severity="warning",
            endpoint=outcome.endpoint,
            subject=f"Monitoring {outcome.status.lower()} for {outcome.endpoint} ({where})",
            body="\n".join(lines),
        )
    if outcome.status == "Completed":
        return None
    if outcome.violations_problem is not None:
        lines.append(f"Violations file: {outcome.violations_problem} - the violations could not be read")
        lines.append(f"Retraining: {retraining}")
        return Alert(
            kind="monitoring-failed",
            severity="warning",
            endpoint=outcome.endpoint,
            subject=f"Monitoring found violations on {outcome.endpoint} but the report is unreadable",
            body="\n".join(lines),
        )
    count = len(outcome.violations)
    lines.append(f"Violations: {count} ({_count_line(outcome.violations) or 'none listed'})")
    lines.extend(f"- {v.summary()}" for v in outcome.violations[:ALERT_VIOLATION_LINES])
    if count > ALERT_VIOLATION_LINES:
        lines.append(f"... and {count - ALERT_VIOLATION_LINES} more")
    lines.append(f"Retraining: {retraining}")
    features = sorted({alerts.shorten(v.feature_name) for v in outcome.violations})
    noun = "drift alarm" if outcome.source == "alarm" else f"{count} violations"
    return Alert(
        kind="model-drift",
        severity="warning",
        endpoint=outcome.endpoint,
        subject=f"Model drift on {outcome.endpoint}: {noun} ({', '.join(features[:3]) or where})",
        body="\n".join(lines),
    )


# ---------------------------------------------------------------------------- alarms


def _alarm_state(detail: dict[str, Any], state: dict[str, Any]) -> AlarmState:
    reason_data: Any = {}
    try:
        reason_data = json.loads(state.get("reasonData") or "{}")
    except (json.JSONDecodeError, TypeError, RecursionError):
        reason_data = {}
    reason_data = reason_data if isinstance(reason_data, dict) else {}
    recent = reason_data.get("recentDatapoints") or []
    threshold = reason_data.get("threshold")
    metrics = []
    for metric in (detail.get("configuration") or {}).get("metrics") or []:
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


def outcome_from_alarm(signal: MonitoringSignal, default_endpoint: str) -> MonitoringOutcome:
    """A drift alarm in ALARM as an outcome with one baseline-drift violation per drifting feature."""
    alarm = signal.alarm or AlarmState()
    endpoint, schedule = default_endpoint, None
    violations = []
    for metric in alarm.metrics:
        endpoint = metric.endpoint or endpoint
        schedule = metric.schedule or schedule
        if metric.name.startswith(DRIFT_METRIC_PREFIX):
            violations.append(
                Violation(
                    feature_name=metric.name.removeprefix(DRIFT_METRIC_PREFIX),
                    check_type="baseline_drift_check",
                    description=alarm.reason[:1000],
                    distance=alarm.latest,
                    threshold=alarm.threshold,
                )
            )
    if not violations:
        violations.append(
            Violation(
                feature_name=signal.name,
                check_type="alarm",
                description=alarm.reason[:1000],
                value=alarm.latest,
            )
        )
    return MonitoringOutcome(
        source="alarm",
        endpoint=endpoint,
        schedule=schedule,
        job_arn=signal.arn,
        status="CompletedWithViolations",
        violations=tuple(violations),
        detail=alarm.reason or None,
        status_source="alarm state",
    )


# ---------------------------------------------------------------------------- AWS adapters

#: S3 errors that make a report unreadable for good (an alert, not a retry): transient ones raise.
_UNREADABLE_CODES = ("NoSuchBucket", "AccessDenied", "InvalidObjectState", "403")


def read_violations(s3: Any, report_uri: str, *, model_monitor: bool) -> tuple[Violation, ...]:
    """Read the violations file under the report URI (either spelling); problems are named."""
    try:
        bucket, prefix = parse_s3_uri(report_uri, key_required=False)
    except S3UriError:
        raise ViolationsFileError(f"malformed: report location {report_uri!r} is not an s3:// URI") from None
    base = prefix.rstrip("/")
    for file_name in VIOLATIONS_FILES:
        key = f"{base}/{file_name}" if base else file_name
        try:
            response = s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                continue
            if code in _UNREADABLE_CODES:
                raise ViolationsFileError(f"unreadable: {s3_uri(bucket, key)} ({code})") from None
            raise
        return parse_violations(
            read_at_most(response["Body"], VIOLATIONS_MAX_BYTES), model_monitor=model_monitor
        )
    raise ViolationsFileError(f"missing: neither {' nor '.join(VIOLATIONS_FILES)} under {report_uri}")


def monitoring_execution_status(sagemaker: Any, schedule: str, job_arn: str) -> dict[str, Any] | None:
    """The ListMonitoringExecutions summary of this job, when the API answers (None otherwise)."""
    try:
        response = sagemaker.list_monitoring_executions(
            MonitoringScheduleName=schedule, SortBy="CreationTime", SortOrder="Descending", MaxResults=100
        )
    except (ClientError, BotoCoreError):
        # Denied, or throttled after retries: the ExitMessage and the violations file still decide.
        return None
    for summary in response.get("MonitoringExecutionSummaries", []):
        if summary.get("ProcessingJobArn") == job_arn:
            return dict(summary)
    return None


def _report_uri(job: dict[str, Any]) -> str | None:
    outputs = (job.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    for output in outputs:
        uri = (output.get("S3Output") or {}).get("S3Uri")
        if uri:
            return str(uri)
    return None


class MonitoringJob(BaseModel):
    """A processing job confirmed to be a monitoring execution: DescribeProcessingJob + its listing."""

    model_config = ConfigDict(frozen=True)

    job_arn: str
    schedule: str
    endpoint: str | None
    processing_status: str
    exit_message: str | None = None
    failure_reason: str | None = None
    report_uri: str | None = None
    listed_status: str | None = None


def describe_monitoring_job(signal: MonitoringSignal, sagemaker: Any) -> MonitoringJob | None:
    """The monitoring execution behind a processing-job signal; None when it is not one."""
    job = sagemaker.describe_processing_job(ProcessingJobName=signal.name)
    schedule_arn = job.get("MonitoringScheduleArn")
    if not schedule_arn:
        return None
    schedule = str(schedule_arn).rsplit("/", 1)[-1]
    job_arn = str(job.get("ProcessingJobArn", signal.arn))
    summary = monitoring_execution_status(sagemaker, schedule, job_arn) or {}
    endpoint = (job.get("Environment") or {}).get("sagemaker_endpoint_name") or summary.get("EndpointName")
    failure = job.get("FailureReason") or job.get("ExitMessage") or summary.get("FailureReason")
    return MonitoringJob(
        job_arn=job_arn,
        schedule=schedule,
        endpoint=str(endpoint) if endpoint else None,
        processing_status=str(job.get("ProcessingJobStatus") or signal.status),
        exit_message=job.get("ExitMessage"),
        failure_reason=str(failure) if failure else None,
        report_uri=_report_uri(job),
        listed_status=summary.get("MonitoringExecutionStatus"),
    )


def outcome_from_job(job: MonitoringJob, s3: Any) -> MonitoringOutcome:
    """Status from ExitMessage, cross-checked with ListMonitoringExecutions, else the violations file."""
    status = status_from_exit_message(job.processing_status, job.exit_message)
    status_source = "ExitMessage" if status is not None else "processing job"
    if job.listed_status in ("Completed", "CompletedWithViolations", "Failed", "Stopped"):
        status, status_source = job.listed_status, "ListMonitoringExecutions"  # type: ignore[assignment]
    violations: tuple[Violation, ...] = ()
    problem: str | None = None
    if job.processing_status == "Completed" and status != "Completed":
        try:
            if job.report_uri is None:
                raise ViolationsFileError("missing: the job has no S3 output location")
            violations = read_violations(s3, job.report_uri, model_monitor=True)
        except ViolationsFileError as exc:
            problem = str(exc)
        if status is None:
            status = "CompletedWithViolations" if violations or problem else "Completed"
            status_source = "violations file"
        elif status == "CompletedWithViolations" and not violations and problem is None:
            problem = "empty: the run reported violations but the file lists none"
    return MonitoringOutcome(
        source="processing-job",
        endpoint=job.endpoint or "",
        schedule=job.schedule,
        job_arn=job.job_arn,
        status=status or "Completed",
        violations=violations,
        report_uri=job.report_uri,
        detail=job.failure_reason,
        violations_problem=problem,
        status_source=status_source,
    )


def outcome_from_drift(signal: MonitoringSignal, s3: Any) -> MonitoringOutcome:
    """A drift monitor window: its status from the event, its violations from its report."""
    status: Status = "CompletedWithViolations" if signal.status == "CompletedWithViolations" else "Completed"
    violations: tuple[Violation, ...] = ()
    problem: str | None = None
    if status == "CompletedWithViolations":
        try:
            if not signal.report_uri:
                raise ViolationsFileError("missing: the drift event names no report")
            violations = read_violations(s3, signal.report_uri, model_monitor=False)
        except ViolationsFileError as exc:
            problem = str(exc)
        if not violations and problem is None:
            problem = "empty: the window reported violations but the file lists none"
    return MonitoringOutcome(
        source="drift-monitor",
        endpoint=signal.endpoint or "",
        schedule=DRIFT_MONITOR_SCHEDULE,
        job_arn=signal.arn,
        status=status,
        violations=violations,
        report_uri=signal.report_uri,
        violations_problem=problem,
        status_source="drift monitor event",
    )


def foreign_endpoint(endpoints: set[str] | str | None, ours: str) -> str | None:
    """Why a signal about ``endpoints`` is not this stack's business (None when it is)."""
    named = {endpoints} if isinstance(endpoints, str) else set(endpoints or ())
    if not named:
        return "the monitoring job names no endpoint"
    others = sorted(named - {ours})
    if others:
        return f"concerns endpoint {', '.join(others)}, not {ours}"
    return None


def start_retraining(sfn: Any, state_machine_arn: str, name: str, request: RetrainRequest) -> dict[str, Any]:
    """Start one retraining execution; an execution of that name already existing is success."""
    execution_arn = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
    try:
        response = sfn.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=request.execution_input()
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        if code == "ExecutionAlreadyExists":
            return {"execution_name": name, "execution_arn": execution_arn, "already_started": True}
        raise RetrainStartError(
            f"cannot start retraining '{name}' on {state_machine_arn}: "
            f"{code}: {exc.response.get('Error', {}).get('Message', '')}"
        ) from exc
    except BotoCoreError as exc:
        raise RetrainStartError(f"cannot start retraining '{name}' on {state_machine_arn}: {exc}") from exc
    return {"execution_name": name, "execution_arn": response["executionArn"], "already_started": False}


# ---------------------------------------------------------------------------- the use case


class MonitoringResponder:
    """One monitoring signal → its outcome → the retraining decision → at most one alert.

    Signals about another endpoint, and processing jobs that are not monitoring executions, are
    answered ``{"status": "ignored", "reason": ...}`` before anything is read or started. A signal
    that would retrain starts the one retraining of its episode of drift, or is folded into it
    (:class:`anomaly_sentinel.storms.Episodes`); of the signals of an hour that start or fold, the
    first alerts and the others are counted on its digest.
    """

    def __init__(
        self,
        settings: MonitoringAlertSettings,
        *,
        sagemaker: Any,
        s3: Any,
        sns: Any,
        sfn: Any,
        dynamodb: Any,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.policy = RetrainingPolicy.from_settings(settings)
        self.sagemaker, self.s3, self.sns, self.sfn = sagemaker, s3, sns, sfn
        self.dynamodb = dynamodb
        self.clock = clock
        self.episodes = storms.Episodes(
            dynamodb,
            sfn,
            settings.idempotency_table,
            settings.state_machine_arn,
            settings.retrain_cooldown_hours * 3600,
        )

    def outcome(self, signal: MonitoringSignal) -> MonitoringOutcome | str:
        """The outcome, or why the signal is not ours to act on."""
        ours = self.settings.endpoint_name
        if signal.source == "alarm":
            return outcome_from_alarm(signal, ours)
        if signal.source == "drift-monitor":
            return outcome_from_drift(signal, self.s3)
        job = describe_monitoring_job(signal, self.sagemaker)
        if job is None:
            return "not a monitoring execution (no MonitoringScheduleArn)"
        monitored = self.settings.model_monitor_endpoint
        foreign = None if monitored and job.endpoint == monitored else foreign_endpoint(job.endpoint, ours)
        if foreign is not None:
            return f"monitoring schedule {job.schedule} {foreign}"
        return outcome_from_job(job, self.s3)

    def handle(self, signal: MonitoringSignal) -> dict[str, Any]:
        outcome = self.outcome(signal)
        if isinstance(outcome, str):
            return {"status": "ignored", "reason": outcome}
        decision = decide(outcome, self.policy)
        started: dict[str, Any] | None = None
        admission: storms.Admission | None = None
        folded = 0
        if decision.retrain:
            started, admission, folded = self._retrain(signal, outcome, decision)
            retraining = _retraining_words(started, admission, decision)
        else:
            retraining = f"not started: {decision.reason}"
        alert = build_alert(outcome, decision, retraining) if folded <= 1 else None
        if alert is not None and folded == 1 and admission is not None:
            note = f"Further signals this hour are counted, not alerted, until {admission.until}."
            alert = alert.model_copy(update={"body": alert.body + "\n" + note})
        sent = None
        if alert is not None:
            message_id = alerts.publish(alert, self.sns, self.settings.alerts_topic_arn)
            sent = {"kind": alert.kind, "severity": alert.severity, "message_id": message_id}
        return {
            "status": outcome.status,
            "endpoint": outcome.endpoint,
            "schedule": outcome.schedule,
            "job_arn": outcome.job_arn,
            "violations": len(outcome.violations),
            "violations_problem": outcome.violations_problem,
            "alert": sent,
            "retrain": decision.retrain,
            "retrain_reason": decision.reason,
            "retraining": retraining,
            "episode": admission.execution if admission is not None else None,
            "execution": started,
            "digest_signals": folded,
        }

    def _retrain(
        self, signal: MonitoringSignal, outcome: MonitoringOutcome, decision: Decision
    ) -> tuple[dict[str, Any] | None, storms.Admission, int]:
        """Start the episode's retraining, or fold the signal into it: (execution, admission, folded).

        The episode is the endpoint's that retraining acts on (the stack's), whichever endpoint the
        signal watched (Model Monitor watches a real-time endpoint of its own).
        """
        now = self.clock()
        endpoint, table = self.settings.endpoint_name, self.settings.idempotency_table
        admission = self.episodes.admit(endpoint, execution_name(signal), now)
        expires = int(now.timestamp()) + self.settings.idempotency_ttl_seconds
        digest = storms.claim_digest(self.dynamodb, table, endpoint, storms.window_key(now), expires)
        if not admission.start:
            return None, admission, digest
        payload = retrain_input(outcome, decision, self.settings.retrain_input_data_uri)
        try:
            started = start_retraining(
                self.sfn, self.settings.state_machine_arn, admission.execution, payload
            )
        except RetrainStartError:
            self.episodes.release(endpoint, admission.execution)
            raise
        return started, admission, 0


def _retraining_words(started: dict[str, Any] | None, admission: storms.Admission, decision: Decision) -> str:
    """What happened to the retraining request, as the alert and the log say it."""
    if started is not None:
        verb = "already started" if started["already_started"] else "started"
        if started["already_started"]:
            return f"execution {admission.execution} {verb} ({decision.reason})"
        return f"{verb} execution {admission.execution} ({decision.reason})"
    count = f"; signal {admission.signals} of this episode" if admission.signals > 1 else ""
    return f"not started: {admission.reason}{count} ({decision.reason})"
