"""Statistics of the trained model's scores on its own training data: the scoring cutoff's baseline.

Runs as the pipeline's ScoreStats step (SageMaker Processing) on the batch transform output of the
training data, and writes ``score_stats.json`` next to ``model.tar.gz``; the local pipeline executor
imports :func:`score_stats` directly. Standard library only (Python 3.9+).

Shape (a contract with the scoring function and the retraining evaluation)::

    {"count": int, "mean": float, "std": float, "min": float, "max": float,
     "quantiles": {"0.5": x, "0.9": x, "0.95": x, "0.99": x, "0.995": x, "0.999": x},
     "cutoff": {"rule": "quantile", "quantile": 0.999, "alert_budget": 0.001, "value": x},
     "feature_dim": int}   # the model's input width, when given (--feature-dim)

``std`` is the population standard deviation; quantiles interpolate linearly between order
statistics (numpy's default), so the two agree with a numpy computation on the same scores.

``cutoff`` is the model's **production cutoff**, chosen for an alert budget: the training-score
quantile ``1 - alert_budget`` (``--alert-budget``, default 0.001: one row in a thousand of the
traffic the model learned from is flagged). ``mean + 3 std`` is not the 99.9th percentile it is
often taken for: on real series it flags 1.4-3.6 % of the training rows (docs/BENCHMARKS.md,
"Cutoff with an alert budget"). The scoring function, ``sentinel score`` and the evaluation all
cut a model with :func:`model_cutoff`: this block when present, else ``mean + k std`` (files written
before the block existed keep working, named as such).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

QUANTILES = ("0.5", "0.9", "0.95", "0.99", "0.995", "0.999")
#: Share of the training rows the production cutoff may flag (the cutoff is the 1 - budget quantile).
ALERT_BUDGET = 0.001
#: k of the ``mean + k std`` rule, for statistics without a cutoff block (and CutoffRule=mean-std).
CUTOFF_K = 3.0
STATS_FILE = "score_stats.json"
PROCESSING_SCORES = Path("/opt/ml/processing/input/scores")
PROCESSING_STATS = Path("/opt/ml/processing/output/stats")
EXIT_MESSAGE = Path("/opt/ml/output/message")


class ScoreStatsError(Exception):
    """No scores, or a score that is not a finite number: the statistics would be meaningless."""


def score_stats(
    scores: Iterable[float], feature_dim: int | None = None, alert_budget: float = ALERT_BUDGET
) -> dict[str, Any]:
    """count, mean, population std, min, max, quantiles and the production cutoff of the scores."""
    if not 0.0 < alert_budget < 1.0:
        raise ScoreStatsError(f"the alert budget must be between 0 and 1, got {alert_budget}")
    values = sorted(float(s) for s in scores)
    if not values:
        raise ScoreStatsError("no scores: the batch transform produced no output rows")
    if not all(math.isfinite(v) for v in values):
        raise ScoreStatsError("a score is not a finite number")
    count = len(values)
    mean = math.fsum(values) / count
    variance = math.fsum((v - mean) ** 2 for v in values) / count
    return {
        "count": count,
        "mean": mean,
        "std": math.sqrt(variance),
        "min": values[0],
        "max": values[-1],
        "quantiles": {q: quantile(values, float(q)) for q in QUANTILES},
        "cutoff": {
            "rule": "quantile",
            "quantile": 1.0 - alert_budget,
            "alert_budget": alert_budget,
            "value": quantile(values, 1.0 - alert_budget),
        },
        **({"feature_dim": feature_dim} if feature_dim else {}),
    }


def model_cutoff(
    stats: dict[str, Any] | None, k: float = CUTOFF_K, rule: str = "quantile"
) -> tuple[float, str] | None:
    """The cutoff a model's ``score_stats.json`` sets, and how it was chosen; None without usable statistics.

    ``rule="quantile"`` (the default everywhere): the statistics' own cutoff block, else (statistics
    written before it existed) ``mean + k std``. ``rule="mean-std"``: always ``mean + k std``.
    """
    if not isinstance(stats, dict):
        return None
    block = stats.get("cutoff")
    if rule == "quantile" and isinstance(block, dict):
        try:
            value, quantile = float(block["value"]), float(block["quantile"])
        except (KeyError, TypeError, ValueError):
            value = quantile = math.nan
        if math.isfinite(value) and math.isfinite(quantile):
            return value, f"quantile {quantile:g} of the training scores"
    try:
        value = float(stats["mean"]) + k * float(stats["std"])
    except (KeyError, TypeError, ValueError):
        return None
    return (value, f"mean + {k:g} std of the training scores") if math.isfinite(value) else None


def quantile(ordered: Sequence[float], q: float) -> float:
    """numpy's default (linear) quantile of sorted values; logs_evaluate.py imports it from here."""
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def parse_scores(lines: Iterable[str]) -> Iterator[float]:
    """Scores from RCF batch transform output: JSON Lines ``{"score": x}`` (Accept application/jsonlines),
    ``{"scores": [{"score": x}, ...]}`` (application/json), or one bare number per line."""
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise ScoreStatsError(f"line {number} is not JSON nor a number") from exc
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            yield float(item)
        elif isinstance(item, dict) and "score" in item:
            yield float(item["score"])
        elif isinstance(item, dict) and isinstance(item.get("scores"), list):
            for entry in item["scores"]:
                yield float(entry["score"])
        else:
            raise ScoreStatsError(f"line {number} holds no score")


def read_scores(directory: Path) -> Iterator[float]:
    """Every score in every file under ``directory`` (the transform writes one ``.out`` per input)."""
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    if not files:
        raise ScoreStatsError(f"no score files under {directory}")
    for path in files:
        with path.open(encoding="utf-8") as handle:
            yield from parse_scores(handle)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scores", type=Path, default=PROCESSING_SCORES, help="transform output directory")
    parser.add_argument("--output", type=Path, default=PROCESSING_STATS, help="where score_stats.json goes")
    parser.add_argument("--feature-dim", type=int, default=None, help="the model's feature_dim, recorded")
    parser.add_argument(
        "--alert-budget", type=float, default=ALERT_BUDGET, help="share of training rows the cutoff flags"
    )
    args = parser.parse_args(argv)
    try:
        stats = score_stats(read_scores(args.scores), args.feature_dim, args.alert_budget)
    except ScoreStatsError as exc:
        message = f"ScoreStatsError: {exc}"
        print(message, file=sys.stderr)
        if EXIT_MESSAGE.parent.is_dir():
            EXIT_MESSAGE.write_text(message[:1024], encoding="utf-8")
        return 2
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / STATS_FILE).write_text(json.dumps(stats, indent=2), encoding="utf-8")
    print(json.dumps({"count": stats["count"], "mean": stats["mean"], "std": stats["std"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
