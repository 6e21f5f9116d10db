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
    # THEN the summary counts every scored point (one per full shingle) and some anomalies
    assert code == 0
    summary = last_json(capsys.readouterr().out)
    assert summary["points"] == 480 - 12 + 1
    assert summary["anomalies"] > 0
    # AND the rows carry timestamp,value,score,anomaly, flagged exactly above the cutoff
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["timestamp", "value", "score", "anomaly"]
    assert len(rows) == summary["points"]
    assert rows[0]["timestamp"] == "2014-07-01 05:30:00"  # stamped with the shingle's last point
    flagged = [r for r in rows if r["anomaly"] == "1"]
    assert len(flagged) == summary["anomalies"]
    assert all(float(r["score"]) > summary["cutoff"] for r in flagged)
    # AND the shingles holding the spike are the flagged ones
    spike_time = rows[SPIKE_AT - 11]["timestamp"]
    assert spike_time in {r["timestamp"] for r in flagged}
    assert png.read_bytes()[:4] == b"\x89PNG"


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
    for phrase in ("timestamp,value", "shingle", "mean + 3 standard deviations", '"anomalies"', "examples:"):
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
