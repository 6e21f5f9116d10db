"""``sentinel monitor --baseline DIR CAPTURE.jsonl [CAPTURE.jsonl …] [--out DIR]``: offline drift check.

Decodes the capture files with the scoring function's decoder, summarises each file's accepted
rows and merges them as the scheduled drift monitor merges a window, then runs Model Monitor's
data-quality checks against the baseline in DIR (``statistics.json`` + ``constraints.json``, as
``sentinel baseline`` or Model Monitor writes them). ``--out`` writes the window's
``statistics.json`` and ``constraint_violations.json``. A window with fewer rows than
``--min-records`` raises no violation. The last stdout line is
``{"records": N, "violations": [{"feature_name": …, "constraint_check_type": …}, …]}`` (N: the
accepted rows compared). Rows must have the baseline's width: a shorter or longer row is rejected
with its reason (and counted for missing_column_check / extra_column_check), never cut to fit. The
exit code is 0 with or without violations, 2 (one line on stderr, naming the option) when an input
cannot be read or the output folder cannot be created.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from anomaly_sentinel import drift
from anomaly_sentinel.exceptions import BaselineError
from sentinel.outputs import OutputPathError, output_folder

EXIT_UNREADABLE = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "monitor",
        help="compare capture files with a data-quality baseline (Model Monitor's checks and formats)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--baseline", metavar="DIR", type=Path, required=True, help="baseline folder")
    parser.add_argument("captures", metavar="CAPTURE.jsonl", type=Path, nargs="+", help="capture files")
    parser.add_argument(
        "--out", metavar="DIR", type=Path, help="write statistics.json + constraint_violations.json"
    )
    parser.add_argument(
        "--min-records",
        metavar="N",
        type=int,
        default=drift.MIN_RECORDS,
        help=f"fewest rows a window needs to raise violations (default {drift.MIN_RECORDS})",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    def fail(message: str) -> int:
        print(f"sentinel monitor: {' '.join(message.split())}", file=sys.stderr)
        return EXIT_UNREADABLE

    try:
        baseline = drift.Baseline.from_bytes(
            (args.baseline / drift.STATISTICS_FILE).read_bytes(),
            (args.baseline / drift.CONSTRAINTS_FILE).read_bytes(),
        )
    except (OSError, BaselineError) as exc:
        why = exc.strerror or exc if isinstance(exc, OSError) else exc
        return fail(f"--baseline: cannot read the baseline in {args.baseline}: {why}")
    unreadable = next((path for path in args.captures if not path.is_file()), None)
    if unreadable is not None:
        return fail(f"CAPTURE.jsonl: cannot read {unreadable}: not a file")
    if args.out:
        try:
            output_folder(args.out, "--out")
        except OutputPathError as exc:
            return fail(str(exc))
    window = drift.WindowStatistics.for_baseline(baseline)
    for path in args.captures:
        try:
            with path.open("rb") as stream:
                stats, decoder = drift.summarise_capture(
                    stream, baseline, seed=path.name, feature_dim=len(baseline.features)
                )
        except OSError as exc:
            return fail(f"CAPTURE.jsonl: cannot read {path}: {exc.strerror or exc}")
        notes = [f"{reason} {count}" for reason, count in sorted(decoder.reasons.items())]
        beyond = stats.missing_rows - _decoder_missing(decoder)
        if beyond:
            notes.append(f"{beyond} rows beyond ±{drift.SUMMARY_MAX_MAGNITUDE:g} counted missing")
        counts = f"{decoder.records} records, {stats.rows} rows accepted, {decoder.rejected} rejected"
        print(f"{path}: {counts}" + (f" ({', '.join(notes)})" if notes else ""), file=sys.stderr)
        window.add(stats)
    result = drift.compare(window, baseline, min_records=args.min_records)
    if result.skipped:
        print(f"no check raised: {result.skipped}", file=sys.stderr)
    for violation in result.violations:
        print(f"{violation.feature_name}: {violation.check_type}: {violation.description}")
    if args.out:
        try:
            (args.out / drift.STATISTICS_FILE).write_bytes(
                drift.dumps(drift.statistics_document(window, baseline))
            )
            (args.out / drift.VIOLATIONS_FILE).write_bytes(
                drift.dumps(drift.violations_document(result.violations))
            )
        except OSError as exc:
            return fail(f"--out: cannot write the reports in {args.out}: {exc.strerror or exc}")
    violations = [
        {"feature_name": v.feature_name, "constraint_check_type": v.check_type} for v in result.violations
    ]
    print(json.dumps({"records": result.records, "violations": violations}))
    return 0


def _decoder_missing(decoder: Any) -> int:
    """Records the decoder rejected for a missing or non-numeric value (counted missing already)."""
    return sum(decoder.reasons.get(reason, 0) for reason in drift.MISSING_REASONS)
