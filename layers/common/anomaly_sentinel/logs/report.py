"""What one log file came to (:class:`LogReport`, also the idempotency record) and its alerts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel

from anomaly_sentinel import alerts
from anomaly_sentinel.drift import logs as log_drift
from anomaly_sentinel.scoring.files import MetricsSink, anomaly_alert, failure_alert

if TYPE_CHECKING:
    from anomaly_sentinel.logs.ledger import Ledger
    from anomaly_sentinel.logs.model import LogModel
    from anomaly_sentinel.logs.stream import Tally
    from anomaly_sentinel.scoring.files import Calls

#: Characters of a sample line an alert shows.
SAMPLE_CHARS: Final = 160


class TopAnomaly(BaseModel):
    session: str
    score: float
    first_line: int
    lines: int


class TemplateCount(BaseModel):
    template_id: int
    count: int
    text: str


class NewTemplate(BaseModel):
    """An unseen line shape (masked as the table masks), the sessions it appeared in, one sample."""

    shape: str
    sessions: int
    sample: str


class LogReport(BaseModel):
    """What one log file came to. Kept small: it is also the idempotency record."""

    object: str
    endpoint: str
    model_package: str
    detector: str
    cutoff: float
    lines: int
    placed: int
    rejected_lines: int
    line_reasons: dict[str, int]
    unseen_lines: int
    oov_share: float | None
    sessions: int
    scored: int
    rejected_sessions: int
    session_reasons: dict[str, int]
    anomalies: int
    max_score: float | None
    scores_uri: str
    rejects_uri: str | None
    statistics_uri: str | None
    calls: int = 0
    retries: int = 0
    bisections: int = 0
    mean_latency_ms: float | None = None
    top_anomalies: list[TopAnomaly] = []
    top_templates: list[TemplateCount] = []
    new_templates: list[NewTemplate] = []
    failure: str | None = None
    alert_message_id: str | None = None

    @property
    def status(self) -> str:
        return "failed" if self.failure else "scored"

    def summary(self) -> dict[str, Any]:
        """The handler's return value: counts and where to look (no lists of sessions or lines)."""
        dumped = self.model_dump(exclude={"top_anomalies", "top_templates", "new_templates"})
        return {"status": self.status, **dumped, "new_template_shapes": len(self.new_templates)}


def oov_share(unseen: int, matched: int) -> float | None:
    """Share of the lines that reached the matcher whose template is unseen (None: no such line)."""
    total = unseen + matched
    return unseen / total if total else None


def build_alert(report: LogReport) -> alerts.Alert:
    """One message per file with anomalies: counts, top sessions, templates, new templates, URIs."""
    plural = "" if report.anomalies == 1 else "s"
    share = f"{report.oov_share:.2%}" if report.oov_share is not None else "-"
    lines = [
        f"Log file {report.object} was scored with the {report.detector.upper()} log model "
        f"{report.model_package}.",
        "",
        f"Lines: {report.lines}  grouped: {report.placed}  rejected: {report.rejected_lines} "
        f"{report.line_reasons or ''}".rstrip(),
        f"Sessions: {report.sessions}  scored: {report.scored}  rejected: {report.rejected_sessions}  "
        f"anomalies: {report.anomalies}",
        f"Cutoff: {report.cutoff:.6g} (detector.json)  max score: "
        + (f"{report.max_score:.6g}" if report.max_score is not None else "-"),
        f"Unseen lines (no template): {report.unseen_lines} ({share})",
        "",
        f"Top {len(report.top_anomalies)} anomalous sessions (session, score, first line, lines):",
        *(f"  {a.session}  {a.score:.6g}  line {a.first_line}  {a.lines}" for a in report.top_anomalies),
        "",
        "Templates most frequent in the anomalous sessions (count, id, template):",
        *(f"  {t.count}  #{t.template_id}  {t.text[:SAMPLE_CHARS]}" for t in report.top_templates),
        "",
        "New templates (sessions, sample line):",
        *(f"  {n.sessions}  {n.sample}" for n in report.new_templates),
        *([] if report.new_templates else ["  none"]),
    ]
    return anomaly_alert(report, counted=f"{report.anomalies} anomalous log session{plural}", lines=lines)


def build_failure_alert(report: LogReport) -> alerts.Alert:
    """One critical message for a file whose sessions the endpoint could not score at all."""
    return failure_alert(
        report,
        what="Log file",
        counts=f"Lines: {report.lines}  sessions: {report.sessions}  scored: {report.scored}  "
        f"rejected: {report.rejected_sessions}  endpoint calls: {report.calls}",
        subject="Log scoring failed",
    )


def file_statistics(
    source: str, model: LogModel, tally: Tally, ledger: Ledger
) -> log_drift.LogFileStatistics:
    """The file's drift statistics: lines, matches, unseen shapes (the drift monitor merges them)."""
    matched = sum(tally.templates.values())
    return log_drift.LogFileStatistics(
        source=source,
        model_package=model.package_arn,
        lines=tally.lines,
        matched=matched,
        unseen=tally.unseen,
        rejected=tally.rejected,
        sessions=ledger.sessions,
        anomalies=ledger.anomalies,
        new_templates=tuple(log_drift.Shape(n.shape, n.sessions, n.sample) for n in ledger.new_templates()),
    )


def file_report(
    source: str,
    endpoint: str,
    model: LogModel,
    outcome: tuple[Tally, Ledger, Calls],
    uris: tuple[str, str | None, str],
    *,
    systematic: str | None,
) -> LogReport:
    """What one file came to; ``uris`` are its scores, rejects (None: none) and statistics."""
    tally, ledger, calls = outcome
    scores_uri, rejects_uri, statistics_uri = uris
    matched = sum(tally.templates.values())
    return LogReport(
        object=source,
        endpoint=endpoint,
        model_package=model.package_arn,
        detector=model.detector,
        cutoff=model.cutoff,
        lines=tally.lines,
        placed=tally.placed,
        rejected_lines=tally.rejected,
        line_reasons=dict(sorted(tally.rejects.items())),
        unseen_lines=tally.unseen,
        oov_share=oov_share(tally.unseen, matched),
        sessions=ledger.sessions,
        scored=ledger.scored,
        rejected_sessions=ledger.rejected,
        session_reasons=dict(sorted(ledger.reasons.items())),
        anomalies=ledger.anomalies,
        max_score=ledger.max_score,
        scores_uri=scores_uri,
        rejects_uri=rejects_uri,
        statistics_uri=statistics_uri,
        calls=calls.calls,
        retries=calls.retries,
        bisections=calls.bisections,
        mean_latency_ms=calls.mean_latency_ms,
        top_anomalies=ledger.top_anomalies(),
        top_templates=ledger.top_templates(),
        new_templates=ledger.new_templates(),
        failure=(
            f"the endpoint failed every request the same way: {systematic}. Check that it serves "
            f"the log model in service ({model.rcf_model_url}) and is healthy"
            if systematic
            else None
        ),
    )


def emit_metrics(metrics: MetricsSink | None, report: LogReport) -> None:
    """The file's EMF metrics (none without a sink)."""
    if metrics is None:
        return
    count = MetricUnit.Count
    metrics.add_dimension(name="EndpointName", value=report.endpoint)
    metrics.add_metric(name="LogLines", unit=count, value=report.lines)
    metrics.add_metric(name="LogLinesRejected", unit=count, value=report.rejected_lines)
    metrics.add_metric(name="LogUnseenLines", unit=count, value=report.unseen_lines)
    metrics.add_metric(name="LogSessions", unit=count, value=report.sessions)
    metrics.add_metric(name="LogSessionsRejected", unit=count, value=report.rejected_sessions)
    metrics.add_metric(name="LogAnomalies", unit=count, value=report.anomalies)
    metrics.add_metric(name="LogFilesFailed", unit=count, value=int(bool(report.failure)))
    metrics.add_metric(name="EndpointCalls", unit=count, value=report.calls)
    if report.max_score is not None:
        metrics.add_metric(name="LogMaxScore", unit=MetricUnit.NoUnit, value=report.max_score)
