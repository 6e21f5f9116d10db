"""The production dataset: what ScoreCaptureFunction keeps of accepted records, and the recent window
a retraining run reads back from it (anomaly_sentinel.dataset + pipeline/scripts/channels.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from anomaly_sentinel.dataset import DatasetError, DatasetWriter, endpoint_prefix, parse_time
from pipeline.scripts import channels as ch

ENDPOINT = "anomaly-sentinel-rcf"
CAPTURE_KEY = "capture/anomaly-sentinel-rcf/AllTraffic/2026/11/29/23/part-1.jsonl"
FALLBACK = datetime(2026, 11, 29, 23, tzinfo=UTC)


def write_dataset(root: Path, writer: DatasetWriter) -> list[str]:
    keys = []
    for day in writer.files():
        target = root / day.key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(day.handle.read())
        keys.append(day.key)
    return keys


def writer(source: str = f"s3://bucket/{CAPTURE_KEY}") -> DatasetWriter:
    return DatasetWriter(ENDPOINT, source_uri=source, fallback_time=FALLBACK)


def test_records_land_in_one_file_per_utc_day_with_time_score_and_features():
    # GIVEN scored rows whose inference times straddle midnight UTC (one given with an offset)
    with writer() as w:
        w.add("2026-11-29T23:30:00Z", 0.91, "1.5,2,3")
        w.add("2026-11-30T01:15:00+02:00", 1.2, "4,5,6")  # 23:15 UTC on the 29th
        w.add("2026-11-30T00:00:00.250Z", 3.5, "7,8,9")
        # WHEN the files are listed
        files = {day.key: day.handle.read().decode() for day in w.files()}
    # THEN each UTC day has its own partition, rows keep their score and features as sent
    day29, day30 = sorted(files)
    assert day29.startswith("dataset/endpoint=anomaly-sentinel-rcf/date=2026-11-29/part-1-")
    assert day30.startswith("dataset/endpoint=anomaly-sentinel-rcf/date=2026-11-30/part-1-")
    assert files[day29].splitlines() == [
        "timestamp,score,x1,x2,x3",
        "2026-11-29T23:30:00Z,0.91,1.5,2,3",
        "2026-11-29T23:15:00Z,1.2,4,5,6",
    ]
    assert files[day30].splitlines()[1] == "2026-11-30T00:00:00.250000Z,3.5,7,8,9"


def test_a_record_without_a_readable_time_takes_the_capture_files_hour():
    with writer() as w:
        w.add(None, 1.0, "1,2")
        w.add("yesterday-ish", 1.0, "3,4")
        rows = next(iter(w.files())).handle.read().decode().splitlines()[1:]
    assert rows == ["2026-11-29T23:00:00Z,1.0,1,2", "2026-11-29T23:00:00Z,1.0,3,4"]


def test_the_same_capture_object_always_maps_to_the_same_keys_and_another_version_does_not():
    # GIVEN the same capture object scored twice (a retried invocation), and a new version of it
    def keys(identity: str) -> list[str]:
        with writer(identity) as w:
            w.add("2026-11-29T23:30:00Z", 1.0, "1")
            return [d.key for d in w.files()]

    # THEN a retry overwrites the same key, a new version writes beside it
    assert keys("b/k#v1") == keys("b/k#v1")
    assert keys("b/k#v1") != keys("b/k#v2")


def test_a_row_of_another_width_in_the_same_day_file_is_refused():
    with writer() as w:
        w.add("2026-11-29T23:30:00Z", 1.0, "1,2,3")
        with pytest.raises(DatasetError, match="2 features among rows of 3"):
            w.add("2026-11-29T23:31:00Z", 1.0, "1,2")


def test_inference_times_parse_as_utc():
    assert parse_time("2026-11-29T23:30:00Z") == datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    assert parse_time("2026-11-29T23:30:00") == datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    assert parse_time("") is None
    assert parse_time("29/11/2026") is None


def days_of_traffic(root: Path, first: date, days: int, *, width: int = 3, per_day: int = 4) -> None:
    """``per_day`` rows a day whose first feature is the day's index (so rows say where they came from)."""
    for offset in range(days):
        day = first + timedelta(days=offset)
        with DatasetWriter(
            ENDPOINT, source_uri=f"s3://bucket/capture/{day}.jsonl", fallback_time=FALLBACK
        ) as w:
            for hour in range(per_day):
                stamp = datetime(day.year, day.month, day.day, hour * 6, tzinfo=UTC).isoformat()
                w.add(stamp, 1.0, ",".join([str(offset)] + ["0.5"] * (width - 1)))
            write_dataset(root, w)


def test_a_retraining_run_reads_only_the_window_ending_at_the_newest_record(tmp_path):
    # GIVEN 30 days of stored traffic
    days_of_traffic(tmp_path, date(2026, 10, 1), 30)
    store = ch.FolderStore(tmp_path)
    # WHEN the 7-day window is read
    rows, window = ch.recent_window(store, endpoint_prefix(ENDPOINT), days=7)
    # THEN only the newest days' partitions are read, and exactly (newest - 7 days, newest] is kept
    assert len(window.partitions) == 8  # 7 days + the day the window starts in
    assert window.end == datetime(2026, 10, 30, 18)
    assert window.start == datetime(2026, 10, 23, 18)
    assert {int(r.features[0]) for r in rows} == set(range(23, 30))  # the 23rd's rows are all <= start
    assert all(window.start < r.when <= window.end for r in rows)
    assert [r.when for r in rows] == sorted(r.when for r in rows)
    assert len(rows) == 7 * 4
    assert window.rows_outside == 4


def test_rows_from_before_a_change_of_model_input_are_dropped_and_counted(tmp_path):
    # GIVEN traffic of 3 features, then (after a new model) of 4 features
    days_of_traffic(tmp_path, date(2026, 10, 1), 3, width=3)
    days_of_traffic(tmp_path, date(2026, 10, 4), 2, width=4)
    rows, window = ch.recent_window(ch.FolderStore(tmp_path), endpoint_prefix(ENDPOINT), days=7)
    # THEN the newest width wins and the older rows are counted, not silently mixed
    assert {len(r.features) for r in rows} == {4}
    assert window.rows_other_width == 12


def test_an_empty_dataset_fails_the_run_with_a_clear_reason(tmp_path):
    with pytest.raises(ch.EmptyWindowError, match="nothing was scored yet"):
        ch.recent_window(ch.FolderStore(tmp_path), endpoint_prefix(ENDPOINT), days=7)


def test_a_malformed_dataset_file_is_named(tmp_path):
    bad = tmp_path / endpoint_prefix(ENDPOINT) / "date=2026-10-01" / "x.csv"
    bad.parent.mkdir(parents=True)
    bad.write_text("when,value\n1,2\n")
    with pytest.raises(ch.ChannelsError, match=r"x\.csv: not a dataset file"):
        ch.recent_window(ch.FolderStore(tmp_path), endpoint_prefix(ENDPOINT), days=7)


def test_one_future_dated_record_does_not_move_the_retraining_window(tmp_path):
    # GIVEN 30 days of traffic up to 30 October, and one record stored under 2099 (an old writer's,
    # or a client's clock) plus one later than the run's clock on its last day
    days_of_traffic(tmp_path, date(2026, 10, 1), 30)
    with writer("s3://b/capture/future.jsonl") as w:
        w.add("2099-01-01T00:00:00Z", 1.0, "99,0.5,0.5")
        w.add("2026-10-31T06:00:00Z", 1.0, "98,0.5,0.5")
        write_dataset(tmp_path, w)
    # WHEN a run on 31 October at 05:00 reads its 7-day window
    rows, window = ch.recent_window(
        ch.FolderStore(tmp_path), endpoint_prefix(ENDPOINT), days=7, now=datetime(2026, 10, 31, 5)
    )
    # THEN the window still ends at the newest record up to the run's clock; the others are counted
    assert window.end == datetime(2026, 10, 30, 18)
    assert {int(r.features[0]) for r in rows} == set(range(23, 30))
    assert (window.partitions_in_future, window.rows_in_future) == (1, 1)
    assert window.describe()["partitions_in_future"] == 1


def test_stored_rows_without_a_readable_time_are_counted_not_fatal(tmp_path):
    # GIVEN a day file with one row whose timestamp is garbage
    days_of_traffic(tmp_path, date(2026, 10, 1), 2)
    bad = tmp_path / endpoint_prefix(ENDPOINT) / "date=2026-10-02" / "hand-edited.csv"
    bad.write_text("timestamp,score,x1,x2,x3\nnot-a-time,1.0,1,2,3\n")
    # WHEN the window is read THEN the row is left out and counted
    rows, window = ch.recent_window(ch.FolderStore(tmp_path), endpoint_prefix(ENDPOINT), days=7)
    assert (len(rows), window.rows_without_time) == (8, 1)


def test_a_writer_told_when_the_file_was_written_replaces_later_times_and_counts_why():
    # GIVEN a capture file written at 23:40 on the 29th
    with DatasetWriter(
        ENDPOINT,
        source_uri=f"s3://b/{CAPTURE_KEY}",
        fallback_time=FALLBACK,
        latest_time=datetime(2026, 11, 29, 23, 40, tzinfo=UTC),
    ) as w:
        w.add("2026-11-29T23:50:00Z", 1.0, "1")  # within the clock skew: kept
        w.add("2026-11-30T09:00:00Z", 1.0, "2")  # after the file was written: the file's hour
        w.add("9999-12-31T23:59:59-01:00", 1.0, "3")  # beyond the calendar in UTC
        w.add(None, 1.0, "4")
        rows = next(iter(w.files())).handle.read().decode().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["2026-11-29T23:50:00Z"] + ["2026-11-29T23:00:00Z"] * 3
    assert w.replaced == {"after-the-file-was-written": 1, "unreadable": 1, "missing": 1}


def test_times_before_year_1000_keep_four_digits():
    with writer() as w:
        w.add("0001-01-01T00:00:00Z", 1.0, "1")
        (day,) = w.files()
        assert day.key.split("/")[2] == "date=0001-01-01"
        assert day.handle.read().decode().splitlines()[1] == "0001-01-01T00:00:00Z,1.0,1"


@pytest.mark.parametrize(
    ("rows", "source", "summary", "expected"),
    [
        (
            672,
            {"source": "production-window", "start": "2026-11-06T23:00:00Z", "end": "2026-11-20T23:00:00Z"},
            {},
            48.0,
        ),
        (
            97,
            {"source": "upload"},
            {"first_timestamp": "2014-07-01 00:00:00", "last_timestamp": "2014-07-03 00:00:00"},
            48.5,
        ),
        (10, {"source": "upload"}, {"first_timestamp": None, "last_timestamp": None}, None),
        (10, {"source": "upload"}, {"first_timestamp": "2014-07-01", "last_timestamp": "2014-07-01"}, None),
    ],
)
def test_the_rows_a_day_of_traffic_hold_are_known_for_false_alerts_per_day(rows, source, summary, expected):
    # GIVEN a production window's span or an upload's first and last timestamps
    # THEN the rows per day follow (None when the span is unknown or empty: no rate is invented)
    assert ch.rows_per_day(rows, source, summary) == expected
