"""``sentinel prepare``: a newcomer's own series or feature table becomes what the stack receives.

The capture file it writes is read back by the stack's own decoder (``anomaly_sentinel.capture``,
what ScoreCaptureFunction runs), and scored end to end by ``sentinel invoke`` on a model the
stack's pipeline trained on the same series.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from anomaly_sentinel.capture import CaptureDecoder, CaptureRecord
from sentinel.cli import main
from sentinel.template import PROJECT_ROOT
from tests.support import fixture_path

EVENTS = PROJECT_ROOT / "events"


def write_series(path: Path, points: int, *, spike_at: int | None = None) -> list[float]:
    """A half-hourly daily cycle, with an optional spike; returns the values written."""
    start = datetime(2025, 1, 1)
    values = [round(100 + 20 * math.sin(2 * math.pi * i / 48) + i % 7 + 0.25, 2) for i in range(points)]
    if spike_at is not None:
        values[spike_at] = 400.0
    lines = ["timestamp,value"] + [
        f"{(start + timedelta(minutes=30 * i)).isoformat(sep=' ')},{v}" for i, v in enumerate(values)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return values


def decoded(path: Path) -> list[CaptureRecord]:
    """The capture file as ScoreCaptureFunction decodes it (every line must be a record)."""
    decoder = CaptureDecoder()
    out = list(decoder.decode(path.read_bytes().splitlines()))
    assert all(isinstance(item, CaptureRecord) for item in out), out
    return out  # type: ignore[return-value]


def last_json(capsys: pytest.CaptureFixture[str]) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_series_becomes_shingled_capture_records_the_stack_decodes(tmp_path, capsys):
    # GIVEN a timestamp,value series of 60 points
    series = tmp_path / "my.csv"
    values = write_series(series, 60)
    capture, rows = tmp_path / "out" / "capture.jsonl", tmp_path / "out" / "rows.csv"

    # WHEN prepared with shingles of 12
    code = main(
        ["prepare", "series", str(series), "--shingle", "12", "--capture", str(capture), "--rows", str(rows)]
    )

    # THEN 49 records, each the 12 values ending at its own point and stamped with that point's
    # time, decode as the stack decodes them, and --rows holds the same rows
    assert code == 0
    assert last_json(capsys) == {
        "records": 49,
        "features": 12,
        "first": "2025-01-01T05:30:00Z",
        "last": "2025-01-02T05:30:00Z",
    }
    records = decoded(capture)
    assert [[float(x) for x in r.rows[0].split(",")] for r in records] == [
        values[i : i + 12] for i in range(49)
    ]
    assert records[0].inference_time == "2025-01-01T05:30:00Z"
    assert [r.rows[0] for r in records] == rows.read_text().splitlines()
    assert len({r.event_id for r in records}) == 49


def test_a_record_has_the_shape_sagemaker_data_capture_writes(tmp_path, capsys):
    # GIVEN a record of SageMaker's own capture file (the SDK's test data) and a prepared one
    real = json.loads(fixture_path("capture/capture.jsonl").read_text().splitlines()[0])
    series = tmp_path / "my.csv"
    write_series(series, 50)
    capture = tmp_path / "capture.jsonl"
    assert main(["prepare", "series", str(series), "--capture", str(capture)]) == 0
    mine = json.loads(capture.read_text().splitlines()[0])

    # THEN the same keys (Input capture mode: no endpointOutput, as there is no model answer) and
    # the row base64-encoded, data capture's default
    assert mine.keys() == real.keys()
    assert mine["eventMetadata"].keys() == real["eventMetadata"].keys()
    assert mine["captureData"].keys() == {"endpointInput"}
    given = mine["captureData"]["endpointInput"]
    assert given.keys() == real["captureData"]["endpointInput"].keys()
    assert (given["observedContentType"], given["mode"], given["encoding"]) == ("text/csv", "INPUT", "BASE64")
    assert len(base64.b64decode(given["data"]).decode().split(",")) == 48


def test_a_feature_table_keeps_its_time_column_and_its_numbers_exactly(tmp_path, capsys):
    # GIVEN a feature table with a header, a time column and numbers in several spellings
    table = tmp_path / "features.csv"
    table.write_text("time,a,b\n2026-01-01T00:00:00Z,1,2.50\n2026-01-01 00:05:00,1e-3,-7\n")
    capture = tmp_path / "capture.jsonl"

    # WHEN prepared with plain CSV encoding
    assert main(["prepare", "features", str(table), "--capture", str(capture), "--encoding", "CSV"]) == 0

    # THEN each row is one record at its own time, with values that read back to the same floats
    assert last_json(capsys)["records"] == 2
    records = decoded(capture)
    assert [r.inference_time for r in records] == ["2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z"]
    assert [[float(x) for x in r.rows[0].split(",")] for r in records] == [[1.0, 2.5], [0.001, -7.0]]


def test_rows_without_times_are_stamped_from_start_every_seconds(tmp_path, capsys):
    table = tmp_path / "features.csv"
    table.write_text("1,2\n3,4\n5,6\n")
    capture = tmp_path / "capture.jsonl"
    argv = ["prepare", "features", str(table), "--capture", str(capture), "--start", "2026-03-01T10:00:00Z"]
    assert main([*argv, "--every", "300"]) == 0
    assert [r.inference_time for r in decoded(capture)] == [
        "2026-03-01T10:00:00Z",
        "2026-03-01T10:05:00Z",
        "2026-03-01T10:10:00Z",
    ]


@pytest.mark.parametrize(
    ("content", "kind", "named"),
    [
        ("1,2,3\n4,5\n", "features", "features.csv:2: 2 features, the rows before have 3"),
        ("1,2\n3,inf\n", "features", "features.csv:2: a value is not a finite number"),
        ("1,2\nx,y\n", "features", "features.csv:2: expected numbers"),
        ("2026-01-01T00:00:00Z,1\n5,6\n", "features", "features.csv:2: the first column is a time"),
        ("timestamp,value\n2025-01-01 00:00:00,1\n", "series", "shorter than the shingle size 48"),
    ],
)
def test_bad_input_is_one_line_naming_the_file_and_line_and_writes_nothing(
    tmp_path, capsys, content, kind, named
):
    source = tmp_path / "features.csv"
    source.write_text(content)
    capture = tmp_path / "capture.jsonl"
    line = refused(capsys, ["prepare", kind, str(source), "--capture", str(capture)])
    assert line.startswith("sentinel prepare: ")
    assert named in line
    assert not capture.exists()


def test_without_an_output_the_command_says_what_to_give(tmp_path, capsys):
    line = refused(capsys, ["prepare", "series", str(tmp_path / "my.csv")])
    assert "--capture" in line
    assert "--rows" in line


@pytest.mark.slow  # trains on the series with the stack's pipeline, serves and scores (≈10 s)
def test_your_own_series_is_trained_on_and_its_capture_scored_by_the_stack(tmp_path, capsys):
    # GIVEN my own series (3,000 half-hours) and a capture file of its last 200 points, with a spike
    series, recent = tmp_path / "mine.csv", tmp_path / "recent.csv"
    write_series(series, 3000, spike_at=2900)
    recent.write_text("\n".join(series.read_text().splitlines()[2801:]) + "\n")
    capture = tmp_path / "capture.jsonl"
    assert main(["prepare", "series", str(recent), "--capture", str(capture)]) == 0
    capsys.readouterr()

    # WHEN ScoreCaptureFunction is invoked on it with a model trained on my series
    event = EVENTS / "capture-object-created.json"
    argv = [
        "invoke",
        "ScoreCaptureFunction",
        "-e",
        str(event),
        "--training",
        str(series),
        "--object",
        str(capture),
    ]
    code = main(argv)
    out, err = capsys.readouterr()

    # THEN the pipeline trained on my upload, every record was scored against that model's cutoff,
    # and the spike is among the anomalies (the shingles that hold it)
    result = json.loads(out.strip().splitlines()[-1])
    assert code == 0, result
    assert "pipeline trained on s3://sentinel-databucket/training/mine.csv" in err
    assert (result["records"], result["scored"], result["rejected"]) == (153, 153, 0)
    assert result["cutoff_source"] == "model-stats"
    assert result["anomalies"] >= 1


def test_training_data_is_refused_where_no_model_is_served(capsys, tmp_path):
    series = tmp_path / "mine.csv"
    write_series(series, 100)
    event = EVENTS / "training-object-created.json"
    line = refused(capsys, ["invoke", "StartPipelineFunction", "-e", str(event), "--training", str(series)])
    assert line.startswith("sentinel invoke: error: --training: StartPipelineFunction")
