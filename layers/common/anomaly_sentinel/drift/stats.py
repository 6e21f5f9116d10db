"""Pure statistics of the drift flow: moments that merge, a uniform row sample, CDF distances, a
binomial tail. No document formats here, no AWS."""

from __future__ import annotations

import itertools
import math
import operator
import random
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from anomaly_sentinel.drift.formats import ROBUST_C_ALPHA, SAMPLE_ROWS


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


def window_cdf(counts: Sequence[float]) -> list[float]:
    """Cumulative fractions at each edge (the last bin, above the last edge, is left out)."""
    total = math.fsum(counts)
    running = 0.0
    cdf = []
    for count in counts[:-1]:
        running += count
        cdf.append(running / total if total else 0.0)
    return cdf


def robust_distance(linf: float, n: float, m: float, c_alpha: float = ROBUST_C_ALPHA) -> float:
    """Deequ's Robust distance: ``max(0, linf - c·sqrt((n+m)/(n·m)))``."""
    if n <= 0 or m <= 0:
        return 0.0
    return max(0.0, linf - c_alpha * math.sqrt((n + m) / (n * m)))


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
