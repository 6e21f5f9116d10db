"""One picture of a scored series: values and scores, the cutoff, anomalies marked, windows shaded.

Used by ``sentinel score --plot`` and by the demo (``out/demo/scores.png``). Matplotlib's Agg
canvas is used directly (no pyplot, no display, no global backend switch), so plotting works on a
headless machine and inside tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from sentinel.series import Window


def plot_scores(
    path: Path,
    timestamps: ArrayLike,
    values: ArrayLike,
    scores: ArrayLike,
    cutoff: float,
    *,
    windows: Sequence[Window] = (),
    title: str = "Random Cut Forest anomaly scores",
) -> Path:
    """Write a two-panel PNG: the series (anomalies in red) over its scores (cutoff dashed).

    ``timestamps``, ``values`` and ``scores`` are aligned (one score per timestamp; use NaN where a
    point has no score, e.g. before the first full shingle). ``windows`` are shaded on both panels.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    when = np.asarray(timestamps, dtype="datetime64[s]")
    series = np.asarray(values, dtype=np.float64)
    score = np.asarray(scores, dtype=np.float64)
    if not when.size == series.size == score.size:
        raise ValueError(
            f"timestamps, values and scores must align: got {when.size}, {series.size}, {score.size}"
        )
    with np.errstate(invalid="ignore"):
        anomalous = np.nan_to_num(score, nan=-np.inf) > cutoff

    figure = Figure(figsize=(12, 6), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    for axis in (top, bottom):
        for number, (start, end) in enumerate(windows):
            axis.axvspan(
                np.datetime64(start),
                np.datetime64(end),
                color="tab:orange",
                alpha=0.18,
                label="labelled window" if number == 0 else None,
            )
    top.plot(when, series, color="tab:blue", linewidth=0.6, label="value")
    top.scatter(when[anomalous], series[anomalous], s=9, color="tab:red", zorder=3, label="anomaly")
    top.set_ylabel("value")
    top.set_title(title)
    top.legend(loc="upper left", fontsize="small")

    bottom.plot(when, score, color="tab:gray", linewidth=0.6, label="score")
    bottom.axhline(cutoff, color="tab:red", linestyle="--", linewidth=1, label=f"cutoff {cutoff:.3f}")
    bottom.scatter(when[anomalous], score[anomalous], s=9, color="tab:red", zorder=3)
    bottom.set_ylabel("anomaly score")
    bottom.legend(loc="upper left", fontsize="small")
    figure.autofmt_xdate()

    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path
