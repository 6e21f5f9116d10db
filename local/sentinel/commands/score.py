"""``sentinel score FILE.csv``: find anomalies in a timestamp,value series with the local RCF."""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sentinel.outputs import OutputPathError, output_file

if TYPE_CHECKING:
    from sentinel.series import Series, Window

DESCRIPTION = """\
Score a time series for anomalies with the local Random Cut Forest (the algorithm of SageMaker's
built-in RCF; the higher the score, the more anomalous), without AWS.

FILE.csv holds one point per line: timestamp,value (a header line is fine), for example
  timestamp,value
  2014-07-01 00:00:00,10844

The series is cut into overlapping shingles of N consecutive values (default 48: one day of
half-hours), so the forest judges shapes rather than single values. Each shingle's score is split
over its values (per-dimension attribution, as AWS's RCF offers) and attributed to the points
that make it anomalous: a point's score is the largest share it is given, so a spike is flagged
at its own timestamp and the normal values after it are not. The cutoff is chosen as the stack
chooses a model's: for an alert budget, the 1 - B quantile of the shingle scores (--alert-budget B,
default 0.001: one shingle in a thousand; the stack's CutoffRule quantile), or mean + K standard
deviations of the shingle scores (--cutoff-k K, like the stack's CutoffRule mean-std and CutoffK),
or a fixed --threshold (like AnomalyThreshold); points scoring above it are anomalies.

Output folders are created; an output path that cannot be written exits 2.
The last line printed is JSON: {"points": scored points, "anomalies": K, "cutoff": x}.
"""

ALERT_BUDGET = 0.001

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
    cutoff = parser.add_mutually_exclusive_group()  # one rule: two given would leave one unused
    cutoff.add_argument(
        "--alert-budget",
        metavar="B",
        type=float,
        default=None,
        help=f"cutoff = the 1 - B quantile of the shingle scores (default {ALERT_BUDGET}, as models have)",
    )
    cutoff.add_argument(
        "--cutoff-k",
        metavar="K",
        type=float,
        default=None,
        help="cutoff = mean + K std of the shingle scores instead (the stack's CutoffRule mean-std)",
    )
    cutoff.add_argument(
        "--threshold",
        metavar="X",
        type=float,
        default=None,
        help="a fixed cutoff instead of mean + K std (the stack's AnomalyThreshold)",
    )
    parser.set_defaults(run=run, parser=parser)


def _check_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Numbers in range and output paths writable (parents created), else exit 2 naming the option."""
    if args.shingle < 1:
        parser.error(f"--shingle must be at least 1, got {args.shingle}")
    if not 1 <= args.trees <= 1000:
        parser.error(f"--trees must be between 1 and 1000, got {args.trees}")
    if not 1 <= args.samples <= 2048:
        parser.error(f"--samples must be between 1 and 2048, got {args.samples}")
    if args.cutoff_k is not None and not (math.isfinite(args.cutoff_k) and args.cutoff_k >= 0):
        parser.error(f"--cutoff-k must be a number of at least 0, got {args.cutoff_k}")
    if args.alert_budget is None:
        args.alert_budget = ALERT_BUDGET
    if not 0 < args.alert_budget < 1:
        parser.error(f"--alert-budget must be between 0 and 1, got {args.alert_budget}")
    if args.threshold is not None and not math.isfinite(args.threshold):
        parser.error(f"--threshold must be a finite number, got {args.threshold}")
    for path, option in ((args.out, "--out"), (args.plot, "--plot")):
        if path is not None:
            try:
                output_file(path, option)
            except OutputPathError as error:
                parser.error(str(error))


def _check(args: argparse.Namespace) -> tuple[Series, list[Window]]:
    """Validate every argument and read the inputs; errors name the argument (exit code 2)."""
    from sentinel.series import SeriesError, check_windows, load_series, load_windows

    parser: argparse.ArgumentParser = args.parser
    _check_options(parser, args)
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
            check_windows(windows, series.timestamps, args.windows)
        except SeriesError as error:
            parser.error(f"--windows: {error}")
    if len(series) < args.shingle:
        parser.error(
            f"--shingle {args.shingle} is longer than the series ({len(series)} points in {args.file})"
        )
    return series, windows


def _write_rows(path: Path, stamps: Any, values: Any, scores: Any, flagged: Any) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["timestamp", "value", "score", "anomaly"])
        for when, value, score, anomaly in zip(stamps, values, scores, flagged, strict=True):
            writer.writerow([str(when).replace("T", " "), f"{value:g}", f"{score:.6f}", int(anomaly)])


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from sentinel.pipeline_executor import load_script
    from sentinel.rcf import RandomCutForest, shingle
    from sentinel.series import point_scores

    series, windows = _check(args)
    rows = shingle(series.values, args.shingle)
    forest = RandomCutForest(args.shingle, args.trees, min(args.samples, rows.shape[0]), seed=args.seed)
    with tqdm(total=rows.shape[0], desc="scoring", unit="pt", file=sys.stderr, disable=None) as bar:
        forest.fit(rows)
        shares = forest.attribution_array(rows, progress=bar.update)
    if args.threshold is not None:
        limit, rule = args.threshold, f"cutoff {args.threshold:g}"
    else:
        # The stack's own rule (score_stats.py): the same statistics, the same cutoff.
        script = load_script("score_stats")
        stats = script.score_stats(shares.sum(axis=1), alert_budget=args.alert_budget)
        k = script.CUTOFF_K if args.cutoff_k is None else args.cutoff_k
        limit, how = script.model_cutoff(stats, k, "quantile" if args.cutoff_k is None else "mean-std")
        rule = how.replace(" of the training scores", "")
    scores = point_scores(shares)
    flagged = scores > limit

    try:
        if args.out is not None:
            _write_rows(args.out, series.timestamps, series.values, scores, flagged)
            print(f"wrote {args.out}")
        if args.plot is not None:
            from sentinel.plot import plot_scores

            plot_scores(
                args.plot,
                series.timestamps,
                series.values,
                scores,
                limit,
                windows=windows,
                title=f"{args.file.name}: RCF scores (shingle {args.shingle}, {rule})",
            )
            print(f"wrote {args.plot}")
    except OSError as error:
        print(
            f"sentinel score: error: cannot write {error.filename}: {error.strerror or error}",
            file=sys.stderr,
        )
        return 2
    print(
        json.dumps({"points": int(scores.size), "anomalies": int(flagged.sum()), "cutoff": round(limit, 6)})
    )
    return 0
