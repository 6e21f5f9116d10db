"""Data-quality drift in SageMaker Model Monitor's semantics and file formats, in pure Python.

Model Monitor is closed to new customers and serverless endpoints have no data capture, so the
stack measures drift itself: the scoring function summarises each capture file's accepted rows
(:class:`FileStatisticsBuilder`), the monitor merges a window of those summaries
(:class:`WindowStatistics`) and compares them with the baseline of the model in service
(:func:`compare`), writing ``statistics.json`` and ``constraint_violations.json`` as Model Monitor
does. It runs inside Lambda: standard library only (no numpy), nothing slow at import.

Design (docs/DRIFT.md has the measurements behind it):

* **A bounded uniform sample per file.** Parsing and folding every value costs about twice the
  decode itself in pure Python, so each file keeps a bottom-k uniform random sample of its rows
  (:data:`SAMPLE_ROWS`, seeded by the object's identity so a retry gives the same summary). Files
  smaller than the sample are summarised exactly. Row counts are always exact; moments and the
  distribution are estimated from the sample and weighted by rows / sampled when files merge.
* **Counts on the baseline's quantile edges** as the distribution summary: the edges are read from
  the baseline's KLL sketch (up to :data:`EDGE_QUANTILES` - 1 distinct quantiles), so a summary is
  a short list of counts that merges by addition, costs the same memory whatever the number of
  records or files, and gives the exact window CDF at every edge. A file summarised against
  another baseline (a model changed mid-window) still counts rows but not distribution.
* **The comparison is Deequ's**: L∞ distance between the window's and the baseline's CDFs; Robust
  subtracts the sampling noise ``c·sqrt((n+m)/(n·m))`` (c = 1.8) before the
  ``comparison_threshold`` (0.1); n is the window's effective sample size (Kish), m the
  baseline's count. A window with fewer rows than a minimum never raises a violation.
* **What the CDF distance cannot see** is checked apart: a *spread* change (the L∞ distance of a
  normal law scaled by 1.3 is 0.06, under the 0.1 threshold: it needed 2x) is a
  ``baseline_drift_check`` on the standard deviation (:func:`spread_distance`); a *new code* of a
  code-valued feature (whole numbers with few distinct values), even one between existing codes,
  is a ``categorical_values_check`` on the share of values in the baseline's domain, as Model
  Monitor checks a string feature's domain (``domain_content_threshold``).
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import math
import operator
import random
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final

from pydantic import ValidationError

from anomaly_sentinel.capture import (
    NON_FINITE,
    NON_NUMERIC,
    CaptureDecoder,
    CaptureRecord,
    Readable,
    Reject,
    read_lines,
)
from anomaly_sentinel.contracts import read_document
from anomaly_sentinel.contracts.messages import Violation
from anomaly_sentinel.exceptions import BaselineError, DocumentError, DriftReportError

#: Model Monitor names the columns of a headerless CSV ``_c0``, ``_c1``, …
FEATURE_PREFIX: Final = "_c"
STATISTICS_FILE: Final = "statistics.json"
CONSTRAINTS_FILE: Final = "constraints.json"
VIOLATIONS_FILE: Final = "constraint_violations.json"
#: Deequ / Model Monitor defaults.
COMPARISON_THRESHOLD: Final = 0.1
COMPARISON_METHOD: Final = "Robust"
COMPARISON_METHODS: Final = ("Simple", "Robust")
ROBUST_C_ALPHA: Final = 1.8
DATATYPE_CHECK_THRESHOLD: Final = 1.0
FRACTIONAL: Final = "Fractional"
INTEGRAL: Final = "Integral"
#: Rows of each file that are summarised (a uniform random sample when the file is larger).
SAMPLE_ROWS: Final = 4096
#: Quantile edges taken from the baseline sketch (at most EDGE_QUANTILES - 1 distinct edges).
EDGE_QUANTILES: Final = 100
#: Significance of the score-drift test (one-sided binomial).
SCORE_DRIFT_ALPHA: Final = 0.001
SCORE_FEATURE: Final = "anomaly_rate"
#: Cutoff sources whose anomaly rate the model's score statistics predict.
MODEL_CUTOFF_SOURCES: Final = ("model-stats", "threshold")
FILE_STATISTICS_VERSION: Final = 1
#: Fewest rows a window needs before any check may raise a violation (the template's default).
MIN_RECORDS: Final = 1000
#: Largest baseline file read (statistics.json with 2,048-item sketches: about 60 kB per feature).
BASELINE_MAX_BYTES: Final = 32 * 1024 * 1024
#: A KLL sketch level h stands for 2**h rows: 64 levels already stand for more rows than exist.
KLL_MAX_LEVELS: Final = 64
#: Values beyond this magnitude are not summarised (counted missing in their column, and said so):
#: the window's sums of squared deviations over ~1e12 rows stay finite below it.
SUMMARY_MAX_MAGNITUDE: Final = 1e100
#: Decoder reject reasons that mean a value was missing, empty or not a number.
MISSING_REASONS: Final = (NON_NUMERIC, NON_FINITE)
#: Model Monitor's default share of values that must lie in a feature's baseline domain.
DOMAIN_CONTENT_THRESHOLD: Final = 1.0
#: A whole-number feature with at most this many distinct baseline values is a code (its domain).
MAX_CODES: Final = 32
#: Largest ratio of standard deviations (window / baseline, or its inverse) that is not a violation.
SPREAD_RATIO_THRESHOLD: Final = 1.2

# Model Monitor's check types, and ours for the anomaly rate.
DATA_TYPE_CHECK: Final = "data_type_check"
COMPLETENESS_CHECK: Final = "completeness_check"
BASELINE_DRIFT_CHECK: Final = "baseline_drift_check"
MISSING_COLUMN_CHECK: Final = "missing_column_check"
EXTRA_COLUMN_CHECK: Final = "extra_column_check"
CATEGORICAL_VALUES_CHECK: Final = "categorical_values_check"
SCORE_DRIFT_CHECK: Final = "score_drift_check"


def feature_name(index: int) -> str:
    """Column ``index`` (0-based) of a headerless CSV, named as Model Monitor names it."""
    return f"{FEATURE_PREFIX}{index}"


# ---------------------------------------------------------------------------- moments


@dataclass(slots=True)
class Moments:
    """Weighted count, mean and sum of squared deviations; merged with Chan et al.'s formula.

    The merge never subtracts large sums, so it stays accurate when a window adds thousands of
    files whose means are far from zero.
    """

    weight: float = 0.0
    mean: float = 0.0
    m2: float = 0.0

    @classmethod
    def of(cls, values: Sequence[float]) -> Moments:
        if not values:
            return cls()
        count = len(values)
        mean = math.fsum(v / count for v in values)  # no partial sum can overflow
        deviations = [v - mean for v in values]
        return cls(float(len(values)), mean, math.fsum(map(operator.mul, deviations, deviations)))

    def scaled(self, weight: float) -> Moments:
        """The same distribution standing for ``weight`` rows (a sample scaled to its file)."""
        if self.weight == 0:
            return Moments()
        return Moments(weight, self.mean, self.m2 * weight / self.weight)

    def merge(self, other: Moments) -> None:
        if other.weight == 0:
            return
        if self.weight == 0:
            self.weight, self.mean, self.m2 = other.weight, other.mean, other.m2
            return
        total = self.weight + other.weight
        delta = other.mean - self.mean
        self.mean += delta * other.weight / total
        self.m2 += other.m2 + delta * delta * self.weight * other.weight / total
        self.weight = total

    @property
    def std(self) -> float:
        """Population standard deviation, as Deequ reports ``std_dev``."""
        return math.sqrt(self.m2 / self.weight) if self.weight else 0.0


# ---------------------------------------------------------------------------- baseline


def sketch_cdf_points(sketch: Mapping[str, Any]) -> tuple[list[float], list[float]]:
    """Sorted values and cumulative weights of a Model Monitor KLL sketch.

    ``sketch.data`` is the list of compactor levels; an item at level ``h`` stands for ``2**h``
    items (Deequ's KLL), so the CDF at ``x`` is the weight of the items ≤ ``x`` over the total.
    """
    levels = sketch.get("data")
    if not isinstance(levels, list) or not levels:
        raise BaselineError("KLL sketch has no data")
    if len(levels) > KLL_MAX_LEVELS:
        raise BaselineError(f"KLL sketch has {len(levels)} levels, more than {KLL_MAX_LEVELS}")
    pairs: list[tuple[float, float]] = []
    for level, items in enumerate(levels):
        if not isinstance(items, list):
            raise BaselineError(f"KLL sketch level {level} is not a list")
        weight = float(2**level)
        for item in items:
            if not _is_number(item) or not math.isfinite(float(item)):
                raise BaselineError(f"KLL sketch level {level} holds a non-numeric item")
            pairs.append((float(item), weight))
    if not pairs:
        raise BaselineError("KLL sketch is empty")
    pairs.sort()
    values: list[float] = []
    cumulative: list[float] = []
    running = 0.0
    for value, weight in pairs:
        running += weight
        if values and values[-1] == value:
            cumulative[-1] = running
        else:
            values.append(value)
            cumulative.append(running)
    return values, cumulative


@dataclass(frozen=True, slots=True)
class BaselineFeature:
    """One baseline feature: its type, completeness, and CDF (from the KLL sketch)."""

    name: str
    inferred_type: str
    completeness: float
    count: float
    values: tuple[float, ...]
    cumulative: tuple[float, ...]
    #: ``std_dev`` of statistics.json (population); None when the baseline does not give it.
    std: float | None = None

    @property
    def codes(self) -> frozenset[float] | None:
        """The baseline's values when the feature is code-valued (whole numbers, few of them), else None."""
        if self.inferred_type != INTEGRAL or len(self.values) > MAX_CODES:
            return None
        return frozenset(self.values)

    def cdf(self, x: float) -> float:
        """Baseline P(X ≤ x)."""
        at = bisect.bisect_right(self.values, x)
        return self.cumulative[at - 1] / self.cumulative[-1] if at else 0.0

    def edges(self, quantiles: int = EDGE_QUANTILES) -> tuple[float, ...]:
        """Distinct baseline quantiles at ranks 1/q … (q-1)/q, plus the largest value.

        For a discrete feature these are its distinct values, so the CDF comparison is exact.
        """
        total = self.cumulative[-1]
        found: list[float] = []
        for step in range(1, quantiles):
            at = bisect.bisect_left(self.cumulative, total * step / quantiles)
            value = self.values[min(at, len(self.values) - 1)]
            if not found or value > found[-1]:
                found.append(value)
        if not found or self.values[-1] > found[-1]:
            found.append(self.values[-1])
        return tuple(found)


@dataclass(frozen=True)
class Baseline:
    """A Model Monitor data-quality baseline: ``statistics.json`` + ``constraints.json``."""

    features: tuple[BaselineFeature, ...]
    item_count: int
    comparison_method: str = COMPARISON_METHOD
    comparison_threshold: float = COMPARISON_THRESHOLD
    perform_comparison: bool = True
    datatype_check_threshold: float = DATATYPE_CHECK_THRESHOLD
    identity: str = ""
    domain_content_threshold: float = DOMAIN_CONTENT_THRESHOLD

    @classmethod
    def from_documents(cls, statistics: Mapping[str, Any], constraints: Mapping[str, Any]) -> Baseline:
        """Read the two documents; a numeric feature without a sketch is a :class:`BaselineError`."""
        try:
            by_name = {c["name"]: c for c in constraints.get("features", [])}
            features = []
            for entry in statistics["features"]:
                name = str(entry["name"])
                numeric = entry.get("numerical_statistics")
                if not isinstance(numeric, dict):
                    raise BaselineError(f"feature {name} has no numerical_statistics (only numbers are read)")
                sketch = numeric.get("distribution", {}).get("kll", {}).get("sketch")
                if not isinstance(sketch, dict):
                    raise BaselineError(f"feature {name} has no KLL sketch")
                values, cumulative = sketch_cdf_points(sketch)
                common = numeric.get("common", {})
                present = _count(common.get("num_present", cumulative[-1]), f"{name} num_present")
                missing = _count(common.get("num_missing", 0), f"{name} num_missing")
                constraint = by_name.get(name, {})
                default_completeness = present / (present + missing) if present + missing else 1.0
                std: Any = numeric.get("std_dev")
                features.append(
                    BaselineFeature(
                        name=name,
                        inferred_type=str(
                            constraint.get("inferred_type", entry.get("inferred_type", FRACTIONAL))
                        ),
                        completeness=_finite(
                            constraint.get("completeness", default_completeness), f"{name} completeness"
                        ),
                        count=present,
                        values=tuple(values),
                        cumulative=tuple(cumulative),
                        std=float(std) if _is_number(std) and math.isfinite(float(std)) else None,
                    )
                )
            config = constraints.get("monitoring_config", {})
            distribution = config.get("distribution_constraints", {})
            method = str(distribution.get("comparison_method", COMPARISON_METHOD))
            if method not in COMPARISON_METHODS:
                raise BaselineError(f"comparison_method {method!r} is not one of {COMPARISON_METHODS}")
            return cls(
                features=tuple(features),
                item_count=int(_count(statistics.get("dataset", {}).get("item_count", 0), "item_count")),
                comparison_method=method,
                comparison_threshold=_finite(
                    distribution.get("comparison_threshold", COMPARISON_THRESHOLD), "comparison_threshold"
                ),
                perform_comparison=distribution.get("perform_comparison", "Enabled") == "Enabled",
                datatype_check_threshold=_finite(
                    config.get("datatype_check_threshold", DATATYPE_CHECK_THRESHOLD),
                    "datatype_check_threshold",
                ),
                identity=baseline_identity(statistics),
                domain_content_threshold=float(
                    config.get("domain_content_threshold", DOMAIN_CONTENT_THRESHOLD)
                ),
            )
        except BaselineError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
            raise BaselineError(
                f"baseline files are malformed: {type(exc).__name__}: {str(exc)[:200]}"
            ) from exc

    @classmethod
    def from_bytes(cls, statistics: bytes | str, constraints: bytes | str) -> Baseline:
        """The two files as stored: read through the guard for documents we did not write."""
        documents = []
        for name, raw in ((STATISTICS_FILE, statistics), (CONSTRAINTS_FILE, constraints)):
            try:
                documents.append(read_document(raw, max_bytes=BASELINE_MAX_BYTES))
            except DocumentError as exc:
                raise BaselineError(f"{name} is unreadable: {exc}") from None
        if not all(isinstance(document, dict) for document in documents):
            raise BaselineError("baseline files are malformed: a document is not a JSON object")
        return cls.from_documents(*documents)

    @cached_property
    def edges(self) -> list[tuple[float, ...]]:
        """The quantile edges of every feature, in column order (computed once per baseline)."""
        return [feature.edges() for feature in self.features]


def _finite(value: Any, what: str) -> float:
    """A number read from a document we did not write: finite, or a :class:`BaselineError`."""
    number = float(value)
    if not math.isfinite(number):
        raise BaselineError(f"{what} is {value!r}, not a finite number")
    return number


def _count(value: Any, what: str) -> float:
    number = _finite(value, what)
    if number < 0:
        raise BaselineError(f"{what} is {value!r}, a negative count")
    return number


def baseline_identity(statistics: Mapping[str, Any]) -> str:
    """A short stable id of a baseline's statistics (files summarised on its edges carry it)."""
    canonical = json.dumps(statistics, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]


# ---------------------------------------------------------------------------- per file


class RowSample:
    """A uniform random sample of at most ``size`` rows (reservoir sampling, Li's Algorithm L).

    Random (not every n-th row), so a periodic series cannot alias with the sampling; Algorithm L
    draws how many rows to skip until the next one is taken, so a row that is not taken costs one
    comparison — the scoring function offers every row it decodes.
    """

    __slots__ = ("_kept", "_next", "_random", "_w", "rows", "size")

    def __init__(self, size: int = SAMPLE_ROWS, seed: int | str = 0) -> None:
        if size < 1:
            raise ValueError("sample size must be at least 1")
        self.size = size
        self.rows = 0
        self._random = random.Random(_seed(seed))  # noqa: S311 - sampling, not security
        self._kept: list[str] = []
        self._next = 0  # index of the next row to take
        self._w = 1.0

    def offer(self, rows: Sequence[str]) -> None:
        """Offer one record's rows (validated CSV text, as the capture decoder yields them)."""
        start = self.rows
        self.rows = end = start + len(rows)
        if end > self._next:
            self._take(rows, start, end)

    def _take(self, rows: Sequence[str], start: int, end: int) -> None:
        kept, size, draw = self._kept, self.size, self._random.random
        while self._next < end:
            row = rows[self._next - start]
            if len(kept) < size:
                kept.append(row)
                if len(kept) < size:
                    self._next += 1
                    continue
                self._w = math.exp(math.log(_positive(draw)) / size)
            else:
                kept[self._random.randrange(size)] = row
                self._w *= math.exp(math.log(_positive(draw)) / size)
            self._next += int(math.log(_positive(draw)) / math.log1p(-self._w)) + 1 if self._w < 1 else 1

    def sample(self) -> list[str]:
        return list(self._kept)


def _positive(draw: Any) -> float:
    """A uniform draw in (0, 1) (``random()`` may return 0.0, whose log is undefined)."""
    value: float = draw()
    while value <= 0.0:
        value = draw()
    return value


def _seed(seed: int | str) -> int:
    return seed if isinstance(seed, int) else zlib.crc32(seed.encode("utf-8"))


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


# ---------------------------------------------------------------------------- window


@dataclass(slots=True)
class WindowFeature:
    present: float = 0.0
    missing: float = 0.0
    moments: Moments = field(default_factory=Moments)
    min: float = math.inf
    max: float = -math.inf
    integral: float = 0.0
    counts: list[float] | None = None
    off_domain: float = 0.0


@dataclass
class WindowStatistics:
    """The merge of a window's file statistics; memory is O(features x edges), whatever the size.

    Only files summarised on ``baseline_id``'s edges contribute to the distribution; their
    effective sample size (Kish: (Σw)²/Σw² with weight rows/sampled per sampled row) is what the
    Robust comparison uses.
    """

    baseline_id: str | None = None
    files: int = 0
    rows: int = 0
    missing_rows: int = 0
    features: list[WindowFeature] = field(default_factory=list)
    widths: dict[int, int] = field(default_factory=dict)
    distribution_rows: float = 0.0
    distribution_sq: float = 0.0
    files_without_distribution: int = 0
    scored: int = 0
    anomalies: int = 0
    cutoffs: set[float] = field(default_factory=set)
    #: Bins per baseline feature (its edges + 1): a file's counts on the baseline must have as many.
    bins: tuple[int, ...] | None = None
    #: Rows refused for their number of columns (in ``widths``, not in ``rows``).
    other_width_rows: int = 0

    @classmethod
    def for_baseline(cls, baseline: Baseline | None) -> WindowStatistics:
        if baseline is None:
            return cls()
        return cls(baseline_id=baseline.identity, bins=tuple(len(e) + 1 for e in baseline.edges))

    def add(self, stats: FileStatistics) -> None:
        """Merge one file; a file that cannot be merged raises DriftReportError and changes nothing."""
        comparable = (
            self.baseline_id is not None
            and stats.baseline_id == self.baseline_id
            and stats.sampled > 0
            and all(f.counts is not None for f in stats.features)
        )
        if comparable:
            self._check_counts(stats)
        self.files += 1
        self.rows += stats.rows
        self.missing_rows += stats.missing_rows
        width = len(stats.features)
        if stats.rows:
            self.widths[width] = self.widths.get(width, 0) + stats.rows
        for other, rows in stats.other_widths.items():
            self.widths[other] = self.widths.get(other, 0) + rows
            self.other_width_rows += rows
        while len(self.features) < width:
            self.features.append(WindowFeature())
        scale = stats.rows / stats.sampled if stats.sampled else 0.0
        self._merge_features(stats, comparable, scale)
        if comparable:
            self.distribution_rows += stats.rows
            self.distribution_sq += stats.rows * scale
        elif stats.rows:
            self.files_without_distribution += 1
        if stats.scores.cutoff_source in MODEL_CUTOFF_SOURCES:
            self.scored += stats.scores.scored
            self.anomalies += stats.scores.anomalies
            if stats.scores.cutoff is not None:
                self.cutoffs.add(stats.scores.cutoff)

    def _merge_features(self, stats: FileStatistics, comparable: bool, scale: float) -> None:
        for target, feature in zip(self.features, stats.features, strict=False):
            target.present += feature.present
            target.missing += feature.missing
            sample_size = stats.sampled
            target.moments.merge(Moments(sample_size, feature.mean, feature.m2).scaled(feature.present))
            if feature.min is not None:
                target.min = min(target.min, feature.min)
            if feature.max is not None:
                target.max = max(target.max, feature.max)
            target.integral += feature.integral * scale
            if comparable and feature.counts is not None:
                target.off_domain += feature.off_domain * scale
                if target.counts is None:
                    target.counts = [0.0] * len(feature.counts)
                target.counts = [a + b * scale for a, b in zip(target.counts, feature.counts, strict=True)]

    def _check_counts(self, stats: FileStatistics) -> None:
        """Counts on this baseline's edges have its number of bins (and agree with earlier files)."""
        for index, feature in enumerate(stats.features):
            assert feature.counts is not None
            expected = (
                self.bins[index]
                if self.bins is not None and index < len(self.bins)
                else len(self.features[index].counts or feature.counts)
                if index < len(self.features)
                else len(feature.counts)
            )
            if len(feature.counts) != expected:
                raise DriftReportError(
                    f"malformed: {feature_name(index)} has {len(feature.counts)} counts on the baseline's "
                    f"edges, expected {expected}"
                )

    @property
    def effective_rows(self) -> float:
        """Kish's effective sample size of the distribution (= rows when every row was summarised)."""
        return self.distribution_rows**2 / self.distribution_sq if self.distribution_sq else 0.0

    @property
    def width(self) -> int:
        """The number of columns most rows had (0 for an empty window)."""
        return max(self.widths, key=lambda w: (self.widths[w], w)) if self.widths else 0


def merge_window(stats: Iterable[FileStatistics], baseline_id: str | None) -> WindowStatistics:
    window = WindowStatistics(baseline_id=baseline_id)
    for item in stats:
        window.add(item)
    return window


# ---------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class Comparison:
    """What the monitor found: violations, per-feature drift distances, and why nothing was checked."""

    violations: tuple[Violation, ...]
    distances: dict[str, float]
    records: int
    skipped: str | None = None


def window_cdf(counts: Sequence[float]) -> list[float]:
    """Cumulative fractions at each edge (the last bin, above the last edge, is left out)."""
    total = math.fsum(counts)
    running = 0.0
    cdf = []
    for count in counts[:-1]:
        running += count
        cdf.append(running / total if total else 0.0)
    return cdf


def linf_distance(feature: BaselineFeature, edges: Sequence[float], counts: Sequence[float]) -> float:
    """L∞ between the baseline's and the window's CDFs, taken at the edges."""
    cdf = window_cdf(counts)
    return max((abs(feature.cdf(edge) - value) for edge, value in zip(edges, cdf, strict=True)), default=0.0)


def robust_distance(linf: float, n: float, m: float, c_alpha: float = ROBUST_C_ALPHA) -> float:
    """Deequ's Robust distance: ``max(0, linf - c·sqrt((n+m)/(n·m)))``."""
    if n <= 0 or m <= 0:
        return 0.0
    return max(0.0, linf - c_alpha * math.sqrt((n + m) / (n * m)))


def compare(
    window: WindowStatistics,
    baseline: Baseline,
    *,
    min_records: int,
    score_stats: Mapping[str, Any] | None = None,
    c_alpha: float = ROBUST_C_ALPHA,
    previous_windows: int = 0,
) -> Comparison:
    """Model Monitor's data-quality checks of a window against a baseline (and score drift).

    A window with fewer than ``min_records`` rows raises nothing: its figures are too noisy.
    ``previous_windows``: how many windows just before this one had their anomaly rate beyond the
    model's budget (the score-drift violation says for how many windows it persists).
    """
    seen = window.rows + window.other_width_rows
    if seen < min_records or seen == 0:
        reason = f"{seen} rows in the window, fewer than the minimum of {max(min_records, 1)}"
        return Comparison((), {}, window.rows, skipped=reason)
    violations: list[Violation] = []
    distances: dict[str, float] = {}
    width, expected = window.width, len(baseline.features)
    if width < expected:
        detail = f"Number of columns in current dataset: {width}, in baseline constraints: {expected}"
        violations.extend(
            Violation(
                feature_name=f.name,
                check_type=MISSING_COLUMN_CHECK,
                description=f"There are missing columns. {detail}",
                value=width,
                threshold=expected,
            )
            for f in baseline.features[width:]
        )
    elif width > expected:
        detail = f"Number of columns in current dataset: {width}, in baseline constraints: {expected}"
        violations.extend(
            Violation(
                feature_name=feature_name(i),
                check_type=EXTRA_COLUMN_CHECK,
                description=f"There are extra columns. {detail}",
                value=width,
                threshold=expected,
            )
            for i in range(expected, width)
        )
    edges = baseline.edges
    n = window.effective_rows
    for index, feature in enumerate(baseline.features[: min(width, expected, len(window.features))]):
        current = window.features[index]
        total = current.present + current.missing
        completeness = current.present / total if total else 1.0
        if completeness < feature.completeness:
            violations.append(
                _requirement(feature.name, COMPLETENESS_CHECK, completeness, feature.completeness)
            )
        conforming = _conforming(feature.inferred_type, current)
        if conforming is not None and conforming < baseline.datatype_check_threshold:
            violations.append(
                _requirement(feature.name, DATA_TYPE_CHECK, conforming, baseline.datatype_check_threshold)
            )
        if feature.codes is not None and current.counts is not None and current.present:
            in_domain = max(0.0, 1.0 - current.off_domain / current.present)
            if in_domain < baseline.domain_content_threshold:
                violations.append(
                    _requirement(
                        feature.name, CATEGORICAL_VALUES_CHECK, in_domain, baseline.domain_content_threshold
                    )
                )
        if not baseline.perform_comparison or current.counts is None or n <= 0:
            continue
        distance, moved = _distribution_violations(
            feature, current, edges[index], n=n, baseline=baseline, c_alpha=c_alpha
        )
        distances[feature.name] = distance
        violations.extend(moved)
    if score_stats is not None:
        found = score_drift(window, score_stats, previous_windows=previous_windows)
        if found is not None:
            violations.append(found)
    return Comparison(tuple(violations), distances, window.rows)


def _distribution_violations(
    feature: BaselineFeature,
    current: WindowFeature,
    edges: Sequence[float],
    *,
    n: float,
    baseline: Baseline,
    c_alpha: float,
) -> tuple[float, list[Violation]]:
    """The CDF distance (Deequ's), and the baseline-drift violations of the CDF and of the spread."""
    assert current.counts is not None
    found = []
    linf = linf_distance(feature, edges, current.counts)
    distance = (
        robust_distance(linf, n, feature.count, c_alpha) if baseline.comparison_method == "Robust" else linf
    )
    if distance > baseline.comparison_threshold:
        found.append(
            Violation(
                feature_name=feature.name,
                check_type=BASELINE_DRIFT_CHECK,
                description=f"Numerical distance: {distance} exceeds numerical threshold: "
                f"{baseline.comparison_threshold}",
                distance=distance,
                threshold=baseline.comparison_threshold,
            )
        )
    spread = spread_distance(feature, current.moments.std, n, baseline.comparison_method, c_alpha)
    limit = math.log(SPREAD_RATIO_THRESHOLD)
    if spread is not None and spread > limit:
        found.append(
            Violation(
                feature_name=feature.name,
                check_type=BASELINE_DRIFT_CHECK,
                description=f"Standard deviation distance: {spread} exceeds numerical threshold: "
                f"{limit} (standard deviation {current.moments.std:.6g}, baseline {feature.std:.6g})",
                distance=spread,
                threshold=limit,
            )
        )
    return distance, found


def spread_distance(
    feature: BaselineFeature,
    std: float,
    n: float,
    method: str = COMPARISON_METHOD,
    c_alpha: float = ROBUST_C_ALPHA,
) -> float | None:
    """``|ln(std / baseline std)|``, less the sampling noise when Robust; None when not comparable.

    The log ratio of two sample standard deviations has a standard error of about
    ``sqrt(1/(2n) + 1/(2m))`` (normal data); Robust subtracts ``c_alpha`` of them, as Deequ does for
    the CDF distance. The result is compared with ``ln(SPREAD_RATIO_THRESHOLD)``: a 20 % wider or
    narrower spread beyond the noise.
    """
    base = feature.std
    if base is None or base <= 0 or std <= 0 or n <= 1 or feature.count <= 1:
        return None
    distance = abs(math.log(std / base))
    if method == "Robust":
        distance = max(0.0, distance - c_alpha * math.sqrt(1 / (2 * n) + 1 / (2 * feature.count)))
    return distance


def _conforming(inferred_type: str, current: WindowFeature) -> float | None:
    """Share of the window's values that have the baseline's type (accepted values are numbers).

    Integral: whole numbers; Fractional: every number; any other type (String…): none of them.
    """
    if not current.present:
        return None
    if inferred_type == INTEGRAL:
        return min(1.0, current.integral / current.present)
    if inferred_type == FRACTIONAL:
        return 1.0
    return 0.0


def _requirement(name: str, check: str, value: float, required: float) -> Violation:
    """A share below the baseline's requirement, said as Model Monitor says it."""
    return Violation(
        feature_name=name,
        check_type=check,
        description=f"Value: {value} does not meet the constraint requirement! ",
        value=value,
        threshold=required,
    )


# ---------------------------------------------------------------------------- score drift


def predicted_rate(score_stats: Mapping[str, Any], cutoff: float) -> float:
    """The share of training scores above ``cutoff``, from the model's score statistics.

    ``score_stats.json`` holds min, max and a few quantiles: the rate is interpolated linearly
    between them; above the largest training score it is taken as 1 / (count + 1), not 0.
    """
    count = int(score_stats["count"])
    points = [(0.0, float(score_stats["min"]))]
    points += sorted((float(q), float(v)) for q, v in score_stats.get("quantiles", {}).items())
    points.append((1.0, float(score_stats["max"])))
    floor = 1.0 / (count + 1)
    if cutoff >= points[-1][1]:
        return floor
    if cutoff < points[0][1]:
        return 1.0
    for (q0, v0), (q1, v1) in itertools.pairwise(points):
        if v0 <= cutoff < v1:
            q = q0 + (q1 - q0) * (cutoff - v0) / (v1 - v0)
            return max(floor, 1.0 - q)
    return floor


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p), summed in log space from k upwards."""
    if k <= 0:
        return 1.0
    if p <= 0:
        return 0.0
    if p >= 1 or k <= n * p:
        return 1.0 if p >= 1 else _tail_sum(k, n, p)
    return _tail_sum(k, n, p)


def _tail_sum(k: int, n: int, p: float) -> float:
    log_p, log_q = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(k, n + 1):
        term = math.exp(
            math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p + (n - i) * log_q
        )
        total += term
        if i > n * p and term < total * 1e-12:
            break
    return min(1.0, total)


def score_drift(
    window: WindowStatistics,
    score_stats: Mapping[str, Any],
    alpha: float = SCORE_DRIFT_ALPHA,
    previous_windows: int = 0,
) -> Violation | None:
    """A violation when the window's anomaly rate is above what the model's scores predict (p < alpha).

    The predicted rate is the model's alert budget when it is cut at its own quantile cutoff: this
    is "the model is now wrong" — it flags more of the traffic than it was built to. Only rows
    classified against the model's own cutoff are counted, and only when one cutoff was used across
    the window. The violation carries how many consecutive windows (``previous_windows`` + this
    one) have been beyond the budget: the retraining policy asks for it to persist.
    """
    if window.scored == 0 or len(window.cutoffs) != 1:
        return None
    expected = predicted_rate(score_stats, next(iter(window.cutoffs)))
    p_value = binomial_upper_tail(window.anomalies, window.scored, expected)
    if p_value >= alpha:
        return None
    observed = window.anomalies / window.scored
    consecutive = previous_windows + 1
    return Violation(
        feature_name=SCORE_FEATURE,
        check_type=SCORE_DRIFT_CHECK,
        description=f"Anomaly rate: {observed} exceeds the rate the model's score statistics predict: "
        f"{expected} (one-sided binomial p-value {p_value:.3g} < {alpha}), for {consecutive} "
        "consecutive window(s)",
        value=observed,
        threshold=expected,
        p_value=p_value,
        consecutive_windows=consecutive,
    )


def persisting_windows(document: Any) -> int:
    """How many consecutive windows a report's score-drift violation counted (0: none, or unreadable)."""
    entries = document.get("violations") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("constraint_check_type") == SCORE_DRIFT_CHECK:
            try:
                return Violation.model_validate(entry).consecutive_windows or 1
            except ValidationError:
                return 1
    return 0


# ---------------------------------------------------------------------------- documents


def statistics_document(window: WindowStatistics, baseline: Baseline | None = None) -> dict[str, Any]:
    """Model Monitor's ``statistics.json`` for the window.

    The distribution is given as buckets on the baseline's quantile edges (the same bucket schema
    as Model Monitor's ``kll.buckets``), with counts scaled to the window's rows.
    """
    edges = baseline.edges if baseline is not None else []
    features = []
    for index, current in enumerate(window.features):
        moments = current.moments
        numeric: dict[str, Any] = {
            "common": {"num_present": round(current.present), "num_missing": round(current.missing)},
            "mean": moments.mean,
            "sum": moments.mean * current.present,
            "std_dev": moments.std,
            "min": current.min if math.isfinite(current.min) else 0.0,
            "max": current.max if math.isfinite(current.max) else 0.0,
        }
        if current.counts is not None and index < len(edges):
            numeric["distribution"] = {"kll": {"buckets": _buckets(edges[index], current, numeric)}}
        integral = current.present and current.integral >= current.present
        features.append(
            {
                "name": feature_name(index),
                "inferred_type": INTEGRAL if integral else FRACTIONAL,
                "numerical_statistics": numeric,
            }
        )
    return {"version": 0.0, "dataset": {"item_count": window.rows}, "features": features}


def _buckets(
    edges: Sequence[float], current: WindowFeature, numeric: Mapping[str, Any]
) -> list[dict[str, Any]]:
    assert current.counts is not None
    bounds = [min(numeric["min"], edges[0]), *edges, max(numeric["max"], edges[-1])]
    return [
        {"lower_bound": bounds[i], "upper_bound": bounds[i + 1], "count": count}
        for i, count in enumerate(current.counts)
    ]


def violations_document(violations: Iterable[Violation]) -> dict[str, Any]:
    """Model Monitor's ``constraint_violations.json``."""
    return {"violations": [v.to_json() for v in violations]}


def dumps(document: Mapping[str, Any]) -> bytes:
    """Model Monitor's files are indented JSON."""
    return json.dumps(document, indent=2).encode("utf-8")


def drift_metric_name(feature: str) -> str:
    """Model Monitor's CloudWatch metric name for a feature's drift distance."""
    return f"feature_baseline_drift_{feature}"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(value: object, what: str) -> int:
    """A stored count: a non-negative whole number (a float like 3.0 is one)."""
    number = _real(value, what, low=0.0)
    if not number.is_integer():
        raise ValueError(f"{what} is {str(value)[:40]!r}, not a count")
    return int(number)


def _real(value: object, what: str, *, low: float | None = None) -> float:
    """A stored figure: a finite number (at least ``low`` when given)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} is {str(value)[:40]!r}, not a number")
    number = float(value)
    if not math.isfinite(number) or (low is not None and number < low):
        raise ValueError(f"{what} is {str(value)[:40]!r}, not a finite number in range")
    return number
