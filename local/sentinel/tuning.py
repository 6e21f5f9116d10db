"""Local hyperparameter search: what the pipeline's HyperparameterTuner does, with the local RCF.

The pipeline's Tune step maximises RCF's ``test:f1`` on the labelled validation channel over
``num_trees`` x ``num_samples_per_tree``. Locally a small grid (:data:`LOCAL_GRID`, clamped into the
definition's ranges, at most ``budget`` trials — ``TuningMaxJobs`` and the executor's own cap) is
searched the same way: each trial trains on the train channel, takes its cutoff from its own
training scores (mean + 3 std, as in production) and is scored by F1 on the validation channel. Ties
go to the earlier (cheaper) trial. Every trial is reported, so the demo shows the search.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sentinel.rcf import RandomCutForest

#: Trials in order (cheapest first), before clamping to the definition's ranges.
LOCAL_GRID = ((50, 256), (50, 512), (100, 256), (100, 512), (200, 512), (50, 128))
DEFAULT_RANGES = {"num_trees": (50, 400), "num_samples_per_tree": (128, 2048)}


class TuningError(ValueError):
    """The search cannot run (no budget, empty channels)."""


@dataclass(frozen=True)
class Trial:
    num_trees: int
    num_samples_per_tree: int
    f1: float
    precision: float
    recall: float
    cutoff: float
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SearchResult:
    best: Trial
    forest: RandomCutForest
    stats: dict[str, Any]
    trials: list[Trial]


def grid(
    budget: int, ranges: dict[str, tuple[int, int]] | None = None, rows: int | None = None
) -> list[tuple[int, int]]:
    """The trials to run: :data:`LOCAL_GRID` clamped into ``ranges``, de-duplicated, first ``budget``.

    A tree samples at most the ``rows`` of the train channel: 512 samples of 400 rows is the same
    forest as 400, so a trial is named by the samples it really draws and a duplicate gives way to
    the next point of the grid (on a small channel the budget then buys distinct trials, or fewer).
    """
    if budget < 1:
        raise TuningError(f"tuning budget must be at least 1 trial, got {budget}")
    bounds = {**DEFAULT_RANGES, **(ranges or {})}
    trees_low, trees_high = bounds["num_trees"]
    samples_low, samples_high = bounds["num_samples_per_tree"]
    chosen: list[tuple[int, int]] = []
    for trees, samples in LOCAL_GRID:
        drawn = min(max(samples, samples_low), samples_high, rows if rows else samples_high)
        point = (min(max(trees, trees_low), trees_high), drawn)
        if point not in chosen:
            chosen.append(point)
    return chosen[:budget]


def search(
    train: NDArray[np.float64],
    validation_labels: Sequence[int],
    validation_rows: NDArray[np.float64],
    *,
    budget: int,
    ranges: dict[str, tuple[int, int]] | None = None,
    seed: int | None = 0,
) -> SearchResult:
    """Train one forest per trial, keep the one with the best validation F1."""
    if train.size == 0 or validation_rows.size == 0:
        raise TuningError("the train and validation channels must both have rows")
    from sentinel.pipeline_executor import load_script  # the executor imports this module

    evaluate = load_script("evaluate")
    score_stats = load_script("score_stats")
    best: SearchResult | None = None
    trials: list[Trial] = []
    for trees, samples in grid(budget, ranges, rows=train.shape[0]):
        started = time.perf_counter()
        forest = RandomCutForest(train.shape[1], trees, samples, seed=seed).fit(train)
        stats = score_stats.score_stats(forest.score_array(train), train.shape[1])
        scores = [float(s) for s in forest.score_array(validation_rows)]
        measured = evaluate.judge_model(list(validation_labels), scores, stats)
        trial = Trial(
            num_trees=trees,
            num_samples_per_tree=samples,
            f1=measured.f1,
            precision=measured.precision,
            recall=measured.recall,
            cutoff=measured.cutoff,
            seconds=round(time.perf_counter() - started, 3),
        )
        trials.append(trial)
        if best is None or trial.f1 > best.best.f1:
            best = SearchResult(best=trial, forest=forest, stats=stats, trials=trials)
    assert best is not None  # the grid has at least one trial
    best.trials = trials
    return best
