"""The mutation report's two exclusion rules (scripts/mutation.py): what counts as wording only, and
which line an equivalent mutant's entry must name."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

from sentinel.template import PROJECT_ROOT


@pytest.fixture(scope="module")
def report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutation_script", PROJECT_ROOT / "scripts" / "mutation.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _wording_only(report: ModuleType, original: str, mutant: str) -> bool:
    return bool(
        report.is_wording_only(f"def f(x, logger):\n    {original}\n", f"def g(x, logger):\n    {mutant}\n")
    )


@pytest.mark.parametrize(
    ("original", "mutant"),
    [
        ("raise ValueError('bad row')", "raise ValueError('XXbad rowXX')"),
        ("raise ValueError(f'bad {x}')", "raise ValueError(f'XXbad {x}')"),
        ("logger.warning('skipped', extra={'key': x})", "logger.warning('SKIPPED', extra={'key': x})"),
        ("raise ValueError(f'cannot read {x}: {x.code}') from x", "raise ValueError(None) from x"),
        ("logger.warning(f'skipped {x}', extra={'key': x})", "logger.warning(None, extra={'key': x})"),
    ],
    ids=[
        "exception",
        "exception-f-string",
        "log-message",
        "exception-message-dropped",
        "log-message-dropped",
    ],
)
def test_message_text_alone_is_wording(report: ModuleType, original: str, mutant: str) -> None:
    # GIVEN a function whose mutant changes only the text of a raised or logged message
    # WHEN the report classifies the survivor
    # THEN it is wording, not a behaviour nobody pinned
    assert report.is_wording_only(
        f"def f(x, logger):\n    {original}\n", f"def g(x, logger):\n    {mutant}\n"
    )


@pytest.mark.parametrize(
    ("original", "mutant"),
    [
        ("return 'rejects/'", "return 'XXrejects/XX'"),
        ("logger.warning('skipped', extra={'key': x})", "logger.warning('skipped', extra={'XXkeyXX': x})"),
        ("raise ValueError('bad row')", "raise TypeError('bad row')"),
        (
            "raise ValueError('bad row' if x else 'other')",
            "raise ValueError('bad row' if not x else 'other')",
        ),
        ("return x + 1", "return x - 1"),
        ("raise ValueError('bad row')", "raise ValueError('bad row')"),
        ("return f(x)", "return f(None)"),
        ("raise ValueError('bad row', x)", "raise ValueError('bad row', None)"),
        ("raise ValueError(None)", "raise ValueError(None)"),
    ],
    ids=[
        "returned-string",
        "log-field-name",
        "exception-type",
        "logic-in-message",
        "arithmetic",
        "unchanged",
        "argument-dropped",
        "second-exception-argument-dropped",
        "no-message-unchanged",
    ],
)
def test_anything_else_is_behaviour(report: ModuleType, original: str, mutant: str) -> None:
    # GIVEN a mutant that changes a value the code returns, a field name, a type or logic (or nothing)
    # WHEN the report classifies the survivor
    # THEN it is not excluded as wording
    assert not report.is_wording_only(
        f"def f(x, logger):\n    {original}\n", f"def g(x, logger):\n    {mutant}\n"
    )


def test_an_equivalent_entry_names_the_line_changed_at_its_place(report: ModuleType) -> None:
    # GIVEN a mutant whose changed line also appears, unchanged, further down the function
    original = "def x_f__mutmut_orig(x):\n    seen = False\n    if x:\n        seen = True\n    return seen\n"
    mutant = "def x_f__mutmut_1(x):\n    seen = True\n    if x:\n        seen = True\n    return seen\n"
    # WHEN the report looks for the mutated line
    changed = report._mutated_lines(original, mutant)
    # THEN it finds that line (and only it): an entry naming it is recognised
    assert changed == {"seen = True"}
    assert report._mutated_lines(original, original) == set()


def test_a_mutated_default_is_named_by_its_def_line_under_the_functions_own_name(report: ModuleType) -> None:
    # GIVEN mutmut's original and mutant of a method, renamed, whose parameter default changed
    original = "def xǁBǁfinish__mutmut_orig(self, source: str = ''):\n    return source\n"
    mutant = "def xǁBǁfinish__mutmut_1(self, source: str = 'XXXX'):\n    return source\n"
    # WHEN the report looks for the mutated line THEN it is the def line, under the plain name
    assert report._mutated_lines(original, mutant) == {"def finish(self, source: str = 'XXXX'):"}
    # AND a renaming alone is no change
    assert report._mutated_lines(original, original.replace("orig", "2")) == set()
