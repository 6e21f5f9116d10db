"""The shapes several parts of the stack agree on, each defined once.

A package both ends import: :mod:`.layout` (every key of the data bucket), :mod:`.served` (the
model in service, resolved once per invocation), :mod:`.messages` (what one function sends
another). This module holds the small shared pieces below.

The pipeline writes, the retraining steps, the scoring function and the local twin read: file
names, model-package metadata keys, score statistics, the retraining lock key, S3 URIs, and how an
endpoint leads to the model artefact it serves. The standard-library-only job scripts under
``pipeline/scripts/`` cannot import this package; they carry copies that a test keeps equal.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator

from anomaly_sentinel.contracts.layout import EVALUATION_FILE as EVALUATION_FILE
from anomaly_sentinel.contracts.layout import MODEL_ARTEFACT_FILE as MODEL_ARTEFACT_FILE
from anomaly_sentinel.contracts.layout import SCORE_STATS_FILE as SCORE_STATS_FILE
from anomaly_sentinel.contracts.layout import score_stats_uri as score_stats_uri
from anomaly_sentinel.contracts.messages import LOCK_PREFIX as LOCK_PREFIX
from anomaly_sentinel.documents import DOCUMENT_MAX_DEPTH as DOCUMENT_MAX_DEPTH
from anomaly_sentinel.documents import read_document as read_document
from anomaly_sentinel.exceptions import DocumentError as DocumentError
from anomaly_sentinel.exceptions import SentinelError

#: Largest score_stats.json read (a few hundred bytes when the pipeline writes it).
SCORE_STATS_MAX_BYTES = 1024 * 1024

#: CustomerMetadataProperties keys of a registered model package.
METADATA_EXECUTION = "pipeline_execution_arn"
METADATA_SCORE_STATS = "score_stats_uri"
METADATA_METRIC = "objective_metric"
METADATA_VALUE = "objective_value"
#: evaluation.json (candidate, incumbent and baseline on one labelled set) and the training data.
METADATA_EVALUATION = "evaluation_uri"
METADATA_TRAINING_DATA = "training_data"
#: A log model package's directory (templates.json, vector_spec.json, detector.json, ...): s3://…/.
METADATA_LOG_MODEL = "log_model_uri"


#: The EventBridge event the drift monitor puts after each window; the monitoring responder reads it.
DRIFT_EVENT_SOURCE = "anomaly-sentinel.drift-monitor"
DRIFT_EVENT_DETAIL_TYPE = "Drift Monitoring Execution Status Change"

#: Serverless inference rejects request payloads over 4 MB; stay just under it (MB and MiB alike).
SERVERLESS_PAYLOAD_LIMIT = 4_000_000


class S3UriError(SentinelError, ValueError):
    """A string that should be an ``s3://bucket/key`` URI is not one."""


#: k of the ``mean + k std`` cutoff when a model's statistics carry no cutoff of their own.
DEFAULT_CUTOFF_K = 3.0


class StatsCutoff(BaseModel):
    """The production cutoff the pipeline chose for a model: a training-score quantile for an alert budget."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    rule: str = "quantile"
    quantile: float = Field(gt=0, lt=1)
    alert_budget: float | None = Field(default=None, gt=0, lt=1)
    value: float = Field(allow_inf_nan=False)


class ScoreStats(BaseModel):
    """What the pipeline publishes about the training scores of one model (score_stats.json)."""

    model_config = ConfigDict(frozen=True)

    count: int = Field(ge=1)
    mean: float = Field(allow_inf_nan=False)
    std: float = Field(ge=0, allow_inf_nan=False)
    min: float = Field(allow_inf_nan=False)
    max: float = Field(allow_inf_nan=False)
    quantiles: dict[str, float] = Field(default_factory=dict)
    #: The model's input width, when the pipeline published it (the decoder's expected width).
    feature_dim: int | None = Field(default=None, ge=1)
    #: Absent from statistics written before the alert-budget cutoff (they fall back to mean + k std).
    cutoff: StatsCutoff | None = None

    def production_cutoff(self, k: float = DEFAULT_CUTOFF_K, rule: str = "quantile") -> tuple[float, str]:
        """The cutoff this model's statistics set, and how it was chosen.

        The same rule as ``pipeline/scripts/score_stats.model_cutoff`` (a test keeps them equal):
        the statistics' own quantile cutoff, else ``mean + k std``; ``rule="mean-std"`` always
        takes ``mean + k std``.
        """
        if rule == "quantile" and self.cutoff is not None:
            return self.cutoff.value, f"quantile {self.cutoff.quantile:g} of the training scores"
        return self.mean + k * self.std, f"mean + {k:g} std of the training scores"

    @field_validator("quantiles")
    @classmethod
    def _quantile_keys(cls, value: dict[str, float]) -> dict[str, float]:
        """Keys are probabilities (``"0.99"``) and values finite: the score-drift test reads both."""
        for key, quantile in value.items():
            try:
                probability = float(key)
            except ValueError:
                raise ValueError(f"quantile key {key[:40]!r} is not a number") from None
            if not 0 <= probability <= 1 or not math.isfinite(quantile):
                raise ValueError(f"quantile {key[:40]!r}: {quantile} is not a finite value at a probability")
        return value

    @property
    def comparable(self) -> bool:
        """Whether ``spread`` means anything: finite numbers and a positive mean."""
        return math.isfinite(self.mean) and math.isfinite(self.std) and self.mean > 0 and self.std >= 0

    @property
    def spread(self) -> float:
        """Coefficient of variation of the training scores: lower = tighter normal band."""
        return self.std / self.mean


def parse_s3_uri(uri: str, *, key_required: bool = True) -> tuple[str, str]:
    """``s3://bucket/key`` → (bucket, key); :class:`S3UriError` for anything else."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or (key_required and not parsed.path.strip("/")):
        raise S3UriError(f"not an s3://bucket/key URI: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def read_at_most(body: Any, limit: int) -> bytes:
    """Up to ``limit + 1`` bytes of an S3 object's body, then closed: callers refuse what is longer
    without holding a huge object in memory."""
    try:
        raw: bytes = body.read(limit + 1)
    finally:
        body.close()
    return raw


def read_score_stats(raw: bytes) -> ScoreStats:
    """score_stats.json through the guard; any problem is a ValueError (DocumentError, ValidationError)."""
    return ScoreStats.model_validate(read_document(raw, max_bytes=SCORE_STATS_MAX_BYTES))
