"""``sentinel baseline`` and ``sentinel monitor`` under hostile input: one line on stderr and exit 2
naming the option when an input or output cannot be used; otherwise right numbers, never a traceback."""

from __future__ import annotations

import json

import pytest

from sentinel.cli import main
from tests.support.drift_cli import gaussian, last_json_line, write_capture

NESTED = "[" * 100_000 + "]" * 100_000


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_an_output_that_cannot_be_created_is_one_line_and_exit_2(tmp_path, capsys, baseline_dir):
    # GIVEN an output path below a regular file
    blocker = tmp_path / "file"
    blocker.write_text("")
    capture = tmp_path / "a.jsonl"
    write_capture(capture, gaussian(10, 2))
    features = tmp_path / "train.csv"
    features.write_text("1,2\n3,4\n")
    # WHEN baseline and monitor are asked to write there THEN each says so in one line naming --out
    for argv in (
        ["baseline", str(features), "--out", str(blocker / "out")],
        ["monitor", "--baseline", str(baseline_dir), str(capture), "--out", str(blocker / "out")],
    ):
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert one_error_line(captured.err).startswith(f"sentinel {argv[0]}: --out: ")
        assert captured.out == ""


@pytest.mark.parametrize(
    "statistics",
    ['{"features": ' + NESTED + "}", '{"dataset": {"item_count": 1e999}, "features": []}'],
    ids=["nested", "infinite"],
)
def test_a_malformed_baseline_is_one_line_naming_the_option(tmp_path, capsys, baseline_dir, statistics):
    # GIVEN a baseline folder whose statistics.json is hostile
    (baseline_dir / "statistics.json").write_text(statistics)
    capture = tmp_path / "a.jsonl"
    write_capture(capture, gaussian(10, 2))
    # WHEN monitored THEN exit 2 with one line naming --baseline and why
    assert main(["monitor", "--baseline", str(baseline_dir), str(capture)]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert line.startswith(f"sentinel monitor: --baseline: cannot read the baseline in {baseline_dir}: ")
    assert "statistics.json is unreadable" in line


def test_an_empty_window_with_no_minimum_invents_no_missing_column(tmp_path, capsys, baseline_dir):
    # GIVEN a capture file whose every record is rejected
    capture = tmp_path / "broken.jsonl"
    capture.write_text("{not json\n" * 3)
    # WHEN monitored with --min-records 0
    assert main(["monitor", "--baseline", str(baseline_dir), str(capture), "--min-records", "0"]) == 0
    # THEN nothing is compared (no rows), and no column is reported missing
    captured = capsys.readouterr()
    assert last_json_line(captured.out) == {"records": 0, "violations": []}
    assert "no check raised: 0 rows in the window" in captured.err


def test_a_short_row_is_rejected_with_its_reason_not_a_column_removed(tmp_path, capsys, baseline_dir):
    # GIVEN 1,200 rows of the baseline's 4 features and one row of 3
    capture = tmp_path / "a.jsonl"
    write_capture(capture, [*gaussian(1_200, 2), "0.1,0.2,0.3"])
    # WHEN monitored
    assert main(["monitor", "--baseline", str(baseline_dir), str(capture)]) == 0
    # THEN the short row is rejected with its reason and every column is compared: no violation
    captured = capsys.readouterr()
    assert last_json_line(captured.out) == {"records": 1_200, "violations": []}
    assert "1201 records, 1200 rows accepted, 1 rejected (feature-count 1)" in captured.err


def test_quoted_fields_in_the_baselines_csv_follow_rfc_4180(tmp_path, capsys):
    # GIVEN a CSV whose quoted fields hold commas (one value each), and one with quoted plain numbers
    commas, plain = tmp_path / "commas.csv", tmp_path / "plain.csv"
    commas.write_text('"1,5",2\n"3,5",4\n')
    plain.write_text('"1.5","2"\n"3",4\n')
    # WHEN each is baselined
    # THEN "1,5" is one value that is not a number (exit 2, one line), never two numbers
    assert main(["baseline", str(commas), "--out", str(tmp_path / "a")]) == 2
    assert one_error_line(capsys.readouterr().err).endswith("line 1 column 1 is not a number")
    # AND quoted numbers are read as numbers
    assert main(["baseline", str(plain), "--out", str(tmp_path / "b")]) == 0
    assert last_json_line(capsys.readouterr().out) == {"records": 2, "features": 2}
    statistics = json.loads((tmp_path / "b" / "statistics.json").read_text())
    assert statistics["features"][0]["numerical_statistics"]["mean"] == 2.25


def test_values_near_the_float_maximum_are_counted_missing_not_a_traceback(tmp_path, capsys):
    # GIVEN training rows and capture rows with values near the float maximum among ordinary ones
    rows = gaussian(1_200, 3)
    features = tmp_path / "train.csv"
    features.write_text("\n".join([*rows, "1.7e308,1.7e308,-1.7e308,1"]) + "\n")
    capture = tmp_path / "a.jsonl"
    write_capture(capture, [*rows, "1.7e308,1.7e308,-1.7e308,1", "1e308,1e308,1,1"])
    # WHEN baselined THEN the huge values count as missing, as non-finite ones do
    assert main(["baseline", str(features), "--out", str(tmp_path / "baseline")]) == 0
    capsys.readouterr()
    statistics = json.loads((tmp_path / "baseline" / "statistics.json").read_text())
    assert statistics["features"][0]["numerical_statistics"]["common"] == {
        "num_present": 1_200,
        "num_missing": 1,
    }
    # AND monitored, the two huge rows are counted missing with a reason, the rest compared
    assert main(["monitor", "--baseline", str(tmp_path / "baseline"), str(capture)]) == 0
    captured = capsys.readouterr()
    assert "2 rows beyond ±1e+100 counted missing" in captured.err
    assert last_json_line(captured.out)["records"] == 1_200
