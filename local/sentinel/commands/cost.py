"""``sentinel cost``: the monthly cost estimate README.md shows, for the default or a stated workload."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    from sentinel.cost import NOT_ESTIMATED, Workload

    defaults = Workload()
    parser = subparsers.add_parser(
        "cost",
        help="estimate the stack's monthly cost for a stated workload (on-demand list prices)",
        description=(
            "Estimate what the stack costs a month: SageMaker jobs priced with the table the stack's "
            "run-cost alerts use, the pipeline's jobs and instance types from pipeline/definition.json, "
            "memory, keys, alarms and the dashboard from template.yaml (default parameters), other unit "
            "prices from sentinel.cost. Every duration is an assumption you can change; nothing was "
            f"checked against a bill. Not estimated: {NOT_ESTIMATED}. Prints a Markdown table; the "
            'last line is JSON {"monthly_usd": x}.'
        ),
    )
    for field in dataclasses.fields(Workload):
        parser.add_argument(
            f"--{field.name.replace('_', '-')}",
            type=type(getattr(defaults, field.name)),
            default=getattr(defaults, field.name),
            help=f"default {getattr(defaults, field.name)}",
        )
    parser.add_argument(
        "--metrics-from",
        metavar="LOG",
        type=Path,
        help="count the custom metrics in this EMF log (e.g. out/demo/lambda.log) instead",
    )
    parser.set_defaults(run=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    from sentinel.cost import Workload, count_metrics, estimate, report

    values = {field.name: getattr(args, field.name) for field in dataclasses.fields(Workload)}
    for name, value in values.items():
        if value < 0:
            args.parser.error(f"--{name.replace('_', '-')} must be at least 0, got {value}")
    if args.metrics_from is not None:
        try:
            values["custom_metrics"] = count_metrics(args.metrics_from)
        except OSError as exc:
            print(
                f"sentinel cost: cannot read --metrics-from {args.metrics_from}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return 2
    workload = Workload(**values)
    print(report(workload))
    print(json.dumps({"monthly_usd": round(sum(line.usd for line in estimate(workload)), 2)}))
    return 0
