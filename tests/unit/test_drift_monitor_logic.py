"""anomaly_sentinel.drift_monitor's pure parts: windows, keys, where the baseline is."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from anomaly_sentinel.contracts.layout import baseline_uris, statistics_key, window_before
from anomaly_sentinel.exceptions import SettingsError
from anomaly_sentinel.settings import DriftMonitorSettings


@pytest.mark.parametrize(
    ("moment", "hours", "start", "end"),
    [
        ("2026-11-30T02:15:00+00:00", 1, "2026-11-30T01:00", "2026-11-30T02:00"),
        ("2026-11-30T02:00:00+00:00", 1, "2026-11-30T01:00", "2026-11-30T02:00"),
        ("2026-11-30T00:15:00+00:00", 1, "2026-11-29T23:00", "2026-11-30T00:00"),
        ("2026-11-30T07:15:00+00:00", 6, "2026-11-30T00:00", "2026-11-30T06:00"),
        ("2026-11-30T03:15:00+01:00", 1, "2026-11-30T01:00", "2026-11-30T02:00"),  # 02:15 UTC
    ],
)
def test_a_tick_handles_the_last_window_that_ended_before_it(moment, hours, start, end):
    window = window_before(datetime.fromisoformat(moment), "ep", hours)
    assert (f"{window.start:%Y-%m-%dT%H:%M}", f"{window.end:%Y-%m-%dT%H:%M}") == (start, end)
    assert window.start.tzinfo == UTC


def test_a_window_lists_one_statistics_prefix_per_hour_and_one_report_prefix():
    window = window_before(datetime(2026, 11, 30, 7, 15, tzinfo=UTC), "ep", 3)
    assert window.statistics_prefixes("statistics/") == [
        "statistics/ep/2026/11/30/03/",
        "statistics/ep/2026/11/30/04/",
        "statistics/ep/2026/11/30/05/",
    ]
    assert window.report_prefix("drift-reports/") == "drift-reports/ep/2026/11/30/03/"
    assert window.identity == "drift-monitor/ep/2026-11-30T03:00:00Z"


def test_statistics_mirror_the_scores_key():
    key = statistics_key("scores/ep/2026/11/30/01/05-00-1.jsonl", "scores/", "statistics/")
    assert key == "statistics/ep/2026/11/30/01/05-00-1.json"


def test_the_baseline_sits_in_baseline_beside_the_model_artefact():
    assert baseline_uris("s3://b/models/run-1/model.tar.gz") == (
        "s3://b/models/run-1/baseline/statistics.json",
        "s3://b/models/run-1/baseline/constraints.json",
    )


def test_a_window_length_must_divide_the_day():
    base = {"ENDPOINT_NAME": "ep", "DATA_BUCKET": "bucket", "IDEMPOTENCY_TABLE": "table"}
    assert DriftMonitorSettings.from_env({**base, "WINDOW_HOURS": "6"}).window_hours == 6
    with pytest.raises(SettingsError, match="WINDOW_HOURS"):
        DriftMonitorSettings.from_env({**base, "WINDOW_HOURS": "5"})
