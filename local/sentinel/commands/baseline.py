"""``sentinel baseline FEATURES.csv --out DIR``: a data-quality baseline in Model Monitor's format.

FEATURES.csv is a headerless CSV of feature rows (the pipeline's train channel). Writes
``DIR/statistics.json`` and ``DIR/constraints.json`` with the very script the pipeline's Baseline
step runs (``pipeline/scripts/baseline.py``); features are named ``_c0``, ``_c1``, … as Model
Monitor names headerless CSV columns. The last stdout line is ``{"records": N, "features": F}``;
the exit code is 2, with one line on stderr, when the file cannot be read or holds no numeric table
(a quoted field is one value, RFC 4180) or the output folder cannot be created.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from sentinel.outputs import OutputPathError, output_folder

EXIT_UNREADABLE = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "baseline",
        help="write a Model Monitor data-quality baseline (statistics.json, constraints.json) of a CSV",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FEATURES.csv", type=Path, help="headerless CSV of feature rows")
    parser.add_argument("--out", metavar="DIR", type=Path, required=True, help="folder for the two files")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sentinel.pipeline_executor import load_script

    def fail(message: str) -> int:
        print(f"sentinel baseline: {' '.join(message.split())}", file=sys.stderr)
        return EXIT_UNREADABLE

    script = load_script("baseline")
    if not args.file.is_file():
        return fail(f"cannot read {args.file}: not a file")
    try:
        output_folder(args.out, "--out")
    except OutputPathError as exc:
        return fail(str(exc))
    try:
        summary = script.write_baseline(args.file, args.out)
    except (script.BaselineInputError, UnicodeDecodeError) as exc:
        return fail(f"cannot read {args.file}: {exc}")
    except OSError as exc:
        return fail(f"cannot read {args.file} or write --out {args.out}: {exc.strerror or exc}")
    print(
        f"wrote {args.out / script.STATISTICS_FILE} and {args.out / script.CONSTRAINTS_FILE}", file=sys.stderr
    )
    print(json.dumps(summary))
    return 0
