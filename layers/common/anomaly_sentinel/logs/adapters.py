"""The log route's AWS side: the log model in service, one log file scored end to end, the drift window.

* :class:`LogModelSource` — the newest *Approved* package of the log model package group is the log
  model in service; its directory (``log_model_uri`` metadata) holds the template table, vector
  spec and detector choice; loaded once per package (warm container).
* :class:`LogFileScorer` — streams the object (gzip, BOM, CRLF as the capture path reads them),
  matches, groups, scores (PCA here, or RCF on the log endpoint, which must serve the package's own
  artefact), and writes ``session,score,anomaly`` rows, rejects with reasons and the file's drift
  statistics, all after the last line is accounted for (a failed invocation leaves no partial
  output; keys derive from the object version, so a repeat overwrites). Then metrics and one alert.
* :class:`LogDriftWindow` — the drift monitor's pass over a window of log statistics.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from typing import IO, Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from botocore.exceptions import BotoCoreError, ClientError

from anomaly_sentinel import aws, drift
from anomaly_sentinel.contracts import METADATA_LOG_MODEL, parse_s3_uri, read_at_most, read_document
from anomaly_sentinel.contracts.layout import LOG_STATISTICS_FILE, hour_prefix
from anomaly_sentinel.contracts.served import served_model
from anomaly_sentinel.drift import logs as log_drift
from anomaly_sentinel.events import S3Object
from anomaly_sentinel.exceptions import (
    DocumentError,
    LogModelNotFoundError,
    LogReadError,
    ScoringInvariantError,
)
from anomaly_sentinel.logs.exceptions import LogArtefactError
from anomaly_sentinel.logs.flow import score_in_function, score_on_endpoint
from anomaly_sentinel.logs.ledger import Ledger, LineRejects
from anomaly_sentinel.logs.model import LogModel
from anomaly_sentinel.logs.objects import STATISTICS_SUFFIX, ignore_reason, output_keys
from anomaly_sentinel.logs.report import (
    LogReport,
    build_alert,
    build_failure_alert,
    emit_metrics,
    file_report,
    file_statistics,
)
from anomaly_sentinel.logs.stream import Tally, group_events, read_events
from anomaly_sentinel.scoring import EndpointClient
from anomaly_sentinel.scoring.files import Calls, FileScorer, publish_alert
from anomaly_sentinel.settings import DriftMonitorSettings, ScoreLogsSettings

# ``ignore_reason`` is the handler's (functions/score_logs): imported from here, beside the scorer.
__all__ = ["LogDriftWindow", "LogFileScorer", "LogModelSource", "ignore_reason", "log_drift_window"]


# ---------------------------------------------------------------------------- the model in service


def approved_package(sagemaker: Any, group: str) -> str | None:
    """ARN of the group's newest Approved model package, or None."""
    found = sagemaker.list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        ModelPackageType="Versioned",
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    ).get("ModelPackageSummaryList", [])
    return str(found[0]["ModelPackageArn"]) if found else None


def model_directory(package: dict[str, Any]) -> str:
    """The package's log model directory: its ``log_model_uri`` metadata, else its artefact's folder."""
    uri = (package.get("CustomerMetadataProperties") or {}).get(METADATA_LOG_MODEL)
    if not uri:
        containers = (package.get("InferenceSpecification") or {}).get("Containers") or [{}]
        url = containers[0].get("ModelDataUrl")
        if not url:
            raise LogModelNotFoundError(
                f"model package {package.get('ModelPackageArn')} names no {METADATA_LOG_MODEL} "
                "and no ModelDataUrl"
            )
        uri = str(url).rsplit("/", 1)[0]
    return str(uri).rstrip("/") + "/"


class LogModelSource:
    """The log model in service, looked up per file (one List call) and loaded once per package."""

    def __init__(self, sagemaker: Any, s3: Any, group: str, max_artefact_bytes: int) -> None:
        self.sagemaker = sagemaker
        self.s3 = s3
        self.group = group
        self.max_bytes = max_artefact_bytes
        self._cache: dict[str, LogModel] = {}

    def lookup(self) -> LogModel:
        arn = approved_package(self.sagemaker, self.group)
        if arn is None:
            raise LogModelNotFoundError(
                f"no Approved log model in model package group '{self.group}': approve a package the "
                "pipeline's log route registered (UpdateModelPackage), then redrive the event"
            )
        cached = self._cache.get(arn)
        if cached is not None:
            return cached
        package = self.sagemaker.describe_model_package(ModelPackageName=arn)
        uri = model_directory(package)
        try:
            model = LogModel.load(arn, uri, lambda name: self.read(uri + name))
        except LogArtefactError as exc:
            raise LogModelNotFoundError(f"log model {arn} at {uri}: {exc}") from exc
        self._cache = {arn: model}  # only the model in service is kept
        return model

    def read(self, uri: str) -> bytes:
        """An artefact's bytes, bounded; :class:`LogModelNotFoundError` when it cannot be read."""
        try:
            bucket, key = parse_s3_uri(uri)
            raw = read_at_most(self.s3.get_object(Bucket=bucket, Key=key)["Body"], self.max_bytes)
        except (ClientError, BotoCoreError) as exc:
            raise LogModelNotFoundError(f"cannot read {uri}: {aws.error_code(exc)}") from exc
        if len(raw) > self.max_bytes:
            raise LogModelNotFoundError(f"{uri} is larger than {self.max_bytes} bytes")
        return raw


# ---------------------------------------------------------------------------- one log file


class LogFileScorer(FileScorer[ScoreLogsSettings]):
    """Scores log files with the log model in service; built once per warm container."""

    def _build(self) -> None:
        settings = self.settings
        self.models = LogModelSource(
            self.sagemaker, self.s3, settings.model_package_group, settings.max_artefact_bytes
        )

    def process(self, obj: S3Object) -> LogReport:
        model = self.models.lookup()
        if model.detector == "rcf":
            self._check_endpoint_serves(model)
        response = self._open(obj)
        scores_key, rejects_key, stats_key = output_keys(
            obj, response.get("LastModified") or datetime.now(UTC), self.settings
        )
        bucket = self.settings.output_bucket
        with (
            tempfile.TemporaryFile("w+b", dir=self.tmp_dir) as scores,
            tempfile.TemporaryFile("w+b", dir=self.tmp_dir) as rejects,
        ):
            client = self.client.for_file()  # this file's own failure tracker
            tally, ledger, line_rejects, calls = self._score(model, client, response["Body"], scores, rejects)
            if line_rejects.count != tally.rejected or ledger.sessions != tally.groups:
                raise ScoringInvariantError(
                    f"{obj.uri}: {line_rejects.count} line rejects written for {tally.rejected} counted, "
                    f"{ledger.sessions} sessions handled of {tally.groups} grouped"
                )
            self._upload(scores, scores_key, "text/csv")
            rejects_uri = None
            if tally.rejected or ledger.rejected:
                self._upload(rejects, rejects_key, "application/jsonlines")
                rejects_uri = f"s3://{bucket}/{rejects_key}"
        statistics = file_statistics(obj.uri, model, tally, ledger)
        self.s3.put_object(
            Bucket=bucket, Key=stats_key, Body=statistics.to_bytes(), ContentType="application/json"
        )
        systematic = client.tracker.systematic if model.detector == "rcf" else None
        report = file_report(
            obj.uri,
            self.settings.endpoint_name,
            model,
            (tally, ledger, calls),
            (f"s3://{bucket}/{scores_key}", rejects_uri, f"s3://{bucket}/{stats_key}"),
            systematic=systematic,
        )
        emit_metrics(self.metrics, report)
        report.alert_message_id = publish_alert(
            report,
            self.sns,
            self.settings.alerts_topic_arn,
            failed=build_failure_alert,
            anomalous=build_alert,
        )
        return report

    def _score(
        self, model: LogModel, client: EndpointClient, body: Any, scores: IO[bytes], rejects: IO[bytes]
    ) -> tuple[Tally, Ledger, LineRejects, Calls]:
        """One pass: lines → groups → scores, each written as it is decided."""
        settings = self.settings
        grouper = model.grouper()
        tally = Tally()
        line_rejects = LineRejects(rejects)
        log_format = model.table.format
        normal = log_format.normal_label if log_format.label_field else None
        events = read_events(body, model.matcher, settings.max_line_bytes)
        groups = group_events(events, grouper, normal, tally, on_reject=line_rejects)
        ledger = Ledger(model, scores, rejects, keep=settings.top_anomalies)
        calls = Calls()
        if model.detector == "pca":
            scored = score_in_function(groups, model)
        else:
            scored = score_on_endpoint(
                groups,
                model,
                client,
                calls,
                max_request_bytes=settings.max_request_bytes,
                max_request_rows=settings.max_request_rows,
                concurrency=settings.scoring_concurrency,
                max_inflight_bytes=settings.max_inflight_bytes,
            )
        try:
            for group, score, reason in scored:
                ledger.add(group, score, reason)
        except (ClientError, BotoCoreError) as exc:
            raise LogReadError(f"cannot read the log object: {aws.error_code(exc)}") from exc
        finally:
            body.close()
        return tally, ledger, line_rejects, calls

    def _check_endpoint_serves(self, model: LogModel) -> None:
        """An RCF log model is scored on the log endpoint, which must serve this model's artefact."""
        name = self.settings.endpoint_name
        try:
            served = served_model(self.sagemaker, name).model_data_url
        except (ClientError, BotoCoreError) as exc:
            raise LogModelNotFoundError(
                f"the log model in service is RCF ({model.package_arn}) but endpoint '{name}' cannot be "
                f"described ({aws.error_code(exc)}): deploy {model.rcf_model_url} to it"
            ) from exc
        if served != model.rcf_model_url:
            raise LogModelNotFoundError(
                f"endpoint '{name}' serves {served}, but the log model in service ({model.package_arn}) "
                f"is {model.rcf_model_url}: deploy it to the endpoint, then redrive the event"
            )

    def _open(self, obj: S3Object) -> dict[str, Any]:
        return aws.open_version(self.s3, obj.bucket, obj.key, obj.version_id, LogReadError)

    def _upload(self, handle: IO[bytes], key: str, content_type: str) -> None:
        aws.upload(self.s3, self.settings.output_bucket, key, handle, content_type)


# ---------------------------------------------------------------------------- the drift window


def log_drift_window(
    settings: DriftMonitorSettings, *, s3: Any, sagemaker: Any, metrics: Any = None
) -> LogDriftWindow | None:
    """The drift monitor's log pass, when the settings name a log detector (else None)."""
    if not settings.logs_endpoint_name or not settings.logs_model_package_group:
        return None
    return LogDriftWindow(
        s3,
        LogModelSource(sagemaker, s3, settings.logs_model_package_group, settings.max_statistics_bytes),
        bucket=settings.data_bucket,
        statistics_prefix=settings.logs_statistics_prefix,
        reports_prefix=settings.reports_prefix,
        detector=settings.logs_endpoint_name,
        min_lines=settings.logs_min_lines,
        max_statistics_bytes=settings.max_statistics_bytes,
        metrics=metrics,
    )


class LogDriftWindow:
    """One drift window of the log detector: merge its files' statistics, compare, write the report.

    Reports go under ``{reports prefix}{detector}/yyyy/mm/dd/hh/`` (``log_statistics.json`` and
    Model Monitor's ``constraint_violations.json``); ``LogOovShare``, ``LogNewTemplates`` and
    ``LogDriftViolations`` are published with the detector as ``EndpointName`` (LogDriftAlarm
    watches the last). No drift event is put: the monitoring responder retrains the numeric model.
    """

    def __init__(
        self,
        s3: Any,
        models: LogModelSource,
        *,
        bucket: str,
        statistics_prefix: str,
        reports_prefix: str,
        detector: str,
        min_lines: int = log_drift.MIN_LINES,
        max_statistics_bytes: int = 1_000_000,
        metrics: Any = None,
    ) -> None:
        self.s3 = s3
        self.models = models
        self.bucket = bucket
        self.statistics_prefix = statistics_prefix
        self.reports_prefix = reports_prefix
        self.detector = detector
        self.min_lines = min_lines
        self.max_bytes = max_statistics_bytes
        self.metrics = metrics

    def run(self, hours: list[datetime], start: datetime) -> dict[str, Any]:
        """Merge the statistics of ``hours``; write ``{reports}{detector}/yyyy/mm/dd/hh/`` reports."""
        window = log_drift.LogWindow()
        unreadable: list[str] = []
        for hour in hours:
            prefix = hour_prefix(self.statistics_prefix, self.detector, hour)
            for key in self._keys(prefix):
                try:
                    window.add(self._read(key))
                except (ValueError, KeyError, TypeError, ClientError, BotoCoreError) as exc:
                    # a damaged document says what broke (never its contents), as the numeric window does
                    unreadable.append(f"{key}: {_why(exc)}")
        baseline, note = self._baseline()
        violations, skipped = log_drift.compare_logs(window, baseline, min_lines=self.min_lines)
        prefix = hour_prefix(self.reports_prefix, self.detector, start)
        documents = (
            (LOG_STATISTICS_FILE, {**window.to_json(), "baseline": note}),
            (drift.VIOLATIONS_FILE, drift.violations_document(violations)),
        )
        for name, document in documents:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=prefix + name,
                Body=drift.dumps(document),
                ContentType="application/json",
            )
        self._emit_metrics(window, len(violations))
        return {
            "detector": self.detector,
            "status": "CompletedWithViolations" if violations else "Completed",
            "files": window.files,
            "lines": window.lines,
            "oov_share": window.oov_share,
            "baseline_oov_share": baseline.oov_share if baseline else None,
            "new_templates": len(window.shapes),
            "violations": len(violations),
            "check_types": sorted({v.check_type for v in violations}),
            "report_uri": f"s3://{self.bucket}/{prefix}",
            "skipped": skipped,
            "unreadable_files": unreadable,
        }

    def _emit_metrics(self, window: log_drift.LogWindow, violations: int) -> None:
        if self.metrics is None:
            return
        defaults = self.metrics.default_dimensions
        with single_metric(
            name="LogDriftViolations", unit=MetricUnit.Count, value=violations, default_dimensions=defaults
        ) as found:
            found.add_dimension(name="EndpointName", value=self.detector)
        with single_metric(
            name="LogNewTemplates",
            unit=MetricUnit.Count,
            value=len(window.shapes),
            default_dimensions=defaults,
        ) as shapes:
            shapes.add_dimension(name="EndpointName", value=self.detector)
        if window.oov_share is not None:
            with single_metric(
                name="LogOovShare",
                unit=MetricUnit.NoUnit,
                value=window.oov_share,
                default_dimensions=defaults,
            ) as share:
                share.add_dimension(name="EndpointName", value=self.detector)

    def _baseline(self) -> tuple[log_drift.LogBaseline | None, str]:
        try:
            model = self.models.lookup()
        except LogModelNotFoundError as exc:
            return None, str(exc)
        uri = model.uri + log_drift.LOG_BASELINE_FILE
        try:
            return log_drift.LogBaseline.from_bytes(self.models.read(uri)), uri
        except (LogModelNotFoundError, ValueError, KeyError, TypeError) as exc:
            return None, f"{uri}: {_why(exc)}"

    def _keys(self, prefix: str) -> list[str]:
        keys = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys += [i["Key"] for i in page.get("Contents", []) if i["Key"].endswith(STATISTICS_SUFFIX)]
        return keys

    def _read(self, key: str) -> log_drift.LogFileStatistics:
        """A file's statistics through the guard of documents another run wrote (a DocumentError
        is a ValueError: the file is named unreadable, the window goes on)."""
        raw = read_at_most(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"], self.max_bytes)
        return log_drift.LogFileStatistics.from_json(read_document(raw, max_bytes=self.max_bytes))


def _why(exc: BaseException) -> str:
    """What broke in a document (the guard's reason, never its contents), else the error's type."""
    return str(exc) if isinstance(exc, DocumentError) else type(exc).__name__
