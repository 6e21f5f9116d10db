"""How the model in service is found, once per invocation.

endpoint → DescribeEndpoint → its current config → DescribeEndpointConfig → first variant's model
→ DescribeModel → ``ModelDataUrl`` (the artefact) → beside it ``score_stats.json`` and
``baseline/statistics.json`` + ``constraints.json`` (:mod:`.layout` says where).

:meth:`ServedModels.resolve` makes those three Describe calls once and returns a frozen
:class:`InService`; the scorer and the drift monitor each resolve once per invocation and read
everything from that value. The documents are cached per artefact URL across a warm container's
invocations (an artefact never changes; a new model has a new URL). Every read is bounded. Any
failure on the way is a note, not an error: callers fall through (the cutoff to its next source,
the monitor to "no baseline"); a refusal by IAM is marked ``denied``.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isfinite
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, ValidationError

from anomaly_sentinel.aws import access_denied, error_code
from anomaly_sentinel.contracts import (
    SCORE_STATS_MAX_BYTES,
    ScoreStats,
    parse_s3_uri,
    read_at_most,
    read_score_stats,
)
from anomaly_sentinel.contracts.layout import baseline_uris, score_stats_uri
from anomaly_sentinel.exceptions import BaselineError, DocumentError

if TYPE_CHECKING:  # the drift package is imported where a baseline is read, not at cold start
    from anomaly_sentinel import drift


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


@dataclass(frozen=True)
class StatsLookup:
    """The deployed model's score statistics, or why there are none (said in the alert)."""

    stats: ScoreStats | None
    uri: str | None
    note: str


@dataclass(frozen=True)
class BaselineLookup:
    baseline: drift.Baseline | None
    uri: str | None
    note: str
    score_stats: dict[str, Any] | None = None
    #: The lookup failed because IAM refused a call: a fault of the deployment, not "no model yet".
    denied: bool = False


@dataclass(frozen=True)
class InService:
    """The model an endpoint serves during one invocation, with what the pipeline wrote beside it.

    ``stats`` / ``baseline`` are None when the caller did not ask for them.
    """

    endpoint_name: str
    model_data_url: str | None
    stats: StatsLookup | None
    baseline: BaselineLookup | None


class ServedModels:
    """Resolves the model in service; caches its documents per artefact URL (warm container)."""

    def __init__(self, sagemaker: Any, s3: Any) -> None:
        self.sagemaker = sagemaker
        self.s3 = s3
        self._stats: dict[str, ScoreStats] = {}
        self._baselines: dict[str, drift.Baseline] = {}

    def resolve(self, endpoint_name: str, *, stats: bool = True, baseline: bool = True) -> InService:
        """Three Describe calls, then (when asked) score_stats.json and the baseline, each read once."""
        try:
            model_url = served_model(self.sagemaker, endpoint_name).model_data_url
        except (ClientError, BotoCoreError, KeyError, IndexError) as exc:
            what = f"model of endpoint '{endpoint_name}'"
            return InService(
                endpoint_name,
                None,
                StatsLookup(None, None, f"{what} not found ({_why(exc)})") if stats else None,
                _failed(what, None, "not found", exc) if baseline else None,
            )
        if model_url is None:
            note = f"model of endpoint '{endpoint_name}' has no ModelDataUrl"
            return InService(
                endpoint_name,
                None,
                StatsLookup(None, None, note) if stats else None,
                BaselineLookup(None, None, note) if baseline else None,
            )
        found_stats = self._read_stats(model_url) if stats else None
        found_baseline = self._read_baseline(model_url, found_stats) if baseline else None
        return InService(endpoint_name, model_url, found_stats, found_baseline)

    def _read_stats(self, model_url: str) -> StatsLookup:
        uri = score_stats_uri(model_url)
        if model_url in self._stats:
            return StatsLookup(self._stats[model_url], uri, "cached")
        try:
            stats = read_score_stats(self._read(uri, SCORE_STATS_MAX_BYTES))
        except (ClientError, BotoCoreError, ValueError, ValidationError) as exc:
            return StatsLookup(None, uri, f"{uri} unreadable ({_why(exc)})")
        if not isfinite(stats.mean + stats.std):
            return StatsLookup(None, uri, f"{uri} has non-finite statistics")
        self._stats[model_url] = stats
        return StatsLookup(stats, uri, "read")

    def _read_baseline(self, model_url: str, stats: StatsLookup | None) -> BaselineLookup:
        statistics_uri, constraints_uri = baseline_uris(model_url)
        folder = statistics_uri.rsplit("/", 1)[0] + "/"
        baseline = self._baselines.get(model_url)
        if baseline is None:
            from anomaly_sentinel import drift

            try:
                baseline = drift.Baseline.from_bytes(
                    self._read(statistics_uri, drift.BASELINE_MAX_BYTES),
                    self._read(constraints_uri, drift.BASELINE_MAX_BYTES),
                )
            except (ClientError, BotoCoreError) as exc:
                return _failed(f"baseline {folder}", folder, "unreadable", exc)
            except BaselineError as exc:
                return BaselineLookup(None, folder, f"baseline {folder}: {exc}")
            self._baselines[model_url] = baseline
        score_stats = stats.stats.model_dump() if stats is not None and stats.stats is not None else None
        return BaselineLookup(baseline, folder, "read", score_stats)

    def _read(self, uri: str, limit: int) -> bytes:
        """At most one byte over ``limit``: the guards refuse what is larger, unread."""
        bucket, key = parse_s3_uri(uri)
        return read_at_most(self.s3.get_object(Bucket=bucket, Key=key)["Body"], limit)


def _failed(what: str, uri: str | None, problem: str, exc: BaseException) -> BaselineLookup:
    """No baseline; a refusal by IAM is marked ``denied`` (a fault of the deployment, said loudly)."""
    if access_denied(exc):
        note = f"access denied reading the {what}: {exc} (the function's role must allow it)"
        return BaselineLookup(None, uri, note, denied=True)
    return BaselineLookup(None, uri, f"{what} {problem} ({_why(exc)})")


def _why(exc: BaseException) -> str:
    """The AWS error code, or what a bounded document broke (never an object's contents)."""
    return str(exc) if isinstance(exc, DocumentError) else error_code(exc)
