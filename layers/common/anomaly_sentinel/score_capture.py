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
from datetime import UTC, datetime
from math import isnan, nan
from typing import IO, Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from anomaly_sentinel import alerts
from anomaly_sentinel.capture import CaptureDecoder, Reject, read_lines
from anomaly_sentinel.cutoff import Cutoff, ModelStatsSource, RunningStats, resolve_cutoff
from anomaly_sentinel.dataset import CONTENT_TYPE as DATASET_CONTENT_TYPE
from anomaly_sentinel.dataset import DatasetWriter
from anomaly_sentinel.events import S3Object
from anomaly_sentinel.exceptions import CaptureReadError, ScoringInvariantError
from anomaly_sentinel.scoring import Batch, EndpointClient, RequestPacker, score_batches
from anomaly_sentinel.settings import ScoreCaptureSettings

CAPTURE_SUFFIX = ".jsonl"
ROW_TOO_LARGE = "row-too-large"
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
    dataset_rows: int = 0
    dataset_files: int = 0
    calls: int
    retries: int
    bisections: int
    mean_latency_ms: float | None
    reasons: dict[str, int]
    top_anomalies: list[TopAnomaly]
    alert_message_id: str | None = None

    def summary(self) -> dict[str, Any]:
        """The handler's return value: counts and where to look, no list of anomalies."""
        return {"status": "scored", **self.model_dump(exclude={"top_anomalies", "cutoff_detail"})}


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


def output_keys(key: str, last_modified: datetime, settings: ScoreCaptureSettings) -> tuple[str, str]:
    """``scores/{endpoint}/yyyy/mm/dd/hh/<stem>.jsonl`` and the same under ``rejects/``.

    The hour comes from the capture key (``.../yyyy/mm/dd/hh/file.jsonl``, as data capture
    writes it), else from the object's LastModified: stable per object version either way.
    """
    found = _DATED_KEY.search(key)
    dated = "/".join(found.groups()) if found else last_modified.astimezone(UTC).strftime("%Y/%m/%d/%H")
    name = key.rsplit("/", 1)[-1]
    stem = name[: -len(CAPTURE_SUFFIX)] if name.endswith(CAPTURE_SUFFIX) else name
    tail = f"{settings.endpoint_name}/{dated}/{stem}.jsonl"
    return settings.scores_prefix + tail, settings.rejects_prefix + tail


class _Pass1:
    """State of the streaming pass (decode → pack → score), consumed by pass 2."""

    def __init__(self) -> None:
        self.scores = array("d")
        self.endpoint_reasons: dict[int, str] = {}
        self.file_stats = RunningStats()
        self.calls = self.retries = self.bisections = 0
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
        self.client = EndpointClient(
            runtime, settings.endpoint_name, max_attempts=settings.endpoint_max_attempts, sleep=sleep
        )
        self.model_stats = ModelStatsSource(sagemaker, s3)

    # ------------------------------------------------------------------ the flow
    def process(self, obj: S3Object) -> CaptureReport:
        response = self._open(obj)
        scores_key, rejects_key = output_keys(obj.key, response.get("LastModified") or _now(), self.settings)
        decoder = CaptureDecoder(feature_dim=self.settings.feature_dim)
        fallback = _capture_hour(obj.key) or response.get("LastModified") or _now()
        with (
            tempfile.TemporaryFile("w+", encoding="utf-8", dir=self.tmp_dir) as pending,
            tempfile.TemporaryFile("w+b", dir=self.tmp_dir) as rejects,
            tempfile.TemporaryFile("w+b", dir=self.tmp_dir) as scored_out,
            DatasetWriter(
                self.settings.endpoint_name,
                source_key=obj.key,
                source_identity=obj.identity,
                fallback_time=fallback,
                prefix=self.settings.dataset_prefix,
                tmp_dir=self.tmp_dir,
            ) as dataset,
        ):
            try:
                state = self._pass1(response["Body"], decoder, pending, rejects)
            except (ClientError, BotoCoreError) as exc:
                raise CaptureReadError(f"cannot read {obj.uri}: {exc}") from exc
            finally:
                response["Body"].close()
            cutoff = self._cutoff(state.file_stats)
            totals = self._pass2(state, cutoff, pending, rejects, scored_out, dataset=dataset)
            scored, rejected, anomalies, top = totals
            rejected += decoder.rejected + state.too_large
            if scored + rejected != decoder.records:
                raise ScoringInvariantError(
                    f"{obj.uri}: {scored} scored + {rejected} rejected != {decoder.records} records"
                )
            self._upload(scored_out, scores_key)
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
            reasons["endpoint-rejected"] = endpoint_rejected
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
            dataset_rows=dataset_rows,
            dataset_files=dataset_files,
            calls=state.calls,
            retries=state.retries,
            bisections=state.bisections,
            mean_latency_ms=(1000 * state.latency_s / state.calls) if state.calls else None,
            reasons=reasons,
            top_anomalies=top,
        )
        self._emit_metrics(report)
        if report.anomalies:
            report.alert_message_id = alerts.publish(
                build_alert(report), self.sns, self.settings.alerts_topic_arn
            )
        return report

    def _open(self, obj: S3Object) -> dict[str, Any]:
        request = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.version_id:
            request["VersionId"] = obj.version_id
        try:
            return dict(self.s3.get_object(**request))
        except (ClientError, BotoCoreError) as exc:
            raise CaptureReadError(f"cannot read {obj.uri}: {exc}") from exc

    def _pass1(self, body: Any, decoder: CaptureDecoder, pending: IO[str], rejects: IO[bytes]) -> _Pass1:
        settings = self.settings
        state = _Pass1()
        packer = RequestPacker(settings.max_request_bytes, settings.max_request_rows)

        def batches() -> Iterator[Batch]:
            for item in decoder.decode(read_lines(body, max_line_bytes=settings.max_line_bytes)):
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
            self.client,
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
            state.latency_s += outcome.latency_s
        return state

    def _cutoff(self, file_stats: RunningStats) -> Cutoff:
        settings = self.settings
        model = None
        if settings.anomaly_threshold is None:
            model = self.model_stats.lookup(settings.endpoint_name)
        return resolve_cutoff(
            threshold=settings.anomaly_threshold,
            model=model,
            file=file_stats,
            k=settings.cutoff_k,
            min_records=settings.min_records_for_file_cutoff,
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
    ) -> tuple[int, int, int, list[TopAnomaly]]:
        scored = rejected = anomalies = 0
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
                detail = f"row {bad + 1}: {reason}"
                rejects.write(_jsonl(Reject(line, event_id, "endpoint-rejected", detail).to_json("endpoint")))
                continue
            scored += 1
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
        return scored, rejected, anomalies, ranked

    def _upload(self, handle: IO[bytes], key: str, content_type: str = "application/jsonlines") -> None:
        handle.flush()
        handle.seek(0)
        self.s3.put_object(
            Bucket=self.settings.output_bucket,
            Key=key,
            Body=handle,
            ContentType=content_type,
        )

    def _emit_metrics(self, report: CaptureReport) -> None:
        if self.metrics is None:
            return
        metrics = self.metrics
        metrics.add_dimension(name="EndpointName", value=report.endpoint)
        metrics.add_metric(name="CaptureRecords", unit=MetricUnit.Count, value=report.records)
        metrics.add_metric(name="RecordsScored", unit=MetricUnit.Count, value=report.scored)
        metrics.add_metric(name="RecordsRejected", unit=MetricUnit.Count, value=report.rejected)
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
            f"  {a.event_id or f'line {a.line}'}  {a.inference_time or '-'}  {a.score:.6g}"
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
