"""``sentinel``: the embedded default's command line.

Each sub-command lives in ``sentinel.commands.<name>`` and exposes ``register(subparsers)``;
they are discovered here so that a new command is one new module.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from typing import NoReturn

from sentinel import commands


class OneLineParser(argparse.ArgumentParser):
    """Every usage error is one line on stderr naming the argument, then exit 2 (no usage block:
    ``sentinel COMMAND --help`` has it). Sub-command parsers are of the same class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="sentinel",
        description=(
            "Anomaly Sentinel, offline: run the whole loop on an embedded AWS emulator, decode and "
            "score capture files, and invoke the stack's Lambda handlers without Docker."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"sentinel.commands.{module.name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
