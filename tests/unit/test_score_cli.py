"""``sentinel score``: scores a timestamp,value CSV, writes rows and a plot, names bad arguments."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from sentinel.cli import main

SPIKE_AT = 300


def write_series(path: Path, *, header: bool = True, count: int = 480) -> Path:
    """Ten days of a clean daily cycle with one huge spike at index SPIKE_AT."""
    stamps = np.datetime64("2014-07-01T00:00") + np.arange(count) * np.timedelta64(30, "m")
    values = 1000 + 500 * np.sin(np.arange(count) * 2 * np.pi / 48)
    values[SPIKE_AT] = 9000
    lines = ["timestamp,value"] if header else []
    lines += [f"{str(t).replace('T', ' ')}:00,{v:.1f}" for t, v in zip(stamps, values, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def test_score_cli_flags_the_spike_and_writes_rows_and_plot(tmp_path, capsys):
    # GIVEN a daily-cycle series with one spike
    source = write_series(tmp_path / "series.csv")
    out, png = tmp_path / "scored.csv", tmp_path / "plot.png"
    # WHEN it is scored with 12-value shingles, rows and plot requested
    code = main(["score", str(source), "--shingle", "12", "--out", str(out), "--plot", str(png)])
    # THEN the summary counts every point (each gets the score attributed to it) and some anomalies
    assert code == 0
    summary = last_json(capsys.readouterr().out)
    assert summary["points"] == 480
    assert summary["anomalies"] > 0
    # AND the rows carry timestamp,value,score,anomaly, flagged exactly above the cutoff, \n-ended
    assert b"\r" not in out.read_bytes()
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["timestamp", "value", "score", "anomaly"]
    assert len(rows) == summary["points"]
    assert rows[0]["timestamp"] == "2014-07-01 00:00:00"
    flagged = [r for r in rows if r["anomaly"] == "1"]
    assert len(flagged) == summary["anomalies"]
    assert all(float(r["score"]) > summary["cutoff"] for r in flagged)
    assert rows[SPIKE_AT]["anomaly"] == "1"
    assert png.read_bytes()[:4] == b"\x89PNG"


def sine_with_spikes(path: Path, spikes: tuple[int, ...]) -> Path:
    """Twenty days of a noisy half-hourly sine wave with injected spikes."""
    count = 960
    rng = np.random.default_rng(7)
    stamps = np.datetime64("2014-07-01T00:00") + np.arange(count) * np.timedelta64(30, "m")
    values = 100 + 40 * np.sin(np.arange(count) * 2 * np.pi / 48) + rng.normal(0, 1.0, count)
    for at in spikes:
        values[at] += 80
    lines = ["timestamp,value"] + [
        f"{str(t).replace('T', ' ')}:00,{v:.3f}" for t, v in zip(stamps, values, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_spike_is_flagged_at_its_own_timestamp_and_the_normal_stretch_after_is_not(tmp_path, capsys):
    # GIVEN a sine wave with two injected spikes
    spikes = (300, 700)
    source = sine_with_spikes(tmp_path / "sine.csv", spikes)
    out = tmp_path / "scored.csv"
    # WHEN it is scored with the default one-day shingle and a budget of one shingle in a hundred
    # (the default, one in a thousand, is a single shingle of these 913: one spike only)
    assert main(["score", str(source), "--out", str(out), "--alert-budget", "0.01"]) == 0
    with out.open(encoding="utf-8") as handle:
        flagged = [i for i, r in enumerate(csv.DictReader(handle)) if r["anomaly"] == "1"]
    # THEN each spike is flagged within one step of its own timestamp
    for at in spikes:
        assert any(abs(i - at) <= 1 for i in flagged), (at, flagged)
    # AND nothing else is: the day after a spike, inside the same shingles, stays unflagged
    assert all(any(abs(i - at) <= 1 for at in spikes) for i in flagged), flagged


def test_the_default_cutoff_is_the_stacks_alert_budget_quantile_of_the_shingle_scores(tmp_path, capsys):
    # GIVEN a series scored with the default budget, a larger budget, and the mean + 3 std rule
    source = write_series(tmp_path / "series.csv")
    assert main(["score", str(source), "--shingle", "12"]) == 0
    default = last_json(capsys.readouterr().out)
    assert main(["score", str(source), "--shingle", "12", "--alert-budget", "0.05"]) == 0
    larger = last_json(capsys.readouterr().out)
    assert main(["score", str(source), "--shingle", "12", "--cutoff-k", "3"]) == 0
    three_sigma = last_json(capsys.readouterr().out)
    # THEN a larger budget lowers the cutoff and flags more; mean + 3 std is another cutoff again
    assert larger["cutoff"] < default["cutoff"]
    assert larger["anomalies"] >= default["anomalies"] >= 1
    assert three_sigma["cutoff"] != default["cutoff"]


def test_threshold_and_cutoff_k_set_the_cutoff(tmp_path, capsys):
    source = write_series(tmp_path / "series.csv")
    assert main(["score", str(source), "--shingle", "12", "--threshold", "2.5"]) == 0
    assert last_json(capsys.readouterr().out)["cutoff"] == 2.5
    assert main(["score", str(source), "--shingle", "12", "--cutoff-k", "1"]) == 0
    low = last_json(capsys.readouterr().out)
    assert main(["score", str(source), "--shingle", "12", "--cutoff-k", "5"]) == 0
    high = last_json(capsys.readouterr().out)
    assert low["cutoff"] < high["cutoff"]
    assert low["anomalies"] >= high["anomalies"]


@pytest.mark.parametrize("option", ["--out", "--plot"])
def test_score_cli_output_paths_follow_the_one_rule(tmp_path, capsys, option):
    source = write_series(tmp_path / "series.csv", count=400)
    name = "x.png" if option == "--plot" else "x.csv"
    # GIVEN a missing folder WHEN scored THEN it is created
    target = tmp_path / "new" / "folder" / name
    assert main(["score", str(source), "--shingle", "12", option, str(target)]) == 0
    assert target.is_file()
    # GIVEN a folder, or a path under a file WHEN scored THEN exit 2 naming the option, no traceback
    (tmp_path / "file").write_text("x")
    for bad in (tmp_path, tmp_path / "file" / name):
        with pytest.raises(SystemExit) as exited:
            main(["score", str(source), "--shingle", "12", option, str(bad)])
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert option in err
        assert "Traceback" not in err


def test_score_cli_is_repeatable_with_the_same_seed(tmp_path, capsys):
    # GIVEN a series without a header line
    source = write_series(tmp_path / "series.csv", header=False)
    # WHEN it is scored twice
    main(["score", str(source), "--shingle", "6"])
    first = last_json(capsys.readouterr().out)
    main(["score", str(source), "--shingle", "6"])
    # THEN both runs agree
    assert last_json(capsys.readouterr().out) == first


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--shingle", "0"], "--shingle must be at least 1"),
        (["--shingle", "1000"], "--shingle 1000 is longer than the series (480 points"),
        (["--trees", "0"], "--trees must be between 1 and 1000"),
        (["--samples", "5000"], "--samples must be between 1 and 2048"),
        (["--alert-budget", "1"], "--alert-budget must be between 0 and 1"),
        (["--windows", "missing.json"], "--windows: cannot read windows from missing.json"),
    ],
)
def test_score_cli_names_the_bad_argument(tmp_path, capsys, argv, named):
    # GIVEN a good series and one bad option
    source = write_series(tmp_path / "series.csv")
    # WHEN the command runs
    with pytest.raises(SystemExit) as exit_info:
        main(["score", str(source), *argv])
    # THEN it exits 2 with a message naming the option
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err


def test_score_cli_names_the_file_and_line_that_cannot_be_read(tmp_path, capsys):
    # GIVEN a missing file, and a file with a broken line 3
    broken = tmp_path / "broken.csv"
    broken.write_text("timestamp,value\n2014-07-01 00:00:00,1\n2014-07-01 00:30:00,abc\n", encoding="utf-8")
    # WHEN / THEN each error names FILE.csv and where it went wrong
    with pytest.raises(SystemExit):
        main(["score", str(tmp_path / "nope.csv")])
    assert "FILE.csv: " in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["score", str(broken)])
    assert f"{broken}:3: expected timestamp,value" in capsys.readouterr().err


def test_score_cli_help_explains_the_input_and_the_output(capsys):
    # GIVEN a newcomer asking for help
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    text = capsys.readouterr().out
    # THEN the help shows the file format, what a shingle is, the cutoff rule and the JSON summary
    for phrase in (
        "timestamp,value",
        "shingle",
        "mean + K standard",
        "--cutoff-k",
        "--alert-budget",
        '"anomalies"',
        "examples:",
    ):
        assert phrase in text


def test_score_cli_reads_offsets_as_utc_and_sorts_the_series(tmp_path):
    # GIVEN an unsorted series with a UTC offset on one line (the reader behind `sentinel score`)
    from sentinel.series import load_series

    path = tmp_path / "s.csv"
    path.write_text("2014-07-01T02:00:00+02:00,3\n2014-07-01 01:00:00,2\n2014-07-01 00:30:00,1\n")
    # WHEN it is read
    series = load_series(path)
    # THEN timestamps are naive UTC, in order, with their values
    assert [str(t) for t in series.timestamps] == [
        "2014-07-01T00:00:00",
        "2014-07-01T00:30:00",
        "2014-07-01T01:00:00",
    ]
    assert series.values.tolist() == [3.0, 1.0, 2.0]


def test_score_cli_windows_are_picked_by_data_file_name(tmp_path):
    # GIVEN a NAB-style windows file with two data files
    from sentinel.series import SeriesError, load_windows

    path = tmp_path / "windows.json"
    path.write_text(
        json.dumps(
            {
                "a/one.csv": [["2014-07-01 00:00:00.000000", "2014-07-02 00:00:00.000000"]],
                "b/two.csv": [["2014-08-01 00:00:00", "2014-08-02 00:00:00"]],
            }
        )
    )
    # WHEN / THEN each data file gets its own windows, and an unknown one is refused by name
    assert [str(w[0]) for w in load_windows(path, data_name="two.csv")] == ["2014-08-01 00:00:00"]
    with pytest.raises(SeriesError, match=r"no single entry for three\.csv"):
        load_windows(path, data_name="three.csv")
