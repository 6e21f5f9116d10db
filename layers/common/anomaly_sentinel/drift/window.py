"""A window of file summaries merged: memory O(features x edges) whatever the rows or files."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from anomaly_sentinel.drift.baseline import Baseline
from anomaly_sentinel.drift.files import FileStatistics
from anomaly_sentinel.drift.formats import MODEL_CUTOFF_SOURCES, feature_name
from anomaly_sentinel.drift.stats import Moments
from anomaly_sentinel.exceptions import DriftReportError


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
