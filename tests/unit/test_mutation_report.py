"""The mutation report's rules (scripts/mutation.py): which survivors leave the count (text that never
leaves the process), which mutants a handler gets, and kills by type check counted apart."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from textwrap import indent
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


def _discarded(report: ModuleType, original: str, mutant: str) -> bool:
    return bool(
        report.is_discarded_text(
            f"def f(x, logger):\n{indent(original, '    ')}\n",
            f"def g(x, logger):\n{indent(mutant, '    ')}\n",
        )
    )


CAUGHT_UNREAD = "try:\n    raise ValueError({})\nexcept ValueError:\n    return None"


@pytest.mark.parametrize(
    ("original", "mutant"),
    [
        (CAUGHT_UNREAD.format("'bad row'"), CAUGHT_UNREAD.format("'XXbad rowXX'")),
        (CAUGHT_UNREAD.format("f'bad {x}'"), CAUGHT_UNREAD.format("f'XXbad {x}'")),
        (CAUGHT_UNREAD.format("f'bad {x}'"), CAUGHT_UNREAD.format("None")),
        (
            "try:\n    raise KeyError('k')\nexcept LookupError as e:\n    return None",
            "try:\n    raise KeyError('XXkXX')\nexcept LookupError as e:\n    return None",
        ),
    ],
    ids=["caught-unread", "caught-unread-f-string", "caught-unread-dropped", "caught-by-a-base-class"],
)
def test_the_text_of_an_exception_caught_unread_in_the_same_function_never_leaves_it(
    report: ModuleType, original: str, mutant: str
) -> None:
    # GIVEN a mutant that changes only the text of an exception this very function catches and
    # never reads WHEN the report classifies the survivor THEN it does not count as tried
    assert _discarded(report, original, mutant)


@pytest.mark.parametrize(
    ("original", "mutant"),
    [
        ("raise ValueError('bad row')", "raise ValueError('XXbad rowXX')"),
        ("raise ValueError(f'cannot read {x}') from x", "raise ValueError(None) from x"),
        ("logger.warning('skipped', extra={'key': x})", "logger.warning('SKIPPED', extra={'key': x})"),
        (
            "try:\n    raise ValueError('bad')\nexcept ValueError as e:\n    raise TypeError(str(e))",
            "try:\n    raise ValueError('XXbadXX')\nexcept ValueError as e:\n    raise TypeError(str(e))",
        ),
        (
            "try:\n    raise ValueError('bad')\nexcept KeyError:\n    return None",
            "try:\n    raise ValueError('XXbadXX')\nexcept KeyError:\n    return None",
        ),
        ("return 'rejects/'", "return 'XXrejects/XX'"),
        (CAUGHT_UNREAD.format("'bad'"), CAUGHT_UNREAD.format("'bad'").replace("return None", "return 1")),
        ("return x + 1", "return x - 1"),
        ("raise ValueError('bad row')", "raise ValueError('bad row')"),
    ],
    ids=[
        "raised-to-the-caller",
        "raised-message-dropped",
        "log-message",
        "caught-and-read",
        "caught-by-another-type",
        "returned-string",
        "logic-beside-the-text",
        "arithmetic",
        "unchanged",
    ],
)
def test_any_other_text_or_change_is_behaviour(report: ModuleType, original: str, mutant: str) -> None:
    # GIVEN a mutant whose text reaches a caller, a log, a stored result, or that changes logic
    # WHEN the report classifies the survivor THEN it stays a survivor
    assert not _discarded(report, original, mutant)


def test_a_handler_gets_the_slips_mutmut_cannot_make_in_a_decorated_function(report, tmp_path: Path):
    # GIVEN a decorated handler (mutmut leaves decorated functions alone)
    handler = tmp_path / "app.py"
    handler.write_text(
        "@decorated\n"
        "def lambda_handler(event, context):\n"
        '    """Docstring."""\n'
        "    once.register(context)\n"
        "    if event['status'] == 'Failed' and not event.get('quiet'):\n"
        "        return {'status': 'started', 'object': event['uri']}\n"
        "    return {'status': 'ignored', 'count': 1}\n"
    )
    # WHEN its mutants are made
    mutants = list(report.handler_mutants(handler))
    made = {mutant.what for mutant in mutants}
    # THEN a call left out, a key dropped, a comparison negated, a `not` dropped, and/or swapped and
    # constants changed are among them, each a module that still compiles; the docstring is left alone
    assert "`once.register(context)` left out" in made
    assert "'object' dropped from a dict" in made
    assert "`event['status'] == 'Failed'` negated" in made
    assert any(what.startswith("`not` dropped") for what in made)
    assert any(what.startswith("and/or swapped") for what in made)
    assert {"1 → 2", "'Failed' changed"} <= made
    assert not any("Docstring" in what for what in made)
    for mutant in mutants:
        compile(mutant.source, mutant.path, "exec")
    (left_out,) = [m for m in mutants if m.what == "`once.register(context)` left out"]
    assert "once.register" not in left_out.source


def test_mutant_names_are_the_import_names_of_the_layer_and_the_local_package(report: ModuleType) -> None:
    assert report._import_name("layers.common.anomaly_sentinel.capture.x_f__mutmut_1") == (
        "anomaly_sentinel.capture.x_f__mutmut_1"
    )
    assert report._import_name("local.sentinel.rcf.x_f__mutmut_1") == "sentinel.rcf.x_f__mutmut_1"
    assert report._import_name("pipeline.scripts.inject.x_plan__mutmut_1") == (
        "pipeline.scripts.inject.x_plan__mutmut_1"
    )


def test_kills_by_type_check_are_counted_apart_from_kills_by_tests(report: ModuleType) -> None:
    # GIVEN a module with 10 mutants: 4 rejected by mypy, 5 killed by a test, 1 survivor
    tally = report.Tally(killed=5, type_checked=4, survived=1)
    # WHEN reported THEN both kinds of kill have their column, and the tests' score leaves mypy's out
    figures = report.render({"capture": tally}, {"capture": ["`x_f__mutmut_3`"]})
    assert "| capture | 10 | 5 | 4 | 0 | 1 | 0 | 0 | 90% | 83% | met |" in figures
    assert "9 of 10 tried killed (90%): 5 by a test, 4 by type check" in figures


def test_a_module_of_which_nothing_was_tried_has_no_row_and_is_named_as_not_run(report: ModuleType) -> None:
    # GIVEN a run over a sample: one module tried in full, another not run at all
    tallies = {"capture": report.Tally(killed=3), "drift": report.Tally(not_checked=7)}
    # WHEN reported THEN the untried module has no row (no score) and is named with its mutants
    figures = report.render(tallies, {})
    assert "| drift |" not in figures
    assert "Not run at all (mutants): drift (7)." in figures
    assert "**Incomplete run: 7 mutants not run**" in figures
