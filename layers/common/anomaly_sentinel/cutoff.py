"""The anomaly cutoff: which score counts as an anomaly, and where that number came from.

Resolved in this order, and the alert names the source:

1. ``threshold`` — an explicit number set by the operator (template parameter AnomalyThreshold);
2. ``model-stats`` — ``score_stats.json`` the pipeline publishes next to the deployed model's
   artifact (``s3://b/p/model.tar.gz`` → ``s3://b/p/score_stats.json``): the model's own cutoff,
   the training-score quantile for its alert budget (``rule="quantile"``, the default), or
   mean + k·std of the training scores (``rule="mean-std"``, and statistics written before the
   quantile existed);
3. ``file-stats`` — the file's own mean + k·std, only when it has at least ``min_records`` scores
   (a handful of scores says little about what is normal);
4. ``none`` — nothing is flagged, and the report says so.

std is the population standard deviation (ddof=0), as numpy computes it by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import sqrt
from typing import Literal

from pydantic import BaseModel

from anomaly_sentinel.contracts import ScoreStats
from anomaly_sentinel.contracts.layout import score_stats_uri as stats_uri
from anomaly_sentinel.contracts.served import StatsLookup

__all__ = [
    "Cutoff",
    "RunningStats",
    "ScoreStats",
    "StatsLookup",
    "resolve_cutoff",
    "stats_uri",
]

CutoffSource = Literal["threshold", "model-stats", "file-stats", "none"]


class Cutoff(BaseModel):
    value: float | None
    source: CutoffSource
    detail: str

    def flags(self, score: float) -> bool:
        return self.value is not None and score > self.value


@dataclass
class RunningStats:
    """Welford's online mean and variance: one pass, constant memory."""

    count: int = 0
    mean: float = 0.0
    _m2: float = 0.0
    max: float | None = None

    def add(self, value: float) -> None:
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self._m2 += delta * (value - self.mean)
        if self.max is None or value > self.max:
            self.max = value

    @property
    def std(self) -> float:
        return sqrt(self._m2 / self.count) if self.count else 0.0


def resolve_cutoff(
    *,
    threshold: float | None,
    model: StatsLookup | None,
    file: RunningStats,
    k: float,
    min_records: int,
    rule: str = "quantile",
) -> Cutoff:
    if threshold is not None:
        return Cutoff(value=threshold, source="threshold", detail=f"explicit threshold {threshold:g}")
    notes = []
    if model is not None and model.stats is not None:
        stats = model.stats
        value, how = stats.production_cutoff(k, rule)
        return Cutoff(
            value=value,
            source="model-stats",
            detail=f"{model.uri}: {how} ({stats.count} scores, mean {stats.mean:.4g}, std {stats.std:.4g})",
        )
    if model is not None:
        notes.append(model.note)
    if file.count >= min_records:
        return Cutoff(
            value=file.mean + k * file.std,
            source="file-stats",
            detail=f"this file: mean {file.mean:.4g} + {k:g} x std {file.std:.4g} over {file.count} scores"
            + (f" ({'; '.join(notes)})" if notes else ""),
        )
    notes.append(f"only {file.count} scores in the file, {min_records} needed for its own cutoff")
    return Cutoff(value=None, source="none", detail="no cutoff: " + "; ".join(notes))
