"""``sentinel demo``: what ``make demo`` runs."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole loop offline: upload → pipeline → deploy → score → alert → retrain",
        description=(
            "Run Anomaly Sentinel end to end on this machine, with no AWS account and no Docker: an "
            "embedded AWS emulator, the real handlers, state machine and EventBridge patterns from "
            "template.yaml, a local RCF endpoint and NAB's NYC taxi data. Prints a timeline and "
            "writes OUT/summary.json and OUT/scores.png. Exits non-zero if any stage failed."
        ),
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("out/demo"),
        help="output folder, created if missing (default out/demo)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from sentinel.demo import run_demo
    from sentinel.outputs import OutputPathError, output_folder
    from sentinel.timeline import Timeline

    try:
        output_folder(args.out, "--out")
    except OutputPathError as exc:
        print(f"sentinel demo: error: {exc}", file=sys.stderr)
        return 2
    timeline = Timeline()
    started = time.perf_counter()
    try:
        run_demo(args.out, timeline)
    except Exception as exc:  # noqa: BLE001 - the timeline printed the stage and traceback
        print(f"demo FAILED in {time.perf_counter() - started:.1f} s: {exc}", file=sys.stderr)
        print(f"partial summary: {args.out / 'summary.json'}", file=sys.stderr)
        return 1
    print(
        f"demo finished in {time.perf_counter() - started:.1f} s: {args.out / 'summary.json'}, "
        f"{args.out / 'scores.png'}"
    )
    return 0
