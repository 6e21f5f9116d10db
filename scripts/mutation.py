"""``make mutation``: mutation testing of what ships, then the report in docs/MUTATION.md.

    python scripts/mutation.py mutmut [--tests PATH ...] run [--max-children N] [MUTANT_GLOB ...]
    python scripts/mutation.py mutmut show MUTANT_NAME
    python scripts/mutation.py handlers [--only DIR ...] [--timeout-factor F]
    python scripts/mutation.py report --out docs/MUTATION.md

Two engines, one report:

- **mutmut 3** mutates the functions of :data:`MUTMUT_SCOPE`: the runtime package's modules
  (``layers/common/anomaly_sentinel/``), the pipeline's job scripts (``pipeline/scripts/``) and the
  local RCF (``local/sentinel/rcf.py``). mutmut names a mutant after its file's path but records test
  hits under the module's import name, which is what the layer (``anomaly_sentinel.x``) and the
  ``sentinel`` package (``sentinel.rcf``) make them: :func:`_adapt_mutmut` strips those folders.
  A mutant mypy rejects (as ``make test`` type-checks: the runtime and ``sentinel`` packages) is
  killed by type check, counted apart from the kills by tests. ``--tests`` narrows the test
  selection, for a quick run over one module (the verdicts then say nothing of the other tests).
- **handlers**: mutmut leaves decorated functions alone, and every function of
  ``functions/*/app.py`` is decorated (Powertools, the idempotency guard). :func:`handler_mutants`
  makes the mutants a developer's slip would: a call statement left out (``once.register``, a
  metric), a key dropped from a dict the handler returns or passes on, a comparison negated, a
  constant changed, a ``not`` dropped, ``and``/``or`` swapped. Each runs, in a scratch copy of the
  project, against the test files that name the function's logical id (``pytest -x``).

The report counts every mutant that was tried. A survivor is excluded only by one rule, checked
in code (:func:`is_discarded_text`): it changes nothing but the text of an exception raised in a
``try`` of the same function and caught there by a handler that never reads it: text that never
leaves the process. Any other text is behaviour: reject details are stored, alert text and handler
results are read, errors reach operators and logs (so no survivor is "wording only"). No list of
equivalent mutants is kept: a survivor stays a survivor, and docs/MUTATION.md says how to judge
one (which mutants no test can tell apart) without pinning mutant ids or source text.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = Path("layers/common/anomaly_sentinel")
SCRIPTS_DIR = Path("pipeline/scripts")
RCF = Path("local/sentinel/rcf.py")
#: Folders whose path mutmut turns into a name the code is not imported under.
IMPORT_PREFIXES = ("layers.common.", "local.")
TARGET = 0.85
#: The runtime modules mutated (paths below the package, without ``.py``; a subpackage's modules
#: one by one): pure logic and the adapters beside it. Left out: the log route
#: (``logs/``, still moving), the thin AWS and event adapters (aws, events, drift_monitor,
#: drift/logs, dataset) and alert shaping, to keep a full run to a few hours on two cores.
RUNTIME_MODULES = (
    "capture/lines",
    "capture/records",
    "capture/decoder",
    "capture/shapes",
    "cutoff",
    "scoring/packing",
    "scoring/faults",
    "scoring/client",
    "score_capture/keys",
    "score_capture/report",
    "score_capture/passes",
    "score_capture/adapters",
    "score_capture/flow",
    "monitoring/signals",
    "monitoring/decision",
    "monitoring/alert",
    "monitoring/adapters",
    "monitoring/responder",
    "retraining/request",
    "retraining/verdict",
    "retraining/adapters",
    "retraining/deploy",
    "retraining/steps",
    "evaluation",
    "storms",
    "pipeline_runs/facts",
    "pipeline_runs/report",
    "pipeline_runs/adapters",
    "drift/formats",
    "drift/stats",
    "drift/baseline",
    "drift/files",
    "drift/window",
    "drift/checks",
    "drift/report",
    "contracts/__init__",
    "contracts/messages",
    "contracts/layout",
    "contracts/served",
    "settings",
    "idempotency",
    "object_events",
    "observability",
    "handler_kit",
    "training",
)


def mutmut_scope() -> list[Path]:
    """Every file mutmut mutates (relative to the project root)."""
    scripts = sorted(
        p.relative_to(ROOT) for p in (ROOT / SCRIPTS_DIR).glob("*.py") if p.name != "__init__.py"
    )
    return [*(PACKAGE_DIR / f"{module}.py" for module in RUNTIME_MODULES), *scripts, RCF]


#: mutmut's exit codes (mutmut/stats.py) → Tally fields; None = not run yet.
SURVIVED = 0
BY_EXIT_CODE: dict[int | None, str] = {
    None: "not_checked",
    37: "type_checked",
    **dict.fromkeys((1, 3), "killed"),
    **dict.fromkeys((36, -24, 24, 152, 255), "timeout"),
    **dict.fromkeys((5, 33), "no_tests"),
}

#: mypy as ``make test`` runs it (the runtime and ``sentinel`` packages), over the mutated copy
#: (cwd: mutants/), in JSON for mutmut. Two checks are off because mutmut's own scaffolding trips
#: them: the copy of each original function re-annotates ``self`` attributes (no-redef) and its
#: trampolines carry ignores mypy finds unused.
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
    "-p",
    "sentinel",
]
#: The tests mutants run against (as in pyproject's [tool.mutmut]); end-to-end tests are left out.
TEST_SELECTION = ["tests/unit", "tests/integration"]
PYTEST_MARKERS = "not slow and not source_scan"


def _import_name(path_derived: str) -> str:
    for prefix in IMPORT_PREFIXES:
        if path_derived.startswith(prefix):
            return path_derived.removeprefix(prefix)
    return path_derived


def _adapt_mutmut(tests: list[str] | None = None) -> None:
    """Adjustments to mutmut 3, made before its CLI runs (its workers are forked after this).

    - Scope: :func:`mutmut_scope` (pyproject's ``source_paths`` names the folders to copy).
    - Names: mutmut's path-derived names become the import names the modules have.
    - Type check: a mutant mypy rejects is killed by ``make test`` before any test runs, so mypy
      (one run over every mutant) settles it and its tests are not run.
    - Order: a mutant's tests run fastest first, so a mutant a unit test kills never waits for an
      emulated stack to be set up (pytest stops at the first failure).
    - ``tests``: a narrower test selection, for a quick run over one module.
    """
    from mutmut import __main__ as mutmut_main
    from mutmut.configuration import config
    from mutmut.mutation import file_mutation
    from mutmut.runners.harness import PytestRunner
    from mutmut.state import state
    from mutmut.utils import format_utils

    path_derived = format_utils.get_mutant_name

    def import_mutant_name(relative_source_path: Path, mutant_method_name: str) -> str:
        return _import_name(path_derived(relative_source_path, mutant_method_name))

    # Typed as Any: mypy sees mutmut's types only where ``make mutation`` installed it.
    patched: tuple[Any, ...] = (format_utils, file_mutation, mutmut_main)
    for module in patched:
        module.get_mutant_name = import_mutant_name

    runner: Any = PytestRunner
    unordered = runner._pytest_args_regular_run

    def fastest_first(self: Any, tests: Any) -> list[str]:
        durations = state().duration_by_test
        return unordered(self, sorted(tests, key=lambda test: (durations.get(test, 0.0), test)))

    runner._pytest_args_regular_run = fastest_first
    config().type_check_command = TYPE_CHECK
    config().only_mutate = [str(path) for path in mutmut_scope()]
    if tests:
        config().pytest_add_cli_args_test_selection = list(tests)


def mutmut(args: list[str], tests: list[str] | None = None) -> int:
    """mutmut's own CLI (``run``, ``show``, ``results``, …) with the adjustments above."""
    _adapt_mutmut(tests)
    from mutmut.__main__ import cli

    try:
        cli.main(args=args, prog_name="mutmut", standalone_mode=False)
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


# --- handlers -----------------------------------------------------------------------------------

HANDLERS_DIR = Path("functions")
HANDLER_RESULTS = ROOT / "mutants" / "handlers.json"
_NEGATED: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
}


@dataclass(frozen=True)
class HandlerMutant:
    """One slip in a handler: which file, where, what, and the mutated module's source."""

    path: str
    line: int
    what: str
    source: str


def handler_mutants(path: Path) -> Iterator[HandlerMutant]:
    """The mutants of one handler module's functions (module-level set-up is left alone: any slip
    there fails the import, which every test of the function sees)."""
    text = path.read_text(encoding="utf-8")
    sites = _sites(ast.parse(text))
    for index, (line, what) in enumerate(sites):
        tree = ast.parse(text)
        _sites(tree, apply=index)
        shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        yield HandlerMutant(shown.as_posix(), line, what, ast.unparse(tree) + "\n")


def _sites(tree: ast.Module, apply: int | None = None) -> list[tuple[int, str]]:
    """Every mutation site inside the module's functions, in a stable order; with ``apply``, that
    site is mutated in place. Returns (line, description) per site."""
    found: list[tuple[int, str]] = []

    def site(node: ast.AST, what: str) -> bool:
        found.append((getattr(node, "lineno", 0), what))
        return apply == len(found) - 1

    functions = [n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    for function in functions:
        docstring = ast.get_docstring(function, clean=False) is not None
        for node in list(ast.walk(function)):
            _statement_sites(node, site)
            if docstring and node is getattr(function.body[0], "value", None):
                continue
            _node_site(function, node, site)
    return found


def _statement_sites(node: ast.AST, site: Any) -> None:
    """Each call made as a statement, left out."""
    for _field, value in ast.iter_fields(node):
        if not isinstance(value, list):
            continue
        for position, statement in enumerate(value):
            if (
                isinstance(statement, ast.Expr)
                and isinstance(statement.value, ast.Call)
                and site(statement, f"`{ast.unparse(statement)[:70]}` left out")
            ):
                value[position] = ast.Pass()


def _node_site(function: ast.AST, node: ast.AST, site: Any) -> None:
    """A dict's entries dropped one at a time, a comparison negated, ``not`` dropped, and/or
    swapped, a constant changed."""
    if isinstance(node, ast.Dict):
        for position, key in enumerate(list(node.keys)):
            shown = "**" + ast.unparse(node.values[position]) if key is None else ast.unparse(key)
            if site(node, f"{shown[:60]} dropped from a dict"):
                del node.keys[position], node.values[position]
                return
    elif isinstance(node, ast.Compare) and type(node.ops[0]) in _NEGATED:
        if site(node, f"`{ast.unparse(node)[:60]}` negated"):
            node.ops[0] = _NEGATED[type(node.ops[0])]()
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        if site(node, f"`not` dropped from `{ast.unparse(node)[:60]}`"):
            _replace(function, node, node.operand)
    elif isinstance(node, ast.BoolOp):
        if site(node, f"and/or swapped in `{ast.unparse(node)[:60]}`"):
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif isinstance(node, ast.Constant):
        _constant_site(node, site)


def _constant_site(node: ast.Constant, site: Any) -> None:
    value = node.value
    if isinstance(value, bool):
        if site(node, f"{value} → {not value}"):
            node.value = not value
    elif isinstance(value, int | float):
        if site(node, f"{value} → {value + 1}"):
            node.value = value + 1
    elif isinstance(value, str) and value and site(node, f"{value[:40]!r} changed"):
        node.value = f"XX{value}XX"


def _replace(root: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(root):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
            elif isinstance(value, list):
                value[:] = [new if item is old else item for item in value]


def handler_tests(handler: Path, copy: Path) -> list[str]:
    """The test files (unit, integration) that name one of the template's functions of this
    handler folder: the tests a slip in it must fail."""
    from sentinel.template import load_template

    folder = str(handler.parent.relative_to(ROOT))
    ids = [
        logical_id
        for logical_id, resource in load_template()["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        and str(resource.get("Properties", {}).get("CodeUri", "")).rstrip("/") == folder
    ]
    files = sorted(
        str(path.relative_to(copy))
        for selection in TEST_SELECTION
        for path in (copy / selection).rglob("test_*.py")
        if any(logical_id in path.read_text(encoding="utf-8") for logical_id in ids)
    )
    return files


def _pytest(copy: Path, files: list[str], timeout: float) -> tuple[int | None, float]:
    started = time.monotonic()
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    command += ["-m", PYTEST_MARKERS, *files]
    try:
        done = subprocess.run(command, cwd=copy, capture_output=True, timeout=timeout, check=False)  # noqa: S603 - our pytest, our tests
    except subprocess.TimeoutExpired:
        return None, time.monotonic() - started
    return done.returncode, time.monotonic() - started


def run_handlers(only: list[str], timeout_factor: float) -> int:
    """Every handler mutant against its tests, in a scratch copy; results in mutants/handlers.json."""
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)  # noqa: S607 - git, fixed arguments
        .stdout.decode()
        .split("\0")
    )
    handlers = sorted((ROOT / HANDLERS_DIR).glob("*/app.py"))
    if only:
        handlers = [h for h in handlers if h.parent.name in only]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="mutation-handlers-") as scratch:
        copy = Path(scratch)
        for name in filter(None, tracked):
            if (ROOT / name).is_file():
                (copy / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, copy / name)
        for handler in handlers:
            target = copy / handler.relative_to(ROOT)
            original = target.read_text(encoding="utf-8")
            files = handler_tests(handler, copy)
            code, clean_s = _pytest(copy, files, timeout=3600)
            if code != 0:
                print(
                    f"{handler.parent.name}: its tests fail without a mutant (exit {code})", file=sys.stderr
                )
                return 1
            for mutant in handler_mutants(handler):
                target.write_text(mutant.source, encoding="utf-8")
                code, took = _pytest(copy, files, timeout=clean_s * timeout_factor + 60)
                verdict = _handler_verdict(code)
                print(f"{verdict:>9}  {mutant.path}:{mutant.line}  {mutant.what}  ({took:.0f} s)", flush=True)
                results.append({**asdict(mutant), "source": None, "verdict": verdict, "tests": files})
            target.write_text(original, encoding="utf-8")
    HANDLER_RESULTS.parent.mkdir(exist_ok=True)
    previous = json.loads(HANDLER_RESULTS.read_text()) if HANDLER_RESULTS.exists() else []
    done = {handler.relative_to(ROOT).as_posix() for handler in handlers}
    kept = [r for r in previous if r["path"] not in done]
    HANDLER_RESULTS.write_text(json.dumps(kept + results, indent=1), encoding="utf-8")
    return 0


def _handler_verdict(code: int | None) -> str:
    if code is None:
        return "timeout"
    if code == 0:
        return "survived"
    if code == 5:  # pytest's "no tests collected"
        return "no_tests"
    return "killed"


# --- report -------------------------------------------------------------------------------------


@dataclass
class Tally:
    killed: int = 0  # by a failing test
    type_checked: int = 0  # by mypy, before any test ran
    survived: int = 0
    timeout: int = 0
    no_tests: int = 0
    not_checked: int = 0
    discarded_text: int = 0

    @property
    def tried(self) -> int:
        return self.killed + self.type_checked + self.survived + self.timeout + self.no_tests

    @property
    def score(self) -> float:
        # A timeout is a kill: the mutant made the code loop (mutmut's own rule).
        return (self.killed + self.type_checked + self.timeout) / self.tried if self.tried else 1.0

    @property
    def tests_score(self) -> float:
        """Of the mutants mypy let through, the share a test killed."""
        through = self.tried - self.type_checked
        return (self.killed + self.timeout) / through if through else 1.0


@functools.cache
def _functions(path: Path) -> dict[str, str]:
    """Every function and method in a mutated file, by name (mutmut gives each mutant its own)."""
    text = (ROOT / "mutants" / path).read_text(encoding="utf-8")
    lines = text.splitlines()
    return {
        node.name: "\n".join(lines[node.lineno - 1 : node.end_lineno])
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None
    }


def _function_sources(mutant_name: str, path: Path) -> tuple[str, str]:
    """The original function and the mutant, as mutmut keeps them side by side in mutants/."""
    name = mutant_name.rpartition(".")[2]
    functions = _functions(path)
    return functions[name.partition("__mutmut_")[0] + "__mutmut_orig"], functions[name]


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _raised_name(raise_node: ast.Raise) -> str | None:
    exc = raise_node.exc.func if isinstance(raise_node.exc, ast.Call) else raise_node.exc
    return exc.id if isinstance(exc, ast.Name) else None


def _catches(handler: ast.ExceptHandler, raised: str | None) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    for caught in types:
        if not isinstance(caught, ast.Name) or raised is None:
            continue
        if caught.id == raised or caught.id in ("Exception", "BaseException"):
            return True
        base, sub = getattr(builtins, caught.id, None), getattr(builtins, raised, None)
        if isinstance(base, type) and isinstance(sub, type) and issubclass(sub, base):
            return True
    return False


def _text_unread(handler: ast.ExceptHandler) -> bool:
    """The handler binds no name, or never uses it: the exception's text goes nowhere."""
    if handler.name is None:
        return True
    return not any(
        isinstance(n, ast.Name) and n.id == handler.name for b in handler.body for n in ast.walk(b)
    )


def _discarded_raise(raise_node: ast.Raise, parents: dict[ast.AST, ast.AST]) -> bool:
    """The exception is raised in a ``try`` body of this function and caught there unread."""
    child: ast.AST = raise_node
    parent = parents.get(child)
    while parent is not None and not isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef):
        if isinstance(parent, ast.Try) and child in parent.body:
            raised = _raised_name(raise_node)
            handlers = [h for h in parent.handlers if _catches(h, raised)]
            if handlers:
                return _text_unread(handlers[0])
        child, parent = parent, parents.get(parent)
    return False


def _in_discarded_message(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """True when a string node is the message of an exception whose text never leaves the process."""
    parent = parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Raise):
            return _discarded_raise(parent, parents)
        if isinstance(parent, ast.stmt):
            return False
        parent = parents.get(parent)
    return False


def _unnamed_dump(tree: ast.AST) -> str:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            node.name = ""  # mutmut renames each mutant's function
    return ast.dump(tree)


def _message_dropped(original: str, mutant: str) -> bool:
    """The mutant replaced a discarded exception's whole message by ``None``."""
    target = _unnamed_dump(ast.parse(_dedent(mutant)))
    count = sum(1 for n in ast.walk(ast.parse(_dedent(original))) if isinstance(n, ast.Raise))
    for index in range(count):
        before = ast.parse(_dedent(original))
        parents = _parents(before)
        raise_node = [n for n in ast.walk(before) if isinstance(n, ast.Raise)][index]
        call = raise_node.exc
        if not isinstance(call, ast.Call) or not call.args or not _discarded_raise(raise_node, parents):
            continue
        if isinstance(call.args[0], ast.Constant) and call.args[0].value is None:
            continue
        call.args[0] = ast.Constant(None)
        if _unnamed_dump(before) == target:
            return True
    return False


def is_discarded_text(original: str, mutant: str) -> bool:
    """The two functions differ only in the text of exceptions that never leave the process."""
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
            if not (
                isinstance(old.value, str)
                and isinstance(new.value, str)
                and _in_discarded_message(old, parents)
            ):
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
        if name == "name" and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
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


def _verdict(name: str, code: int | None, path: Path) -> str:
    """One of Tally's fields for a mutant, from mutmut's exit code and, for a survivor, its diff."""
    if code != SURVIVED:
        # segfaults and "suspicious" exits fail the tests too: kills
        return BY_EXIT_CODE.get(code, "killed")
    original, mutant = _function_sources(name, path)
    return "discarded_text" if is_discarded_text(original, mutant) else "survived"


def row_name(path: Path) -> str:
    """A report row's name: the runtime module, ``scripts/<name>``, or ``sentinel.rcf``."""
    if path.is_relative_to(PACKAGE_DIR):  # a module, or a flow package's module: drift.checks
        return ".".join(path.relative_to(PACKAGE_DIR).with_suffix("").parts)
    if path.parent == SCRIPTS_DIR:
        return f"scripts/{path.stem}"
    return _import_name(".".join(path.with_suffix("").parts))


def collect() -> tuple[dict[str, Tally], dict[str, list[str]]]:
    from mutmut.__main__ import SourceFileMutationData

    tallies: dict[str, Tally] = {}
    survivors: dict[str, list[str]] = {}
    for path in mutmut_scope():
        data = SourceFileMutationData(path=path)
        if not data.meta_path.exists():
            continue
        data.load()
        module = row_name(path)
        tally = tallies.setdefault(module, Tally())
        for name, code in sorted(data.exit_code_by_key.items()):
            verdict = _verdict(name, code, path)
            setattr(tally, verdict, getattr(tally, verdict) + 1)
            if verdict == "survived":
                survivors.setdefault(module, []).append(f"`{name.rpartition('.')[2]}`")
    if HANDLER_RESULTS.exists():
        for result in json.loads(HANDLER_RESULTS.read_text(encoding="utf-8")):
            module = f"handler {Path(result['path']).parent.name}"
            tally = tallies.setdefault(module, Tally())
            setattr(tally, result["verdict"], getattr(tally, result["verdict"]) + 1)
            if result["verdict"] == "survived":
                survivors.setdefault(module, []).append(f"line {result['line']}: {result['what']}")
    return tallies, survivors


def render(tallies: dict[str, Tally], survivors: dict[str, list[str]]) -> str:
    rows = [
        "| module | tried | killed by a test | killed by type check | timeout | survived | no tests | "
        "not run | score | tests' score | target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    totals: Counter[str] = Counter()
    untried: list[str] = []
    for module, tally in sorted(tallies.items()):
        if not tally.tried:
            if tally.not_checked:
                untried.append(f"{module} ({tally.not_checked})")
                totals.update(not_run=tally.not_checked)
            continue
        # A score over part of a module's mutants says nothing of the module: no verdict then.
        verdict = "met" if tally.score >= TARGET else "NOT met"
        shown, by_tests = f"{tally.score:.0%}", f"{tally.tests_score:.0%}"
        if tally.not_checked:
            verdict, shown = "not all run", f"({shown} of those run)" if tally.tried else "-"
        rows.append(
            f"| {module} | {tally.tried} | {tally.killed} | {tally.type_checked} | {tally.timeout} | "
            f"{tally.survived} | {tally.no_tests} | {tally.not_checked} | {shown} | {by_tests} | {verdict} |"
        )
        totals.update(
            tried=tally.tried,
            killed=tally.killed + tally.timeout,
            typed=tally.type_checked,
            not_run=tally.not_checked,
            discarded=tally.discarded_text,
        )
    killed = totals["killed"] + totals["typed"]
    score = killed / totals["tried"] if totals["tried"] else 1.0
    lines = [
        "## Figures",
        "",
        "Written by `scripts/mutation.py report`: every mutant tried, the kills by a failing test and by",
        "mypy counted apart. Score = all kills / tried; tests' score = kills by a test (and timeouts) /",
        "the mutants mypy let through. A mutant no test reaches counts as tried and not killed.",
        "",
        *rows,
        "",
        *(
            [f"**Incomplete run: {totals['not_run']} mutants not run**; their modules have no verdict.", ""]
            if totals["not_run"]
            else []
        ),
        *([f"Not run at all (mutants): {', '.join(untried)}.", ""] if untried else []),
        f"All rows: {killed} of {totals['tried']} tried killed ({score:.0%}): {totals['killed']} by a "
        f"test, {totals['typed']} by type check. Not counted as tried: {totals['discarded']} survivors "
        "changing only the text of an exception caught unread in the same function.",
    ]
    if survivors:
        lines += [
            "",
            "### Survivors",
            "",
            "`scripts/mutation.py mutmut show NAME` prints a mutant's diff.",
            "",
        ]
        for module, names in sorted(survivors.items()):
            lines.append(f"- {module}: " + ", ".join(names))
    return "\n".join(lines) + "\n"


#: docs/MUTATION.md keeps its hand-written head; the report replaces what follows this heading.
FIGURES_HEADING = "## Figures"


def write_report(out: Path, figures: str) -> None:
    head = out.read_text(encoding="utf-8").split(FIGURES_HEADING, 1)[0] if out.exists() else ""
    out.write_text(head + figures, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    passthrough = commands.add_parser("mutmut", help="any mutmut command: run, show NAME, results, …")
    passthrough.add_argument("--tests", nargs="+", metavar="PATH", help="narrower test selection")
    passthrough.add_argument("args", nargs=argparse.REMAINDER)
    handlers = commands.add_parser("handlers", help="mutants of functions/*/app.py against their tests")
    handlers.add_argument("--only", nargs="+", default=[], metavar="DIR", help="e.g. start_pipeline")
    handlers.add_argument("--timeout-factor", type=float, default=3.0)
    report_parser = commands.add_parser("report", help="write the figures into docs/MUTATION.md")
    report_parser.add_argument("--out", type=Path, default=ROOT / "docs" / "MUTATION.md")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    if args.command == "mutmut":
        return mutmut(args.args, args.tests)
    if args.command == "handlers":
        return run_handlers(args.only, args.timeout_factor)
    tallies, survivors = collect()
    write_report(args.out, render(tallies, survivors))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
