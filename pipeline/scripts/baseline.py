"""Data-quality baseline of the training channel, in SageMaker Model Monitor's format.

Runs as the pipeline's Baseline step (SageMaker Processing) on the preprocessed train channel (a
headerless CSV of feature rows) and writes ``statistics.json`` and ``constraints.json`` as Model
Monitor's baselining job does; the local pipeline executor and ``sentinel baseline`` import
:func:`write_baseline` directly. Standard library only (Python 3.9+), so it runs in any image.

Per feature (named ``_c0``, ``_c1``, … as Model Monitor names headerless CSV columns):
num_present, num_missing (empty tokens), mean, sum, population std_dev, min, max, ten equal-width
display buckets and a KLL-format sketch — levels of items where an item at level ``h`` stands for
``2**h`` rows (Deequ's layout). Up to :data:`KLL_K` rows the sketch holds every value; above it,
the sorted values are cut into groups of ``2**h`` and each group's middle value stands for it, so
the sketch's CDF is within ``2**h / n`` of the data's. The runtime reads the sketch
(``anomaly_sentinel.drift``); the constants both sides share are checked by a test.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

FEATURE_PREFIX = "_c"
STATISTICS_FILE = "statistics.json"
CONSTRAINTS_FILE = "constraints.json"
COMPARISON_THRESHOLD = 0.1
COMPARISON_METHOD = "Robust"
DATATYPE_CHECK_THRESHOLD = 1.0
KLL_K = 2048
KLL_C = 0.64
DISPLAY_BUCKETS = 10
MISSING_TOKENS = frozenset({"", "nan", "null", "none", "na", "n/a"})
#: Values beyond this magnitude count as missing, as non-finite ones do: their squares would
#: overflow the standard deviation (anomaly_sentinel.drift.SUMMARY_MAX_MAGNITUDE, the same bound).
SUMMARY_MAX_MAGNITUDE = 1e100
PROCESSING_TRAIN = Path("/opt/ml/processing/input/train")
PROCESSING_BASELINE = Path("/opt/ml/processing/output/baseline")
EXIT_MESSAGE = Path("/opt/ml/output/message")


class BaselineInputError(Exception):
    """The train channel cannot be baselined (empty, ragged, a non-numeric value); names the line."""


def _is_integral(token: str) -> bool:
    return token.lstrip("+-").isdigit()


class _Column:
    __slots__ = ("integral", "missing", "values")

    def __init__(self) -> None:
        self.values: list[float] = []
        self.missing = 0
        self.integral = True


def read_columns(lines: Iterable[str], source: str = "train channel") -> list[_Column]:
    """Columns of a headerless numeric CSV (RFC 4180: a quoted field is one value, commas and all);
    every row must have the first row's width."""
    columns: list[_Column] = []
    reader = csv.reader(lines, strict=True)
    try:
        for fields in reader:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue
            _add_row(columns, [field.strip() for field in fields], f"{source} line {reader.line_num}")
    except csv.Error as exc:
        raise BaselineInputError(f"{source} line {reader.line_num}: not valid CSV ({exc})") from None
    if not columns:
        raise BaselineInputError(f"{source} holds no rows")
    return columns


def _add_row(columns: list[_Column], tokens: list[str], where: str) -> None:
    if not columns:
        columns.extend(_Column() for _ in tokens)
    if len(tokens) != len(columns):
        raise BaselineInputError(
            f"{where}: {len(tokens)} values, expected {len(columns)} (first row's width)"
        )
    for index, token in enumerate(tokens):
        column = columns[index]
        if token.lower() in MISSING_TOKENS:
            column.missing += 1
            continue
        try:
            value = float(token)
        except ValueError:
            raise BaselineInputError(f"{where} column {index + 1} is not a number") from None
        if not math.isfinite(value) or abs(value) > SUMMARY_MAX_MAGNITUDE:
            column.missing += 1
            continue
        column.values.append(value)
        if column.integral and not _is_integral(token):
            column.integral = False


def kll_sketch(ordered: Sequence[float], k: int = KLL_K) -> list[list[float]]:
    """Deequ-layout KLL levels for sorted values (see the module docstring)."""
    n = len(ordered)
    level = 0
    while math.ceil(n / 2**level) > k:
        level += 1
    if level == 0:
        return [list(ordered)]
    group = 2**level
    full = n // group * group
    representatives = [ordered[start + group // 2] for start in range(0, full, group)]
    levels: list[list[float]] = [list(ordered[full:])] + [[] for _ in range(level - 1)]
    levels.append(representatives)
    return levels


def display_buckets(ordered: Sequence[float], buckets: int = DISPLAY_BUCKETS) -> list[dict[str, float]]:
    """Equal-width buckets between min and max (the last one includes max), as Model Monitor shows."""
    low, high = ordered[0], ordered[-1]
    width = (high - low) / buckets
    counts = [0] * buckets
    for value in ordered:
        at = buckets - 1 if width == 0 else min(int((value - low) / width), buckets - 1)
        counts[at] += 1
    return [
        {"lower_bound": low + width * i, "upper_bound": low + width * (i + 1), "count": float(counts[i])}
        for i in range(buckets)
    ]


def baseline(lines: Iterable[str], source: str = "train channel") -> tuple[dict[str, Any], dict[str, Any]]:
    """``statistics.json`` and ``constraints.json`` documents of a headerless numeric CSV."""
    columns = read_columns(lines, source)
    rows = len(columns[0].values) + columns[0].missing
    stat_features = []
    constraint_features = []
    for index, column in enumerate(columns):
        name = f"{FEATURE_PREFIX}{index}"
        ordered = sorted(column.values)
        if not ordered:
            raise BaselineInputError(f"{source}: column {index + 1} ({name}) has no numeric value")
        count = len(ordered)
        total = math.fsum(ordered)
        mean = total / count
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in ordered) / count)
        inferred = "Integral" if column.integral else "Fractional"
        stat_features.append(
            {
                "name": name,
                "inferred_type": inferred,
                "numerical_statistics": {
                    "common": {"num_present": count, "num_missing": column.missing},
                    "mean": mean,
                    "sum": total,
                    "std_dev": std,
                    "min": ordered[0],
                    "max": ordered[-1],
                    "distribution": {
                        "kll": {
                            "buckets": display_buckets(ordered),
                            "sketch": {
                                "parameters": {"c": KLL_C, "k": float(KLL_K)},
                                "data": kll_sketch(ordered),
                            },
                        }
                    },
                },
            }
        )
        constraint_features.append(
            {
                "name": name,
                "inferred_type": inferred,
                "completeness": count / (count + column.missing),
                "num_constraints": {"is_non_negative": ordered[0] >= 0},
            }
        )
    statistics = {"version": 0.0, "dataset": {"item_count": rows}, "features": stat_features}
    constraints = {
        "version": 0.0,
        "features": constraint_features,
        "monitoring_config": {
            "evaluate_constraints": "Enabled",
            "emit_metrics": "Enabled",
            "datatype_check_threshold": DATATYPE_CHECK_THRESHOLD,
            "domain_content_threshold": 1.0,
            "distribution_constraints": {
                "perform_comparison": "Enabled",
                "comparison_threshold": COMPARISON_THRESHOLD,
                "comparison_method": COMPARISON_METHOD,
            },
        },
    }
    return statistics, constraints


def _train_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file())
    if not files:
        raise BaselineInputError(f"no files under {path}")
    return files


def _lines(files: Sequence[Path]) -> Iterable[str]:
    for path in files:
        with path.open(encoding="utf-8") as handle:
            yield from handle


def write_baseline(train: Path, out: Path) -> dict[str, int]:
    """Baseline the train channel at ``train`` (a file or a folder) into ``out``; returns counts."""
    statistics, constraints = baseline(_lines(_train_files(train)), str(train))
    out.mkdir(parents=True, exist_ok=True)
    (out / STATISTICS_FILE).write_text(json.dumps(statistics, indent=2), encoding="utf-8")
    (out / CONSTRAINTS_FILE).write_text(json.dumps(constraints, indent=2), encoding="utf-8")
    return {"records": int(statistics["dataset"]["item_count"]), "features": len(statistics["features"])}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--train", type=Path, default=PROCESSING_TRAIN, help="train channel file or folder")
    parser.add_argument("--output", type=Path, default=PROCESSING_BASELINE, help="where the baseline goes")
    args = parser.parse_args(argv)
    try:
        summary = write_baseline(args.train, args.output)
    except (BaselineInputError, OSError) as exc:
        message = f"{type(exc).__name__}: {exc}"
        print(message, file=sys.stderr)
        if EXIT_MESSAGE.parent.is_dir():
            EXIT_MESSAGE.write_text(message[:1024], encoding="utf-8")
        return 2
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
