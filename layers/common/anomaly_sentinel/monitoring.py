"""Monitoring signals → one outcome model → one alert, and the retraining policy.

Two signals reach MonitoringAlertFunction: a Model Monitor execution finishing (it runs as a
processing job, so it arrives as "SageMaker Processing Job State Change") and a drift alarm
("CloudWatch Alarm State Change" on Model Monitor's ``feature_baseline_drift_<feature>`` metrics).
Both are normalised into :class:`MonitoringOutcome`, so the alert, the policy and the retraining
request never care where the signal came from.

Pure functions (parsing, status, policy, alert text, names) are separated from the adapters at the
bottom (DescribeProcessingJob, ListMonitoringExecutions, the violations file on S3, StartExecution).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any, Literal
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, computed_field

from anomaly_sentinel.alerts import Alert
from anomaly_sentinel.exceptions import EventParseError, RetrainStartError, ViolationsFileError
from anomaly_sentinel.settings import MonitoringAlertSettings

Status = Literal["Completed", "CompletedWithViolations", "Failed", "Stopped"]
Source = Literal["processing-job", "alarm"]

PROCESSING_JOB_EVENT = "SageMaker Processing Job State Change"
ALARM_EVENT = "CloudWatch Alarm State Change"
#: Model Monitor writes this name; one documentation page spells it the other way: read both.
VIOLATIONS_FILES = ("constraint_violations.json", "constraints_violations.json")
VIOLATIONS_MAX_BYTES = 5 * 1024 * 1024
DRIFT_METRIC_PREFIX = "feature_baseline_drift_"
ALERT_VIOLATION_LINES = 25
EXECUTION_NAME_MAX = 80  # Step Functions execution names: 1-80 of [A-Za-z0-9_-]

_NOT_NAME_CHARS = re.compile(r"[^A-Za-z0-9-]+")
_NUMBER = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
_DISTANCE = re.compile(rf"distance\D{{0,20}}?{_NUMBER}", re.IGNORECASE)
_THRESHOLD = re.compile(rf"threshold\D{{0,20}}?{_NUMBER}", re.IGNORECASE)
_VALUE = re.compile(rf"(?:value|with)\s*:?\s*{_NUMBER}", re.IGNORECASE)


# ---------------------------------------------------------------------------- models


class Violation(BaseModel):
    """One entry of constraint_violations.json, with the numbers its description carries."""

    model_config = ConfigDict(frozen=True)

    feature_name: str
    check_type: str
    description: str = ""
    value: float | None = None
    distance: float | None = None
    threshold: float | None = None

    def summary(self) -> str:
        numbers = []
        if self.distance is not None:
            numbers.append(f"distance {self.distance:g}")
        elif self.value is not None:
            numbers.append(f"value {self.value:g}")
        if self.threshold is not None:
            numbers.append(f"threshold {self.threshold:g}")
        detail = f" ({', '.join(numbers)})" if numbers else ""
        return f"{self.feature_name}: {self.check_type}{detail}"


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


class MonitoringSignal(BaseModel):
    """The event reduced to what identifies it: duplicates of one signal share ``identity``."""

    model_config = ConfigDict(frozen=True)

    source: Source
    name: str
    arn: str
    status: str
    event: dict[str, Any] = Field(repr=False)
    occurred: str = ""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def identity(self) -> str:
        """Monitoring execution identity is its job ARN; an alarm's is its ARN + state change time."""
        return self.arn if self.source == "processing-job" else f"{self.arn}#{self.occurred}"


class RetrainingPolicy(BaseModel):
    """Which outcomes start a retraining run: counted check types, a minimum, drift alarms."""

    model_config = ConfigDict(frozen=True)

    check_types: tuple[str, ...] = ()
    min_violations: int = Field(default=1, ge=1)
    on_alarm: bool = True

    @classmethod
    def from_settings(cls, settings: MonitoringAlertSettings) -> RetrainingPolicy:
        return cls(
            check_types=settings.retrain_check_types,
            min_violations=settings.retrain_min_violations,
            on_alarm=settings.retrain_on_alarm,
        )


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
            source="processing-job",
            name=name,
            arn=arn,
            status=str(detail.get("ProcessingJobStatus", "")),
            event=event,
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
            event=event,
            occurred=str(state.get("timestamp") or event.get("time") or ""),
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
    if not signal.name.startswith(settings.alarm_prefix):
        return "alarm name outside the drift-alarm prefix"
    if signal.status != "ALARM":
        return f"alarm state is {signal.status or 'unknown'}, not ALARM"
    return None


def _first_number(pattern: re.Pattern[str], text: str) -> float | None:
    match = pattern.search(text)
    return float(match.group(1)) if match else None


def violation_from_entry(entry: dict[str, Any]) -> Violation:
    """One violations-file entry; numbers are parsed best-effort from the free-text description.

    Model Monitor's descriptions vary by container version ("Value: 0.49 does not meet the
    constraint requirement!", "Baseline drift distance: 0.25 exceeds threshold: 0.1", model-quality
    "Metric f1 with 0.5 +/- 0.01 was LessThanThreshold 0.8"); what cannot be parsed stays None.
    """
    description = str(entry.get("description") or "").strip()
    return Violation(
        feature_name=str(entry["feature_name"]),
        check_type=str(entry["constraint_check_type"]),
        description=description,
        value=_first_number(_VALUE, description),
        distance=_first_number(_DISTANCE, description),
        threshold=_first_number(_THRESHOLD, description),
    )


def parse_violations(raw: bytes | str) -> tuple[Violation, ...]:
    """Parse constraint_violations.json; :class:`ViolationsFileError` says what is wrong with it."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    if not text.strip():
        raise ViolationsFileError("empty")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ViolationsFileError(f"malformed: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(document, dict) or not isinstance(document.get("violations"), list):
        raise ViolationsFileError("malformed: no 'violations' list")
    parsed: list[Violation] = []
    unreadable = 0
    for entry in document["violations"]:
        try:
            if not isinstance(entry, dict):
                raise TypeError("entry is not an object")
            parsed.append(violation_from_entry(entry))
        except (KeyError, TypeError, ValueError, ValidationError):
            unreadable += 1
    if unreadable:
        raise ViolationsFileError(
            f"malformed: {unreadable} of {len(document['violations'])} entries lack "
            "feature_name/constraint_check_type"
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
    counted = [v for v in outcome.violations if v.check_type in policy.check_types]
    if len(counted) >= policy.min_violations:
        return Decision(
            retrain=True,
            reason=f"{len(counted)} counted violations >= {policy.min_violations} required",
        )
    return Decision(
        retrain=False,
        reason=f"{len(counted)} counted violations < {policy.min_violations} required",
    )


def execution_name(signal: MonitoringSignal) -> str:
    """Deterministic Step Functions execution name: duplicates of one signal collide on purpose."""
    digest = hashlib.sha256(signal.identity.encode("utf-8")).hexdigest()[:12]
    prefix = "monitor" if signal.source == "processing-job" else "alarm"
    slug = _NOT_NAME_CHARS.sub("-", signal.name).strip("-") or "signal"
    head = f"{prefix}-{slug}"[: EXECUTION_NAME_MAX - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}"


def retrain_input(outcome: MonitoringOutcome, decision: Decision, input_data_uri: str) -> dict[str, Any]:
    """The state machine input (contract: inputDataUri to start a run, plus trigger and reason)."""
    payload: dict[str, Any] = {
        "trigger": "drift-alarm" if outcome.source == "alarm" else "monitoring",
        "reason": f"{decision.reason}; {outcome.source} {outcome.job_arn}"[:1000],
        "monitoringJobArn": outcome.job_arn,
        "endpoint": outcome.endpoint,
    }
    if input_data_uri:
        payload["inputDataUri"] = input_data_uri
    return payload


def _count_line(violations: Iterable[Violation]) -> str:
    counts = Counter(v.check_type for v in violations)
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
    features = sorted({v.feature_name for v in outcome.violations})
    noun = "drift alarm" if outcome.source == "alarm" else f"{count} violations"
    return Alert(
        kind="model-drift",
        severity="warning",
        endpoint=outcome.endpoint,
        subject=f"Model drift on {outcome.endpoint}: {noun} ({', '.join(features[:3]) or where})",
        body="\n".join(lines),
    )


# ---------------------------------------------------------------------------- alarms


def outcome_from_alarm(signal: MonitoringSignal, default_endpoint: str) -> MonitoringOutcome:
    """A drift alarm in ALARM as an outcome with one baseline-drift violation per drifting feature."""
    detail = signal.event["detail"]
    state = detail.get("state") or {}
    reason_data: dict[str, Any] = {}
    try:
        loaded = json.loads(state.get("reasonData") or "{}")
        reason_data = loaded if isinstance(loaded, dict) else {}
    except json.JSONDecodeError:
        reason_data = {}
    recent = reason_data.get("recentDatapoints") or []
    latest = float(recent[-1]) if recent and isinstance(recent[-1], int | float) else None
    threshold = reason_data.get("threshold")
    endpoint, schedule = default_endpoint, None
    violations = []
    for metric in (detail.get("configuration") or {}).get("metrics") or []:
        stat = (metric.get("metricStat") or {}).get("metric") or {}
        dimensions = stat.get("dimensions") or {}
        endpoint = str(dimensions.get("Endpoint") or endpoint)
        schedule = dimensions.get("MonitoringSchedule") or schedule
        name = str(stat.get("name") or "")
        if name.startswith(DRIFT_METRIC_PREFIX):
            violations.append(
                Violation(
                    feature_name=name.removeprefix(DRIFT_METRIC_PREFIX),
                    check_type="baseline_drift_check",
                    description=str(state.get("reason") or "")[:1000],
                    distance=latest,
                    threshold=float(threshold) if isinstance(threshold, int | float) else None,
                )
            )
    if not violations:
        violations.append(
            Violation(
                feature_name=signal.name,
                check_type="alarm",
                description=str(state.get("reason") or "")[:1000],
                value=latest,
            )
        )
    return MonitoringOutcome(
        source="alarm",
        endpoint=endpoint,
        schedule=str(schedule) if schedule else None,
        job_arn=signal.arn,
        status="CompletedWithViolations",
        violations=tuple(violations),
        detail=str(state.get("reason") or "") or None,
        status_source="alarm state",
    )


# ---------------------------------------------------------------------------- AWS adapters


def _s3_location(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ViolationsFileError(f"malformed: report location {uri!r} is not an s3:// URI")
    return parsed.netloc, parsed.path.lstrip("/")


def read_violations(s3: Any, report_uri: str) -> tuple[Violation, ...]:
    """Read the violations file under the report URI (either spelling); problems are named."""
    bucket, prefix = _s3_location(report_uri)
    base = prefix.rstrip("/")
    for file_name in VIOLATIONS_FILES:
        key = f"{base}/{file_name}" if base else file_name
        try:
            response = s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                continue
            raise
        body = response["Body"]
        try:
            raw = body.read(VIOLATIONS_MAX_BYTES + 1)
        finally:
            body.close()
        if len(raw) > VIOLATIONS_MAX_BYTES:
            raise ViolationsFileError(f"malformed: larger than {VIOLATIONS_MAX_BYTES} bytes")
        return parse_violations(raw)
    raise ViolationsFileError(f"missing: neither {' nor '.join(VIOLATIONS_FILES)} under {report_uri}")


def monitoring_execution_status(sagemaker: Any, schedule: str, job_arn: str) -> dict[str, Any] | None:
    """The ListMonitoringExecutions summary of this job, when the API answers (None otherwise)."""
    try:
        response = sagemaker.list_monitoring_executions(
            MonitoringScheduleName=schedule, SortBy="CreationTime", SortOrder="Descending", MaxResults=100
        )
    except (ClientError, BotoCoreError, NotImplementedError):
        # Denied, throttled after retries, or not implemented (the local emulator): the
        # ExitMessage and the violations file still decide.
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


def outcome_from_processing_job(
    signal: MonitoringSignal, default_endpoint: str, sagemaker: Any, s3: Any
) -> MonitoringOutcome | None:
    """Confirm with DescribeProcessingJob that this is a monitoring execution and read its result.

    Returns None when the job has no MonitoringScheduleArn (not a monitoring execution). Status
    comes from ExitMessage, cross-checked with ListMonitoringExecutions where it answers, and, when
    neither says, from the violations file itself.
    """
    job = sagemaker.describe_processing_job(ProcessingJobName=signal.name)
    schedule_arn = job.get("MonitoringScheduleArn")
    if not schedule_arn:
        return None
    schedule = str(schedule_arn).rsplit("/", 1)[-1]
    environment = job.get("Environment") or {}
    processing_status = str(job.get("ProcessingJobStatus") or signal.status)
    exit_message = job.get("ExitMessage")
    status = status_from_exit_message(processing_status, exit_message)
    status_source = "ExitMessage" if status is not None else "processing job"
    summary = monitoring_execution_status(sagemaker, schedule, str(job.get("ProcessingJobArn", signal.arn)))
    listed = (summary or {}).get("MonitoringExecutionStatus")
    if listed in ("Completed", "CompletedWithViolations", "Failed", "Stopped"):
        status, status_source = listed, "ListMonitoringExecutions"
    endpoint = str(
        environment.get("sagemaker_endpoint_name") or (summary or {}).get("EndpointName") or default_endpoint
    )
    report_uri = _report_uri(job)
    detail = job.get("FailureReason") or exit_message or (summary or {}).get("FailureReason")
    violations: tuple[Violation, ...] = ()
    problem: str | None = None
    if processing_status == "Completed" and status != "Completed":
        try:
            if report_uri is None:
                raise ViolationsFileError("missing: the job has no S3 output location")
            violations = read_violations(s3, report_uri)
        except ViolationsFileError as exc:
            problem = str(exc)
        if status is None:
            status = "CompletedWithViolations" if violations or problem else "Completed"
            status_source = "violations file"
        elif status == "CompletedWithViolations" and not violations and problem is None:
            problem = "empty: the run reported violations but the file lists none"
    return MonitoringOutcome(
        source="processing-job",
        endpoint=endpoint,
        schedule=schedule,
        job_arn=str(job.get("ProcessingJobArn", signal.arn)),
        status=status or "Completed",
        violations=violations,
        report_uri=report_uri,
        detail=str(detail) if detail else None,
        violations_problem=problem,
        status_source=status_source,
    )


def start_retraining(sfn: Any, state_machine_arn: str, name: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Start one retraining execution; an execution of that name already existing is success."""
    execution_arn = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
    try:
        response = sfn.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload)
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
