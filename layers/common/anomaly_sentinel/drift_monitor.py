"""The scheduled drift monitor: one window of an endpoint's capture statistics against its model's baseline.

Each run handles the window that ended last before the scheduled time (windows are aligned to UTC
midnight, ``WINDOW_HOURS`` long), so a repeated or late delivery of the same schedule tick handles
the same window and writes the same keys. It

1. finds the model in service, its baseline and its ``score_stats.json`` once
   (``anomaly_sentinel.contracts.served``; ``contracts.layout`` says where each key is);
2. merges the per-file statistics the scoring function stored under
   ``{statistics prefix}{endpoint}/yyyy/mm/dd/hh/`` for each hour of the window (an unreadable one
   is named in the result, never fatal);
3. compares (``anomaly_sentinel.drift.compare``), writes ``statistics.json`` and
   ``constraint_violations.json`` under ``{reports prefix}{endpoint}/yyyy/mm/dd/hh/``, publishes
   ``feature_baseline_drift_<feature>`` metrics, and puts one "Drift Monitoring Execution Status
   Change" event, which MonitoringAlertFunction handles like a Model Monitor execution.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from anomaly_sentinel import drift
from anomaly_sentinel.aws import error_code
from anomaly_sentinel.contracts import (
    DRIFT_EVENT_DETAIL_TYPE,
    DRIFT_EVENT_SOURCE,
    read_at_most,
    read_document,
)
from anomaly_sentinel.contracts.layout import STATISTICS_SUFFIX, Window, window_before
from anomaly_sentinel.contracts.messages import DriftWindowEvent
from anomaly_sentinel.contracts.served import ServedModels
from anomaly_sentinel.exceptions import BaselineAccessError, DocumentError, DriftReportError
from anomaly_sentinel.observability import MetricsSink
from anomaly_sentinel.settings import DriftMonitorSettings

#: Unreadable files named one by one in a window's result (and its event); the rest are counted.
#: EventBridge takes 256 KB per entry and a DynamoDB item (the idempotency record) 400 KB.
UNREADABLE_LISTED: Final = 20
UNREADABLE_ENTRY_CHARS: Final = 600


# ---------------------------------------------------------------------------- the run


#: What one window came to: the handler's return value and the event's detail (one message).
DriftReport = DriftWindowEvent


class DriftMonitor:
    """Runs windows for one endpoint; built once per warm container."""

    def __init__(
        self,
        settings: DriftMonitorSettings,
        *,
        s3: Any,
        sagemaker: Any,
        events: Any,
        metrics: MetricsSink | None = None,
    ) -> None:
        self.settings = settings
        self.s3 = s3
        self.events = events
        self.metrics = metrics
        self.served = ServedModels(sagemaker, s3)

    def window(self, moment: datetime) -> Window:
        return window_before(moment, self.settings.endpoint_name, self.settings.window_hours)

    def run(self, window: Window) -> DriftReport:
        found = self.served.resolve(window.endpoint).baseline
        assert found is not None  # asked for
        if found.denied:
            raise BaselineAccessError(f"{window.identity}: {found.note}")
        merged = drift.WindowStatistics.for_baseline(found.baseline)
        unreadable: list[str] = []
        unreadable_count = 0
        for key in self._statistics_keys(window):
            try:
                merged.add(self._read_statistics(key))
            except DriftReportError as exc:
                unreadable_count += 1
                if len(unreadable) < UNREADABLE_LISTED:
                    unreadable.append(f"{key}: {exc}"[:UNREADABLE_ENTRY_CHARS])
        if found.baseline is None:
            comparison = drift.Comparison((), {}, merged.rows, skipped=f"no baseline: {found.note}")
        else:
            comparison = drift.compare(
                merged,
                found.baseline,
                min_records=self.settings.min_records,
                score_stats=found.score_stats,
                previous_windows=self._persisting(window) if found.score_stats is not None else 0,
            )
        report_uri = self._write_reports(window, merged, found.baseline, comparison)
        check_types: dict[str, int] = {}
        for violation in comparison.violations:
            check_types[violation.check_type] = check_types.get(violation.check_type, 0) + 1
        report = DriftReport(
            execution=window.identity,
            endpoint=window.endpoint,
            window_start=f"{window.start:%Y-%m-%dT%H:%M:%SZ}",
            window_end=f"{window.end:%Y-%m-%dT%H:%M:%SZ}",
            status="CompletedWithViolations" if comparison.violations else "Completed",
            files=merged.files,
            records=merged.rows,
            effective_records=merged.effective_rows,
            violations=len(comparison.violations),
            check_types=check_types,
            report_uri=report_uri,
            baseline_uri=found.uri,
            skipped=comparison.skipped,
            unreadable_files=unreadable,
            unreadable_count=unreadable_count,
        )
        self._emit_metrics(report, comparison)
        self._put_event(report)
        return report

    def _persisting(self, window: Window) -> int:
        """How many consecutive windows up to the previous one were beyond the model's alert budget.

        Read from the previous window's report (its score-drift violation counts them); no report,
        or one that cannot be read, counts 0 — persistence starts again, it is never invented.
        """
        previous = Window(
            endpoint=window.endpoint, start=window.start - (window.end - window.start), end=window.start
        )
        key = previous.report_prefix(self.settings.reports_prefix) + drift.VIOLATIONS_FILE
        try:
            document = read_document(self._read_bounded(key), max_bytes=self.settings.max_statistics_bytes)
            return drift.persisting_windows(document)
        except (DriftReportError, DocumentError, ValueError):
            return 0

    def _statistics_keys(self, window: Window) -> Iterator[str]:
        paginator = self.s3.get_paginator("list_objects_v2")
        for prefix in window.statistics_prefixes(self.settings.statistics_prefix):
            for page in paginator.paginate(Bucket=self.settings.data_bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    if item["Key"].endswith(STATISTICS_SUFFIX):
                        yield item["Key"]

    def _read_bounded(self, key: str) -> bytes:
        """An object of the data bucket, at most one byte over MAX_STATISTICS_BYTES (the guard refuses it)."""
        try:
            body = self.s3.get_object(Bucket=self.settings.data_bucket, Key=key)["Body"]
            return read_at_most(body, self.settings.max_statistics_bytes)
        except (ClientError, BotoCoreError) as exc:
            raise DriftReportError(f"unreadable ({error_code(exc)})") from exc

    def _read_statistics(self, key: str) -> drift.FileStatistics:
        return drift.FileStatistics.from_bytes(self._read_bounded(key), self.settings.max_statistics_bytes)

    def _write_reports(
        self,
        window: Window,
        merged: drift.WindowStatistics,
        baseline: drift.Baseline | None,
        comparison: drift.Comparison,
    ) -> str:
        prefix = window.report_prefix(self.settings.reports_prefix)
        documents = (
            (drift.STATISTICS_FILE, drift.statistics_document(merged, baseline)),
            (drift.VIOLATIONS_FILE, drift.violations_document(comparison.violations)),
        )
        for name, document in documents:
            self.s3.put_object(
                Bucket=self.settings.data_bucket,
                Key=prefix + name,
                Body=drift.dumps(document),
                ContentType="application/json",
            )
        return f"s3://{self.settings.data_bucket}/{prefix}"

    def _emit_metrics(self, report: DriftReport, comparison: drift.Comparison) -> None:
        if self.metrics is None:
            return
        self.metrics.add_dimension(name="EndpointName", value=report.endpoint)
        self.metrics.add_metric(name="DriftWindowRecords", unit=MetricUnit.Count, value=report.records)
        self.metrics.add_metric(name="DriftViolations", unit=MetricUnit.Count, value=report.violations)
        for feature, distance in comparison.distances.items():
            self.metrics.add_metric(
                name=drift.drift_metric_name(feature), unit=MetricUnit.NoUnit, value=distance
            )

    def _put_event(self, report: DriftReport) -> None:
        response = self.events.put_events(
            Entries=[
                {
                    "Source": DRIFT_EVENT_SOURCE,
                    "DetailType": DRIFT_EVENT_DETAIL_TYPE,
                    "Detail": json.dumps(report.detail()),
                    "Resources": [],
                    "EventBusName": self.settings.event_bus_name,
                }
            ]
        )
        if response.get("FailedEntryCount"):
            codes = [
                entry.get("ErrorCode") for entry in response.get("Entries", []) if entry.get("ErrorCode")
            ]
            raise DriftReportError(f"could not put the drift event for {report.execution}: {codes}")
