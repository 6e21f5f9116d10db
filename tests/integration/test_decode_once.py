"""``sentinel decode`` without ``--feature-dim`` decodes the file once and writes exactly what
``--feature-dim <the dominant width>`` writes: the same CSV, the same rejects in line order."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from anomaly_sentinel.capture import CaptureDecoder
from sentinel.cli import main
from tests.support.capture import as_base64, jsonl, record


def last_json_line(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def decode(tmp_path: Path, source: Path, name: str, *options: str) -> tuple[bytes, str, dict]:
    out, rejects = tmp_path / f"{name}.csv", tmp_path / f"{name}.jsonl"
    assert main(["decode", str(source), "--out", str(out), "--rejects", str(rejects), *options]) == 0
    return out.read_bytes(), rejects.read_text(encoding="utf-8"), {}


def mixed_file(first_width: int) -> bytes:
    """Records of width 3 (most of them) among widths 2 and 4, rejects of other kinds, records of
    several rows, identities that must be quoted, a record without eventId, base64 and plain CSV."""
    records = [record(",".join(["1"] * first_width), event_id="first")]
    for i in range(30):
        records.append(record(f"{i},2,3", event_id=f"evt-{i}"))
        if i % 7 == 0:
            records.append(record("1,2", event_id=f"short-{i}"))
        if i % 9 == 0:
            records.append(as_base64(record("1,2,3,4\n5,6,7,8", event_id=f'wide, "quoted"\n{i}'), "text/csv"))
        if i % 11 == 0:
            records.append(record("1,x,3", event_id=f"bad-{i}"))
    records.append(record("7,8,9\n10,11,12", event_id='a,"b"\r\nc'))  # quoted identity, 2 rows
    anonymous = record("4,5,6")
    del anonymous["eventMetadata"]["eventId"]
    records.append(anonymous)
    other = record("1,2")
    del other["eventMetadata"]["eventId"]
    records.append(other)
    return jsonl(records) + b"garbage\n"


@pytest.mark.parametrize("first_width", [3, 2], ids=["leader-dominant", "leader-not-dominant"])
def test_without_feature_dim_the_output_is_that_of_the_dominant_width(tmp_path, capsys, first_width):
    # GIVEN a capture file whose dominant width is 3, starting with a record of `first_width`
    source = tmp_path / "capture.jsonl"
    source.write_bytes(mixed_file(first_width))
    # WHEN it is decoded with --feature-dim 3 and without
    given_csv, given_rejects, _ = decode(tmp_path, source, "given", "--feature-dim", "3")
    given_counts = last_json_line(capsys.readouterr().out)
    found_csv, found_rejects, _ = decode(tmp_path, source, "found")
    found_counts = last_json_line(capsys.readouterr().out)
    # THEN the rows, the rejects (in line order) and the counts are the same
    assert found_csv == given_csv
    assert found_rejects == given_rejects
    assert found_counts == given_counts
    rejects = [json.loads(line) for line in found_rejects.splitlines()]
    assert [r["line"] for r in rejects] == sorted(r["line"] for r in rejects)
    assert {"feature-count", "non-numeric", "not-json"} <= {r["reason"] for r in rejects}
    # ... a reject without eventId says null, not ""
    assert any(r["eventId"] is None and r["reason"] == "feature-count" for r in rejects)


def test_identities_are_quoted_as_the_csv_module_writes_them(tmp_path, capsys):
    # GIVEN identities with commas, quotes and line breaks, and a value with a carriage return
    odd = 'a,"b"\r\nc'
    source = tmp_path / "capture.jsonl"
    source.write_bytes(
        jsonl(
            [record("1,2", event_id=odd), record("3,\r4", event_id="plain"), record("5,6", event_id="x\ry")]
        )
    )
    # WHEN decoded
    found_csv, _, _ = decode(tmp_path, source, "found")
    # THEN a CSV reader reads every field back as it was
    rows = list(csv.reader(found_csv.decode().splitlines(keepends=True)))
    assert rows[1][:3] == ["1", "0", odd]
    assert rows[1][5:] == ["1", "2"]
    assert rows[2][2] == "plain"
    assert float(rows[2][6]) == 4.0
    assert rows[3][2] == "x\ry"
    assert len(rows) == 4


def test_the_file_is_decoded_once(tmp_path, capsys, monkeypatch):
    # GIVEN a file whose first record is not of the dominant width
    source = tmp_path / "capture.jsonl"
    source.write_bytes(mixed_file(2))
    records = len(source.read_bytes().splitlines())
    # WHEN decoded without --feature-dim, counting the lines the decoder is given
    seen: list[int] = []
    original = CaptureDecoder.decode_line

    def counting(self: CaptureDecoder, raw: object) -> object:
        seen.append(1)
        return original(self, raw)  # type: ignore[arg-type]

    monkeypatch.setattr(CaptureDecoder, "decode_line", counting)
    decode(tmp_path, source, "found")
    # THEN each line went through the decoder once
    assert len(seen) == records
    assert last_json_line(capsys.readouterr().out)["records"] == records


def test_without_out_the_counts_and_rejects_are_the_dominant_widths(tmp_path, capsys):
    # GIVEN the mixed file WHEN only rejects are asked for, with and without --feature-dim
    source = tmp_path / "capture.jsonl"
    source.write_bytes(mixed_file(2))
    results = []
    for options in (["--feature-dim", "3"], []):
        rejects = tmp_path / "r.jsonl"
        assert main(["decode", str(source), "--rejects", str(rejects), *options]) == 0
        results.append((rejects.read_text(), last_json_line(capsys.readouterr().out)))
    # THEN both agree
    assert results[0] == results[1]
