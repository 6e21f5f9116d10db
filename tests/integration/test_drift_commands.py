"""``sentinel baseline`` and ``sentinel monitor``: the CLI contracts, on the real capture sample."""

from __future__ import annotations

import json

import pytest

from anomaly_sentinel import drift
from sentinel.cli import main
from tests.support import fixture_path
from tests.support.drift_cli import gaussian, last_json_line, real_feature_rows, write_capture


def test_baseline_writes_both_files_and_counts_records_and_features(tmp_path, capsys):
    # GIVEN the real capture's feature rows as a headerless CSV
    features = tmp_path / "features.csv"
    features.write_text("\n".join(real_feature_rows()) + "\n")
    # WHEN baselined
    code = main(["baseline", str(features), "--out", str(tmp_path / "out")])
    # THEN exit 0, the last line counts rows and features, and the files are Model Monitor's
    assert code == 0
    assert last_json_line(capsys.readouterr().out) == {"records": 44, "features": 7}
    statistics = json.loads((tmp_path / "out" / "statistics.json").read_text())
    constraints = json.loads((tmp_path / "out" / "constraints.json").read_text())
    assert [f["name"] for f in statistics["features"]] == [f"_c{i}" for i in range(7)]
    assert {f["inferred_type"] for f in constraints["features"]} == {"Integral"}
    assert constraints["monitoring_config"]["distribution_constraints"]["comparison_method"] == "Robust"


@pytest.mark.parametrize("content", [None, "", "1,2\n3\n", "a,b\n"])
def test_baseline_of_an_unreadable_file_exits_2(tmp_path, capsys, content):
    features = tmp_path / "features.csv"
    if content is not None:
        features.write_text(content)
    assert main(["baseline", str(features), "--out", str(tmp_path / "out")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_monitor_of_the_baselines_own_rows_finds_no_violation(tmp_path, capsys):
    # GIVEN a baseline of the real capture's rows, and that capture file
    features = tmp_path / "features.csv"
    features.write_text("\n".join(real_feature_rows()) + "\n")
    main(["baseline", str(features), "--out", str(tmp_path / "baseline")])
    capsys.readouterr()
    # WHEN monitored (the 44-row sample needs a lower minimum)
    code = main(
        [
            "monitor",
            "--baseline",
            str(tmp_path / "baseline"),
            str(fixture_path("capture/capture.jsonl")),
            "--min-records",
            "10",
        ]
    )
    # THEN exit 0 and no violation
    assert code == 0
    assert last_json_line(capsys.readouterr().out) == {"records": 44, "violations": []}


def test_monitor_reports_the_shifted_feature_only_and_writes_the_reports(tmp_path, capsys, baseline_dir):
    # GIVEN two capture files whose _c1 moved by 0.6 sd
    captures = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    write_capture(captures[0], gaussian(1_500, 2, shift_c1=0.6))
    write_capture(captures[1], gaussian(1_500, 3, shift_c1=0.6))
    # WHEN monitored with --out
    out = tmp_path / "report"
    code = main(["monitor", "--baseline", str(baseline_dir), *map(str, captures), "--out", str(out)])
    # THEN exit 0, one violation on _c1, and the two report files in Model Monitor's format
    assert code == 0
    assert last_json_line(capsys.readouterr().out) == {
        "records": 3_000,
        "violations": [{"feature_name": "_c1", "constraint_check_type": "baseline_drift_check"}],
    }
    violations = json.loads((out / "constraint_violations.json").read_text())["violations"]
    assert [v["feature_name"] for v in violations] == ["_c1"]
    statistics = json.loads((out / "statistics.json").read_text())
    assert statistics["dataset"]["item_count"] == 3_000
    assert statistics["features"][1]["numerical_statistics"]["mean"] == pytest.approx(0.6, abs=0.06)


def test_monitor_of_a_file_whose_rows_all_have_another_width_compares_the_others(
    tmp_path, capsys, baseline_dir
):
    # GIVEN a capture file of the baseline's 4 features, and one whose every row has 3
    captures = [tmp_path / "a.jsonl", tmp_path / "narrow.jsonl"]
    write_capture(captures[0], gaussian(1_500, 6))
    write_capture(captures[1], ["1.0,2.0,3.0"] * 30)
    # WHEN both are monitored as one window
    code = main(["monitor", "--baseline", str(baseline_dir), *map(str, captures)])
    # THEN exit 0: the narrow file's rows are refused and counted, the 1,500 others compared
    captured = capsys.readouterr()
    assert code == 0
    result = last_json_line(captured.out)
    assert result["records"] == 1_500
    assert f"{captures[1]}: 30 records, 0 rows accepted, 30 rejected (feature-count 30)" in captured.err


def test_monitor_of_a_small_window_raises_nothing(tmp_path, capsys, baseline_dir):
    capture = tmp_path / "small.jsonl"
    write_capture(capture, gaussian(200, 4, shift_c1=3.0))
    assert main(["monitor", "--baseline", str(baseline_dir), str(capture)]) == 0
    captured = capsys.readouterr()
    assert last_json_line(captured.out) == {"records": 200, "violations": []}
    assert f"fewer than the minimum of {drift.MIN_RECORDS}" in captured.err


def test_monitor_exits_2_when_an_input_cannot_be_read(tmp_path, capsys, baseline_dir):
    capture = tmp_path / "a.jsonl"
    write_capture(capture, gaussian(10, 5))
    assert main(["monitor", "--baseline", str(tmp_path / "nowhere"), str(capture)]) == 2
    assert (
        main(["monitor", "--baseline", str(baseline_dir), str(capture), str(tmp_path / "missing.jsonl")]) == 2
    )
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "statistics.json").write_text("{")
    (tmp_path / "broken" / "constraints.json").write_text("{}")
    assert main(["monitor", "--baseline", str(tmp_path / "broken"), str(capture)]) == 2
    assert capsys.readouterr().err.count("cannot read") == 3
