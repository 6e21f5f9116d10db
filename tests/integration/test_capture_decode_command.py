"""``sentinel decode``: the CLI contract (last stdout line, exit codes, CSV and rejects files)."""

from __future__ import annotations

import csv
import json

import pytest

from sentinel.cli import main
from tests.support.capture import as_base64, jsonl, real_csv_records, record


def last_json_line(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def test_decodes_a_capture_file_to_csv_and_rejects(tmp_path, capsys):
    # GIVEN the real CSV records (half base64-encoded by the test) plus two bad lines
    records = [as_base64(r, "text/csv") if i % 2 else r for i, r in enumerate(real_csv_records())]
    source = tmp_path / "capture.jsonl"
    source.write_bytes(jsonl(records) + jsonl([record("1,2,x", event_id="bad-1")]) + b"garbage\n")
    # WHEN decoded with --out and --rejects
    code = main(
        ["decode", str(source), "--out", str(tmp_path / "rows.csv"), "--rejects", str(tmp_path / "rej.jsonl")]
    )
    # THEN it exits 0, and its last stdout line counts every record
    assert code == 0
    assert last_json_line(capsys.readouterr().out) == {"records": 46, "decoded": 44, "rejected": 2}
    with (tmp_path / "rows.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["line", "row", "event_id", "inference_id", "inference_time"] + [
        f"f{i}" for i in range(1, 8)
    ]
    assert rows[1][:3] == ["1", "0", "74b0dd56-e7c8-368e-94b1-14a138a96000"]
    assert rows[1][5:] == ["9", "45", "45", "42", "7", "5", "0"]
    assert len(rows) == 45
    rejects = [json.loads(line) for line in (tmp_path / "rej.jsonl").read_text().splitlines()]
    assert [(r["line"], r["eventId"], r["reason"]) for r in rejects] == [
        (45, "bad-1", "non-numeric"),
        (46, None, "not-json"),
    ]


def test_unreadable_file_exits_non_zero(tmp_path, capsys):
    assert main(["decode", str(tmp_path / "missing.jsonl")]) != 0
    assert "cannot read" in capsys.readouterr().err
    assert main(["decode", str(tmp_path)]) != 0  # a directory is not a file


def test_all_rejected_still_exits_zero(tmp_path, capsys):
    source = tmp_path / "bad.jsonl"
    source.write_bytes(b"x\ny\n")
    assert main(["decode", str(source)]) == 0
    assert last_json_line(capsys.readouterr().out) == {"records": 2, "decoded": 0, "rejected": 2}


def test_without_feature_dim_a_short_first_row_does_not_poison_the_file(tmp_path, capsys):
    # GIVEN one 2-feature row followed by 1,000 good 3-feature rows
    source = tmp_path / "capture.jsonl"
    source.write_bytes(jsonl([record("1,2"), *(record(f"{i},2,3") for i in range(1000))]))
    # WHEN decoded without --feature-dim
    assert main(["decode", str(source)]) == 0
    # THEN only the short row is rejected (the dominant width wins, not the first row's)
    assert last_json_line(capsys.readouterr().out) == {"records": 1001, "decoded": 1000, "rejected": 1}


@pytest.mark.parametrize("value", ["0", "-3", "three"])
def test_feature_dim_must_be_a_positive_whole_number(tmp_path, capsys, value):
    source = tmp_path / "capture.jsonl"
    source.write_bytes(jsonl([record("1,2,3")]))
    with pytest.raises(SystemExit) as exited:
        main(["decode", str(source), "--feature-dim", value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--feature-dim" in err
    assert "Traceback" not in err


def test_outputs_go_into_created_folders_with_unix_line_ends_and_one_row_base(tmp_path, capsys):
    # GIVEN a record with two rows, the second one bad, and output paths in missing folders
    source = tmp_path / "capture.jsonl"
    source.write_bytes(jsonl([record("1,2,3\n4,5,6"), record("7,8,9\n1,x,3", event_id="bad")]))
    out, rejects = tmp_path / "a" / "b" / "rows.csv", tmp_path / "c" / "rej.jsonl"
    # WHEN decoded
    assert main(["decode", str(source), "--out", str(out), "--rejects", str(rejects)]) == 0
    # THEN the folders were created, CSV lines end with \n only
    data = out.read_bytes()
    assert b"\r" not in data
    rows = list(csv.reader(data.decode().splitlines()))
    assert [r[:2] for r in rows[1:]] == [["1", "0"], ["1", "1"]]
    # ... and the reject names the bad row in the CSV's "row" base (0 = a record's first row)
    (reject,) = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert reject["detail"].startswith("row 1 column 2")


@pytest.mark.parametrize("where", ["folder", "under-a-file"])
def test_a_bad_output_path_is_a_clean_error_with_exit_2(tmp_path, capsys, where):
    source = tmp_path / "capture.jsonl"
    source.write_bytes(jsonl([record("1,2,3")]))
    (tmp_path / "file").write_text("x")
    target = tmp_path if where == "folder" else tmp_path / "file" / "rows.csv"
    assert main(["decode", str(source), "--out", str(target)]) == 2
    captured = capsys.readouterr()
    assert "--out" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""
