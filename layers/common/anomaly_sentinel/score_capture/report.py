"""What one capture file came to: the report (also the idempotency record), its rejects by
where they were refused, and the alerts a person reads (pure: no AWS calls)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from anomaly_sentinel import alerts
from anomaly_sentinel.capture import FEATURE_COUNT, CaptureDecoder
from anomaly_sentinel.scoring.files import anomaly_alert, failure_alert

# Reason code of a record refused after decoding for a row over the request limit (the decoder's
# are in anomaly_sentinel.capture, the endpoint's in anomaly_sentinel.scoring.files).
ROW_TOO_LARGE = "row-too-large"


@dataclass(frozen=True, slots=True)
class Rejections:
    """A file's rejected records by where they were refused: decoder, request limit, endpoint."""

    decoder: CaptureDecoder
    too_large: int
    endpoint: int
    endpoint_code: str

    @property
    def total(self) -> int:
        return self.decoder.rejected + self.too_large + self.endpoint

    def reasons(self) -> dict[str, int]:
        """Counts by reason code: the decoder's first, then the request limit's, then the endpoint's."""
        reasons = dict(self.decoder.reasons)
        if self.too_large:
            reasons[ROW_TOO_LARGE] = self.too_large
        if self.endpoint:
            reasons[self.endpoint_code] = self.endpoint
        return reasons


class TopAnomaly(BaseModel):
    event_id: str | None
    inference_time: str | None
    line: int
    row: int
    score: float


class CaptureReport(BaseModel):
    """What one capture file came to. Kept small: it is also the idempotency record."""

    object: str
    endpoint: str
    records: int
    scored: int
    rejected: int
    rows: int
    anomalies: int
    max_score: float | None
    cutoff: float | None
    cutoff_source: str
    cutoff_detail: str
    scores_uri: str
    rejects_uri: str | None
    statistics_uri: str | None = None
    dataset_rows: int = 0
    dataset_files: int = 0
    #: Dataset rows whose inference time was missing, unreadable or after the file was written
    #: (they take the capture file's hour instead), by that reason.
    dataset_times_replaced: dict[str, int] = {}
    #: Set when the drift window of the file's hour had already run: its rows are in no report.
    unmonitored: str | None = None
    calls: int
    retries: int
    bisections: int
    mean_latency_ms: float | None  # over the calls the endpoint answered
    reasons: dict[str, int]
    top_anomalies: list[TopAnomaly]
    expected_width: int | None = None
    width_source: str = "none"
    failure: str | None = None  # set when the file failed as a whole: one reason a person can act on
    alert_message_id: str | None = None

    @property
    def status(self) -> str:
        return "failed" if self.failure else "scored"

    def summary(self) -> dict[str, Any]:
        """The handler's return value: counts and where to look, no list of anomalies."""
        return {"status": self.status, **self.model_dump(exclude={"top_anomalies", "cutoff_detail"})}


def build_alert(report: CaptureReport) -> alerts.Alert:
    """One SNS message per file with anomalies: counts, top anomalies, cutoff and its source, URIs."""
    plural = "y" if report.anomalies == 1 else "ies"
    lines = [
        f"Capture file {report.object} was scored on endpoint {report.endpoint}.",
        "",
        f"Records: {report.records}  scored: {report.scored}  rejected: {report.rejected}  "
        f"anomalies: {report.anomalies}",
        f"Cutoff: {report.cutoff:.6g} (source: {report.cutoff_source}; {report.cutoff_detail})"
        if report.cutoff is not None
        else f"Cutoff: none ({report.cutoff_detail})",
        f"Max score: {report.max_score:.6g}" if report.max_score is not None else "Max score: -",
        "",
        f"Top {len(report.top_anomalies)} anomalies (eventId, inferenceTime, score):",
        *(
            f"  {alerts.shorten(a.event_id or f'line {a.line}')}  {alerts.shorten(a.inference_time or '-')}  "
            f"{a.score:.6g}"
            for a in report.top_anomalies
        ),
    ]
    return anomaly_alert(report, counted=f"{report.anomalies} anomal{plural}", lines=lines)


def failure_reason(
    decoder: CaptureDecoder, width: int | None, width_source: str, systematic: str | None
) -> str | None:
    """Why the file failed as a whole (None when it did not): the endpoint failed every request,
    or no record has the model's feature count."""
    if systematic is not None:
        shape = f"; the file's rows have {width} features" if width is not None else ""
        return (
            f"the endpoint failed every request the same way: {systematic}{shape}. "
            "Check that the model in service expects this file's features and that it is healthy"
        )
    if width_source in ("model", "setting") and decoder.decoded == 0 and decoder.reasons.get(FEATURE_COUNT):
        found = {w: n for w, n in decoder.widths.items() if w != width}
        file_width = max(found, key=lambda w: (found[w], w)) if found else None
        has = f"file has {file_width}" if file_width is not None else "no row matches"
        if width_source == "setting":
            return f"FeatureDim expects {width} features, {has}: send rows of that width or change FeatureDim"
        return f"model expects {width} features, {has}: send rows of the model's width or retrain"
    return None


def build_failure_alert(report: CaptureReport) -> alerts.Alert:
    """One critical SNS message for a file that failed as a whole: the reason, counts, URIs."""
    return failure_alert(
        report,
        what="Capture file",
        counts=f"Records: {report.records}  scored: {report.scored}  rejected: {report.rejected}  "
        f"endpoint calls: {report.calls}",
        subject="Scoring failed",
    )
