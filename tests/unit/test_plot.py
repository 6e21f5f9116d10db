"""The scores plot: a real PNG with the series, scores, cutoff, anomalies and shaded windows."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from sentinel.plot import plot_scores


def series(count: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    stamps = np.datetime64("2014-07-01T00:00") + np.arange(count) * np.timedelta64(30, "m")
    values = np.sin(np.arange(count) / 8.0) * 100 + 1000
    scores = np.full(count, 0.8)
    scores[120:125] = 2.5
    scores[:9] = np.nan  # no full shingle yet
    return stamps, values, scores


def test_plot_writes_a_png_with_its_parent_folder(tmp_path):
    # GIVEN a scored series with five anomalous points and one labelled window
    stamps, values, scores = series()
    window = (datetime(2014, 7, 3, 12), datetime(2014, 7, 3, 18))
    # WHEN it is plotted into a folder that does not exist yet
    path = plot_scores(tmp_path / "out" / "scores.png", stamps, values, scores, 1.6, windows=[window])
    # THEN a PNG image of a useful size is written there
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1320, 660)
    assert len(data) > 20_000


def test_plot_refuses_misaligned_arrays(tmp_path):
    # GIVEN one score fewer than timestamps
    stamps, values, scores = series()
    # WHEN / THEN the error names the three lengths
    with pytest.raises(ValueError, match="must align: got 200, 200, 199"):
        plot_scores(tmp_path / "x.png", stamps, values, scores[1:], 1.6)
