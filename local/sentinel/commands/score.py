"""``sentinel score FILE.csv``: find anomalies in a timestamp,value series with the local RCF."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentinel.series import Series, Window

DESCRIPTION = """\
Score a time series for anomalies with the local Random Cut Forest (the algorithm of SageMaker's
built-in RCF; the higher the score, the more anomalous), without AWS.

FILE.csv holds one point per line: timestamp,value (a header line is fine), for example
  timestamp,value
  2014-07-01 00:00:00,10844

The series is cut into overlapping shingles of N consecutive values (default 48: one day of
half-hours), so the forest judges shapes rather than single values. Each shingle is scored and
the score is stamped with the shingle's LAST timestamp; the first N-1 points have no full shingle
and get no score. Points scoring above mean + 3 standard deviations of all scores are anomalies.

The last line printed is JSON: {"points": scored points, "anomalies": K, "cutoff": x}.
"""

EPILOG = """\
examples:
  sentinel score local/sentinel/data/nab/nyc_taxi.csv --plot out/taxi.png
  sentinel score sensor.csv --shingle 12 --out scored.csv
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "score",
        help="score a timestamp,value CSV series for anomalies with the local RCF",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE.csv", type=Path, help="the timestamp,value series to score")
    parser.add_argument(
        "--shingle",
        metavar="N",
        type=int,
        default=48,
        help="values per shingle (consecutive points scored together; default 48)",
    )
    parser.add_argument(
        "--out", metavar="CSV", type=Path, help="write timestamp,value,score,anomaly rows here"
    )
    parser.add_argument(
        "--plot", metavar="PNG", type=Path, help="draw the series, scores, cutoff and anomalies here"
    )
    parser.add_argument(
        "--windows",
        metavar="JSON",
        type=Path,
        help="NAB-style labelled windows to shade on the plot "
        "(e.g. local/sentinel/data/nab/nyc_taxi_windows.json)",
    )
    parser.add_argument("--trees", metavar="T", type=int, default=50, help="number of trees (default 50)")
    parser.add_argument(
        "--samples", metavar="S", type=int, default=512, help="sample size per tree (default 512)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed, for repeatable scores (default 0)")
    parser.set_defaults(run=run, parser=parser)


def _check(args: argparse.Namespace) -> tuple[Series, list[Window]]:
    """Validate every argument and read the inputs; errors name the argument (exit code 2)."""
    from sentinel.series import SeriesError, load_series, load_windows

    parser: argparse.ArgumentParser = args.parser
    if args.shingle < 1:
        parser.error(f"--shingle must be at least 1, got {args.shingle}")
    if not 1 <= args.trees <= 1000:
        parser.error(f"--trees must be between 1 and 1000, got {args.trees}")
    if not 1 <= args.samples <= 2048:
        parser.error(f"--samples must be between 1 and 2048, got {args.samples}")
    if not args.file.is_file():
        parser.error(f"FILE.csv: {args.file} does not exist or is not a file")
    try:
        series = load_series(args.file)
    except SeriesError as error:
        parser.error(f"FILE.csv: {error}")
    windows: list[Window] = []
    if args.windows is not None:
        try:
            windows = load_windows(args.windows, data_name=args.file.name)
        except SeriesError as error:
            parser.error(f"--windows: {error}")
    if len(series) < args.shingle:
        parser.error(
            f"--shingle {args.shingle} is longer than the series ({len(series)} points in {args.file})"
        )
    return series, windows


def _write_rows(path: Path, stamps: Any, values: Any, scores: Any, flagged: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "value", "score", "anomaly"])
        for when, value, score, anomaly in zip(stamps, values, scores, flagged, strict=True):
            writer.writerow([str(when).replace("T", " "), f"{value:g}", f"{score:.6f}", int(anomaly)])


def run(args: argparse.Namespace) -> int:
    import numpy as np
    from tqdm import tqdm

    from sentinel.rcf import RandomCutForest, shingle
    from sentinel.series import cutoff, shingle_timestamps

    series, windows = _check(args)
    rows = shingle(series.values, args.shingle)
    forest = RandomCutForest(args.shingle, args.trees, min(args.samples, rows.shape[0]), seed=args.seed)
    with tqdm(total=rows.shape[0], desc="scoring", unit="pt", file=sys.stderr, disable=None) as bar:
        forest.fit(rows)
        scores = forest.score_array(rows, progress=bar.update)
    limit = cutoff(scores)
    flagged = scores > limit

    if args.out is not None:
        stamps = shingle_timestamps(series.timestamps, args.shingle)
        _write_rows(args.out, stamps, series.values[args.shingle - 1 :], scores, flagged)
        print(f"wrote {args.out}")
    if args.plot is not None:
        from sentinel.plot import plot_scores

        plot_scores(
            args.plot,
            series.timestamps,
            series.values,
            np.concatenate([np.full(args.shingle - 1, np.nan), scores]),  # no score before a full shingle
            limit,
            windows=windows,
            title=f"{args.file.name}: RCF scores (shingle {args.shingle}, cutoff mean + 3 std)",
        )
        print(f"wrote {args.plot}")
    print(
        json.dumps({"points": int(scores.size), "anomalies": int(flagged.sum()), "cutoff": round(limit, 6)})
    )
    return 0
