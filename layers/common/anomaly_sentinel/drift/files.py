"""One capture file's mergeable summary: written by the scoring function, read by the monitor.

A bounded uniform sample of the file's accepted rows gives moments, type and counts on the
baseline's quantile edges; row counts are exact. The stored document is versioned and read
through the guard for documents we did not write.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from anomaly_sentinel.capture import CaptureDecoder, CaptureRecord, Readable, Reject, read_lines
from anomaly_sentinel.contracts import read_document
from anomaly_sentinel.drift.baseline import Baseline
from anomaly_sentinel.drift.formats import (
    FILE_STATISTICS_VERSION,
    MISSING_REASONS,
    SAMPLE_ROWS,
    SUMMARY_MAX_MAGNITUDE,
    _real,
    _whole,
)
from anomaly_sentinel.drift.stats import Moments, RowSample
from anomaly_sentinel.exceptions import DocumentError, DriftReportError


@dataclass(slots=True)
class FeatureSummary:
    """One column of one file (sample figures are scaled when merged)."""

    present: int
    missing: int
    mean: float
    m2: float
    min: float | None
    max: float | None
    integral: int
    counts: list[int] | None
    #: Sampled values outside the baseline's codes (only for a code-valued baseline feature).
    off_domain: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "present": self.present,
            "missing": self.missing,
            "mean": self.mean,
            "m2": self.m2,
            "min": self.min,
            "max": self.max,
            "integral": self.integral,
            "counts": self.counts,
            "off_domain": self.off_domain,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> FeatureSummary:
        if not isinstance(doc, Mapping):
            raise ValueError("a feature is not an object")
        counts = doc.get("counts")
        if counts is not None and not isinstance(counts, list):
            raise ValueError("a feature's counts are not a list")
        return cls(
            present=_whole(doc["present"], "present"),
            missing=_whole(doc["missing"], "missing"),
            mean=_real(doc["mean"], "mean"),
            m2=_real(doc["m2"], "m2", low=0.0),
            min=None if doc.get("min") is None else _real(doc["min"], "min"),
            max=None if doc.get("max") is None else _real(doc["max"], "max"),
            integral=_whole(doc.get("integral", 0), "integral"),
            counts=None if counts is None else [_whole(c, "count") for c in counts],
            off_domain=_whole(doc.get("off_domain", 0), "off_domain"),
        )


@dataclass(slots=True)
class ScoreSummary:
    """How the file's rows were classified: the anomaly rate the monitor compares."""

    scored: int = 0
    anomalies: int = 0
    cutoff: float | None = None
    cutoff_source: str = ""


@dataclass(slots=True)
class FileStatistics:
    """The mergeable statistics of one capture file's accepted rows (stored beside its scores)."""

    rows: int
    sampled: int
    missing_rows: int
    baseline_id: str | None
    features: list[FeatureSummary]
    scores: ScoreSummary = field(default_factory=ScoreSummary)
    source: str = ""
    #: Rows refused for their number of columns, by that number (what extra_column_check sees).
    other_widths: dict[int, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FILE_STATISTICS_VERSION,
            "source": self.source,
            "rows": self.rows,
            "sampled": self.sampled,
            "missing_rows": self.missing_rows,
            "other_widths": {str(width): rows for width, rows in sorted(self.other_widths.items())},
            "baseline_id": self.baseline_id,
            "scores": {
                "scored": self.scores.scored,
                "anomalies": self.scores.anomalies,
                "cutoff": self.scores.cutoff,
                "cutoff_source": self.scores.cutoff_source,
            },
            "features": [f.to_json() for f in self.features],
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> FileStatistics:
        """Read a stored summary; anything that is not its shape is a ValueError naming the field."""
        if not isinstance(doc, Mapping):
            raise ValueError("not an object")
        if doc.get("version") != FILE_STATISTICS_VERSION:
            raise ValueError(
                f"file statistics version {repr(doc.get('version'))[:40]} is not {FILE_STATISTICS_VERSION}"
            )
        scores = doc.get("scores") or {}
        features, widths, baseline_id = doc["features"], doc.get("other_widths") or {}, doc.get("baseline_id")
        if (
            not isinstance(scores, Mapping)
            or not isinstance(features, list)
            or not isinstance(widths, Mapping)
        ):
            raise ValueError("scores, features or other_widths have the wrong type")
        if baseline_id is not None and not isinstance(baseline_id, str):
            raise ValueError("baseline_id is not a string")
        rows, sampled = _whole(doc["rows"], "rows"), _whole(doc["sampled"], "sampled")
        if sampled > rows:
            raise ValueError(f"sampled ({sampled}) is more than rows ({rows})")
        cutoff = scores.get("cutoff")
        return cls(
            rows=rows,
            sampled=sampled,
            missing_rows=_whole(doc.get("missing_rows", 0), "missing_rows"),
            baseline_id=baseline_id,
            features=[FeatureSummary.from_json(f) for f in features],
            scores=ScoreSummary(
                scored=_whole(scores.get("scored", 0), "scored"),
                anomalies=_whole(scores.get("anomalies", 0), "anomalies"),
                cutoff=None if cutoff is None else _real(cutoff, "cutoff"),
                cutoff_source=str(scores.get("cutoff_source", ""))[:40],
            ),
            source=str(doc.get("source", ""))[:2048],
            other_widths={
                _whole(int(width), "width"): _whole(count, "rows of a width")
                for width, count in widths.items()
            },
        )

    @classmethod
    def from_bytes(cls, raw: bytes, max_bytes: int) -> FileStatistics:
        """A stored summary through the guard for documents we did not write; DriftReportError says why."""
        try:
            return cls.from_json(read_document(raw, max_bytes=max_bytes))
        except DocumentError as exc:
            raise DriftReportError(f"unreadable: {exc}") from None
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise DriftReportError(f"malformed ({type(exc).__name__}: {str(exc)[:200]})") from None


class FileStatisticsBuilder(RowSample):
    """Accumulates one capture file's accepted rows; :meth:`finish` summarises them.

    ``baseline`` gives the distribution edges (None: counts, moments and type only — the file
    cannot take part in a drift comparison). Records the decoder rejected for a missing,
    non-numeric or non-finite value count as missing in the column the decoder names (the
    reject's 1-based ``column``); one it cannot place counts only in ``missing_rows``. :meth:`observe`
    is called for every record the scoring function decodes: it is one call that does the
    sampler's work inline.
    """

    __slots__ = ("baseline", "missing_by_column", "missing_rows")

    def __init__(
        self, baseline: Baseline | None = None, *, seed: int | str = 0, sample_rows: int = SAMPLE_ROWS
    ) -> None:
        super().__init__(sample_rows, seed)
        self.baseline = baseline
        self.missing_rows = 0
        self.missing_by_column: dict[int, int] = {}

    def observe(self, item: CaptureRecord | Reject) -> None:
        """Count one decoded record's rows, or one rejected record when a value was missing."""
        if item.__class__ is CaptureRecord:
            rows = item.rows
            start = self.rows
            self.rows = end = start + len(rows)
            if end > self._next:
                self._take(rows, start, end)
        elif item.reason in MISSING_REASONS:  # type: ignore[union-attr]
            self.missing_rows += 1
            column = item.column  # type: ignore[union-attr]
            if column is not None:
                self.missing_by_column[column - 1] = self.missing_by_column.get(column - 1, 0) + 1

    def finish(
        self,
        scores: ScoreSummary | None = None,
        source: str = "",
        other_widths: Mapping[int, int] | None = None,
    ) -> FileStatistics:
        """The summary; ``other_widths`` are the rows the decoder refused for their column count."""
        rows = self.sample()
        edges = self.baseline.edges if self.baseline is not None else None
        domains = [f.codes for f in self.baseline.features] if self.baseline is not None else []
        # Rows of one file share a width (the decoder enforces it); a shorter row ends the columns.
        columns = [
            sorted(map(float, tokens)) for tokens in zip(*(row.split(",") for row in rows), strict=False)
        ]
        present, missing_rows, missing = self.rows, self.missing_rows, dict(self.missing_by_column)
        if any(
            values[0] < -SUMMARY_MAX_MAGNITUDE or values[-1] > SUMMARY_MAX_MAGNITUDE for values in columns
        ):
            rows, beyond = _within_magnitude(rows)
            # Rows beyond the magnitude count as missing in their first such column (scaled from
            # the sample to the file: exact when the file was not sampled).
            scale = self.rows / (len(rows) + sum(beyond.values()))
            for column, count in beyond.items():
                estimate = round(count * scale)
                missing[column] = missing.get(column, 0) + estimate
                missing_rows += estimate
                present -= estimate
            columns = [sorted(map(float, t)) for t in zip(*(row.split(",") for row in rows), strict=False)]
        features = []
        for index, values in enumerate(columns):
            moments = Moments.of(values)
            features.append(
                FeatureSummary(
                    present=present,
                    missing=missing.get(index, 0),
                    mean=moments.mean,
                    m2=moments.m2,
                    min=values[0],
                    max=values[-1],
                    integral=sum(map(float.is_integer, values)),
                    counts=_counts_on_edges(values, edges[index]) if edges and index < len(edges) else None,
                    off_domain=_off_domain(values, domains[index] if index < len(domains) else None),
                )
            )
        return FileStatistics(
            rows=present,
            sampled=len(rows),
            missing_rows=missing_rows,
            baseline_id=self.baseline.identity if self.baseline is not None else None,
            features=features,
            scores=scores or ScoreSummary(),
            source=source,
            other_widths=dict(other_widths or {}),
        )


def _within_magnitude(rows: Sequence[str]) -> tuple[list[str], dict[int, int]]:
    """The rows whose every value is within :data:`SUMMARY_MAX_MAGNITUDE`, and the others counted
    by their first value beyond it (0-based column)."""
    kept: list[str] = []
    beyond: dict[int, int] = {}
    for row in rows:
        at = next(
            (i for i, token in enumerate(row.split(",")) if abs(float(token)) > SUMMARY_MAX_MAGNITUDE), None
        )
        if at is None:
            kept.append(row)
        else:
            beyond[at] = beyond.get(at, 0) + 1
    return kept, beyond


def summarise_capture(
    stream: Readable, baseline: Baseline | None, *, seed: int | str, feature_dim: int | None = None
) -> tuple[FileStatistics, CaptureDecoder]:
    """Decode a capture stream and summarise its accepted rows (the offline monitor's path).

    With ``feature_dim`` (the baseline's width), rows of another width are refused with a reason
    and counted by width, as the scoring function does with the model's width.
    """
    decoder = CaptureDecoder(feature_dim=feature_dim)
    builder = FileStatisticsBuilder(baseline, seed=seed)
    for item in decoder.decode(read_lines(stream)):
        builder.observe(item)
    return builder.finish(source=str(seed), other_widths=refused_widths(decoder)), decoder


def refused_widths(decoder: CaptureDecoder) -> dict[int, int]:
    """Rows the decoder refused for their column count, by that count (none without an expected width)."""
    return dict(decoder.widths) if decoder.feature_dim is not None else {}


def _off_domain(values: Sequence[float], codes: frozenset[float] | None) -> int:
    """How many values are not among the baseline's codes (0 when the feature has no codes)."""
    if codes is None:
        return 0
    return sum(1 for value in values if value not in codes)


def _counts_on_edges(ordered: Sequence[float], edges: Sequence[float]) -> list[int]:
    """Counts of values in (-inf, e0], (e0, e1], …, (e_last, inf): len(edges) + 1 bins."""
    counts = []
    previous = 0
    for edge in edges:
        at = bisect.bisect_right(ordered, edge)
        counts.append(at - previous)
        previous = at
    counts.append(len(ordered) - previous)
    return counts
