"""The local executor's hyperparameter search (sentinel.tuning): the grid it runs, the trial it keeps."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.scripts import channels as ch
from sentinel.tuning import TuningError, grid, search


def test_the_grid_is_clamped_into_the_definitions_ranges_and_cut_to_the_budget():
    assert grid(2) == [(50, 256), (50, 512)]
    # a narrower range collapses grid points onto its bounds, without repeats
    assert grid(10, {"num_trees": (60, 80), "num_samples_per_tree": (300, 300)}) == [(60, 300), (80, 300)]
    with pytest.raises(TuningError):
        grid(0)


def test_the_search_keeps_the_trial_with_the_best_validation_f1_and_reports_every_trial():
    # GIVEN a periodic series shingled by 8, split and injected as a run would be
    t = np.arange(1200)
    series = 10 + np.sin(2 * np.pi * t / 24) + np.random.default_rng(0).normal(0, 0.05, t.size)
    rows = np.lib.stride_tricks.sliding_window_view(series, 8).tolist()
    channels = ch.build_channels(rows, seed=3)
    labels = [label for label, _ in channels.validation]
    validation = np.array([row for _, row in channels.validation])
    # WHEN three trials are searched
    result = search(np.array(channels.train), labels, validation, budget=3, seed=0)
    # THEN all three are reported and the kept one has the best F1 (the first of equals)
    assert [(t.num_trees, t.num_samples_per_tree) for t in result.trials] == grid(3)
    best = max(result.trials, key=lambda trial: trial.f1)
    assert result.best == next(t for t in result.trials if t.f1 == best.f1)
    assert (result.forest.num_trees, result.forest.num_samples_per_tree) == (
        result.best.num_trees,
        result.best.num_samples_per_tree,
    )
    # and the model finds injected anomalies well above chance on this clean series
    assert result.best.f1 > 0.5
    assert result.stats["count"] == len(channels.train)


def test_on_a_small_train_channel_no_two_trials_grow_the_same_forest():
    # GIVEN a train channel of 300 rows, fewer than 512 samples per tree
    # WHEN the grid for it is drawn THEN each trial names the samples a tree really draws, and no
    # trial repeats another (512 of 300 rows would be the 300-sample forest again)
    trials = grid(4, rows=300)
    assert all(samples <= 300 for _, samples in trials)
    assert len(set(trials)) == len(trials) == 4
    assert trials == [(50, 256), (50, 300), (100, 256), (100, 300)]
    # AND a channel smaller than every grid point leaves one trial per tree count
    assert grid(6, {"num_samples_per_tree": (128, 2048)}, rows=100) == [(50, 100), (100, 100), (200, 100)]
