"""The two passes over a capture file: stream (decode → pack → score), then join rows with scores.

What cannot be known before the last score (the cutoff may be the file's own mean + k·std) waits
in a spool: pass 1 writes each decoded record's identity, the sequence number of its first row
and its rows (:data:`SpooledRecord`, one JSON array a line); pass 2 reads them back with the
scores (8 bytes per row in memory) and writes the final scores JSONL, the rejects the endpoint
caused and the production dataset's rows. No AWS calls here but the endpoint's, through
:mod:`anomaly_sentinel.scoring`.
"""

from __future__ import annotations

import heapq
import json
import tempfile
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from math import isnan, nan
from typing import IO, Any

from anomaly_sentinel import drift
from anomaly_sentinel.capture import CaptureRecord, Reject
from anomaly_sentinel.cutoff import Cutoff, RunningStats
from anomaly_sentinel.dataset import DatasetWriter
from anomaly_sentinel.events import S3Object
from anomaly_sentinel.exceptions import ScoringInvariantError
from anomaly_sentinel.score_capture.report import ROW_TOO_LARGE, TopAnomaly
from anomaly_sentinel.scoring import BatchOutcome, EndpointClient, RequestPacker, score_batches
from anomaly_sentinel.scoring.files import Calls
from anomaly_sentinel.settings import ScoreCaptureSettings

#: One line of the pass-1 spool (a JSON array): a decoded record's line, eventId, inferenceId and
#: inferenceTime, the sequence number of its first row, and its rows. A plain tuple, not a class:
#: pass 1 writes one and pass 2 reads one per record, and building a named tuple costs more.
SpooledRecord = tuple[int, str | None, str | None, str | None, int, list[str]]


@dataclass(frozen=True, slots=True)
class Spools:
    """The temporary files of one capture file's run, and the dataset writer that fills its own."""

    pending: IO[str]  # SpooledRecord lines
    rejects: IO[bytes]  # rejects JSONL
    scores: IO[bytes]  # scores JSONL
    dataset: DatasetWriter


@contextmanager
def open_spools(
    settings: ScoreCaptureSettings, obj: S3Object, fallback: datetime, latest: datetime, tmp_dir: str | None
) -> Iterator[Spools]:
    """Spool files in ``tmp_dir`` (Lambda's /tmp), all removed on the way out."""
    with (
        tempfile.TemporaryFile("w+", encoding="utf-8", dir=tmp_dir) as pending,
        tempfile.TemporaryFile("w+b", dir=tmp_dir) as rejects,
        tempfile.TemporaryFile("w+b", dir=tmp_dir) as scores,
        DatasetWriter(
            settings.endpoint_name,
            source_uri=obj.uri,
            fallback_time=fallback,
            latest_time=latest,
            prefix=settings.dataset_prefix,
            tmp_dir=tmp_dir,
        ) as dataset,
    ):
        yield Spools(pending, rejects, scores, dataset)


@dataclass(slots=True)
class Streamed(Calls):
    """What pass 1 leaves for pass 2: a score per row (NaN when unscored) and the call counts."""

    scores: array[float] = field(default_factory=lambda: array("d"))
    endpoint_reasons: dict[int, str] = field(default_factory=dict)  # by row sequence number
    file_stats: RunningStats = field(default_factory=RunningStats)
    too_large: int = 0  # records refused for a row over the request limit

    def add(self, outcome: BatchOutcome) -> None:
        if outcome.first_seq != len(self.scores):
            raise ScoringInvariantError("batch outcomes arrived out of order")
        for score in outcome.scores:
            if score is None:
                self.scores.append(nan)
            else:
                self.scores.append(score)
                self.file_stats.add(score)
        for offset, reason in outcome.reasons.items():
            self.endpoint_reasons[outcome.first_seq + offset] = reason
        Calls.add(self, outcome)


def stream_and_score(
    items: Iterable[CaptureRecord | Reject],
    spools: Spools,
    statistics: drift.FileStatisticsBuilder,
    client: EndpointClient,
    settings: ScoreCaptureSettings,
) -> Streamed:
    """Pass 1: decoded records are spooled and their rows scored as they come; rejects are written."""
    streamed = Streamed()
    packer = RequestPacker(settings.max_request_bytes, settings.max_request_rows)
    rejects, pending = spools.rejects, spools.pending

    def rows() -> Iterator[str]:
        observe = statistics.observe
        for item in items:
            observe(item)
            if isinstance(item, Reject):
                rejects.write(jsonl(item.to_json()))
                continue
            if not all(map(packer.fits_alone, item.rows)):
                streamed.too_large += 1
                detail = f"a row is over the request limit of {settings.max_request_bytes} bytes"
                rejects.write(jsonl(Reject(item.line, item.event_id, ROW_TOO_LARGE, detail).to_json()))
                continue
            # The rows go along (to the spool): accepted ones join the production dataset.
            spooled: SpooledRecord = (
                item.line,
                item.event_id,
                item.inference_id,
                item.inference_time,
                packer.next_seq,
                item.rows,
            )
            pending.write(json.dumps(spooled) + "\n")
            yield from item.rows

    outcomes = score_batches(
        packer.pack(rows()),
        client,
        concurrency=settings.scoring_concurrency,
        max_inflight_bytes=settings.max_inflight_bytes,
    )
    for outcome in outcomes:
        streamed.add(outcome)
    return streamed


@dataclass(frozen=True, slots=True)
class Joined:
    """What pass 2 counted: records scored or rejected by the endpoint, anomalies, the top ones."""

    scored: int
    rejected: int
    anomalies: int
    top: list[TopAnomaly]
    scored_rows: int


def join_scores(
    streamed: Streamed, cutoff: Cutoff, spools: Spools, *, keep: int, endpoint_code: str
) -> Joined:
    """Pass 2: each spooled record is scored (every row has a score) or rejected by the endpoint."""
    scored = rejected = anomalies = scored_rows = 0
    top: list[tuple[float, int, int, str | None, str | None]] = []
    scores, rejects, out, dataset = streamed.scores, spools.rejects, spools.scores, spools.dataset
    spools.pending.seek(0)
    for entry in spools.pending:
        # a SpooledRecord (JSON gives it back as a list)
        line, event_id, inference_id, inference_time, first, rows = json.loads(entry)
        row_scores = scores[first : first + len(rows)]
        bad = next((offset for offset, score in enumerate(row_scores) if isnan(score)), None)
        if bad is not None:
            rejected += 1
            reason = streamed.endpoint_reasons.get(first + bad, "not scored")
            detail = f"row {bad}: {reason}"  # the base of the scores' "row"
            rejects.write(jsonl(Reject(line, event_id, endpoint_code, detail).to_json("endpoint")))
            continue
        scored += 1
        scored_rows += len(rows)
        for row, score in enumerate(row_scores):
            dataset.add(inference_time, score, rows[row])
            anomaly = cutoff.flags(score)
            out.write(
                jsonl(
                    {
                        "eventId": event_id,
                        "inferenceId": inference_id,
                        "inferenceTime": inference_time,
                        "line": line,
                        "row": row,
                        "score": score,
                        "anomaly": anomaly,
                        "cutoff": cutoff.value,
                    }
                )
            )
            if anomaly:
                anomalies += 1
                item = (score, -line, -row, event_id, inference_time)
                if len(top) < keep:
                    heapq.heappush(top, item)
                else:
                    heapq.heappushpop(top, item)
    ranked = [
        TopAnomaly(event_id=e, inference_time=t, line=-ln, row=-r, score=s)
        for s, ln, r, e, t in sorted(top, reverse=True)
    ]
    return Joined(scored, rejected, anomalies, ranked, scored_rows)


def jsonl(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, separators=(",", ":")) + "\n").encode("utf-8")
