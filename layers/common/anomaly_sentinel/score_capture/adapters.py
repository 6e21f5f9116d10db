"""The capture scoring flow's AWS calls: the capture object read from S3 (once, or twice when the
file's own width decides), its outputs written, the drift reports listed, the metrics.

The endpoint calls and the alert are :mod:`anomaly_sentinel.scoring`'s; the model in service is
:class:`~anomaly_sentinel.contracts.served.ServedModels`'.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from anomaly_sentinel import aws, drift
from anomaly_sentinel.capture import dominant_width
from anomaly_sentinel.contracts.layout import statistics_key, window_before
from anomaly_sentinel.events import S3Object
from anomaly_sentinel.exceptions import CaptureReadError
from anomaly_sentinel.score_capture.keys import output_keys
from anomaly_sentinel.score_capture.report import CaptureReport
from anomaly_sentinel.scoring.files import MetricsSink
from anomaly_sentinel.settings import ScoreCaptureSettings


def read_error(obj: S3Object, exc: ClientError | BotoCoreError) -> CaptureReadError:
    return CaptureReadError(f"cannot read {obj.uri}: {aws.error_code(exc)}")


@contextmanager
def reading(obj: S3Object, body: Any) -> Iterator[Any]:
    """The object's body while it is streamed: closed after, S3 errors named as CaptureReadError."""
    try:
        yield body
    except (ClientError, BotoCoreError) as exc:
        raise read_error(obj, exc) from exc
    finally:
        body.close()


class CaptureStore:
    """The flow's S3 calls, in the capture bucket (read) and the output bucket (write)."""

    def __init__(self, s3: Any, settings: ScoreCaptureSettings) -> None:
        self.s3 = s3
        self.settings = settings

    def open(self, obj: S3Object) -> dict[str, Any]:
        """GetObject of the event's version (its LastModified, ETag and Body)."""
        return aws.open_version(self.s3, obj.bucket, obj.key, obj.version_id, CaptureReadError)

    def file_width(self, obj: S3Object, response: dict[str, Any]) -> int | None:
        """The file's dominant row width: a first pass over the same version (VersionId or ETag)."""
        request: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.version_id:
            request["VersionId"] = obj.version_id
        elif response.get("ETag"):
            request["IfMatch"] = response["ETag"]
        try:
            body = self.s3.get_object(**request)["Body"]
        except (ClientError, BotoCoreError) as exc:
            raise read_error(obj, exc) from exc
        with reading(obj, body):
            return dominant_width(body, self.settings.max_line_bytes)

    def upload(self, handle: IO[bytes], key: str, content_type: str = "application/jsonlines") -> None:
        aws.upload(self.s3, self.settings.output_bucket, key, handle, content_type)

    def write_statistics(self, obj: S3Object, modified: datetime, stats: drift.FileStatistics) -> str:
        """Store the file's summary for the drift monitor; returns its key.

        One summary per capture key, whatever its version: scoring a file again (a copy onto
        itself) replaces its rows in the drift window instead of adding them twice.
        """
        settings = self.settings
        unversioned = output_keys(obj.model_copy(update={"version_id": None}), modified, settings)[0]
        key = statistics_key(unversioned, settings.scores_prefix, settings.statistics_prefix)
        self.s3.put_object(
            Bucket=settings.output_bucket, Key=key, Body=stats.to_bytes(), ContentType="application/json"
        )
        return key

    def unmonitored(self, dated: str) -> str | None:
        """Why the file's rows are in no drift report: the window of its hour already ran."""
        settings = self.settings
        try:
            hour = datetime.strptime(dated, "%Y/%m/%d/%H").replace(tzinfo=UTC)
        except ValueError:
            return None
        hours = settings.drift_window_hours
        window = window_before(hour + timedelta(hours=hours), settings.endpoint_name, hours)
        prefix = window.report_prefix(settings.reports_prefix)
        try:
            listed = self.s3.list_objects_v2(Bucket=settings.output_bucket, Prefix=prefix, MaxKeys=1)
        except (ClientError, BotoCoreError):
            return None  # cannot tell: the file is scored either way
        if not listed.get("KeyCount"):
            return None
        return (
            f"the drift window {window.identity} already ran (s3://{settings.output_bucket}/{prefix}): "
            "this file's rows are in no drift report"
        )


def emit_metrics(metrics: MetricsSink | None, report: CaptureReport) -> None:
    if metrics is None:
        return
    metrics.add_dimension(name="EndpointName", value=report.endpoint)
    metrics.add_metric(name="CaptureRecords", unit=MetricUnit.Count, value=report.records)
    metrics.add_metric(name="RecordsScored", unit=MetricUnit.Count, value=report.scored)
    metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=report.rejected)
    metrics.add_metric(name="CaptureFilesFailed", unit=MetricUnit.Count, value=int(bool(report.failure)))
    metrics.add_metric(
        name="CaptureFilesUnmonitored", unit=MetricUnit.Count, value=int(report.unmonitored is not None)
    )
    metrics.add_metric(name="Anomalies", unit=MetricUnit.Count, value=report.anomalies)
    metrics.add_metric(name="EndpointCalls", unit=MetricUnit.Count, value=report.calls)
    if report.max_score is not None:
        metrics.add_metric(name="MaxScore", unit=MetricUnit.NoUnit, value=report.max_score)
    if report.mean_latency_ms is not None:
        metrics.add_metric(name="EndpointLatency", unit=MetricUnit.Milliseconds, value=report.mean_latency_ms)
