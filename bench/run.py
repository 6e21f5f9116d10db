"""``make bench``: run every benchmark side by side in one process and write BENCHMARKS.md.

By default into out/bench/ (untracked): ``make bench OUT=docs/BENCHMARKS.md`` updates the committed
figures the docs quote.

Each ``bench/bench_*.py`` module exposes ``run(quick: bool) -> str`` returning a Markdown section
(its method, its figures and the ratios it was asked to meet). Figures are only compared within
one run: the machine is shared and noisy, so no figure is compared with an older one.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import platform
import sys
import time
from pathlib import Path

import bench


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"- Python {platform.python_version()} on {platform.system()} {platform.machine()} ({cpu}), "
        f"{os.cpu_count()} cores\n"
        f"- run at {time.strftime('%Y-%m-%d %H:%M:%S %Z')}; the machine is shared: compare figures "
        "within this file only.\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("out/bench/BENCHMARKS.md"))
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--only", help="run only bench_<ONLY>")
    args = parser.parse_args(argv)

    sections = []
    for module in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
        if not module.name.startswith("bench_"):
            continue
        if args.only and module.name != f"bench_{args.only}":
            continue
        print(f"== {module.name}", file=sys.stderr)
        started = time.perf_counter()
        section = importlib.import_module(f"bench.{module.name}").run(quick=args.quick)
        took = time.perf_counter() - started
        sections.append(section.rstrip() + f"\n\n_{module.name} took {took:.0f} s._\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        "# Benchmarks\n\nWritten by `make bench OUT=docs/BENCHMARKS.md` (`python -m bench.run`). "
        "Do not edit by hand.\n\n" + machine() + "\n" + "\n".join(sections),
        encoding="utf-8",
    )
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
