"""One log file → scored sessions: the pure part of the log route's serving flow (no AWS calls).

Lines are read, matched and grouped by :mod:`anomaly_sentinel.logs.stream` (every line placed or
rejected with a reason); each closed group becomes a vector (the model's ``vector_spec.json``) and
is scored — by the PCA model in the function, or on the RCF endpoint through the capture path's
batching, retries and bisection (:mod:`anomaly_sentinel.scoring`) — then classified against the
cutoff of ``detector.json``. :class:`Ledger` writes what a caller keeps: one ``session,score,anomaly``
row per scored session, one reject per line or session that could not be used, and bounded lists
for the alert (top anomalies, templates of anomalous sessions, new templates with a sample line).
"""

from __future__ import annotations

import csv
import heapq
import io
import json
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, Final

from pydantic import BaseModel

from anomaly_sentinel import alerts
from anomaly_sentinel.exceptions import LogModelNotFoundError, ScoringInvariantError
from anomaly_sentinel.logs.artefacts import (
    DETECTOR_FILE,
    PCA_FILE,
    RCF_MODEL_FILE,
    TEMPLATES_FILE,
    VECTOR_SPEC_FILE,
    DetectorChoice,
)
from anomaly_sentinel.logs.pca import PcaScorer
from anomaly_sentinel.logs.table import Matcher, TemplateTable
from anomaly_sentinel.logs.vectors import Group, Grouper, VectorSpec
from anomaly_sentinel.scoring import Batch, BatchOutcome, EndpointClient, RequestPacker, score_batches

#: Reasons of sessions that were grouped but not scored (lines carry the stream's own reasons).
SESSION_TOO_LARGE: Final = "session-too-large"
ENDPOINT_REJECTED: Final = "endpoint-rejected"
ENDPOINT_FAILED: Final = "endpoint-failed"
#: Distinct new-template shapes tracked per file (later shapes are counted under "more").
MAX_NEW_SHAPES: Final = 50
#: Characters of a sample line an alert shows.
SAMPLE_CHARS: Final = 160
SCORES_HEADER: Final = ("session", "score", "anomaly")


# ---------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class LogModel:
    """The log model in service, loaded once per model package (a warm container keeps it)."""

    package_arn: str
    uri: str  # the model directory, s3://bucket/prefix/ (ends with /)
    table: TemplateTable
    spec: VectorSpec
    choice: DetectorChoice
    pca: PcaScorer | None = None
    matcher: Matcher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "matcher", Matcher(self.table))
        if self.choice.detector == "pca":
            if self.pca is None:
                raise LogModelNotFoundError(f"{self.uri}: detector.json says pca but there is no {PCA_FILE}")
            if self.pca.dimension != self.spec.dimension:
                raise LogModelNotFoundError(
                    f"{self.uri}: {PCA_FILE} expects {self.pca.dimension} features, "
                    f"{VECTOR_SPEC_FILE} makes {self.spec.dimension}"
                )

    @classmethod
    def load(cls, package_arn: str, uri: str, read: Callable[[str], bytes]) -> LogModel:
        """Read the artefacts by file name (``read(name)`` returns the bytes of ``uri + name``)."""
        choice = DetectorChoice.load(read(DETECTOR_FILE))
        return cls(
            package_arn=package_arn,
            uri=uri,
            table=TemplateTable.load(read(TEMPLATES_FILE)),
            spec=VectorSpec.load(read(VECTOR_SPEC_FILE)),
            choice=choice,
            pca=PcaScorer.load(read(PCA_FILE)) if choice.detector == "pca" else None,
        )

    @property
    def detector(self) -> str:
        return self.choice.detector

    @property
    def cutoff(self) -> float:
        return self.choice.cutoff

    @property
    def rcf_model_url(self) -> str:
        """Where an RCF model's artefact sits: the endpoint must serve exactly this one."""
        return self.uri + RCF_MODEL_FILE

    def grouper(self) -> Grouper:
        return Grouper(self.spec)


# ---------------------------------------------------------------------------- line rejects


class LineRejects:
    """Writes one JSONL reject per rejected line: ``stream.group_events``' ``on_reject``."""

    def __init__(self, sink: IO[bytes]) -> None:
        self.sink = sink
        self.count = 0

    def __call__(self, line: int, reason: str) -> None:
        self.count += 1
        self.sink.write(_jsonl({"line": line, "stage": "parse", "reason": reason}))


# ---------------------------------------------------------------------------- scoring sessions

Scored = tuple[Group, float | None, str | None]  # the group, its score (None: rejected), why not


@dataclass
class Calls:
    """What the endpoint calls of one file took (zero for an in-function detector)."""

    calls: int = 0
    retries: int = 0
    bisections: int = 0
    answered: int = 0
    latency_s: float = 0.0

    def add(self, outcome: BatchOutcome) -> None:
        self.calls += outcome.calls
        self.retries += outcome.retries
        self.bisections += outcome.bisections
        self.answered += outcome.answered
        self.latency_s += outcome.latency_s

    @property
    def mean_latency_ms(self) -> float | None:
        return 1000 * self.latency_s / self.answered if self.answered else None


def score_in_function(groups: Iterable[Group], model: LogModel) -> Iterator[Scored]:
    """PCA: the squared prediction error of each session's vector, computed here (no endpoint)."""
    pca, vector = model.pca, model.spec.vector
    assert pca is not None  # LogModel refuses a pca detector without its model
    for group in groups:
        yield group, pca.score(vector(group)), None


def score_on_endpoint(
    groups: Iterable[Group],
    model: LogModel,
    client: EndpointClient,
    calls: Calls,
    *,
    max_request_bytes: int,
    max_request_rows: int,
    concurrency: int,
    max_inflight_bytes: int,
) -> Iterator[Scored]:
    """RCF: one CSV row per session, packed, sent with bounded concurrency; results in session order.

    Sessions wait in a queue until their batch's scores come back (memory is bounded by the requests
    in flight); a row over the request limit is rejected alone, a row the endpoint refuses after
    bisection carries the endpoint's reason.
    """
    packer = RequestPacker(max_request_bytes, max_request_rows)
    waiting: deque[tuple[Group, bool]] = deque()  # (group, packed); unpacked ones are too large
    vector = model.spec.vector

    def batches() -> Iterator[Batch]:
        for group in groups:
            row = ",".join(f"{x:.9g}" for x in vector(group))
            if not packer.fits_alone(row):
                waiting.append((group, False))
                continue
            waiting.append((group, True))
            sealed = packer.add(row)
            if sealed is not None:
                yield sealed
        last = packer.flush()
        if last is not None:
            yield last

    done = 0
    for outcome in score_batches(
        batches(), client, concurrency=concurrency, max_inflight_bytes=max_inflight_bytes
    ):
        if outcome.first_seq != done:
            raise ScoringInvariantError("batch outcomes arrived out of order")
        calls.add(outcome)
        for offset, score in enumerate(outcome.scores):
            while not waiting[0][1]:
                yield waiting.popleft()[0], None, SESSION_TOO_LARGE
            group, _ = waiting.popleft()
            if score is None:
                code = ENDPOINT_FAILED if client.tracker.systematic else ENDPOINT_REJECTED
                yield group, None, f"{code}: {outcome.reasons.get(offset, 'not scored')}"
            else:
                yield group, score, None
        done += len(outcome.scores)
    while waiting:
        group, packed = waiting.popleft()
        if packed:
            raise ScoringInvariantError(f"session {group.key} was sent but never answered")
        yield group, None, SESSION_TOO_LARGE


# ---------------------------------------------------------------------------- the ledger


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


@dataclass
class Ledger:
    """Writes scores and session rejects; keeps the counts and the bounded lists the alert needs."""

    model: LogModel
    scores: IO[bytes]
    rejects: IO[bytes]
    keep: int = 10
    sessions: int = 0
    scored: int = 0
    rejected: int = 0
    anomalies: int = 0
    max_score: float | None = None
    reasons: Counter[str] = field(default_factory=Counter)
    _top: list[tuple[float, int, str, int]] = field(default_factory=list)
    _anomalous_templates: Counter[int] = field(default_factory=Counter)
    _shapes: dict[str, list[Any]] = field(default_factory=dict)  # shape -> [sessions, sample]
    _text: io.StringIO = field(default_factory=io.StringIO)

    def __post_init__(self) -> None:
        self._csv = csv.writer(self._text, lineterminator="\n")
        self._row(SCORES_HEADER)

    def add(self, group: Group, score: float | None, reason: str | None) -> None:
        self.sessions += 1
        self._observe_new(group)
        if score is None:
            self.rejected += 1
            code = (reason or "not-scored").split(":", 1)[0]
            self.reasons[code] += 1
            document = {"session": group.key, "first_line": group.first_line, "stage": "score"}
            self.rejects.write(_jsonl({**document, "reason": code, "detail": reason or ""}))
            return
        self.scored += 1
        anomaly = score > self.model.cutoff
        self.max_score = score if self.max_score is None else max(self.max_score, score)
        self._row((group.key, repr(score), int(anomaly)))
        if not anomaly:
            return
        self.anomalies += 1
        self._anomalous_templates.update({t: c for t, c in group.counts.items() if t is not None})
        item = (score, -group.first_line, group.key, group.length)
        if len(self._top) < self.keep:
            heapq.heappush(self._top, item)
        else:
            heapq.heappushpop(self._top, item)

    def _row(self, values: Iterable[Any]) -> None:
        self._csv.writerow(values)
        self.scores.write(self._text.getvalue().encode("utf-8"))
        self._text.seek(0)
        self._text.truncate()

    def _observe_new(self, group: Group) -> None:
        """Unseen lines by shape (the group keeps a few samples): sessions per shape, one sample."""
        if not group.new_templates:
            return
        mask = self.model.matcher.mask
        for shape in {mask(sample): sample for sample in group.new_templates}.items():
            entry = self._shapes.get(shape[0])
            if entry is not None:
                entry[0] += 1
            elif len(self._shapes) < MAX_NEW_SHAPES:
                self._shapes[shape[0]] = [1, shape[1]]

    # ------------------------------------------------------------------ what the report shows
    def top_anomalies(self) -> list[TopAnomaly]:
        return [
            TopAnomaly(session=key, score=score, first_line=-line, lines=length)
            for score, line, key, length in sorted(self._top, reverse=True)
        ]

    def top_templates(self) -> list[TemplateCount]:
        """Templates most frequent in the anomalous sessions, with their text."""
        texts = self.model.table.by_id()
        return [
            TemplateCount(template_id=t, count=n, text=texts[t].text if t in texts else "?")
            for t, n in self._anomalous_templates.most_common(self.keep)
        ]

    def new_templates(self) -> list[NewTemplate]:
        ranked = sorted(self._shapes.items(), key=lambda item: (-item[1][0], item[0]))
        return [
            NewTemplate(shape=shape[:SAMPLE_CHARS], sessions=count, sample=sample[:SAMPLE_CHARS])
            for shape, (count, sample) in ranked[: self.keep]
        ]


# ---------------------------------------------------------------------------- the report


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
    stem = report.object.rsplit("/", 1)[-1]
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
        "",
        f"Scores:  {report.scores_uri}",
        f"Rejects: {report.rejects_uri or 'none'}",
    ]
    return alerts.Alert(
        kind="anomaly",
        severity="warning",
        endpoint=report.endpoint,
        subject=f"{report.anomalies} anomalous log session{plural} on {report.endpoint} in {stem}",
        body="\n".join(lines),
    )


def build_failure_alert(report: LogReport) -> alerts.Alert:
    """One critical message for a file whose sessions the endpoint could not score at all."""
    return alerts.file_failed(
        what="Log file",
        uri=report.object,
        endpoint=report.endpoint,
        failure=report.failure or "",
        counts=f"Lines: {report.lines}  sessions: {report.sessions}  scored: {report.scored}  "
        f"rejected: {report.rejected_sessions}  endpoint calls: {report.calls}",
        rejects_uri=report.rejects_uri,
        subject="Log scoring failed",
    )


def _jsonl(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, separators=(",", ":")) + "\n").encode("utf-8")
