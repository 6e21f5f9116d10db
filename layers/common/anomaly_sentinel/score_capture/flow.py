"""The use case: one capture file → scored, stored, counted and alerted, as a sequence of steps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from anomaly_sentinel import drift
from anomaly_sentinel.capture import CaptureDecoder, read_lines
from anomaly_sentinel.contracts.served import ServedModels
from anomaly_sentinel.cutoff import Cutoff, RunningStats, StatsLookup, resolve_cutoff
from anomaly_sentinel.dataset import CONTENT_TYPE as DATASET_CONTENT_TYPE
from anomaly_sentinel.events import S3Object
from anomaly_sentinel.exceptions import ScoringInvariantError
from anomaly_sentinel.score_capture.adapters import CaptureStore, emit_metrics, reading
from anomaly_sentinel.score_capture.keys import capture_hour, output_hour, output_keys
from anomaly_sentinel.score_capture.passes import Spools, join_scores, open_spools, stream_and_score
from anomaly_sentinel.score_capture.report import (
    CaptureReport,
    Rejections,
    build_alert,
    build_failure_alert,
    failure_reason,
)
from anomaly_sentinel.scoring.files import FileScorer, endpoint_reason, publish_alert
from anomaly_sentinel.settings import ScoreCaptureSettings


class CaptureScorer(FileScorer[ScoreCaptureSettings]):
    """Scores capture files on one endpoint; built once per warm container (caches model stats)."""

    def _build(self) -> None:
        self.store = CaptureStore(self.s3, self.settings)
        self.served = ServedModels(self.sagemaker, self.s3)

    def process(self, obj: S3Object) -> CaptureReport:
        settings = self.settings
        response = self.store.open(obj)
        modified = response.get("LastModified") or _now()
        # The model in service, resolved once for the whole file: its statistics only when the
        # cutoff or the width needs them.
        needs_stats = settings.anomaly_threshold is None or settings.feature_dim is None
        served = self.served.resolve(settings.endpoint_name, stats=needs_stats)
        width = self._expected_width(obj, response, served.stats)
        decoder = CaptureDecoder(feature_dim=width.features)
        client = self.client.for_file()
        # Statistics of the accepted rows for the drift monitor, on the edges of the baseline of
        # the model in service (none yet: counts and moments only).
        baseline = served.baseline.baseline if served.baseline is not None else None
        statistics = drift.FileStatisticsBuilder(baseline, seed=obj.uri)
        fallback = capture_hour(obj.key) or modified
        with open_spools(settings, obj, fallback, modified, self.tmp_dir) as spools:
            with reading(obj, response["Body"]) as body:
                items = decoder.decode(read_lines(body, max_line_bytes=settings.max_line_bytes))
                streamed = stream_and_score(items, spools, statistics, client, settings)
            cutoff = self._cutoff(streamed.file_stats, served.stats)
            code = endpoint_reason(client.tracker.systematic)
            joined = join_scores(streamed, cutoff, spools, keep=settings.top_anomalies, endpoint_code=code)
            rejections = Rejections(decoder, streamed.too_large, joined.rejected, code)
            if joined.scored + rejections.total != decoder.records:
                raise ScoringInvariantError(
                    f"{obj.uri}: {joined.scored} scored + {rejections.total} rejected "
                    f"!= {decoder.records} records"
                )
            summary = drift.ScoreSummary(joined.scored_rows, joined.anomalies, cutoff.value, cutoff.source)
            stats = statistics.finish(summary, obj.uri, drift.refused_widths(decoder))
            stored = self._store(obj, modified, spools, stats, rejections)
        report = CaptureReport(
            object=obj.uri,
            endpoint=settings.endpoint_name,
            records=decoder.records,
            scored=joined.scored,
            rejected=rejections.total,
            rows=decoder.rows,
            anomalies=joined.anomalies,
            max_score=streamed.file_stats.max,
            cutoff=cutoff.value,
            cutoff_source=cutoff.source,
            cutoff_detail=cutoff.detail,
            scores_uri=f"s3://{settings.output_bucket}/{stored.scores_key}",
            rejects_uri=stored.rejects_uri,
            statistics_uri=f"s3://{settings.output_bucket}/{stored.statistics_key}",
            dataset_rows=stored.dataset_rows,
            dataset_files=stored.dataset_files,
            dataset_times_replaced=stored.dataset_times_replaced,
            unmonitored=self.store.unmonitored(output_hour(obj, modified)),
            calls=streamed.calls,
            retries=streamed.retries,
            bisections=streamed.bisections,
            mean_latency_ms=streamed.mean_latency_ms,
            reasons=rejections.reasons(),
            top_anomalies=joined.top,
            expected_width=width.features,
            width_source=width.source,
            failure=failure_reason(decoder, width.features, width.source, client.tracker.systematic),
        )
        emit_metrics(self.metrics, report)
        report.alert_message_id = publish_alert(
            report, self.sns, settings.alerts_topic_arn, failed=build_failure_alert, anomalous=build_alert
        )
        return report

    def _expected_width(self, obj: S3Object, response: dict[str, Any], model: StatsLookup | None) -> Width:
        """Features per row: FEATURE_DIM, else the model in service's, else the file's dominant width.

        The last needs a first pass over the object (the same version: by VersionId or ETag).
        """
        if self.settings.feature_dim is not None:
            return Width(self.settings.feature_dim, "setting")
        if model is not None and model.stats is not None and model.stats.feature_dim is not None:
            return Width(model.stats.feature_dim, "model")
        return Width(self.store.file_width(obj, response), "file")

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

    def _store(
        self,
        obj: S3Object,
        modified: datetime,
        spools: Spools,
        stats: drift.FileStatistics,
        rejections: Rejections,
    ) -> Stored:
        """Every output uploaded, once every record is accounted for: a failed run writes nothing."""
        scores_key, rejects_key = output_keys(obj, modified, self.settings)
        self.store.upload(spools.scores, scores_key)
        statistics_key = self.store.write_statistics(obj, modified, stats)
        dataset = spools.dataset
        dataset_files, dataset_rows = 0, dataset.rows
        for day in dataset.files():
            self.store.upload(day.handle, day.key, DATASET_CONTENT_TYPE)
            dataset_files += 1
        rejects_uri = None
        if rejections.total:
            self.store.upload(spools.rejects, rejects_key)
            rejects_uri = f"s3://{self.settings.output_bucket}/{rejects_key}"
        return Stored(
            scores_key, rejects_uri, statistics_key, dataset_rows, dataset_files, dict(dataset.replaced)
        )


class Width(NamedTuple):
    """Features per row the file is decoded against, and who said so (setting, model, file)."""

    features: int | None
    source: str


@dataclass(frozen=True, slots=True)
class Stored:
    """Where a file's outputs went."""

    scores_key: str
    rejects_uri: str | None
    statistics_key: str
    dataset_rows: int
    dataset_files: int
    dataset_times_replaced: dict[str, int]


def _now() -> datetime:
    return datetime.now(UTC)
