"""The shapes several parts of the stack agree on, each defined once.

The pipeline writes, the retraining steps, the scoring function and the local twin read: file
names, model-package metadata keys, score statistics, the retraining lock key, S3 URIs, and how an
endpoint leads to the model artefact it serves. The standard-library-only job scripts under
``pipeline/scripts/`` cannot import this package; they carry copies that a test keeps equal.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field

from anomaly_sentinel.exceptions import SentinelError

#: Written by the pipeline's ScoreStats step next to ``model.tar.gz``.
SCORE_STATS_FILE = "score_stats.json"
#: Written by the pipeline's Evaluate step next to ``model.tar.gz``.
EVALUATION_FILE = "evaluation.json"
MODEL_ARTEFACT_FILE = "model.tar.gz"

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

#: Id of the retraining lock item in the idempotency table (one lock per endpoint).
LOCK_PREFIX = "retrain-lock#"

#: The EventBridge event the drift monitor puts after each window; the monitoring responder reads it.
DRIFT_EVENT_SOURCE = "anomaly-sentinel.drift-monitor"
DRIFT_EVENT_DETAIL_TYPE = "Drift Monitoring Execution Status Change"

#: Serverless inference rejects request payloads over 4 MB; stay just under it (MB and MiB alike).
SERVERLESS_PAYLOAD_LIMIT = 4_000_000


class S3UriError(SentinelError, ValueError):
    """A string that should be an ``s3://bucket/key`` URI is not one."""


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


def score_stats_uri(model_data_url: str) -> str:
    """``s3://b/p/model.tar.gz`` → ``s3://b/p/score_stats.json``."""
    return model_data_url.rsplit("/", 1)[0] + "/" + SCORE_STATS_FILE


class ServedModel(BaseModel):
    """What an endpoint serves now: its config, the first variant's model and that model's artefact."""

    model_config = ConfigDict(frozen=True)

    endpoint_name: str
    endpoint_config_name: str
    model_name: str | None = None
    model_data_url: str | None = None


def served_model(sagemaker: Any, endpoint_name: str) -> ServedModel:
    """DescribeEndpoint → its current config → first variant's model → ModelDataUrl.

    Client errors propagate (callers decide whether a missing endpoint is an answer or a fault);
    a config without variants or a model without ModelDataUrl gives None fields.
    """
    endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
    config_name = str(endpoint["EndpointConfigName"])
    config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    variants = config.get("ProductionVariants") or []
    if not variants:
        return ServedModel(endpoint_name=endpoint_name, endpoint_config_name=config_name)
    model_name = str(variants[0]["ModelName"])
    model = sagemaker.describe_model(ModelName=model_name)
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    url = container.get("ModelDataUrl")
    return ServedModel(
        endpoint_name=endpoint_name,
        endpoint_config_name=config_name,
        model_name=model_name,
        model_data_url=str(url) if url else None,
    )
