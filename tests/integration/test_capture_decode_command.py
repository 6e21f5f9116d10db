"""``sentinel decode``: the CLI contract (last stdout line, exit codes, CSV and rejects files)."""

from __future__ import annotations

import csv
import json

from sentinel.cli import main
from tests.unit.capture_samples import as_base64, jsonl, real_csv_records, record


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
