"""pipeline/scripts/preprocess.py: NAB NYC taxi to RCF channels, messy inputs cleaned and counted,
bad inputs refused with a named error that says what is wrong."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import pytest

from pipeline.scripts import preprocess as pp
from sentinel.template import PROJECT_ROOT

NAB = PROJECT_ROOT / "local" / "sentinel" / "data" / "nab"
TAXI = NAB / "nyc_taxi.csv"
WINDOWS = NAB / "nyc_taxi_windows.json"
POINTS = NAB / "nyc_taxi_labels.json"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def rows_of(path: Path) -> list[list[float]]:
    return [[float(x) for x in line.split(",")] for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def taxi(tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("taxi")
    return pp.preprocess(TAXI, out, shingle_size=48, labels_path=WINDOWS), out


def test_nyc_taxi_becomes_one_48_value_shingle_per_half_hour_after_the_first_day(taxi):
    # GIVEN the NAB series (10,320 half-hours) WHEN preprocessed with shingle size 48
    summary, out = taxi
    train = rows_of(out / "train" / "train.csv")
    values = [float(line.split(",")[1]) for line in TAXI.read_text().splitlines()[1:]]
    # THEN row j holds values j-47..j, in time order, and the summary counts it all
    assert len(train) == 10_320 - 47 == summary["rows_out"]
    assert {len(row) for row in train} == {48}
    assert train[0] == values[:48]
    assert train[-1] == values[-48:]
    assert summary | {"missing_by_column": None} == summary | {
        "rows_in": 10_320,
        "rows_clean": 10_320,
        "duplicates_dropped": 0,
        "missing_filled": 0,
        "time_column": "timestamp",
        "feature_columns": ["value"],
        "feature_dim": 48,
        "shingled": True,
        "first_timestamp": "2014-07-01 00:00:00",
        "last_timestamp": "2015-01-31 23:30:00",
        "missing_by_column": None,
    }


def test_nab_windows_label_the_shingles_that_meet_a_window_in_a_label_first_test_channel(taxi):
    # GIVEN the five NAB anomaly windows of nyc_taxi
    summary, out = taxi
    test = rows_of(out / "test" / "test.csv")
    train = rows_of(out / "train" / "train.csv")
    # THEN the test channel is label + the train row, and labels follow the windows
    assert [row[1:] for row in test] == train
    assert {row[0] for row in test} == {0.0, 1.0}
    index = {t: i for i, t in enumerate(TAXI.read_text().splitlines()[1:])}

    def label_of_row_ending(timestamp: str) -> float:
        line = next(k for k in index if k.startswith(timestamp))
        return test[index[line] - 47][0]

    assert label_of_row_ending("2014-11-02 12:00:00") == 1.0  # inside the marathon window
    assert label_of_row_ending("2014-10-30 15:30:00") == 1.0  # ends on the window's first point
    assert label_of_row_ending("2014-10-30 15:00:00") == 0.0  # ends just before it
    assert label_of_row_ending("2014-11-04 22:00:00") == 1.0  # starts on the window's last point
    assert label_of_row_ending("2014-11-04 22:30:00") == 0.0
    assert summary["test_rows"] == len(test)
    assert summary["test_positive_rows"] == sum(row[0] for row in test)
    assert summary["label_intervals"] == 5


def test_nab_point_labels_mark_the_48_shingles_containing_each_point(tmp_path):
    # GIVEN NAB's combined_labels (five timestamps) instead of windows
    summary = pp.preprocess(TAXI, tmp_path, shingle_size=48, labels_path=POINTS)
    # THEN each point labels exactly the 48 shingles whose span contains it
    assert summary["test_positive_rows"] == 5 * 48


def test_gzip_input_gives_the_same_channels_as_plain_csv(tmp_path, taxi):
    # GIVEN the same series gzip-compressed (and named .csv.gz)
    gz = tmp_path / "nyc_taxi.csv.gz"
    gz.write_bytes(gzip.compress(TAXI.read_bytes()))
    # WHEN preprocessed
    summary = pp.preprocess(gz, tmp_path / "out", shingle_size=48, labels_path=WINDOWS)
    # THEN output and counts are identical (the labels key still matches the file name)
    assert (tmp_path / "out/train/train.csv").read_bytes() == (taxi[1] / "train/train.csv").read_bytes()
    assert summary["rows_out"] == taxi[0]["rows_out"]
    assert summary["test_positive_rows"] == taxi[0]["test_positive_rows"]


def test_unsorted_duplicated_and_missing_values_are_sorted_deduplicated_filled_and_counted(tmp_path):
    # GIVEN rows out of order, a repeated timestamp, missing values (leading and inner) and a blank line
    data = write(
        tmp_path / "messy.csv",
        "timestamp,value\n"
        "2024-01-01 00:03:00,4\n"
        "2024-01-01 00:00:00,\n"
        "2024-01-01 00:01:00,2\n"
        "\n"
        "2024-01-01 00:02:00,NaN\n"
        "2024-01-01 00:01:00,99\n"
        "2024-01-01 00:04:00,inf\n",
    )
    # WHEN preprocessed without shingling
    summary = pp.preprocess(data, tmp_path, shingle_size=1)
    # THEN time order, the first of each duplicate kept, gaps filled forward (leading: first value)
    assert rows_of(tmp_path / "train" / "train.csv") == [[2], [2], [2], [4], [4]]
    assert summary["rows_in"] == 6
    assert summary["duplicates_dropped"] == 1
    assert summary["missing_filled"] == 3
    assert summary["missing_by_column"] == {"value": 3}
    assert summary["rows_out"] == 5


def test_several_numeric_columns_are_used_as_they_are_and_text_columns_are_dropped(tmp_path):
    data = write(
        tmp_path / "multi.csv",
        "time,cpu,memory,host\n2024-01-01T00:00:00Z,0.5,1024,a\n2024-01-01T00:05:00Z,0.75,2048.5,b\n",
    )
    summary = pp.preprocess(data, tmp_path, shingle_size=48)
    assert rows_of(tmp_path / "train" / "train.csv") == [[0.5, 1024], [0.75, 2048.5]]
    assert (tmp_path / "train" / "train.csv").read_text() == "0.5,1024\n0.75,2048.5\n"
    assert summary["feature_dim"] == 2
    assert summary["shingled"] is False
    assert summary["feature_columns"] == ["cpu", "memory"]
    assert summary["dropped_columns"] == ["host"]


def test_a_file_without_time_column_keeps_its_order_and_its_repeated_rows(tmp_path):
    data = write(tmp_path / "plain.csv", "a,b\n3,1\n1,1\n1,1\n")
    summary = pp.preprocess(data, tmp_path, shingle_size=4)
    assert rows_of(tmp_path / "train" / "train.csv") == [[3, 1], [1, 1], [1, 1]]
    assert summary["time_column"] is None
    assert summary["duplicates_dropped"] == 0


def test_a_first_column_of_dates_is_the_time_column_whatever_its_name(tmp_path):
    data = write(tmp_path / "named.csv", "when,value\n2024-01-02,2\n2024-01-01,1\n")
    summary = pp.preprocess(data, tmp_path, shingle_size=1)
    assert summary["time_column"] == "when"
    assert rows_of(tmp_path / "train" / "train.csv") == [[1], [2]]


def test_rows_with_the_wrong_number_of_fields_are_dropped_and_counted(tmp_path):
    data = write(tmp_path / "ragged.csv", "timestamp,value\n2024-01-01,1\n2024-01-02,2,extra\n2024-01-03,3\n")
    summary = pp.preprocess(data, tmp_path, shingle_size=1)
    assert summary["rows_malformed"] == 1
    assert rows_of(tmp_path / "train" / "train.csv") == [[1], [3]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2014-07-01 00:30:00", datetime(2014, 7, 1, 0, 30)),
        ("2014-10-30 15:30:00.000000", datetime(2014, 10, 30, 15, 30)),
        ("2014-07-01T00:30:00Z", datetime(2014, 7, 1, 0, 30)),
        ("2014-07-01T02:30:00+02:00", datetime(2014, 7, 1, 0, 30)),
        ("2014/07/01", datetime(2014, 7, 1)),
        ("2014-07-01 00:30", datetime(2014, 7, 1, 0, 30)),
        ("2014-13-01", None),
        ("yesterday", None),
        ("", None),
        ("1404174600", None),
    ],
)
def test_timestamp_grammar_is_explicit(text, expected):
    assert pp.parse_timestamp(text) == expected


# ---------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        ("", pp.EmptyInputError, "empty"),
        ("\n\n", pp.EmptyInputError, "empty"),
        ("timestamp,value\n", pp.EmptyInputError, "no data rows"),
        ("timestamp,host\n2024-01-01,a\n", pp.NoNumericColumnError, "no numeric column"),
        ("timestamp,value\n2024-01-01,1\nnot a date,2\n2024-01-03,x\n", pp.NoNumericColumnError, "numeric"),
        ("timestamp,value\n2024-01-01,1\nnot a date,2\n,3\n", pp.UnparseableTimestampError, "line 3"),
        ("timestamp,value\n2024-01-01,1\n2024-01-02,2\n", pp.NotEnoughRowsError, "fewer than the shingle"),
    ],
)
def test_bad_inputs_fail_with_a_named_error_saying_what_is_wrong(tmp_path, content, error, message):
    # GIVEN a bad file WHEN preprocessed THEN the named error names the file and the problem
    data = write(tmp_path / "bad.csv", content)
    with pytest.raises(error, match=message) as raised:
        pp.preprocess(data, tmp_path / "out", shingle_size=3)
    assert "bad.csv" in str(raised.value)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_unparseable_timestamps_are_counted_and_the_first_ones_shown(tmp_path):
    lines = ["timestamp,value"] + [f"bad-{i},{i}" for i in range(5)] + ["2024-01-01,1"]
    data = write(tmp_path / "dates.csv", "\n".join(lines) + "\n")
    expected = r"5 value\(s\).*line 2: 'bad-0'.*line 4"
    with pytest.raises(pp.UnparseableTimestampError, match=expected) as raised:
        pp.preprocess(data, tmp_path, shingle_size=1)
    assert "line 5" not in str(raised.value)


def test_labels_must_match_the_data_file_and_its_time_span(tmp_path):
    data = write(tmp_path / "series.csv", "timestamp,value\n2024-01-01,1\n2024-01-02,2\n")
    several = write(tmp_path / "several.json", json.dumps({"a/one.csv": [], "b/two.csv": []}))
    far = write(tmp_path / "far.json", json.dumps({"x/series.csv": [["2030-01-01", "2030-01-02"]]}))
    broken = write(tmp_path / "broken.json", "{not json")
    odd = write(tmp_path / "odd.json", json.dumps([["2024-01-02", "2024-01-01"]]))
    with pytest.raises(pp.LabelsError, match=r"0 entries match data file 'series\.csv'"):
        pp.preprocess(data, tmp_path, shingle_size=1, labels_path=several)
    with pytest.raises(pp.LabelsError, match="no labelled window meets"):
        pp.preprocess(data, tmp_path, shingle_size=1, labels_path=far)
    with pytest.raises(pp.LabelsError, match="not a JSON labels file"):
        pp.preprocess(data, tmp_path, shingle_size=1, labels_path=broken)
    with pytest.raises(pp.LabelsError, match="not a valid timestamp or window"):
        pp.preprocess(data, tmp_path, shingle_size=1, labels_path=odd)


def test_labels_need_a_time_column(tmp_path):
    data = write(tmp_path / "plain.csv", "a\n1\n2\n")
    labels = write(tmp_path / "labels.json", json.dumps(["2024-01-01"]))
    with pytest.raises(pp.LabelsError, match="need a time column"):
        pp.preprocess(data, tmp_path, shingle_size=1, labels_path=labels)


@pytest.mark.parametrize("size", [0, -1, 1025])
def test_shingle_size_outside_1_to_1024_is_refused(tmp_path, size):
    with pytest.raises(pp.PreprocessError, match="shingle size"):
        pp.preprocess(TAXI, tmp_path, shingle_size=size)


# ---------------------------------------------------------------------------- the processing job entry


def test_main_reads_processing_directories_and_writes_channels_and_summary(tmp_path, capsys):
    # GIVEN the processing layout: one data file and one labels file, each in its input directory
    (tmp_path / "data").mkdir()
    (tmp_path / "labels").mkdir()
    (tmp_path / "data" / "nyc_taxi.csv").write_bytes(TAXI.read_bytes())
    (tmp_path / "labels" / "windows.json").write_bytes(WINDOWS.read_bytes())
    # WHEN the job runs
    code = pp.main(
        [
            *("--input", str(tmp_path / "data"), "--labels", str(tmp_path / "labels")),
            *("--output", str(tmp_path / "out"), "--shingle-size", "48"),
        ]
    )
    # THEN train, test and summary.json (read by the pipeline's PropertyFile: feature_dim) exist
    assert code == 0
    summary = json.loads((tmp_path / "out" / "summary" / "summary.json").read_text())
    assert summary["feature_dim"] == 48
    assert (tmp_path / "out" / "train" / "train.csv").exists()
    assert (tmp_path / "out" / "test" / "test.csv").exists()
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["rows_out"] == 10_273


def test_main_fails_with_exit_code_2_and_the_reason_on_stderr(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    write(tmp_path / "data" / "empty.csv", "")
    code = pp.main(["--input", str(tmp_path / "data"), "--output", str(tmp_path / "out")])
    assert code == 2
    assert "EmptyInputError: empty.csv" in capsys.readouterr().err


def test_main_refuses_an_input_directory_with_several_files(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    write(tmp_path / "data" / "a.csv", "v\n1\n")
    write(tmp_path / "data" / "b.csv", "v\n1\n")
    assert pp.main(["--input", str(tmp_path / "data"), "--output", str(tmp_path / "out")]) == 2
    assert "exactly one data file" in capsys.readouterr().err


def test_main_reads_exactly_the_uploaded_object_when_an_s3_prefix_brought_its_neighbours(tmp_path, capsys):
    # GIVEN what a processing input of type S3Prefix downloads for s3://b/training/x.csv: every key
    # starting with it (SageMaker API, ProcessingS3Input.S3DataType), here x.csv.gz and x.csv.bak too
    (tmp_path / "data").mkdir()
    (tmp_path / "labels").mkdir()
    (tmp_path / "data" / "x.csv").write_bytes(TAXI.read_bytes())
    write(tmp_path / "data" / "x.csv.bak", "not,the,data\n")
    (tmp_path / "data" / "x.csv.gz").write_bytes(gzip.compress(b"value\n1\n2\n"))
    (tmp_path / "labels" / "w.json").write_bytes(WINDOWS.read_bytes())
    write(tmp_path / "labels" / "w.json.old", "{}")
    # WHEN the job runs with the objects' URIs, as the pipeline passes them
    code = pp.main(
        [
            *("--input", str(tmp_path / "data"), "--input-uri", "s3://b/training/x.csv"),
            *("--labels", str(tmp_path / "labels"), "--labels-uri", "s3://b/labels/w.json"),
            *("--output", str(tmp_path / "out"), "--shingle-size", "48"),
        ]
    )
    # THEN it read the uploaded file and labels only
    assert code == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "out" / "summary" / "summary.json").read_text())
    assert (summary["input"], summary["labels"]) == ("x.csv", "w.json")
    assert summary["rows_out"] == 10_273
    assert summary["test_positive_rows"] > 0


def test_main_says_so_when_the_uploaded_object_is_not_among_the_downloaded_files(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    write(tmp_path / "data" / "x.csv.bak", "v\n1\n")
    code = pp.main(
        ["--input", str(tmp_path / "data"), "--input-uri", "s3://b/training/x.csv", "--output", str(tmp_path)]
    )
    assert code == 2
    assert "the data object s3://b/training/x.csv is not among the files" in capsys.readouterr().err
