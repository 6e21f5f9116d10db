"""The evaluate step: find the candidate the run registered, judge it, and answer the machine with
what to deploy (or not) and what to report."""

from __future__ import annotations

from typing import Any

from anomaly_sentinel.contracts import METADATA_TRAINING_DATA
from anomaly_sentinel.exceptions import CandidateNotFoundError, EventParseError
from anomaly_sentinel.log_retraining import evaluate_log_candidate
from anomaly_sentinel.pipeline_runs import cost_line
from anomaly_sentinel.retraining.adapters import (
    find_candidate,
    in_service,
    judge_evaluation,
    read_score_stats,
)
from anomaly_sentinel.retraining.request import NONE
from anomaly_sentinel.retraining.verdict import APPROVAL_DESCRIPTION_MAX, PackageInfo, Verdict, compare
from anomaly_sentinel.settings import RetrainStepsSettings


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
