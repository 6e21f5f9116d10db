"""Every ``sentinel`` usage error is one line on stderr, exit 2, naming the argument at fault; and
what cannot work is refused before any time is spent (issue 23)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sentinel.cli import main
from sentinel.template import PROJECT_ROOT

EVENTS = PROJECT_ROOT / "events"
TAXI = PROJECT_ROOT / "local" / "sentinel" / "data" / "nab" / "nyc_taxi.csv"
TAXI_WINDOWS = TAXI.with_name("nyc_taxi_windows.json")


def refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Run ``sentinel ARGV``, which must exit 2 with nothing on stdout; returns its one stderr line."""
    try:
        code = main(argv)
    except SystemExit as exited:
        code = exited.code  # type: ignore[assignment]
    out, err = capsys.readouterr()
    assert code == 2, (code, err)
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def sensor(tmp_path: Path) -> Path:
    """A short series of another place and time than NYC taxi."""
    path = tmp_path / "sensor.csv"
    rows = [f"2020-01-01 {h:02d}:{m:02d}:00,{(h * 7 + m) % 11}" for h in range(24) for m in (0, 30)]
    path.write_text("timestamp,value\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["frob"], "argument COMMAND"),
        (["score", "missing.csv"], "FILE.csv"),
        (["score", str(TAXI), "--shingle", "0"], "--shingle"),
        (["score", str(TAXI), "--trees", "x"], "--trees"),
        (["score", str(TAXI), "--cutoff-k", "3", "--threshold", "2"], "--threshold"),
        (["score", str(TAXI), "--alert-budget", "0.01", "--cutoff-k", "3"], "--cutoff-k"),
        (["decode", "missing.jsonl"], "FILE"),
        (["decode", str(TAXI), "--feature-dim", "0"], "--feature-dim"),
        (["baseline", str(TAXI), "--out", "/dev/null/x"], "--out"),
        (["demo", "--out", "/dev/null/x"], "--out"),
        (["invoke", "Nope", "-e", str(EVENTS / "training-object-created.json")], "LOGICAL_ID"),
        (["logs", "frob"], "ACTION"),
    ],
)
def test_a_usage_error_is_one_line_naming_the_argument(capsys, argv, named):
    line = refused(capsys, argv)
    assert line.startswith("sentinel")
    assert named in line


def test_both_cutoff_rules_are_refused_rather_than_one_silently_winning(capsys):
    line = refused(capsys, ["score", str(TAXI), "--cutoff-k", "3", "--threshold", "2"])
    assert "not allowed with argument --cutoff-k" in line


def test_windows_of_another_series_are_refused(capsys, sensor, tmp_path):
    # GIVEN NYC taxi's windows file and a series of another name WHEN scored with them
    line = refused(capsys, ["score", str(sensor), "--shingle", "4", "--windows", str(TAXI_WINDOWS)])
    # THEN the windows file is refused: its one entry labels nyc_taxi.csv
    assert line.startswith("sentinel score: error: --windows: ")
    assert "nyc_taxi.csv" in line
    # AND a bare list of windows that miss the series entirely is refused too
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps([["2014-11-01 00:00:00", "2014-11-02 00:00:00"]]), encoding="utf-8")
    line = refused(capsys, ["score", str(sensor), "--shingle", "4", "--windows", str(bare)])
    assert "none of the 1 windows" in line


def test_windows_of_the_series_itself_are_drawn(capsys, sensor, tmp_path):
    # GIVEN a bare list with a window inside the series WHEN scored THEN it runs
    own = tmp_path / "own.json"
    own.write_text(json.dumps([["2020-01-01 05:00:00", "2020-01-01 06:00:00"]]), encoding="utf-8")
    assert main(["score", str(sensor), "--shingle", "4", "--windows", str(own)]) == 0


AWS_START = ["invoke", "StartPipelineFunction", "-e", str(EVENTS / "training-object-created.json"), "--aws"]


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_either_region_variable_is_honoured(capsys, no_aws_setup, variable):
    # GIVEN only a region variable (the dev environment of samconfig.toml names no region)
    no_aws_setup.setenv(variable, "eu-west-1")
    # WHEN invoked against AWS THEN the region is found and the next thing missing is named
    line = refused(capsys, [*AWS_START, "--config-env", "dev"])
    assert "no AWS credentials" in line


def test_without_a_region_the_hint_names_both_variables(capsys, no_aws_setup):
    line = refused(capsys, [*AWS_START, "--config-env", "dev"])
    assert "set AWS_REGION or AWS_DEFAULT_REGION" in line


def test_a_profile_that_does_not_exist_is_one_line_naming_aws_profile(capsys, no_aws_setup):
    no_aws_setup.setenv("AWS_PROFILE", "no-such-profile")
    line = refused(capsys, AWS_START)
    assert line.startswith("sentinel invoke: error: AWS_PROFILE: ")
    assert "no-such-profile" in line


def test_a_scoring_function_without_its_object_is_refused_before_training(capsys):
    # GIVEN the capture event, whose object exists nowhere on a fresh emulator
    # WHEN ScoreCaptureFunction is invoked without --object
    line = refused(
        capsys, ["invoke", "ScoreCaptureFunction", "-e", str(EVENTS / "capture-object-created.json")]
    )
    # THEN it is refused naming --object, and stderr holds that one line: no model was trained for
    # it first (training says "pipeline trained on ..." there)
    assert line.startswith("sentinel invoke: error: --object: ScoreCaptureFunction reads s3://")
    assert "events/README.md" in line
