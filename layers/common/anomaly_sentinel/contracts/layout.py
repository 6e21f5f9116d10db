"""What is under ``s3://DataBucket/``: every key family, who writes it, who reads it.

Prefixes are the template's defaults (each is a setting; the template passes the same value to
the writer and the reader). ``{e}`` is an endpoint name, ``{hour}`` ``yyyy/mm/dd/hh`` (UTC).

=====================================================  ======================  =====================
Key (template default prefixes)                        Written by              Read by
=====================================================  ======================  =====================
``training/…``                                         people (upload)         StartPipeline, pipeline
``logs/training/…``                                    people (upload)         StartPipeline (logs)
``capture/{e}/…/{hour}/<file>.jsonl``                  endpoint data capture   ScoreCapture
``scores/{e}/{hour}/<capture tail>[~version].jsonl``   ScoreCapture            people, demo
``rejects/{e}/{hour}/<capture tail>[~version].jsonl``  ScoreCapture            people
``statistics/{e}/{hour}/<capture tail>.json``          ScoreCapture            DriftMonitor
``dataset/endpoint={e}/date=YYYY-MM-DD/…`` (CSV)       ScoreCapture            pipeline (retraining)
``drift-reports/{e}/{window start}/statistics.json``   DriftMonitor            people
``drift-reports/{e}/{window start}/``                  DriftMonitor            MonitoringAlert,
``constraint_violations.json``                                                 the next window
``logs/{scores,rejects,statistics}/{e}/{hour}/…``      ScoreLogs               log drift monitor
``drift-reports/{detector}/{window start}/``           log drift monitor       people, LogDriftAlarm
``log_statistics.json``, ``constraint_violations.json``
``pipeline/code/{digest}/<script>``                    pipeline publisher      pipeline steps
``pipeline/runs/{execution}/{route}/…``                pipeline steps          pipeline steps
``<model folder>/model.tar.gz``                        pipeline training       endpoint
``<model folder>/score_stats.json``                    pipeline ScoreStats     scorer, monitor, retraining
``<model folder>/evaluation.json``                     pipeline Evaluate       retraining
``<model folder>/baseline/statistics.json``,           pipeline Baseline       scorer, DriftMonitor
``constraints.json``
=====================================================  ======================  =====================

One function per family: :func:`statistics_key`, :meth:`Window.statistics_prefixes`,
:meth:`Window.report_prefix`, :func:`score_stats_uri`, :func:`baseline_uris`; the capture outputs'
keys are ``score_capture.output_keys``, the log route's ``logs.adapters.output_keys``, the
dataset's ``dataset.partition_prefix`` and the pipeline's ``pipeline/build.py`` (still to move here).

``<model folder>`` is the folder of the model in service's ``ModelDataUrl``
(``pipeline/runs/{execution}/{route}/model/<job>/output``; offline ``models/<execution-id>/``).
The job scripts under ``pipeline/scripts/`` run without this layer and carry copies of the
file names; tests/unit/test_layout.py keeps them equal.

Pure: no AWS calls, no imports beyond pydantic.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Final

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
#: A capture file's per-file statistics (the drift monitor lists only these).
STATISTICS_SUFFIX: Final = ".json"


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


# ---------------------------------------------------------------------------- capture outputs


def statistics_key(scores_key: str, scores_prefix: str, statistics_prefix: str) -> str:
    """``scores/{endpoint}/yyyy/mm/dd/hh/<stem>.jsonl`` → ``statistics/{endpoint}/…/<stem>.json``."""
    tail = scores_key.removeprefix(scores_prefix)
    return statistics_prefix + tail.removesuffix(".jsonl") + STATISTICS_SUFFIX


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

    def statistics_prefixes(self, statistics_prefix: str) -> list[str]:
        return [f"{statistics_prefix}{self.endpoint}/{hour:%Y/%m/%d/%H}/" for hour in self.hours()]

    def report_prefix(self, reports_prefix: str) -> str:
        return f"{reports_prefix}{self.endpoint}/{self.start:%Y/%m/%d/%H}/"


def window_before(moment: datetime, endpoint: str, hours: int) -> Window:
    """The last complete window of ``hours`` (aligned to UTC midnight) that ended at or before ``moment``."""
    moment = moment.astimezone(UTC)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    end = midnight + timedelta(hours=(moment.hour // hours) * hours)
    return Window(endpoint=endpoint, start=end - timedelta(hours=hours), end=end)
