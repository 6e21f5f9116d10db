"""Builders shared by the drift tests: Model Monitor's real documents, Gaussian rows, baselines, windows."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

from anomaly_sentinel import drift
from pipeline.scripts import baseline as baseline_script
from tests.support import fixture_path

REAL = "capture/data-quality"


def real_documents(case: str = "good_cases") -> tuple[dict, dict]:
    statistics = json.loads(fixture_path(f"{REAL}/statistics.json").read_text())
    constraints = json.loads(fixture_path(f"{REAL}/{case}/constraints.json").read_text())
    return statistics, constraints


def gaussian_rows(
    count: int, features: int, rng: random.Random, shift: Sequence[float] = (), scale: float = 1.0
) -> list[str]:
    shifts = list(shift) + [0.0] * (features - len(shift))
    return [",".join(f"{rng.gauss(shifts[i], scale):.6f}" for i in range(features)) for _ in range(count)]


def make_baseline(rows: Sequence[str]) -> drift.Baseline:
    statistics, constraints = baseline_script.baseline(rows)
    return drift.Baseline.from_documents(statistics, constraints)


def file_stats(
    baseline: drift.Baseline | None, rows: Sequence[str], seed: int | str = 0, **kw
) -> drift.FileStatistics:
    builder = drift.FileStatisticsBuilder(baseline, seed=seed, **kw)
    for row in rows:
        builder.offer([row])
    return builder.finish()


def window_of(baseline: drift.Baseline, *files: Sequence[str]) -> drift.WindowStatistics:
    return drift.merge_window(
        (file_stats(baseline, rows, seed=i) for i, rows in enumerate(files)), baseline.identity
    )
