"""One capture file → scored: stream, decode, score, write scores/ and rejects/, metrics, alert.

The object is streamed from S3 line by line and scored as it is decoded, so memory is bounded by
the in-flight requests, not by the file. Two small temporary files stand in for what cannot be
known before the last score (the cutoff may be the file's own mean + k·std): pass 1 writes each
decoded record's identity and its rows' sequence numbers, pass 2 joins them with the scores
(8 bytes per row in memory) and writes the final JSONL that is uploaded. Nothing is written to S3
before every record is accounted for, so a failed invocation leaves no partial output and its
retry starts clean; output keys derive from the object, so a repeated run overwrites, never adds.
"""

from __future__ import annotations

import heapq
import json
import re
import tempfile
import time
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from math import isnan, nan
from typing import IO, Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from anomaly_sentinel import alerts, aws, drift
from anomaly_sentinel.capture import FEATURE_COUNT, CaptureDecoder, Reject, dominant_width, read_lines
from anomaly_sentinel.contracts.layout import statistics_key, window_before
from anomaly_sentinel.contracts.served import ServedModels
from anomaly_sentinel.cutoff import Cutoff, RunningStats, StatsLookup, resolve_cutoff
from anomaly_sentinel.dataset import CONTENT_TYPE as DATASET_CONTENT_TYPE
from anomaly_sentinel.dataset import DatasetWriter
from anomaly_sentinel.events import S3Object
from anomaly_sentinel.exceptions import CaptureReadError, ScoringInvariantError
from anomaly_sentinel.scoring import Batch, EndpointClient, FailureTracker, RequestPacker, score_batches
from anomaly_sentinel.settings import ScoreCaptureSettings

CAPTURE_SUFFIX = ".jsonl"
ROW_TOO_LARGE = "row-too-large"
ENDPOINT_REJECTED = "endpoint-rejected"
ENDPOINT_FAILED = "endpoint-failed"
_DATED_KEY = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")


class MetricsSink(Protocol):
    """What the flow needs from Powertools ``Metrics`` (a test can pass a recorder)."""

    def add_metric(self, name: str, unit: MetricUnit, value: float) -> None: ...

    def add_dimension(self, name: str, value: str) -> None: ...


class TopAnomaly(BaseModel):
    event_id: str | None
    inference_time: str | None
    line: int
    row: int
    score: float


class CaptureReport(BaseModel):
    """What one capture file came to. Kept small: it is also the idempotency record."""

    object: str
    endpoint: str
    records: int
    scored: int
    rejected: int
    rows: int
    anomalies: int
    max_score: float | None
    cutoff: float | None
    cutoff_source: str
    cutoff_detail: str
    scores_uri: str
    rejects_uri: str | None
    statistics_uri: str | None = None
    dataset_rows: int = 0
    dataset_files: int = 0
    #: Dataset rows whose inference time was missing, unreadable or after the file was written
    #: (they take the capture file's hour instead), by that reason.
    dataset_times_replaced: dict[str, int] = {}
    #: Set when the drift window of the file's hour had already run: its rows are in no report.
    unmonitored: str | None = None
    calls: int
    retries: int
    bisections: int
    mean_latency_ms: float | None  # over the calls the endpoint answered
    reasons: dict[str, int]
    top_anomalies: list[TopAnomaly]
    expected_width: int | None = None
    width_source: str = "none"
    failure: str | None = None  # set when the file failed as a whole: one reason a person can act on
    alert_message_id: str | None = None

    @property
    def status(self) -> str:
        return "failed" if self.failure else "scored"

    def summary(self) -> dict[str, Any]:
        """The handler's return value: counts and where to look, no list of anomalies."""
        return {"status": self.status, **self.model_dump(exclude={"top_anomalies", "cutoff_detail"})}


def ignore_reason(obj: S3Object, settings: ScoreCaptureSettings) -> str | None:
    """Why this object is not a capture file to score, or None when it is."""
    if obj.bucket == settings.output_bucket and obj.key.startswith(settings.output_prefixes()):
        return "our own output"  # belt and braces: the rule's pattern already excludes it
    if obj.bucket != settings.capture_bucket:
        return "not the capture bucket"
    if not obj.key.startswith(settings.capture_prefix):
        return "outside capture prefix"
    if not obj.key.endswith(CAPTURE_SUFFIX):
        return "not a .jsonl file"
    if obj.size == 0:
        return "zero-byte object"
    return None


def output_keys(obj: S3Object, last_modified: datetime, settings: ScoreCaptureSettings) -> tuple[str, str]:
    """``scores/{endpoint}/yyyy/mm/dd/hh/<key below the capture prefix>.jsonl``, same under ``rejects/``.

    The hour comes from the capture key (``.../yyyy/mm/dd/hh/file.jsonl``, as data capture
    writes it), else from the object's LastModified. The whole key below the capture prefix is
    kept (and ``~<version>`` when the bucket is versioned), so two capture objects never share
    an output key.
    """
    key = obj.key
    dated = output_hour(obj, last_modified)
    relative = key.removeprefix(settings.capture_prefix).removesuffix(CAPTURE_SUFFIX)
    version = f"~{obj.version_id}" if obj.version_id else ""
    tail = f"{settings.endpoint_name}/{dated}/{relative}{version}{CAPTURE_SUFFIX}"
    return settings.scores_prefix + tail, settings.rejects_prefix + tail


def output_hour(obj: S3Object, last_modified: datetime) -> str:
    """``yyyy/mm/dd/hh``: the hour of the capture key (as data capture files it), else LastModified's."""
    found = _DATED_KEY.search(obj.key)
    return "/".join(found.groups()) if found else last_modified.astimezone(UTC).strftime("%Y/%m/%d/%H")


class _Pass1:
    """State of the streaming pass (decode → pack → score), consumed by pass 2."""

    def __init__(self) -> None:
        self.scores = array("d")
        self.endpoint_reasons: dict[int, str] = {}
        self.file_stats = RunningStats()
        self.calls = self.retries = self.bisections = self.answered = 0
        self.latency_s = 0.0
        self.too_large = 0


class CaptureScorer:
    """Scores capture files on one endpoint; built once per warm container (caches model stats)."""

    def __init__(
        self,
        settings: ScoreCaptureSettings,
        *,
        s3: Any,
        sagemaker: Any,
        runtime: Any,
        sns: Any,
        metrics: MetricsSink | None = None,
        sleep: Any = time.sleep,
        tmp_dir: str | None = None,
    ) -> None:
        self.settings = settings
        self.s3 = s3
        self.sns = sns
        self.metrics = metrics
        self.tmp_dir = tmp_dir
        self.client = EndpointClient.for_settings(runtime, settings, sleep=sleep)
        self.served = ServedModels(sagemaker, s3)

    # ------------------------------------------------------------------ the flow
    def process(self, obj: S3Object) -> CaptureReport:
        response = self._open(obj)
        modified = response.get("LastModified") or _now()
        scores_key, rejects_key = output_keys(obj, modified, self.settings)
        # The model in service, resolved once for the whole file: its statistics only when the
        # cutoff or the width needs them.
        needs_stats = self.settings.anomaly_threshold is None or self.settings.feature_dim is None
        served = self.served.resolve(self.settings.endpoint_name, stats=needs_stats)
        model = served.stats
        width, width_source = self._expected_width(obj, response, model)
        decoder = CaptureDecoder(feature_dim=width)
        client = self.client.for_file()
        tracker = client.tracker
        # Statistics of the accepted rows for the drift monitor, on the edges of the baseline of
        # the model in service (none yet: counts and moments only).
        baseline = served.baseline.baseline if served.baseline is not None else None
        statistics = drift.FileStatisticsBuilder(baseline, seed=obj.identity)
        fallback = _capture_hour(obj.key) or modified
        with (
            tempfile.TemporaryFile("w+", encoding="utf-8", dir=self.tmp_dir) as pending,
            tempfile.TemporaryFile("w+b", dir=self.tmp_dir) as rejects,
            tempfile.TemporaryFile("w+b", dir=self.tmp_dir) as scored_out,
            DatasetWriter(
                self.settings.endpoint_name,
                source_key=obj.key,
                source_identity=obj.identity,
                fallback_time=fallback,
                latest_time=modified,
                prefix=self.settings.dataset_prefix,
                tmp_dir=self.tmp_dir,
            ) as dataset,
        ):
            try:
                state = self._pass1(response["Body"], decoder, pending, rejects, statistics, client=client)
            except (ClientError, BotoCoreError) as exc:
                raise CaptureReadError(f"cannot read {obj.uri}: {aws.error_code(exc)}") from exc
            finally:
                response["Body"].close()
            cutoff = self._cutoff(state.file_stats, model)
            totals = self._pass2(
                state, cutoff, pending, rejects, scored_out, dataset=dataset, tracker=tracker
            )
            scored, rejected, anomalies, top, scored_rows = totals
            rejected += decoder.rejected + state.too_large
            if scored + rejected != decoder.records:
                raise ScoringInvariantError(
                    f"{obj.uri}: {scored} scored + {rejected} rejected != {decoder.records} records"
                )
            self._upload(scored_out, scores_key)
            summary = drift.ScoreSummary(scored_rows, anomalies, cutoff.value, cutoff.source)
            stats = statistics.finish(summary, obj.uri, drift.refused_widths(decoder))
            stats_key = self._write_statistics(obj, modified, stats)
            dataset_files, dataset_rows = 0, dataset.rows
            for day in dataset.files():
                self._upload(day.handle, day.key, DATASET_CONTENT_TYPE)
                dataset_files += 1
            rejects_uri = None
            if rejected:
                self._upload(rejects, rejects_key)
                rejects_uri = f"s3://{self.settings.output_bucket}/{rejects_key}"
        reasons = dict(decoder.reasons)
        if state.too_large:
            reasons[ROW_TOO_LARGE] = state.too_large
        endpoint_rejected = rejected - decoder.rejected - state.too_large
        if endpoint_rejected:
            reasons[ENDPOINT_FAILED if tracker.systematic else ENDPOINT_REJECTED] = endpoint_rejected
        report = CaptureReport(
            object=obj.uri,
            endpoint=self.settings.endpoint_name,
            records=decoder.records,
            scored=scored,
            rejected=rejected,
            rows=decoder.rows,
            anomalies=anomalies,
            max_score=state.file_stats.max,
            cutoff=cutoff.value,
            cutoff_source=cutoff.source,
            cutoff_detail=cutoff.detail,
            scores_uri=f"s3://{self.settings.output_bucket}/{scores_key}",
            rejects_uri=rejects_uri,
            statistics_uri=f"s3://{self.settings.output_bucket}/{stats_key}",
            dataset_rows=dataset_rows,
            dataset_files=dataset_files,
            dataset_times_replaced=dict(dataset.replaced),
            unmonitored=self._unmonitored(output_hour(obj, modified)),
            calls=state.calls,
            retries=state.retries,
            bisections=state.bisections,
            mean_latency_ms=(1000 * state.latency_s / state.answered) if state.answered else None,
            reasons=reasons,
            top_anomalies=top,
            expected_width=width,
            width_source=width_source,
            failure=_failure(decoder, width, width_source, tracker.systematic),
        )
        self._emit_metrics(report)
        if report.failure:
            report.alert_message_id = alerts.publish(
                build_failure_alert(report), self.sns, self.settings.alerts_topic_arn
            )
        elif report.anomalies:
            report.alert_message_id = alerts.publish(
                build_alert(report), self.sns, self.settings.alerts_topic_arn
            )
        return report

    def _write_statistics(self, obj: S3Object, modified: datetime, stats: drift.FileStatistics) -> str:
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

    def _unmonitored(self, dated: str) -> str | None:
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

    def _expected_width(
        self, obj: S3Object, response: dict[str, Any], model: StatsLookup | None
    ) -> tuple[int | None, str]:
        """Features per row: FEATURE_DIM, else the model in service's, else the file's dominant width.

        The last needs a first pass over the object (the same version: by VersionId or ETag).
        """
        if self.settings.feature_dim is not None:
            return self.settings.feature_dim, "setting"
        if model is not None and model.stats is not None and model.stats.feature_dim is not None:
            return model.stats.feature_dim, "model"
        request: dict[str, Any] = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.version_id:
            request["VersionId"] = obj.version_id
        elif response.get("ETag"):
            request["IfMatch"] = response["ETag"]
        try:
            body = self.s3.get_object(**request)["Body"]
            try:
                width = dominant_width(body, self.settings.max_line_bytes)
            finally:
                body.close()
        except (ClientError, BotoCoreError) as exc:
            raise CaptureReadError(f"cannot read {obj.uri}: {aws.error_code(exc)}") from exc
        return width, "file"

    def _open(self, obj: S3Object) -> dict[str, Any]:
        return aws.open_version(self.s3, obj.bucket, obj.key, obj.version_id, CaptureReadError)

    def _pass1(
        self,
        body: Any,
        decoder: CaptureDecoder,
        pending: IO[str],
        rejects: IO[bytes],
        statistics: drift.FileStatisticsBuilder,
        *,
        client: EndpointClient,
    ) -> _Pass1:
        settings = self.settings
        state = _Pass1()
        packer = RequestPacker(settings.max_request_bytes, settings.max_request_rows)

        def batches() -> Iterator[Batch]:
            observe = statistics.observe
            for item in decoder.decode(read_lines(body, max_line_bytes=settings.max_line_bytes)):
                observe(item)
                if isinstance(item, Reject):
                    rejects.write(_jsonl(item.to_json()))
                    continue
                if not all(map(packer.fits_alone, item.rows)):
                    state.too_large += 1
                    detail = f"a row is over the request limit of {settings.max_request_bytes} bytes"
                    rejects.write(_jsonl(Reject(item.line, item.event_id, ROW_TOO_LARGE, detail).to_json()))
                    continue
                meta = [item.line, item.event_id, item.inference_id, item.inference_time]
                # The rows go along (to a temporary file): accepted ones join the production dataset.
                pending.write(json.dumps([*meta, packer.next_seq, len(item.rows), item.rows]) + "\n")
                for row in item.rows:
                    sealed = packer.add(row)
                    if sealed is not None:
                        yield sealed
            last = packer.flush()
            if last is not None:
                yield last

        outcomes = score_batches(
            batches(),
            client,
            concurrency=settings.scoring_concurrency,
            max_inflight_bytes=settings.max_inflight_bytes,
        )
        for outcome in outcomes:
            if outcome.first_seq != len(state.scores):
                raise ScoringInvariantError("batch outcomes arrived out of order")
            for score in outcome.scores:
                if score is None:
                    state.scores.append(nan)
                else:
                    state.scores.append(score)
                    state.file_stats.add(score)
            for offset, reason in outcome.reasons.items():
                state.endpoint_reasons[outcome.first_seq + offset] = reason
            state.calls += outcome.calls
            state.retries += outcome.retries
            state.bisections += outcome.bisections
            state.answered += outcome.answered
            state.latency_s += outcome.latency_s
        return state

    def _cutoff(self, file_stats: RunningStats, model: StatsLookup | None) -> Cutoff:
        settings = self.settings
        return resolve_cutoff(
            threshold=settings.anomaly_threshold,
            model=model,
            file=file_stats,
            k=settings.cutoff_k,
            min_records=settings.min_records_for_file_cutoff,
            rule=settings.cutoff_rule,
        )

    def _pass2(
        self,
        state: _Pass1,
        cutoff: Cutoff,
        pending: IO[str],
        rejects: IO[bytes],
        out: IO[bytes],
        *,
        dataset: DatasetWriter,
        tracker: FailureTracker,
    ) -> tuple[int, int, int, list[TopAnomaly], int]:
        scored = rejected = anomalies = scored_rows = 0
        top: list[tuple[float, int, int, str | None, str | None]] = []
        keep = self.settings.top_anomalies
        pending.seek(0)
        for entry in pending:
            line, event_id, inference_id, inference_time, first, count, rows = json.loads(entry)
            row_scores = state.scores[first : first + count]
            bad = next((offset for offset, score in enumerate(row_scores) if isnan(score)), None)
            if bad is not None:
                rejected += 1
                reason = state.endpoint_reasons.get(first + bad, "not scored")
                code = ENDPOINT_REJECTED if tracker.systematic is None else ENDPOINT_FAILED
                detail = f"row {bad}: {reason}"  # the base of the scores' "row"
                rejects.write(_jsonl(Reject(line, event_id, code, detail).to_json("endpoint")))
                continue
            scored += 1
            scored_rows += count
            for row, score in enumerate(row_scores):
                dataset.add(inference_time, score, rows[row])
                anomaly = cutoff.flags(score)
                out.write(
                    _jsonl(
                        {
                            "eventId": event_id,
                            "inferenceId": inference_id,
                            "inferenceTime": inference_time,
                            "line": line,
                            "row": row,
                            "score": score,
                            "anomaly": anomaly,
                            "cutoff": cutoff.value,
                        }
                    )
                )
                if anomaly:
                    anomalies += 1
                    item = (score, -line, -row, event_id, inference_time)
                    if len(top) < keep:
                        heapq.heappush(top, item)
                    else:
                        heapq.heappushpop(top, item)
        ranked = [
            TopAnomaly(event_id=e, inference_time=t, line=-ln, row=-r, score=s)
            for s, ln, r, e, t in sorted(top, reverse=True)
        ]
        return scored, rejected, anomalies, ranked, scored_rows

    def _upload(self, handle: IO[bytes], key: str, content_type: str = "application/jsonlines") -> None:
        aws.upload(self.s3, self.settings.output_bucket, key, handle, content_type)

    def _emit_metrics(self, report: CaptureReport) -> None:
        if self.metrics is None:
            return
        metrics = self.metrics
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
            metrics.add_metric(
                name="EndpointLatency", unit=MetricUnit.Milliseconds, value=report.mean_latency_ms
            )


def build_alert(report: CaptureReport) -> alerts.Alert:
    """One SNS message per file with anomalies: counts, top anomalies, cutoff and its source, URIs."""
    stem = report.object.rsplit("/", 1)[-1]
    plural = "y" if report.anomalies == 1 else "ies"
    lines = [
        f"Capture file {report.object} was scored on endpoint {report.endpoint}.",
        "",
        f"Records: {report.records}  scored: {report.scored}  rejected: {report.rejected}  "
        f"anomalies: {report.anomalies}",
        f"Cutoff: {report.cutoff:.6g} (source: {report.cutoff_source}; {report.cutoff_detail})"
        if report.cutoff is not None
        else f"Cutoff: none ({report.cutoff_detail})",
        f"Max score: {report.max_score:.6g}" if report.max_score is not None else "Max score: -",
        "",
        f"Top {len(report.top_anomalies)} anomalies (eventId, inferenceTime, score):",
        *(
            f"  {alerts.shorten(a.event_id or f'line {a.line}')}  {alerts.shorten(a.inference_time or '-')}  "
            f"{a.score:.6g}"
            for a in report.top_anomalies
        ),
        "",
        f"Scores:  {report.scores_uri}",
        f"Rejects: {report.rejects_uri or 'none'}",
    ]
    return alerts.Alert(
        kind="anomaly",
        severity="warning",
        endpoint=report.endpoint,
        subject=f"{report.anomalies} anomal{plural} on {report.endpoint} in {stem}",
        body="\n".join(lines),
    )


def _failure(
    decoder: CaptureDecoder, width: int | None, width_source: str, systematic: str | None
) -> str | None:
    """Why the file failed as a whole (None when it did not): the endpoint failed every request,
    or no record has the model's feature count."""
    if systematic is not None:
        shape = f"; the file's rows have {width} features" if width is not None else ""
        return (
            f"the endpoint failed every request the same way: {systematic}{shape}. "
            "Check that the model in service expects this file's features and that it is healthy"
        )
    if width_source in ("model", "setting") and decoder.decoded == 0 and decoder.reasons.get(FEATURE_COUNT):
        found = {w: n for w, n in decoder.widths.items() if w != width}
        file_width = max(found, key=lambda w: (found[w], w)) if found else None
        has = f"file has {file_width}" if file_width is not None else "no row matches"
        if width_source == "setting":
            return f"FeatureDim expects {width} features, {has}: send rows of that width or change FeatureDim"
        return f"model expects {width} features, {has}: send rows of the model's width or retrain"
    return None


def build_failure_alert(report: CaptureReport) -> alerts.Alert:
    """One critical SNS message for a file that failed as a whole: the reason, counts, URIs."""
    return alerts.file_failed(
        what="Capture file",
        uri=report.object,
        endpoint=report.endpoint,
        failure=report.failure or "",
        counts=f"Records: {report.records}  scored: {report.scored}  rejected: {report.rejected}  "
        f"endpoint calls: {report.calls}",
        rejects_uri=report.rejects_uri,
        subject="Scoring failed",
    )


def _jsonl(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, separators=(",", ":")) + "\n").encode("utf-8")


def _capture_hour(key: str) -> datetime | None:
    """The hour data capture filed the object under (``…/yyyy/mm/dd/hh/file.jsonl``), UTC."""
    found = _DATED_KEY.search(key)
    if not found:
        return None
    year, month, day, hour = (int(part) for part in found.groups())
    try:
        return datetime(year, month, day, hour, tzinfo=UTC)
    except ValueError:
        return None


def _now() -> datetime:
    return datetime.now(UTC)
