"""``make mutation``: mutmut 3 over the runtime package, then the per-module table in docs/MUTATION.md.

    python scripts/mutation.py mutmut run [--max-children N] [MUTANT_GLOB ...]
    python scripts/mutation.py mutmut show MUTANT_NAME
    python scripts/mutation.py report --out docs/MUTATION.md

mutmut names a mutant after its file's path (``layers/common/anomaly_sentinel/x.py`` →
``layers.common.anomaly_sentinel.x``) but records test hits under the module's import name
(``anomaly_sentinel.x``), which is what the layer's layout makes it: it only strips a ``src/``
prefix. ``mutmut`` strips the layer's folder the same way before handing over to mutmut's own CLI.

``report`` classes every mutant by mutmut's verdict, except two documented kinds of survivor that
do not count as tried:
- *wording*: the mutant changes nothing but the text of an exception's message or of a log
  message (a string inside ``raise …`` or the first argument of ``logger.<level>(…)``, or that
  whole first argument replaced by ``None``); what the code does is unchanged, and tests that
  pinned such text would mirror the implementation.
- *equivalent*: listed in ``scripts/mutation-equivalents/<module>.toml`` (``[[equivalent]]`` tables
  with ``mutant``, ``line`` — the mutated line as ``mutmut show`` prints it — and ``reason``: why no
  test can tell it apart). An entry whose line no longer matches its mutant, whose mutant is gone
  (renumbered) or now killed by a test or by mypy fails the report, so the lists cannot go stale
  silently. A mypy-rejected mutant counts as killed: ``make test`` type-checks too.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import functools
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = Path("layers/common/anomaly_sentinel")
LAYER_PREFIX = "layers.common."
EQUIVALENTS = ROOT / "scripts" / "mutation-equivalents"
TARGET = 0.85
#: The runtime modules mutated and scored (the package's other modules are thin AWS adapters,
#: report and alert shaping; they are left out to keep a run within a few hours on two cores).
RUNTIME_MODULES = (
    "capture",
    "cutoff",
    "scoring",
    "score_capture",
    "monitoring",
    "retraining",
    "drift",
    "contracts",
    "settings",
    "idempotency",
)
LOG_LEVELS = {"debug", "info", "warning", "error", "exception", "critical"}
SURVIVED = 0
#: mutmut's exit codes (mutmut/stats.py) → Tally fields; None = not run yet.
BY_EXIT_CODE: dict[int | None, str] = {
    None: "not_checked",
    **dict.fromkeys((1, 3, 37), "killed"),
    **dict.fromkeys((36, -24, 24, 152, 255), "timeout"),
    **dict.fromkeys((5, 33), "no_tests"),
}


#: mypy as ``make test`` runs it, over the mutated package (cwd: mutants/), in JSON for mutmut. Two
#: checks are off because mutmut's own scaffolding trips them: the copy of each original function
#: re-annotates ``self`` attributes (no-redef) and its trampolines carry ignores mypy finds unused.
TYPE_CHECK = [
    sys.executable,
    "-m",
    "mypy",
    "--output",
    "json",
    "--no-warn-unused-ignores",
    "--disable-error-code",
    "no-redef",
    "-p",
    "anomaly_sentinel",
]


def _adapt_mutmut() -> None:
    """Four adjustments to mutmut 3, made before its CLI runs (its workers are forked after this).

    - Scope: the runtime modules listed above.
    - Names: mutmut's path-derived names become the import names the layer gives the modules.
    - Type check: a mutant mypy rejects is killed by ``make test`` before any test runs, so mypy
      (one run over every mutant) settles it and its tests are not run.
    - Order: a mutant's tests run fastest first, so a mutant a unit test kills never waits for an
      emulated stack to be set up (pytest stops at the first failure).
    """
    from mutmut import __main__ as mutmut_main
    from mutmut.configuration import config
    from mutmut.mutation import file_mutation
    from mutmut.runners.harness import PytestRunner
    from mutmut.state import state
    from mutmut.utils import format_utils

    path_derived = format_utils.get_mutant_name

    def layer_mutant_name(relative_source_path: Path, mutant_method_name: str) -> str:
        name = path_derived(relative_source_path, mutant_method_name)
        return name.removeprefix(LAYER_PREFIX)

    # Typed as Any: mypy sees mutmut's types only where ``make mutation`` installed it.
    patched: tuple[Any, ...] = (format_utils, file_mutation, mutmut_main)
    for module in patched:
        module.get_mutant_name = layer_mutant_name

    runner: Any = PytestRunner
    unordered = runner._pytest_args_regular_run

    def fastest_first(self: Any, tests: Any) -> list[str]:
        durations = state().duration_by_test
        return unordered(self, sorted(tests, key=lambda test: (durations.get(test, 0.0), test)))

    runner._pytest_args_regular_run = fastest_first
    config().type_check_command = TYPE_CHECK
    config().only_mutate = [f"{PACKAGE_DIR / module}.py" for module in RUNTIME_MODULES]


def mutmut(args: list[str]) -> int:
    """mutmut's own CLI (``run``, ``show``, ``results``, …) with the adjustments above."""
    _adapt_mutmut()
    from mutmut.__main__ import cli

    try:
        cli.main(args=args, prog_name="mutmut", standalone_mode=False)
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


# --- report -------------------------------------------------------------------------------------


@dataclass
class Tally:
    killed: int = 0
    survived: int = 0
    timeout: int = 0
    no_tests: int = 0
    not_checked: int = 0
    wording: int = 0
    equivalent: int = 0

    @property
    def tried(self) -> int:
        return self.killed + self.survived + self.timeout + self.no_tests

    @property
    def score(self) -> float:
        # A timeout is a kill: the mutant made the code loop (mutmut's own rule).
        return (self.killed + self.timeout) / self.tried if self.tried else 1.0


@functools.cache
def _functions(path: Path) -> dict[str, str]:
    """Every function and method in a mutated file, by name (mutmut gives each mutant its own)."""
    text = (ROOT / "mutants" / path).read_text(encoding="utf-8")
    lines = text.splitlines()
    return {
        node.name: "\n".join(lines[node.lineno - 1 : node.end_lineno])
        for node in ast.walk(ast.parse(text))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno is not None
    }


def _function_sources(mutant_name: str, path: Path) -> tuple[str, str]:
    """The original function and the mutant, as mutmut keeps them side by side in mutants/."""
    name = mutant_name.rpartition(".")[2]
    functions = _functions(path)
    return functions[name.partition("__mutmut_")[0] + "__mutmut_orig"], functions[name]


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _in_message(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """True when a string node is the text of a raised exception or a log call's message."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Raise):
            return True
        if (
            isinstance(parent, ast.Call)
            and isinstance(parent.func, ast.Attribute)
            and parent.func.attr in LOG_LEVELS
            and parent.args
            and child is parent.args[0]
        ):
            return True
        if isinstance(parent, ast.stmt):
            return False
        child, parent = parent, parents.get(parent)
    return False


def _message_calls(tree: ast.AST) -> list[ast.Call]:
    """Calls whose first argument is a message: a raised exception's, or a log call's."""
    found: list[ast.Call] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            found.append(node.exc)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in LOG_LEVELS
        ):
            found.append(node)
    return [call for call in found if call.args]


def _unnamed_dump(tree: ast.AST) -> str:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.name = ""  # mutmut renames each mutant's function
    return ast.dump(tree)


def _message_dropped(original: str, mutant: str) -> bool:
    """The mutant replaced one message (a whole first argument, see above) by ``None``."""
    target = _unnamed_dump(ast.parse(_dedent(mutant)))
    for index in range(len(_message_calls(ast.parse(_dedent(original))))):
        before = ast.parse(_dedent(original))
        call = _message_calls(before)[index]
        if isinstance(call.args[0], ast.Constant) and call.args[0].value is None:
            continue
        call.args[0] = ast.Constant(None)
        if _unnamed_dump(before) == target:
            return True
    return False


def is_wording_only(original: str, mutant: str) -> bool:
    """The two functions differ only in message strings (see the module docstring)."""
    if _message_dropped(original, mutant):
        return True
    before = ast.parse(_dedent(original))
    after = ast.parse(_dedent(mutant))
    parents = _parents(before)
    changed = False
    for old, new in zip(ast.walk(before), ast.walk(after), strict=False):
        if type(old) is not type(new):
            return False
        if isinstance(old, ast.Constant) and isinstance(new, ast.Constant):
            if old.value == new.value:
                continue
            if not (isinstance(old.value, str) and isinstance(new.value, str) and _in_message(old, parents)):
                return False
            changed = True
            continue
        if _fields(old) != _fields(new):
            return False
    return changed and len(list(ast.walk(before))) == len(list(ast.walk(after)))


def _fields(node: ast.AST) -> tuple[Any, ...]:
    """The node's own non-node fields (names, operators, counts of children)."""
    values: list[Any] = []
    for name, value in ast.iter_fields(node):
        if name == "name" and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue  # mutmut renames each mutant's function
        if isinstance(value, ast.AST):
            values.append(type(value).__name__)
        elif isinstance(value, list):
            values.append(tuple(type(v).__name__ if isinstance(v, ast.AST) else v for v in value))
        else:
            values.append(value)
    return tuple(values)


def _dedent(source: str) -> str:
    lines = source.splitlines()
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return "\n".join(line[indent:] for line in lines)


def _load_equivalents() -> dict[str, dict[str, str]]:
    entries: dict[str, dict[str, str]] = {}
    for listing in sorted(EQUIVALENTS.glob("*.toml")):
        for entry in tomllib.loads(listing.read_text(encoding="utf-8")).get("equivalent", []):
            if not {"mutant", "line", "reason"} <= entry.keys():
                raise SystemExit(f"{listing.name}: an entry needs mutant, line and reason: {entry}")
            entries[entry["mutant"]] = entry
    return entries


def _plain_def(line: str) -> str:
    """A def line under the function's own name (mutmut renames the original and each mutant)."""
    head, paren, rest = line.strip().partition("(")
    keyword, _, mangled = head.rpartition(" ")
    name = mangled.partition("__mutmut_")[0].rpartition("ǁ")[2].removeprefix("x_")
    return f"{keyword} {name}{paren}{rest}"


def _mutated_lines(original: str, mutant: str) -> set[str]:
    """The mutant's lines that differ from the original at their place (not merely anywhere)."""
    before = [_plain_def(original.splitlines()[0])] + [line.strip() for line in original.splitlines()[1:]]
    after = [_plain_def(mutant.splitlines()[0])] + [line.strip() for line in mutant.splitlines()[1:]]
    changed = difflib.SequenceMatcher(a=before, b=after, autojunk=False).get_opcodes()
    return {line for tag, _, _, start, end in changed if tag != "equal" for line in after[start:end]}


def _verdict(name: str, code: int | None, path: Path, equivalents: dict[str, dict[str, str]]) -> str:
    """One of Tally's fields for a mutant, from mutmut's exit code and, for a survivor, its diff."""
    if code != SURVIVED:
        # segfaults and "suspicious" exits fail the tests too: kills
        return BY_EXIT_CODE.get(code, "killed")
    original, mutant = _function_sources(name, path)
    if name in equivalents:
        line = equivalents[name]["line"].strip()
        if line not in _mutated_lines(original, mutant):
            raise SystemExit(f"{EQUIVALENTS.name}: {name} no longer mutates {line!r}")
        return "equivalent"
    return "wording" if is_wording_only(original, mutant) else "survived"


def collect() -> tuple[dict[str, Tally], dict[str, list[str]]]:
    from mutmut.__main__ import SourceFileMutationData

    equivalents = _load_equivalents()
    verdicts: dict[str, str] = {}
    tallies: dict[str, Tally] = {}
    survivors: dict[str, list[str]] = {}
    for module in RUNTIME_MODULES:
        path = PACKAGE_DIR / f"{module}.py"
        data = SourceFileMutationData(path=path)
        data.load()
        tally = tallies.setdefault(module, Tally())
        for name, code in sorted(data.exit_code_by_key.items()):
            verdict = verdicts[name] = _verdict(name, code, path, equivalents)
            setattr(tally, verdict, getattr(tally, verdict) + 1)
            if verdict == "survived":
                survivors.setdefault(module, []).append(name)
    # An entry is stale when its mutant is gone (renumbered) or a test or mypy now kills it;
    # one not run yet says nothing either way.
    stale = sorted(
        name for name in equivalents if verdicts.get(name, "gone") not in ("equivalent", "not_checked")
    )
    if stale:
        raise SystemExit(f"{EQUIVALENTS.name}: gone or killed now, remove: {stale}")
    return tallies, survivors


def render(tallies: dict[str, Tally], survivors: dict[str, list[str]]) -> str:
    rows = [
        "| module | tried | killed | timeout | survived | no tests | not run | score | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    totals: Counter[str] = Counter()
    excluded: Counter[str] = Counter()
    for module, tally in sorted(tallies.items()):
        if not tally.tried and not tally.not_checked:
            continue
        # A score over part of a module's mutants says nothing of the module: no verdict then.
        verdict = "met" if tally.score >= TARGET else "NOT met"
        shown = f"{tally.score:.0%}"
        if tally.not_checked:
            verdict, shown = "not all run", f"({shown} of those run)" if tally.tried else "-"
        rows.append(
            f"| {module} | {tally.tried} | {tally.killed} | {tally.timeout} | {tally.survived} | "
            f"{tally.no_tests} | {tally.not_checked} | {shown} | {verdict} |"
        )
        totals.update(tried=tally.tried, killed=tally.killed + tally.timeout, not_run=tally.not_checked)
        excluded.update(wording=tally.wording, equivalent=tally.equivalent)
    score = totals["killed"] / totals["tried"] if totals["tried"] else 1.0
    lines = [
        "# Mutation testing",
        "",
        "Written by `make mutation` (`scripts/mutation.py`, mutmut 3). Do not edit by hand.",
        "",
        "Every mutant of the runtime package (`layers/common/anomaly_sentinel/`) is type-checked (mypy, as",
        "`make test` does: a mutant it rejects is killed) and the rest run against the unit and",
        "integration tests that reach the mutated function. Score = (killed + timeout) / tried;",
        "a mutant no test reaches counts as tried and not killed. Target: every runtime module",
        f"({', '.join(RUNTIME_MODULES)}) at {TARGET:.0%} or more.",
        "",
        *rows,
        "",
        *(
            [
                f"**Incomplete run: {totals['not_run']} mutants not run yet** (`make mutation` was stopped "
                "or is still running); the modules with mutants not run have no verdict.",
                "",
            ]
            if totals["not_run"]
            else []
        ),
        f"All modules: {totals['killed']} of {totals['tried']} tried killed ({score:.0%}). "
        f"Not counted as tried: {excluded['wording']} wording-only survivors (exception and log "
        f"message text) and {excluded['equivalent']} equivalent mutants "
        "(`scripts/mutation-equivalents/`, each with its reason) — the rules are in `scripts/mutation.py`.",
    ]
    if survivors:
        lines += [
            "",
            "## Survivors",
            "",
            "`mutmut show NAME` (from the project root) prints a mutant's diff.",
            "",
        ]
        for module, names in sorted(survivors.items()):
            lines.append(f"- {module}: " + ", ".join(f"`{n.rpartition('.')[2]}`" for n in names))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    passthrough = commands.add_parser("mutmut", help="any mutmut command: run, show NAME, results, …")
    passthrough.add_argument("args", nargs=argparse.REMAINDER)
    report_parser = commands.add_parser("report", help="write the per-module table")
    report_parser.add_argument("--out", type=Path, default=ROOT / "docs" / "MUTATION.md")
    args = parser.parse_args(argv)
    if args.command == "mutmut":
        return mutmut(args.args)
    tallies, survivors = collect()
    args.out.write_text(render(tallies, survivors), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
