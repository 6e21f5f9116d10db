"""What is under ``s3://DataBucket/``: every key family, who writes it, who reads it.

Prefixes are the template's defaults (each is a setting; the template passes the same value to
the writer and the reader; each function below takes it as a parameter, its default named beside
it). ``{e}`` is an endpoint name, ``{hour}`` ``yyyy/mm/dd/hh`` (UTC).

=====================================================  ======================  =====================
Key (template default prefixes)                        Written by              Read by
=====================================================  ======================  =====================
``training/…``                                         people (upload)         StartPipeline, pipeline
``logs/training/…``                                    people (upload)         StartPipeline (logs)
``capture/{e}/…/{hour}/<file>.jsonl``                  endpoint data capture   ScoreCapture
``scores/{e}/{hour}/<capture tail>[~version].jsonl``   ScoreCapture            people, demo
``rejects/{e}/{hour}/<capture tail>[~version].jsonl``  ScoreCapture            people
``statistics/{e}/{hour}/<capture tail>.json``          ScoreCapture            DriftMonitor
``dataset/endpoint={e}/date=YYYY-MM-DD/``              ScoreCapture            pipeline (retraining)
``<capture stem>-{digest}.csv``
``drift-reports/{e}/{window start}/statistics.json``   DriftMonitor            people
``drift-reports/{e}/{window start}/``                  DriftMonitor            MonitoringAlert,
``constraint_violations.json``                                                 the next window
``logs/{scores,rejects,statistics}/{e}/{hour}/``       ScoreLogs               log drift monitor
``<log tail>[~version].{csv,jsonl,json}``
``drift-reports/{detector}/{window start}/``           log drift monitor       people, LogDriftAlarm
``log_statistics.json``, ``constraint_violations.json``
``pipeline/code/{digest}/<script>``                    pipeline publisher      pipeline steps
``pipeline/definitions/{digest}.json``                 pipeline publisher      the stack's pipeline
``pipeline/runs/{execution}/{route}/{what}/…``         pipeline steps          pipeline steps
``<model folder>/model.tar.gz``                        pipeline training       endpoint
``<model folder>/score_stats.json``                    pipeline ScoreStats     scorer, monitor, retraining
``<model folder>/evaluation.json``                     pipeline Evaluate       retraining
``<model folder>/baseline/statistics.json``,           pipeline Baseline       scorer, DriftMonitor
``constraints.json``
=====================================================  ======================  =====================

One function per family, in the table's order: :func:`capture_output_keys`, :func:`statistics_key`,
:func:`dataset_key` (:func:`dataset_endpoint_prefix`, :func:`dataset_partition_prefix`,
:func:`dataset_file_name`), :meth:`Window.statistics_prefixes` and :meth:`Window.report_prefix`
(both :func:`hour_prefix`, which the log drift window uses too), :func:`log_output_keys`,
:func:`pipeline_code_uri`, :func:`pipeline_run_parts`, :func:`training_output_parts`,
:func:`score_stats_uri`, :func:`baseline_uris`. The writers and readers in the layer call these;
none composes a key itself.

``<model folder>`` is the folder of the model in service's ``ModelDataUrl``
(``pipeline/runs/{execution}/{route}/model/<job>/output``; offline ``models/<execution-id>/``).
What runs without this layer carries copies, and tests/unit/test_layout.py keeps them equal:
the job scripts under ``pipeline/scripts/`` (the file names, the dataset's partition name), the
pipeline publisher (``pipeline/code/``; ``pipeline/definitions/`` is its own: the digest of the
definition it renders, the key the stack's pipeline reads) and the offline twin's log route
(``pipeline/runs/``).
``pipeline/build.py`` (build time) imports this module; its SageMaker ``Join`` values are the
lists :func:`pipeline_run_parts` and :func:`training_output_parts` return.

Pure: no AWS calls, no imports beyond pydantic and the standard library.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Final, TypeVar

from pydantic import BaseModel, ConfigDict, computed_field

#: Beside ``model.tar.gz`` (the pipeline's ScoreStats, Evaluate and Baseline steps write them).
MODEL_ARTEFACT_FILE: Final = "model.tar.gz"
SCORE_STATS_FILE: Final = "score_stats.json"
EVALUATION_FILE: Final = "evaluation.json"
BASELINE_FOLDER: Final = "baseline"
#: Model Monitor's file names: a baseline's and a drift report's.
STATISTICS_FILE: Final = "statistics.json"
CONSTRAINTS_FILE: Final = "constraints.json"
VIOLATIONS_FILE: Final = "constraint_violations.json"
#: A capture file's per-file statistics (the drift monitor lists only these); a log file's too.
STATISTICS_SUFFIX: Final = ".json"
#: What data capture writes; its scores and rejects keep the suffix.
CAPTURE_SUFFIX: Final = ".jsonl"
#: A log file's scores (``session,score,anomaly`` rows) and rejects.
LOG_SCORES_SUFFIX: Final = ".csv"
LOG_REJECTS_SUFFIX: Final = ".jsonl"
#: The log drift window's merged statistics, beside Model Monitor's ``constraint_violations.json``.
LOG_STATISTICS_FILE: Final = "log_statistics.json"

#: Template defaults of the prefixes (the settings' defaults; tests/unit/test_layout.py checks them).
SCORES_PREFIX: Final = "scores/"
REJECTS_PREFIX: Final = "rejects/"
STATISTICS_PREFIX: Final = "statistics/"
DATASET_PREFIX: Final = "dataset/"
REPORTS_PREFIX: Final = "drift-reports/"
LOG_SCORES_PREFIX: Final = "logs/scores/"
LOG_REJECTS_PREFIX: Final = "logs/rejects/"
LOG_STATISTICS_PREFIX: Final = "logs/statistics/"
#: The pipeline's own prefix (no setting: the publisher and the definition share it).
PIPELINE_PREFIX: Final = "pipeline/"

_DIGEST_CHARS = 12
_Part = TypeVar("_Part")


def hour_path(moment: datetime) -> str:
    """``yyyy/mm/dd/hh`` of ``moment`` in UTC (the hour folder of every output key)."""
    return moment.astimezone(UTC).strftime("%Y/%m/%d/%H")


def hour_prefix(prefix: str, name: str, hour: datetime) -> str:
    """``{prefix}{name}/yyyy/mm/dd/hh/``: one hour of an endpoint's (or log detector's) files.

    ``hour`` is taken as given (the windows are built in UTC).
    """
    return f"{prefix}{name}/{hour:%Y/%m/%d/%H}/"


# ---------------------------------------------------------------------------- model artefacts


def model_folder(model_data_url: str) -> str:
    """``s3://b/p/model.tar.gz`` → ``s3://b/p`` (where the pipeline writes the model's documents)."""
    return model_data_url.rsplit("/", 1)[0]


def score_stats_uri(model_data_url: str) -> str:
    """``s3://b/p/model.tar.gz`` → ``s3://b/p/score_stats.json``."""
    return f"{model_folder(model_data_url)}/{SCORE_STATS_FILE}"


def baseline_uris(model_data_url: str) -> tuple[str, str]:
    """Where the pipeline puts a model's baseline: ``baseline/`` beside ``model.tar.gz``."""
    folder = f"{model_folder(model_data_url)}/{BASELINE_FOLDER}"
    return f"{folder}/{STATISTICS_FILE}", f"{folder}/{CONSTRAINTS_FILE}"


def _versioned_tail(endpoint: str, hour: str, relative: str, version_id: str | None) -> str:
    """``{endpoint}/{hour}/{key below the source prefix}[~version]``: one output per object version."""
    version = f"~{version_id}" if version_id else ""
    return f"{endpoint}/{hour}/{relative}{version}"


# ---------------------------------------------------------------------------- capture outputs


def capture_output_keys(
    capture_key: str,
    version_id: str | None,
    hour: str,
    *,
    endpoint: str,
    capture_prefix: str,
    scores_prefix: str = SCORES_PREFIX,
    rejects_prefix: str = REJECTS_PREFIX,
) -> tuple[str, str]:
    """``scores/{endpoint}/{hour}/<key below the capture prefix>[~version].jsonl``, same under ``rejects/``.

    The whole key below the capture prefix is kept (and ``~<version>`` when the bucket is
    versioned), so two capture objects never share an output key.
    """
    relative = capture_key.removeprefix(capture_prefix).removesuffix(CAPTURE_SUFFIX)
    tail = _versioned_tail(endpoint, hour, relative, version_id) + CAPTURE_SUFFIX
    return scores_prefix + tail, rejects_prefix + tail


def statistics_key(scores_key: str, scores_prefix: str, statistics_prefix: str) -> str:
    """``scores/{endpoint}/yyyy/mm/dd/hh/<stem>.jsonl`` → ``statistics/{endpoint}/…/<stem>.json``."""
    tail = scores_key.removeprefix(scores_prefix)
    return statistics_prefix + tail.removesuffix(".jsonl") + STATISTICS_SUFFIX


# ---------------------------------------------------------------------------- production dataset


def dataset_endpoint_prefix(endpoint: str, prefix: str = DATASET_PREFIX) -> str:
    """``dataset/endpoint={endpoint}/``: everything recorded for one endpoint."""
    return f"{prefix}endpoint={endpoint}/"


def dataset_partition_prefix(endpoint: str, day: date, prefix: str = DATASET_PREFIX) -> str:
    """``dataset/endpoint={endpoint}/date=YYYY-MM-DD/``: one UTC day (a Hive partition)."""
    return f"{dataset_endpoint_prefix(endpoint, prefix)}date={day.isoformat()}/"


def dataset_file_name(capture_uri: str) -> str:
    """``{capture stem}-{digest}.csv``: readable, and one per capture object (``s3://bucket/key``).

    Not per version: a capture file scored again (copied onto itself, a new version) replaces its
    rows instead of adding them a second time, as its statistics replace theirs in the drift window.
    """
    stem = capture_uri.rsplit("/", 1)[-1].removesuffix(CAPTURE_SUFFIX) or "capture"
    digest = hashlib.sha256(capture_uri.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]
    return f"{stem}-{digest}.csv"


def dataset_key(endpoint: str, day: date, file_name: str, prefix: str = DATASET_PREFIX) -> str:
    """One capture object's rows of one day: the partition prefix and :func:`dataset_file_name`."""
    return dataset_partition_prefix(endpoint, day, prefix) + file_name


# ---------------------------------------------------------------------------- log outputs


def log_output_keys(
    log_key: str,
    version_id: str | None,
    landed: datetime,
    *,
    endpoint: str,
    logs_prefix: str,
    scores_prefix: str = LOG_SCORES_PREFIX,
    rejects_prefix: str = LOG_REJECTS_PREFIX,
    statistics_prefix: str = LOG_STATISTICS_PREFIX,
) -> tuple[str, str, str]:
    """``logs/scores/{endpoint}/{hour}/<key below LogsPrefix>[~version].csv``; rejects (``.jsonl``)
    and statistics (``.json``) alike. The hour is when the object landed (the drift monitor's window)."""
    tail = _versioned_tail(endpoint, hour_path(landed), log_key.removeprefix(logs_prefix), version_id)
    return (
        scores_prefix + tail + LOG_SCORES_SUFFIX,
        rejects_prefix + tail + LOG_REJECTS_SUFFIX,
        statistics_prefix + tail + STATISTICS_SUFFIX,
    )


# ---------------------------------------------------------------------------- the pipeline


def pipeline_code_prefix(digest: str, prefix: str = PIPELINE_PREFIX) -> str:
    """``pipeline/code/{digest}/``: the job scripts, content-addressed (a new deployment never
    changes the code of a running execution)."""
    return f"{prefix}code/{digest}/"


def pipeline_code_uri(bucket: str, digest: str, script: str = "", prefix: str = PIPELINE_PREFIX) -> str:
    """``s3://{bucket}/pipeline/code/{digest}/{script}``; no script: the prefix itself."""
    return f"s3://{bucket}/{pipeline_code_prefix(digest, prefix)}{script}"


def pipeline_run_parts(
    bucket: str, execution: _Part, route: str, what: str, prefix: str = PIPELINE_PREFIX
) -> list[str | _Part]:
    """``s3://{bucket}/pipeline/runs``, ``{execution}``, ``{route}``, ``{what}``: joined by ``/``, one
    place per execution (a list: the definition joins it with the execution id at run time)."""
    return [f"s3://{bucket}/{prefix}runs", execution, route, what]


def training_output_parts(output_path: _Part, job: _Part) -> list[_Part | str]:
    """``{output path}``, ``{job}``, ``output``: where a SageMaker training job leaves
    ``model.tar.gz`` (joined by ``/``; the model folder of the table)."""
    return [output_path, job, "output"]


# ---------------------------------------------------------------------------- drift windows


class Window(BaseModel):
    """One monitoring window of one endpoint: [start, end)."""

    model_config = ConfigDict(frozen=True)

    endpoint: str
    start: datetime
    end: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def identity(self) -> str:
        """The window's execution identity (what idempotency and the alert dedupe on)."""
        return f"drift-monitor/{self.endpoint}/{self.start:%Y-%m-%dT%H:%M:%SZ}"

    def hours(self) -> Iterator[datetime]:
        moment = self.start
        while moment < self.end:
            yield moment
            moment += timedelta(hours=1)

    def statistics_prefixes(self, statistics_prefix: str = STATISTICS_PREFIX) -> list[str]:
        return [hour_prefix(statistics_prefix, self.endpoint, hour) for hour in self.hours()]

    def report_prefix(self, reports_prefix: str = REPORTS_PREFIX) -> str:
        return hour_prefix(reports_prefix, self.endpoint, self.start)


def window_before(moment: datetime, endpoint: str, hours: int) -> Window:
    """The last complete window of ``hours`` (aligned to UTC midnight) that ended at or before ``moment``."""
    moment = moment.astimezone(UTC)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    end = midnight + timedelta(hours=(moment.hour // hours) * hours)
    return Window(endpoint=endpoint, start=end - timedelta(hours=hours), end=end)
