"""Checks what ``sam build`` produced the way Lambda will load it, without running any of it.

For every function of the built template, each import is resolved against exactly Lambda's search
path for python3.12 — the function's folder, then each layer's ``python/`` and
``python/lib/python3.12/site-packages`` — plus the standard library. Our own code (the function and
the runtime package) is followed through every import, lazy ones included; third-party packages
through the imports they run at import time. Extension modules are matched by the arm64 file names
Lambda loads (``*.cpython-312-aarch64-linux-gnu.so``), so nothing is executed and the host's
architecture does not matter. The unzipped size of each function plus its layers is measured
against Lambda's 250 MB limit.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sentinel.layout import LAYER_SEARCH_DIRS, layer_ids, layers_of_stack
from sentinel.template import Template, load_template

#: Lambda quota: function code + all layers, unzipped (AWS Lambda docs, "Lambda quotas").
UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024
#: Suffixes the python3.12 arm64 runtime loads extension modules from.
EXTENSION_SUFFIXES = (".cpython-312-aarch64-linux-gnu.so", ".abi3.so", ".so")
STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}
#: The packages we wrote: followed through every import, not only import-time ones.
OWN_PACKAGES = ("anomaly_sentinel", "app")
#: What Lambda's python3.12 arm64 runtime reports, for third-party ``if sys.…`` import switches.
RUNTIME_FACTS = {"sys.version_info": (3, 12), "sys.platform": "linux"}
#: Third-party imports switched by a runtime flag a static reader cannot evaluate. Each name here
#: is optional for the importer, which is why it is allowed to be absent from the layer.
OPTIONAL_THIRD_PARTY = {
    "awscrt": "botocore imports it only when the CRT extra is installed (HAS_CRT); we do not ship it",
    "six.moves": "created at run time by six's meta-path importer, not a file",
    "StringIO": "six's Python 2 branch (PY3 is true on Lambda)",
}


class BuildCheckError(Exception):
    """The build output is missing, stale, or would fail once deployed."""


@dataclass
class FunctionReport:
    logical_id: str
    search_path: list[Path]
    size_bytes: int
    modules: int = 0
    unresolved: list[str] = field(default_factory=list)

    @property
    def size_mb(self) -> float:
        return self.size_bytes / 1024 / 1024

    @property
    def problems(self) -> list[str]:
        found = [f"cannot import {name}" for name in self.unresolved]
        if self.size_bytes > UNZIPPED_LIMIT_BYTES:
            found.append(f"function + layers unzipped {self.size_mb:.1f} MB > Lambda's 250 MB")
        return found


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _find(name: str, search_path: list[Path]) -> Path | None:
    """The file Lambda would import for dotted ``name`` (package ``__init__`` or module), if any."""
    *parents, leaf = name.split(".")
    for root in search_path:
        folder = root.joinpath(*parents)
        if parents and not folder.is_dir():
            continue
        package = folder / leaf
        if (package / "__init__.py").is_file():
            return package / "__init__.py"
        if (folder / f"{leaf}.py").is_file():
            return folder / f"{leaf}.py"
        for suffix in EXTENSION_SUFFIXES:
            if (folder / f"{leaf}{suffix}").is_file():
                return folder / f"{leaf}{suffix}"
        if package.is_dir() and not parents:
            return package  # namespace package
    return None


def _guarded(handlers: list[ast.ExceptHandler]) -> bool:
    """A try whose handler catches ImportError: its imports are optional by design."""
    names = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
    for handler in handlers:
        caught = handler.type
        if caught is None:
            return True
        elts = caught.elts if isinstance(caught, ast.Tuple) else [caught]
        if any(isinstance(e, ast.Name) and e.id in names for e in elts):
            return True
    return False


def _runtime_test(test: ast.expr) -> bool | None:
    """``sys.version_info >= (3, 14)`` or ``sys.platform == "x"`` as Lambda evaluates it; else None."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    left = test.left.value if isinstance(test.left, ast.Subscript) else test.left
    fact = RUNTIME_FACTS.get(ast.unparse(left))
    if fact is None:
        return None
    try:
        other = ast.literal_eval(test.comparators[0])
    except ValueError:
        return None
    if isinstance(test.left, ast.Subscript):
        return None  # sys.version_info[0] and friends: not used by what we ship
    compare = {ast.GtE: "__ge__", ast.Gt: "__gt__", ast.Lt: "__lt__", ast.LtE: "__le__", ast.Eq: "__eq__"}
    method = compare.get(type(test.ops[0]))
    if method is None and isinstance(test.ops[0], ast.NotEq):
        return bool(fact != other)
    return bool(getattr(fact, method)(other)) if method else None


def _branch(node: ast.If) -> list[ast.stmt] | None:
    """The statements of an ``if`` that will run on Lambda, when that can be known statically."""
    if "TYPE_CHECKING" in ast.unparse(node.test):
        return node.orelse
    taken = _runtime_test(node.test)
    if taken is None:
        return None
    return node.body if taken else node.orelse


def _skipped_at_import(node: ast.AST) -> bool:
    """Function bodies run later; a try that catches ImportError makes its imports optional."""
    if isinstance(node, ast.Try):
        return _guarded(node.handlers)
    return isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)


def _imports(tree: ast.AST, *, import_time_only: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports that will run; ``import_time_only`` skips function bodies and optional imports."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and (branch := _branch(node)) is not None:
            yield from _imports(ast.Module(body=branch, type_ignores=[]), import_time_only=import_time_only)
        elif import_time_only and _skipped_at_import(node):
            continue
        else:
            yield from _imports(node, import_time_only=import_time_only)


def _requested(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[tuple[str, bool]]:
    """(dotted name, must exist as a module) for each name the statement asks for."""
    if isinstance(node, ast.Import):
        return [(alias.name, True) for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module if is_package else module.rpartition(".")[0]
        for _ in range(node.level - 1):
            package = package.rpartition(".")[0]
        base = f"{package}.{base}" if base else package
    # ``from X import Y``: X must be a module; Y may be a submodule or just an attribute of X.
    return [(base, True)] + [(f"{base}.{alias.name}", False) for alias in node.names if alias.name != "*"]


def _is_own(name: str) -> bool:
    return name.split(".", maxsplit=1)[0] in OWN_PACKAGES


def resolve_function(logical_id: str, code_dir: Path, layer_dirs: list[Path], handler: str) -> FunctionReport:
    search_path = [code_dir] + [layer / sub for layer in layer_dirs for sub in LAYER_SEARCH_DIRS]
    report = FunctionReport(
        logical_id=logical_id,
        search_path=search_path,
        size_bytes=_folder_size(code_dir) + sum(_folder_size(layer) for layer in layer_dirs),
    )
    handler_module = handler.rpartition(".")[0]
    pending: list[tuple[str, str]] = [(handler_module, "<handler>")]
    seen: set[str] = set()
    while pending:
        name, importer = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        # Parents are imported first: ``a.b.c`` needs ``a`` and ``a.b`` too.
        parts = name.split(".")
        pending.extend((".".join(parts[:i]), importer) for i in range(1, len(parts)))
        if parts[0] in STDLIB:
            continue
        path = _find(name, search_path)
        if path is None:
            optional = not _is_own(importer) and any(
                name == known or name.startswith(f"{known}.") for known in OPTIONAL_THIRD_PARTY
            )
            if not optional:
                report.unresolved.append(f"{name} (imported by {importer})")
            continue
        report.modules += 1
        if path.suffix != ".py":
            continue
        is_package = path.name == "__init__.py"
        tree = ast.parse(path.read_bytes(), filename=str(path))
        for node in _imports(tree, import_time_only=not _is_own(name)):
            for requested, required in _requested(node, name, is_package):
                if required or _find(requested, search_path) is not None:
                    pending.append((requested, name))
    return report


def _built_template(build_dir: Path) -> Template:
    built = build_dir / "template.yaml"
    if not built.is_file():
        raise BuildCheckError(f"no build output at {built}: run `make build`")
    return Template(load_template(built))


def stale_sources(build_dir: Path, source: Template | None = None) -> list[str]:
    """Our Python files whose built copy is missing or differs: the build predates the sources."""
    source = source or Template()
    built = _built_template(build_dir)
    pairs: list[tuple[Path, Path]] = []
    for logical_id in source.function_ids():
        src_dir = source.function(logical_id).code_uri
        pairs.append((src_dir, build_dir / built.resource(logical_id)["Properties"]["CodeUri"]))
    for layer in layers_of_stack(source):
        if layer.built_by_sam:
            out = build_dir / built.resource(layer.logical_id)["Properties"]["ContentUri"] / "python"
            pairs.append((layer.content_uri, out))
    stale = []
    for src_dir, out_dir in pairs:
        for path in sorted(src_dir.rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            copy = out_dir / path.relative_to(src_dir)
            if not copy.is_file() or copy.read_bytes() != path.read_bytes():
                stale.append(str(path))
    return stale


def _built_dirs(build_dir: Path, template: Template, logical_id: str) -> tuple[Path, list[Path]]:
    """The built function folder and its layers' folders (what Lambda unzips to /var/task, /opt)."""
    props = template.resource(logical_id)["Properties"]
    layer_dirs = [
        (build_dir / template.resource(layer_id)["Properties"]["ContentUri"]).resolve()
        for layer_id in layer_ids(template, logical_id)
    ]
    return (build_dir / props["CodeUri"]).resolve(), layer_dirs


def built_search_path(build_dir: Path, logical_id: str) -> list[Path]:
    """Lambda's import path for one built function: its folder, then each layer's search dirs."""
    code_dir, layer_dirs = _built_dirs(build_dir, _built_template(build_dir), logical_id)
    return [code_dir] + [layer / sub for layer in layer_dirs for sub in LAYER_SEARCH_DIRS]


def check_build(build_dir: Path) -> list[FunctionReport]:
    """Every function of ``build_dir/template.yaml``, resolved as Lambda would resolve it."""
    template = _built_template(build_dir)
    reports = []
    for logical_id in template.function_ids():
        code_dir, layer_dirs = _built_dirs(build_dir, template, logical_id)
        handler = template.resource(logical_id)["Properties"].get("Handler", "app.lambda_handler")
        reports.append(resolve_function(logical_id, code_dir, layer_dirs, handler))
    return reports


def main(argv: list[str] | None = None) -> int:
    """``python -m sentinel.build_check [BUILD_DIR]``: a size table, then any problem; exit 1 on one."""
    args = argv if argv is not None else sys.argv[1:]
    build_dir = Path(args[0] if args else ".aws-sam/build")
    try:
        stale = stale_sources(build_dir)
        reports = check_build(build_dir)
    except BuildCheckError as error:
        print(f"build check: {error}", file=sys.stderr)
        return 1
    print(f"{'function':<28} {'modules':>8} {'unzipped (function + layers)':>30}")
    for report in reports:
        print(f"{report.logical_id:<28} {report.modules:>8} {report.size_mb:>24.1f} MB / 250")
    problems = [f"{r.logical_id}: {p}" for r in reports for p in r.problems]
    problems += [f"stale build: {path} differs from its built copy (run `make build`)" for path in stale]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
