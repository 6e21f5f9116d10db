"""Monitoring outcomes, the retraining policy and the use case's typed results (pure: no AWS).

Whatever the signal, it becomes one :class:`MonitoringOutcome`; the policy decides on it once
(:func:`decide`); the use case answers :class:`Ignored` or :class:`Done`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from anomaly_sentinel.contracts import messages, read_document
from anomaly_sentinel.contracts.messages import RetrainRequest, Violation, violation_from_model_monitor
from anomaly_sentinel.drift import SCORE_DRIFT_CHECK
from anomaly_sentinel.exceptions import DocumentError, MessageError, ViolationsFileError
from anomaly_sentinel.monitoring.signals import AlarmSignal, MonitoringSignal, Source
from anomaly_sentinel.settings import MonitoringAlertSettings

Status = Literal["Completed", "CompletedWithViolations", "Failed", "Stopped"]

#: The schedule name alerts show for the drift monitor's windows.
DRIFT_MONITOR_SCHEDULE = "drift-monitor"
VIOLATIONS_MAX_BYTES = 5 * 1024 * 1024
EXECUTION_NAME_MAX = 80  # Step Functions execution names: 1-80 of [A-Za-z0-9_-]
#: What a retraining request says started it, by the signal's source.
TRIGGERS: dict[Source, str] = {
    "processing-job": "monitoring",
    "alarm": "drift-alarm",
    "drift-monitor": "drift-monitor",
}

_NOT_NAME_CHARS = re.compile(r"[^A-Za-z0-9-]+")


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


# ---------------------------------------------------------------------------- results


class Ignored(BaseModel):
    """The signal is not ours to act on: nothing was read, started or alerted."""

    model_config = ConfigDict(frozen=True)

    status: Literal["ignored"] = "ignored"
    reason: str


class SentAlert(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str
    severity: str
    message_id: str


class StartedExecution(BaseModel):
    """A retraining execution started by this signal (or one of that name already running)."""

    model_config = ConfigDict(frozen=True)

    execution_name: str
    execution_arn: str
    already_started: bool


class Done(BaseModel):
    """A signal handled: its outcome, the decision, what was alerted and started."""

    model_config = ConfigDict(frozen=True)

    status: Status
    endpoint: str
    schedule: str | None
    job_arn: str
    violations: int
    violations_problem: str | None
    alert: SentAlert | None
    retrain: bool
    retrain_reason: str
    retraining: str
    episode: str | None
    execution: StartedExecution | None
    digest_signals: int

    @property
    def started(self) -> bool:
        """A retraining execution started by this signal (not one already running)."""
        return self.execution is not None and not self.execution.already_started


Result = Annotated[Ignored | Done, Field(discriminator="status")]
_RESULT: TypeAdapter[Ignored | Done] = TypeAdapter(Result)


def result_from_json(document: Any) -> Ignored | Done:
    """A result as stored (a redelivery replays the first delivery's result)."""
    return _RESULT.validate_python(document)


# ---------------------------------------------------------------------------- pure logic


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
    slug = _NOT_NAME_CHARS.sub("-", signal.name).strip("-") or "signal"
    head = f"{signal.execution_prefix}-{slug}"[: EXECUTION_NAME_MAX - len(digest) - 1].rstrip("-")
    return f"{head}-{digest}"


def retrain_input(outcome: MonitoringOutcome, decision: Decision, input_data_uri: str) -> RetrainRequest:
    """The state machine input: start a run (on ``input_data_uri`` when given), saying why."""
    return RetrainRequest(
        trigger=TRIGGERS[outcome.source],
        reason=f"{decision.reason}; {outcome.source} {outcome.job_arn}"[:1000],
        monitoring_job_arn=outcome.job_arn,
        endpoint=outcome.endpoint,
        input_data_uri=input_data_uri or None,
    )


DRIFT_METRIC_PREFIX = "feature_baseline_drift_"


def outcome_from_alarm(signal: AlarmSignal, default_endpoint: str) -> MonitoringOutcome:
    """A drift alarm in ALARM as an outcome with one baseline-drift violation per drifting feature."""
    alarm = signal.alarm
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
