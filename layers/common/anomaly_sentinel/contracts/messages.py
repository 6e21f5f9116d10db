"""The messages one function sends another, each defined once: the writer and the reader import it.

* :class:`Violation` — an entry of a report's constraint_violations.json. Written by the drift
  monitor (``drift``) and the log drift check; read by the monitoring responder.
* :class:`DriftWindowEvent` — the detail of the "Drift Monitoring Execution Status Change" event.
  Put by DriftMonitorFunction (also its result); read by MonitoringAlertFunction.
* :class:`RetrainRequest` — the retraining state machine's execution input (camelCase). Started by
  MonitoringAlertFunction or by hand; read by RetrainStepsFunction's Prepare step.
* :class:`RetrainLock` — the retraining lock: decided by the Prepare step (``$.request.lock``),
  written and deleted by the state machine (AcquireLock, ReleaseLock), read by the monitoring
  responder's storm control (:func:`anomaly_sentinel.storms.retraining_holder`).

Numbers travel as typed fields; the human sentence (``description``, ``reason``) rides beside them
for people and is never parsed back. The one exception is Model Monitor's own
constraint_violations.json, a foreign format whose entries carry only a ``description``:
:func:`violation_from_model_monitor` reads its numbers tolerantly, and only there. A message that
does not validate is a :class:`~anomaly_sentinel.exceptions.MessageError` naming the message and
the field: the handler lets it propagate, so the event is retried and then dead-lettered.

pydantic only: this module is imported at every function's cold start.
"""

from __future__ import annotations

import re
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from anomaly_sentinel.alerts import shorten
from anomaly_sentinel.exceptions import MessageError

_Message = TypeVar("_Message", bound=BaseModel)


def validate(model: type[_Message], payload: Any, what: str) -> _Message:
    """``payload`` as ``model``, or a :class:`MessageError` naming ``what`` and the first bad field."""
    if not isinstance(payload, dict):
        raise MessageError(f"{what} is not a JSON object ({type(payload).__name__})")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(message)"
        raise MessageError(f"invalid {what}: {where}: {first['msg']}") from None


# ---------------------------------------------------------------------------- violations


class Violation(BaseModel):
    """One entry of constraint_violations.json, its figures as numbers.

    ``value``: the figure a requirement compares (completeness, the share of the expected type or
    of known codes, the window's anomaly rate, the share of lines no template matches);
    ``distance``: a baseline-drift distance (CDF L∞, or the spread's log ratio); ``threshold``:
    what the value or distance was held against (the baseline's requirement, the comparison
    threshold, the rate the model's score statistics predict). Each is None when the check has no
    such figure. Model Monitor's own files carry none of them (see
    :func:`violation_from_model_monitor`).
    """

    # Built by Python name, written by wire name (inline: pydantic's mypy plugin reads it here).
    model_config = ConfigDict(
        frozen=True, extra="ignore", strict=True, validate_by_name=True, serialize_by_alias=True
    )

    feature_name: str = Field(min_length=1)
    check_type: str = Field(alias="constraint_check_type", min_length=1)
    description: str = ""
    value: float | None = Field(default=None, allow_inf_nan=False)
    distance: float | None = Field(default=None, allow_inf_nan=False)
    threshold: float | None = Field(default=None, allow_inf_nan=False)
    #: Score drift: the one-sided binomial p-value of the window's anomaly count under the budget.
    p_value: float | None = Field(default=None, ge=0, le=1)
    #: Score drift: consecutive windows, this one included, with the anomaly rate beyond budget.
    consecutive_windows: int | None = Field(default=None, ge=1)

    def to_json(self) -> dict[str, Any]:
        """The file's entry: Model Monitor's three fields first, then the figures that are known."""
        return self.model_dump(exclude_none=True)

    def summary(self) -> str:
        """One alert line: the feature, the check and its figures."""
        numbers = []
        if self.distance is not None:
            numbers.append(f"distance {self.distance:g}")
        elif self.value is not None:
            numbers.append(f"value {self.value:g}")
        if self.threshold is not None:
            numbers.append(f"threshold {self.threshold:g}")
        if self.p_value is not None:
            numbers.append(f"p-value {self.p_value:.3g}")
        if self.consecutive_windows is not None:
            numbers.append(f"{self.consecutive_windows} consecutive window(s)")
        detail = f" ({', '.join(numbers)})" if numbers else ""
        return f"{shorten(self.feature_name)}: {shorten(self.check_type)}{detail}"


_NUMBER = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
_MM_DISTANCE = re.compile(rf"distance\D{{0,20}}?{_NUMBER}", re.IGNORECASE)
_MM_THRESHOLD = re.compile(rf"threshold\D{{0,20}}?{_NUMBER}", re.IGNORECASE)
#: "Value: 0.49 does not meet…", model quality's "Metric f1 with 0.5 +/- 0.01…" (not "p-value").
_MM_VALUE = re.compile(rf"(?<![\w-])(?:value|with)\s*:?\s*{_NUMBER}", re.IGNORECASE)


def _first_number(pattern: re.Pattern[str], text: str) -> float | None:
    match = pattern.search(text)
    return float(match.group(1)) if match else None


def violation_from_model_monitor(entry: Any) -> Violation:
    """One entry of Model Monitor's constraint_violations.json (a foreign format: prose only).

    Its descriptions vary by container version ("Value: 0.49 does not meet the constraint
    requirement! ", "Baseline drift distance: 0.25 exceeds threshold: 0.1", model quality's
    "Metric f1 with 0.5 +/- 0.01 was LessThanThreshold 0.8"); the numbers are read best-effort and
    what cannot be read stays None. A :class:`MessageError` when the entry lacks its names.
    """
    if not isinstance(entry, dict):
        raise MessageError("violation entry is not a JSON object")
    description = str(entry.get("description") or "").strip()
    count = entry.get("consecutive_windows")
    return validate(
        Violation,
        {
            "feature_name": entry.get("feature_name"),
            "constraint_check_type": entry.get("constraint_check_type"),
            "description": description,
            "value": _first_number(_MM_VALUE, description),
            "distance": _first_number(_MM_DISTANCE, description),
            "threshold": _first_number(_MM_THRESHOLD, description),
            # Not Model Monitor's, but a report of ours read this way keeps its persistence count.
            "consecutive_windows": count if type(count) is int and count > 0 else None,
        },
        "Model Monitor violation",
    )


# ---------------------------------------------------------------------------- drift window event


class DriftWindowEvent(BaseModel):
    """What one drift-monitor window came to: the event's detail and DriftMonitorFunction's result.

    The template's rule matches ``endpoint`` and ``status``; MonitoringAlertFunction reads
    ``execution`` (the signal's identity), ``endpoint``, ``status``, ``window_start`` and
    ``report_uri`` (the folder holding constraint_violations.json).
    """

    model_config = ConfigDict(frozen=True, extra="ignore", strict=True)

    execution: str = Field(min_length=1)
    endpoint: str = Field(min_length=1)
    window_start: str
    window_end: str
    status: Literal["Completed", "CompletedWithViolations"]
    files: int = Field(ge=0)
    records: int = Field(ge=0)
    effective_records: float = Field(ge=0, allow_inf_nan=False)
    violations: int = Field(ge=0)
    check_types: dict[str, int]
    report_uri: str | None
    baseline_uri: str | None
    skipped: str | None = None
    #: The first few unreadable statistics files with their reasons; all are counted.
    unreadable_files: list[str] = []
    unreadable_count: int = Field(default=0, ge=0)

    def detail(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


# ---------------------------------------------------------------------------- retraining request


class RetrainRequest(BaseModel):
    """The retraining state machine's input: adopt a pipeline execution, or start one.

    ``inputDataUri`` is optional (the pipeline's default data); ``monitoringJobArn`` and
    ``endpoint`` say which signal asked, for people and the report.
    """

    # Built by Python name, written by wire name (inline: pydantic's mypy plugin reads it here).
    model_config = ConfigDict(
        frozen=True, extra="ignore", strict=True, validate_by_name=True, serialize_by_alias=True
    )

    pipeline_execution_arn: str | None = Field(default=None, alias="pipelineExecutionArn")
    input_data_uri: str | None = Field(default=None, alias="inputDataUri", pattern=r"^s3://[^/]+/.*$")
    trigger: str = Field(default="manual", max_length=64)
    reason: str = Field(default="started by hand", max_length=1000)
    monitoring_job_arn: str | None = Field(default=None, alias="monitoringJobArn")
    endpoint: str | None = None
    #: ``logs``: a log route run (adopted only: a log model is trained by a log upload).
    kind: Literal["numeric", "logs"] = "numeric"

    def execution_input(self) -> str:
        """The StartExecution input: the fields that are set, by their wire names (``kind`` only for logs)."""
        return self.model_dump_json(exclude_none=True, exclude={"kind"} if self.kind == "numeric" else None)


# ---------------------------------------------------------------------------- retraining lock

#: Id prefix of the retraining lock item in the idempotency table (one lock per endpoint).
LOCK_PREFIX = "retrain-lock#"


class RetrainLock(BaseModel):
    """One retraining per endpoint at a time; a lock left by a dead run expires.

    The item in the idempotency table is ``id`` (S), ``holder`` (S, the execution's name),
    ``expiration`` (N, epoch seconds) and the request's ``trigger`` (S, for people). ``now`` is
    not stored: AcquireLock compares it with a held lock's ``expiration`` (JSONPath has no clock).
    The ASL reads these names from ``$.request.lock``; DynamoDB N values travel as strings there.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(min_length=1)
    holder: str = Field(min_length=1)
    expiration: int
    now: int

    @staticmethod
    def item_id(endpoint: str) -> str:
        return f"{LOCK_PREFIX}{endpoint}"

    @classmethod
    def taken(cls, endpoint: str, holder: str, now: int, ttl_seconds: int) -> RetrainLock:
        return cls(id=cls.item_id(endpoint), holder=holder, now=now, expiration=now + ttl_seconds)

    def state_input(self) -> dict[str, str]:
        """``$.request.lock`` for the state machine (N values as strings, as the integration wants)."""
        return {
            "id": self.id,
            "holder": self.holder,
            "now": str(self.now),
            "expiration": str(self.expiration),
        }

    @staticmethod
    def current_holder(item: dict[str, Any] | None, now: int) -> str | None:
        """The execution holding a stored lock item, or None when there is none or it expired."""
        if not item or int(item.get("expiration", {}).get("N", "0")) < now:
            return None
        return str(item.get("holder", {}).get("S", "unknown"))
