"""Local RCF vs the ``rrcf`` package on NAB NYC taxi, and detection quality on the NAB windows.

Method: the taxi series (10,320 half-hours) shingled 48 → 10,273 points of 48 features; a forest
of 50 trees x 512 samples is fitted and every point scored, by ``sentinel.rcf`` and by ``rrcf``
0.4.4 in the same process. rrcf has no batch scoring of unseen points: each point is scored in each
tree with ``insert_point`` + ``codisp`` + ``forget_point`` (a point already in a tree's sample is
scored with ``codisp`` directly). Quality: points scoring above mean + 3 std are flagged; a window is
hit when at least one flagged point (stamped with its shingle's last timestamp) lies inside it.

Spike attribution (what ``sentinel score`` flags): a noisy half-hourly sine wave (960 points,
amplitude 40, noise std 1) with 2 spikes of +80 injected at random places, for 10 seeds; before =
each shingle above the cutoff stamped with its last timestamp; after = each shingle's score
attributed to its points (``attribution_array`` + ``series.point_scores``). Precision = flagged
points within 1 step of a spike / flagged points; recall = spikes with such a flagged point.
"""

from __future__ import annotations

import importlib.metadata
import statistics
import sys
import time
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from sentinel.rcf import RandomCutForest, shingle
from sentinel.series import (
    NYC_TAXI,
    WindowQuality,
    cutoff,
    load_series,
    load_windows,
    point_scores,
    shingle_timestamps,
    window_quality,
)

SHINGLE = 48
TREES = 50
SAMPLES = 512
SPEED_TARGET = 5.0
QUICK_RRCF_POINTS = 300


def _import_rrcf() -> Any:
    """rrcf 0.4.4 reads its version with ``pkg_resources`` (setuptools), absent from this venv."""
    if "pkg_resources" not in sys.modules:
        shim = types.ModuleType("pkg_resources")
        shim.get_distribution = lambda name: types.SimpleNamespace(  # type: ignore[attr-defined]
            version=importlib.metadata.version(name)
        )
        sys.modules["pkg_resources"] = shim
    import rrcf

    return rrcf


def _timed(work: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def ours(points: np.ndarray, seed: int) -> np.ndarray:
    return RandomCutForest(SHINGLE, TREES, SAMPLES, seed=seed).fit(points).score_array(points)


def rrcf_scores(points: np.ndarray, limit: int | None, seed: int = 0) -> tuple[float, float, np.ndarray]:
    """(fit seconds, score seconds, scores of the first ``limit`` points) with rrcf."""
    rrcf = _import_rrcf()
    rng = np.random.default_rng(seed)

    def fit() -> list[Any]:
        trees = []
        for tree in range(TREES):
            chosen = rng.choice(points.shape[0], size=SAMPLES, replace=False)
            trees.append(rrcf.RCTree(points[chosen], index_labels=chosen, random_state=seed + tree))
        return trees

    fit_seconds, trees = _timed(fit)
    count = points.shape[0] if limit is None else min(limit, points.shape[0])

    def score() -> np.ndarray:
        out = np.zeros(count)
        for index in range(count):
            total = 0.0
            for tree in trees:
                if index in tree.leaves:
                    total += tree.codisp(index)
                else:
                    tree.insert_point(points[index], index="query")
                    total += tree.codisp("query")
                    tree.forget_point("query")
            out[index] = total / TREES
        return out

    score_seconds, scores = _timed(score)
    return fit_seconds, score_seconds, scores


def _quality(scores: np.ndarray, stamps: np.ndarray, windows: Any) -> WindowQuality:
    return window_quality(stamps, scores > cutoff(scores), windows)


def _never_hit(spread: list[WindowQuality], windows: Any) -> str:
    missed = [
        f"{start:%Y-%m-%d}..{end:%Y-%m-%d}"
        for number, (start, end) in enumerate(windows)
        if all(q.hits_per_window[number] == 0 for q in spread)
    ]
    if not missed:
        return ""
    return (
        f" Never hit by any seed: {', '.join(missed)} (with one-day shingles a holiday such as "
        "Thanksgiving looks like an ordinary Sunday)."
    )


def _spike_series(seed: int) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    count = 960
    values = 100 + 40 * np.sin(np.arange(count) * 2 * np.pi / SHINGLE) + rng.normal(0, 1.0, count)
    spikes = sorted(int(at) for at in rng.choice(np.arange(SHINGLE, count - SHINGLE), 2, replace=False))
    for at in spikes:
        values[at] += 80
    return values, spikes


def _precision_recall(flagged: np.ndarray, spikes: list[int]) -> tuple[int, int, int]:
    """(flagged points, of which within 1 step of a spike, spikes found)."""
    near = [any(abs(int(i) - at) <= 1 for at in spikes) for i in flagged]
    found = sum(1 for at in spikes if any(abs(int(i) - at) <= 1 for i in flagged))
    return len(flagged), sum(near), found


def spike_attribution(seeds: range) -> list[str]:
    """Precision and recall of the flagged points on injected spikes, by shingle and by point."""
    totals = {"before": [0, 0, 0], "after": [0, 0, 0]}
    spikes_total = 0
    for seed in seeds:
        values, spikes = _spike_series(seed)
        rows = shingle(values, SHINGLE)
        shares = RandomCutForest(SHINGLE, TREES, SAMPLES, seed=0).fit(rows).attribution_array(rows)
        scores = shares.sum(axis=1)
        limit = cutoff(scores)
        before = np.flatnonzero(scores > limit) + SHINGLE - 1  # stamped with the shingle's last point
        after = np.flatnonzero(point_scores(shares) > limit)
        for name, flagged in (("before", before), ("after", after)):
            for index, value in enumerate(_precision_recall(flagged, spikes)):
                totals[name][index] += value
        spikes_total += len(spikes)
    lines = [
        "",
        f"Spike attribution on a sine wave with injected spikes ({len(seeds)} seeds, {spikes_total} spikes):",
        "",
        "| flagged point | flagged | within 1 step of a spike | precision | spikes found (recall) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, label in (
        ("before", "shingle's last timestamp (before)"),
        ("after", "attributed point (after)"),
    ):
        flagged, near, found = totals[name]
        precision = near / flagged if flagged else 0.0
        lines.append(f"| {label} | {flagged} | {near} | **{precision:.0%}** | {found} of {spikes_total} |")
    return lines


def run(quick: bool) -> str:
    series = load_series(NYC_TAXI)
    points = shingle(series.values, SHINGLE)
    stamps = shingle_timestamps(series.timestamps, SHINGLE)
    windows = load_windows()

    # Ours: median of 3 timed runs (seed 0 each time: same work).
    runs = [_timed(lambda: ours(points, 0)) for _ in range(1 if quick else 3)]
    ours_seconds = statistics.median(seconds for seconds, _ in runs)
    scores = runs[0][1]
    quality = _quality(scores, stamps, windows)

    # rrcf: the full run unless quick (then a stated subset, extrapolated per point).
    limit = QUICK_RRCF_POINTS if quick else None
    rr_fit, rr_score, rr = rrcf_scores(points, limit)
    rr_points = rr.size
    rr_total = rr_fit + rr_score * points.shape[0] / rr_points
    ratio = rr_total / ours_seconds
    rr_note = (
        "full run"
        if rr_points == points.shape[0]
        else f"**extrapolated**: fit measured in full, scoring timed on the first {rr_points} points "
        f"and scaled per point to {points.shape[0]}"
    )

    # Seed spread of the quality figures (the forest is random: one seed is one draw).
    seeds = range(3 if quick else 10)
    spread = [_quality(ours(points, seed), stamps, windows) for seed in seeds]
    meeting = sum(1 for q in spread if q.windows_hit >= 4 and q.precision >= 0.5)

    lines = [
        "## Local Random Cut Forest (`sentinel.rcf`) vs `rrcf`",
        "",
        __doc__.split("\n", 2)[2].strip() if __doc__ else "",
        "",
        f"Data: {points.shape[0]} shingles x {SHINGLE} features; {TREES} trees x {SAMPLES} samples.",
        "",
        "| implementation | fit + score all points | per point | note |",
        "|---|---|---|---|",
        f"| sentinel.rcf (numpy) | {ours_seconds:.2f} s | {ours_seconds / points.shape[0] * 1e3:.3f} ms "
        f"| median of {len(runs)} |",
        f"| rrcf 0.4.4 | {rr_total:.1f} s | {rr_total / points.shape[0] * 1e3:.2f} ms | {rr_note} "
        f"(fit {rr_fit:.2f} s) |",
        "",
        f"**Speed: {ratio:.0f}x faster than rrcf** (target ≥ {SPEED_TARGET:.0f}x: "
        f"{'met' if ratio >= SPEED_TARGET else 'NOT met'}).",
        "",
        "Quality at mean + 3 std, seed 0 (the seed the tests pin):",
        "",
        f"- score scale: mean {scores.mean():.3f}, std {scores.std():.3f}, max {scores.max():.3f}, "
        f"cutoff {cutoff(scores):.3f} (the built-in on this data is reported near 0.9-1.0 / 1.6 / 3: "
        "same rule, a narrower spread here)",
        f"- windows hit: **{quality.windows_hit} of {quality.windows}** (flagged points per window: "
        f"{list(quality.hits_per_window)}; target ≥ 4)",
        f"- flagged points inside windows: **{quality.flagged_in_windows} of {quality.flagged} "
        f"({quality.precision:.0%})** (target ≥ 50%)",
        f"- across seeds {seeds.start}..{seeds.stop - 1}: windows hit "
        f"{[q.windows_hit for q in spread]}, precision {[round(q.precision, 2) for q in spread]}; "
        f"**{meeting} of {len(spread)} seeds meet both targets**." + _never_hit(spread, windows),
    ]
    shares = RandomCutForest(SHINGLE, TREES, SAMPLES, seed=0).fit(points).attribution_array(points)
    by_point = window_quality(series.timestamps, point_scores(shares) > cutoff(shares.sum(axis=1)), windows)
    lines.append(
        f"- attributed to points (`sentinel score`), seed 0: windows hit **{by_point.windows_hit} of "
        f"{by_point.windows}** ({list(by_point.hits_per_window)}), flagged inside windows "
        f"**{by_point.flagged_in_windows} of {by_point.flagged} ({by_point.precision:.0%})**"
    )
    if rr_points == points.shape[0]:
        rq = _quality(rr, stamps, windows)
        lines.append(
            f"- rrcf (CoDisp, same rule) for comparison: windows hit {rq.windows_hit} of {rq.windows} "
            f"({list(rq.hits_per_window)}), flagged inside windows {rq.flagged_in_windows} of "
            f"{rq.flagged} ({rq.precision:.0%})"
        )
    lines += spike_attribution(range(3 if quick else 10))
    lines += [
        "",
        "rrcf 0.4.4 imports `pkg_resources` (setuptools) only to read its own version; the venv has "
        "no setuptools, so the benchmark installs a one-function shim before importing it.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
