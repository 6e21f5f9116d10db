"""The two Lambda steps of the retraining state machine: prepare a run, evaluate its candidate.

Everything else in the machine is a direct service integration (DynamoDB lock, SageMaker, SNS).
These steps exist because JSONPath ASL cannot do clock arithmetic (the lock's expiry), hashing
(unique, retry-safe names) or the candidate-versus-model-in-service comparison.

The candidate is the package the execution's RegisterModel step registered
(ListPipelineExecutionSteps). Packages carry ``CustomerMetadataProperties`` (keys in
:mod:`anomaly_sentinel.contracts`) naming the pipeline execution, their score statistics and
optionally the tuning objective: that is how candidate and model in service are compared.

A log route run (``kind: logs``, the ``logs-`` runs) is judged by the pipeline itself; its model
goes to the log endpoint when it is an RCF model (:mod:`anomaly_sentinel.log_retraining`).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field, ValidationError

from anomaly_sentinel.contracts import (
    METADATA_EVALUATION,
    METADATA_METRIC,
    METADATA_SCORE_STATS,
    METADATA_TRAINING_DATA,
    METADATA_VALUE,
    SCORE_STATS_MAX_BYTES,
    S3UriError,
    ScoreStats,
    parse_s3_uri,
    read_at_most,
    served_model,
)
from anomaly_sentinel.contracts import read_score_stats as parse_score_stats
from anomaly_sentinel.contracts.messages import RetrainLock, RetrainRequest, validate
from anomaly_sentinel.evaluation import EvaluationFileError, Judgement, judge_in_service, meets, read_report
from anomaly_sentinel.exceptions import CandidateNotFoundError, EventParseError
from anomaly_sentinel.log_retraining import evaluate_log_candidate, log_settings
from anomaly_sentinel.pipeline_runs import cost_line
from anomaly_sentinel.settings import RetrainStepsSettings

__all__ = ["InService", "PackageInfo", "ScoreStats", "Verdict", "compare", "evaluate", "prepare"]

DISPLAY_NAME_MAX = 82
APPROVAL_DESCRIPTION_MAX = 1024
NONE = "none"  # placeholder in state data: States.Format prints JSON null awkwardly

_NOT_NAME_CHARS = re.compile(r"[^A-Za-z0-9]+")


def _token(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _slug(text: str, fallback: str) -> str:
    return _NOT_NAME_CHARS.sub("-", text).strip("-").lower() or fallback


# ---------------------------------------------------------------------------- prepare


def parse_request(payload: Any, settings: RetrainStepsSettings) -> RetrainRequest:
    """The execution input as :class:`RetrainRequest` (a :class:`MessageError` when it is not one)."""
    request = validate(RetrainRequest, payload, "retraining input")
    arn = request.pipeline_execution_arn
    if arn is not None and f":pipeline/{settings.pipeline_name}/execution/" not in arn:
        raise EventParseError(
            f"pipeline execution {arn!r} does not belong to pipeline {settings.pipeline_name!r}"
        )
    if arn is not None and request.input_data_uri is not None:
        raise EventParseError("give either pipelineExecutionArn (adopt) or inputDataUri (start), not both")
    if request.kind == "logs" and arn is None:
        raise EventParseError(
            "kind 'logs' adopts a log route run (pipelineExecutionArn): log models are trained by "
            "uploads under LogsTrainingPrefix"
        )
    return request


def deployment_names(endpoint: str, execution_name: str) -> tuple[str, str]:
    """Model and endpoint-config names: unique per execution, stable across retries of a state."""
    token = _token(execution_name, 12)
    return f"{endpoint}-m-{token}", f"{endpoint}-c-{token}"


def prepare(event: dict[str, Any], settings: RetrainStepsSettings, now: int) -> dict[str, Any]:
    """Everything the machine needs decided up front: mode, names, lock, limits, deployment shape."""
    execution_name = str(event.get("executionName") or "")
    execution_arn = str(event.get("executionArn") or execution_name)
    if not execution_name:
        raise EventParseError("prepare needs executionName ($$.Execution.Name)")
    request = parse_request(event.get("input"), settings)
    endpoint = log_settings(settings)[0] if request.kind == "logs" else settings.endpoint_name
    model_name, config_name = deployment_names(endpoint, execution_name)
    trigger = _slug(request.trigger, "manual")
    suffix = f"-{_token(execution_arn, 8)}"
    display_name = f"retrain-{trigger}"[: DISPLAY_NAME_MAX - len(suffix)].rstrip("-") + suffix
    parameters = [{"Name": "InputDataUri", "Value": request.input_data_uri}] if request.input_data_uri else []
    return {
        "kind": request.kind,
        "mode": "adopt" if request.pipeline_execution_arn else "start",
        "pipelineExecutionArn": request.pipeline_execution_arn or NONE,
        "trigger": request.trigger,
        "reason": request.reason,
        "start": {
            "displayName": display_name,
            "clientRequestToken": _token(execution_arn, 64),
            "parameters": parameters,
            "description": f"Retraining ({request.trigger}): {request.reason}"[:3072],
        },
        # DynamoDB N values travel as strings in the service integration.
        "lock": RetrainLock.taken(endpoint, execution_name, now, settings.lock_ttl_seconds).state_input(),
        "deployment": {
            "endpointName": endpoint,
            "modelName": model_name,
            "endpointConfigName": config_name,
            "variantName": "AllTraffic",
            "memorySizeInMB": settings.memory_size_mb,
            "maxConcurrency": settings.max_concurrency,
        },
        "limits": {
            "pipelinePollSeconds": settings.pipeline_poll_seconds,
            "pipelineMaxPolls": settings.pipeline_max_polls,
            "endpointPollSeconds": settings.endpoint_poll_seconds,
            "endpointMaxPolls": settings.endpoint_max_polls,
        },
    }


# ---------------------------------------------------------------------------- evaluate


class PackageInfo(BaseModel):
    arn: str
    model_data_url: str
    image: str
    status: str = ""
    group: str = ""
    metadata: dict[str, str] = Field(default_factory=dict)

    def objective(self, metric: str) -> float | None:
        if self.metadata.get(METADATA_METRIC, metric) != metric:
            return None
        try:
            value = float(self.metadata[METADATA_VALUE])
        except (KeyError, ValueError):
            return None
        return value if math.isfinite(value) else None

    @property
    def score_stats_uri(self) -> str | None:
        return self.metadata.get(METADATA_SCORE_STATS)


class InService(BaseModel):
    """What the endpoint serves now (all None when there is no endpoint)."""

    endpoint_exists: bool = False
    endpoint_config_name: str | None = None
    model_data_url: str | None = None
    package: PackageInfo | None = None


class Verdict(BaseModel):
    approve: bool
    reason: str
    rule: Literal["nothing-in-service", "same-model", "evaluation", "objective", "score-stats", "unmeasured"]


def package_info(description: dict[str, Any]) -> PackageInfo:
    containers = (description.get("InferenceSpecification") or {}).get("Containers") or [{}]
    return PackageInfo(
        arn=str(description["ModelPackageArn"]),
        model_data_url=str(containers[0].get("ModelDataUrl") or ""),
        image=str(containers[0].get("Image") or ""),
        status=str(description.get("ModelApprovalStatus") or ""),
        group=str(description.get("ModelPackageGroupName") or ""),
        metadata={str(k): str(v) for k, v in (description.get("CustomerMetadataProperties") or {}).items()},
    )


def compare(
    candidate: PackageInfo,
    current: InService,
    settings: RetrainStepsSettings,
    candidate_stats: ScoreStats | None,
    current_stats: ScoreStats | None,
) -> Verdict:
    """Approve the candidate only if it is better than what serves (the rule, in order):

    1. nothing in service → approve;
    2. the candidate's model data already serves → reject (a duplicate event or a re-run);
    3. both packages report ``OBJECTIVE_METRIC`` → approve when the candidate is better by at least
       ``MIN_IMPROVEMENT`` in the direction of ``OBJECTIVE_GOAL`` (a gain equal to it passes);
    4. otherwise score statistics (no labels needed): the candidate's must be valid (mean > 0,
       finite); it is approved when the model in service has none to compare, or when its
       coefficient of variation (std/mean of training scores, a tighter normal band so anomalies
       stand out against the mean + 3 sigma cutoff) is not larger than the one in service.
    """
    if not current.endpoint_exists or current.model_data_url is None:
        return Verdict(approve=True, reason="nothing in service on the endpoint", rule="nothing-in-service")
    if current.model_data_url == candidate.model_data_url:
        return Verdict(
            approve=False, reason="the candidate already serves on the endpoint", rule="same-model"
        )
    metric = settings.objective_metric
    new = candidate.objective(metric)
    old = current.package.objective(metric) if current.package else None
    if new is not None and old is not None:
        gain = new - old if settings.objective_goal == "Maximize" else old - new
        better = meets(gain, settings.min_improvement)
        verb = "beats" if better else "does not beat"
        return Verdict(
            approve=better,
            reason=(
                f"{metric} {new:g} {verb} {old:g} in service "
                f"({settings.objective_goal}, min improvement {settings.min_improvement:g})"
            ),
            rule="objective",
        )
    if candidate_stats is None or not candidate_stats.comparable:
        return Verdict(
            approve=False,
            reason=f"no comparable {metric} and the candidate's score statistics are missing or invalid",
            rule="unmeasured",
        )
    if current_stats is None or not current_stats.comparable:
        return Verdict(
            approve=True,
            reason=(
                f"no comparable {metric}; the model in service has no score statistics, the candidate's "
                f"are valid (spread {candidate_stats.spread:.4g})"
            ),
            rule="score-stats",
        )
    better = candidate_stats.spread <= current_stats.spread
    verb = "<=" if better else ">"
    return Verdict(
        approve=better,
        reason=(
            f"no comparable {metric}; score spread (std/mean) {candidate_stats.spread:.4g} {verb} "
            f"{current_stats.spread:.4g} in service"
        ),
        rule="score-stats",
    )


def _packages(sagemaker: Any, group: str, limit: int) -> Iterator[dict[str, Any]]:
    """Newest first, at most ``limit`` described packages of the group."""
    seen = 0
    kwargs: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
        "MaxResults": 100,
    }
    while True:
        page = sagemaker.list_model_packages(**kwargs)
        for summary in page.get("ModelPackageSummaryList", []):
            if seen >= limit:
                return
            seen += 1
            yield sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        token = page.get("NextToken")
        if not token:
            return
        kwargs["NextToken"] = token


def registered_package(sagemaker: Any, execution_arn: str) -> str | None:
    """The ARN of the package the execution's RegisterModel step registered, if it has one."""
    kwargs: dict[str, Any] = {"PipelineExecutionArn": execution_arn, "SortOrder": "Ascending"}
    while True:
        page = sagemaker.list_pipeline_execution_steps(**kwargs)
        for step in page.get("PipelineExecutionSteps", []):
            arn = ((step.get("Metadata") or {}).get("RegisterModel") or {}).get("Arn")
            if arn:
                return str(arn)
        if not page.get("NextToken"):
            return None
        kwargs["NextToken"] = page["NextToken"]


def find_candidate(sagemaker: Any, execution_arn: str, settings: RetrainStepsSettings) -> PackageInfo:
    registered = registered_package(sagemaker, execution_arn)
    if registered is None:
        raise CandidateNotFoundError(
            f"pipeline execution {execution_arn} has no RegisterModel step with a package"
        )
    package = package_info(sagemaker.describe_model_package(ModelPackageName=registered))
    if not package.model_data_url or not package.image:
        raise CandidateNotFoundError(
            f"model package {package.arn} has no container Image/ModelDataUrl to deploy"
        )
    return package


def _not_found(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") in ("ValidationException", "ResourceNotFound") and "Could not find" in str(
        error.get("Message", "")
    )


def in_service(sagemaker: Any, settings: RetrainStepsSettings) -> InService:
    """Endpoint → its current config → first variant's model → ModelDataUrl → the package that has it."""
    try:
        served = served_model(sagemaker, settings.endpoint_name)
    except ClientError as exc:
        if _not_found(exc):
            return InService()
        raise
    config_name, url = served.endpoint_config_name, served.model_data_url
    if not url:
        return InService(endpoint_exists=True, endpoint_config_name=config_name)
    package = None
    for description in _packages(sagemaker, settings.model_package_group_name, settings.package_scan_limit):
        info = package_info(description)
        if info.model_data_url == url:
            package = info
            break
    return InService(
        endpoint_exists=True, endpoint_config_name=config_name, model_data_url=url, package=package
    )


def read_score_stats(s3: Any, uri: str | None) -> ScoreStats | None:
    """score_stats.json (``mean`` and ``std`` are read); unreadable statistics count as none."""
    if not uri:
        return None
    try:
        bucket, key = parse_s3_uri(uri)
    except S3UriError:
        return None
    try:
        return parse_score_stats(
            read_at_most(s3.get_object(Bucket=bucket, Key=key)["Body"], SCORE_STATS_MAX_BYTES)
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    except (ValueError, ValidationError):
        return None


def evaluate(
    event: dict[str, Any], settings: RetrainStepsSettings, sagemaker: Any, s3: Any
) -> dict[str, Any]:
    """Find the candidate the execution registered, compare it with the model in service."""
    execution_arn = event.get("pipelineExecutionArn")
    if not isinstance(execution_arn, str) or not execution_arn:
        raise EventParseError("evaluate needs pipelineExecutionArn")
    candidate = find_candidate(sagemaker, execution_arn, settings)
    if event.get("kind") == "logs":
        found = evaluate_log_candidate(candidate, settings, sagemaker, s3)
        return _log_result(event, execution_arn, candidate, found, sagemaker)
    if candidate.group and candidate.group != settings.model_package_group_name:
        raise CandidateNotFoundError(
            f"model package {candidate.arn} is not in the model package group "
            f"{settings.model_package_group_name!r} of endpoint {settings.endpoint_name!r} "
            "(a log route run is adopted with kind 'logs')"
        )
    current = in_service(sagemaker, settings)
    judgement = judge_evaluation(candidate, current, settings, s3)
    if judgement is not None:
        verdict = Verdict(approve=judgement.approve, reason=judgement.reason, rule="evaluation")
    else:
        candidate_stats = read_score_stats(s3, candidate.score_stats_uri)
        current_stats = read_score_stats(s3, current.package.score_stats_uri if current.package else None)
        verdict = compare(candidate, current, settings, candidate_stats, current_stats)
    # UpdateModelPackage adds these keys to the package's metadata (AWS keeps the others).
    metadata: dict[str, str] = {}
    if verdict.approve:
        metadata["approved_by"] = str(event.get("executionName") or "retraining")[:256]
    return {
        "approve": verdict.approve,
        "deploy": True,
        "rule": verdict.rule,
        "reason": verdict.reason[:APPROVAL_DESCRIPTION_MAX],
        "modelPackageArn": candidate.arn,
        "modelDataUrl": candidate.model_data_url,
        "image": candidate.image,
        "metadata": metadata,
        "endpointExists": current.endpoint_exists,
        "previousEndpointConfig": current.endpoint_config_name or NONE,
        "previousModelDataUrl": current.model_data_url or NONE,
        "previousModelPackageArn": current.package.arn if current.package else NONE,
        "evaluation": judgement.summary if judgement is not None else {},
        "comparison": judgement.table if judgement is not None else NONE,
        "trainingData": candidate.metadata.get(METADATA_TRAINING_DATA, NONE),
        "runCost": cost_line(sagemaker, execution_arn),
    }


def _log_result(
    event: dict[str, Any], execution_arn: str, candidate: PackageInfo, found: dict[str, Any], sagemaker: Any
) -> dict[str, Any]:
    """The evaluate step's answer for a log run, in the numeric answer's shape."""
    figures = found["figures"]
    comparison = "; ".join(
        f"{name.upper()} F1 {m.get('f1', 0):.3f} (precision {m.get('precision', 0):.3f}, recall "
        f"{m.get('recall', 0):.3f})"
        for name, m in sorted(figures.items())
        if isinstance(m, dict)
    )
    return {
        "approve": found["approve"],
        "deploy": found["deploy"],
        "rule": found["rule"],
        "reason": found["reason"][:APPROVAL_DESCRIPTION_MAX],
        "modelPackageArn": candidate.arn,
        "modelDataUrl": candidate.model_data_url,
        "image": candidate.image,
        "metadata": {"approved_by": str(event.get("executionName") or "retraining")[:256]}
        if found["approve"]
        else {},
        "endpointExists": found["endpointExists"],
        "previousEndpointConfig": found["previousEndpointConfig"] or NONE,
        "previousModelDataUrl": found["previousModelDataUrl"] or NONE,
        "previousModelPackageArn": NONE,
        "evaluation": {},
        "comparison": comparison or NONE,
        "trainingData": candidate.metadata.get(METADATA_TRAINING_DATA, NONE),
        "runCost": cost_line(sagemaker, execution_arn),
    }


def judge_evaluation(
    candidate: PackageInfo, current: InService, settings: RetrainStepsSettings, s3: Any
) -> Judgement | None:
    """The evaluation-set rule (:mod:`anomaly_sentinel.evaluation`) when the candidate has an
    evaluation.json; None for packages registered without one (the older rules apply).

    A candidate whose model data already serves is a duplicate run: :func:`compare` rejects it.
    """
    uri = candidate.metadata.get(METADATA_EVALUATION)
    if not uri or (current.model_data_url is not None and current.model_data_url == candidate.model_data_url):
        return None
    try:
        report = read_report(s3, uri)
    except EvaluationFileError as exc:
        return Judgement(approve=False, reason=str(exc)[:APPROVAL_DESCRIPTION_MAX], table="", summary={})
    return judge_in_service(report, current.model_data_url, settings.min_improvement)


# ---------------------------------------------------------------------------- the use case


class RetrainSteps:
    """The state machine's two computed steps behind one entry: ``{"step": "prepare" | "evaluate"}``."""

    def __init__(self, settings: RetrainStepsSettings, *, sagemaker: Any, s3: Any) -> None:
        self.settings, self.sagemaker, self.s3 = settings, sagemaker, s3

    def run(self, event: dict[str, Any], now: int) -> dict[str, Any]:
        step = event.get("step")
        if step == "prepare":
            return prepare(event, self.settings, now)
        if step == "evaluate":
            return evaluate(event, self.settings, self.sagemaker, self.s3)
        raise EventParseError(f"unknown retraining step {step!r} (expected 'prepare' or 'evaluate')")

    @staticmethod
    def log_fields(event: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        """Identities and decisions only (never payload) for the step's log line."""
        if event.get("step") == "prepare":
            return {"step": "prepare", "execution": event.get("executionName"), "mode": result["mode"]}
        return {
            "step": "evaluate",
            "package": result["modelPackageArn"],
            "approve": result["approve"],
            "rule": result["rule"],
        }
