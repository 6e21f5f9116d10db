"""Test modules share builders only through tests/support: importing a test module runs its module
code a second time (pytest imports it under its own name too) and ties one test file to another."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
SHARED = "tests.support"
#: Only files with a line that may import test code are parsed, so the scan stays cheap (one import
#: per line: ruff's E401).
MAY_IMPORT_TESTS = re.compile(r"^\s*(?:from|import)\s+(?:\.|tests(?!\.support\b)\b)", re.MULTILINE)


def is_test_code(name: str) -> bool:
    """A module under tests/ other than tests.support; every relative import counts (none is needed)."""
    shared = name == SHARED or name.startswith(f"{SHARED}.")
    return not shared and (name.startswith(".") or name.startswith("tests."))


def imported_test_code(source: str) -> list[str]:
    """The test code ``source`` imports, one name per import (absolute, relative, anywhere in the file)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if is_test_code(alias.name)]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if is_test_code(module):
                found.append(module)
            elif module == "tests":
                found += [
                    f"tests.{alias.name}" for alias in node.names if is_test_code(f"tests.{alias.name}")
                ]
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from tests.integration.test_x import helper", ["tests.integration.test_x"]),
        ("from tests.unit import capture_samples", ["tests.unit"]),
        ("from tests import unit", ["tests.unit"]),
        ("import tests.e2e.test_y", ["tests.e2e.test_y"]),
        ("from .test_z import thing", [".test_z"]),
        (
            "def f():\n    from tests.integration.retrain_support import x",
            ["tests.integration.retrain_support"],
        ),
        ("from tests.support.capture import record\nimport tests.support", []),
        ("from tests import support", []),
    ],
)
def test_the_scan_finds_every_form_of_importing_test_code(source: str, expected: list[str]) -> None:
    # GIVEN an import of test code (absolute, relative, from a package, inside a function) or of support
    # WHEN the source is scanned
    # THEN test code is found, support is not
    assert imported_test_code(source) == expected


@pytest.mark.source_scan
def test_no_module_under_tests_imports_a_test_module() -> None:
    # GIVEN every Python file under tests/ (test modules, conftests and tests/support itself)
    modules = sorted(TESTS.rglob("*.py"))
    assert len(modules) > 100
    # WHEN their imports are read
    sources = {path: path.read_text(encoding="utf-8") for path in modules}
    offenders = {
        str(path.relative_to(TESTS.parent)): names
        for path, source in sources.items()
        if MAY_IMPORT_TESTS.search(source) and (names := imported_test_code(source))
    }
    # THEN shared builders come from tests.support only
    assert offenders == {}, f"move shared builders to {SHARED}: {offenders}"
