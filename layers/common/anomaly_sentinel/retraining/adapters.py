"""The retraining steps' AWS calls: the candidate the run registered, the model in service and the
package that holds it (SageMaker), score statistics and evaluation reports (S3)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from anomaly_sentinel.contracts import (
    METADATA_EVALUATION,
    SCORE_STATS_MAX_BYTES,
    S3UriError,
    ScoreStats,
    parse_s3_uri,
    read_at_most,
)
from anomaly_sentinel.contracts import read_score_stats as parse_score_stats
from anomaly_sentinel.contracts.served import served_model
from anomaly_sentinel.evaluation import EvaluationFileError, Judgement, judge_in_service, read_report
from anomaly_sentinel.exceptions import CandidateNotFoundError
from anomaly_sentinel.retraining.verdict import APPROVAL_DESCRIPTION_MAX, InService, PackageInfo, package_info
from anomaly_sentinel.settings import RetrainStepsSettings


def newest_packages(sagemaker: Any, group: str, limit: int) -> Iterator[dict[str, Any]]:
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
    for description in newest_packages(
        sagemaker, settings.model_package_group_name, settings.package_scan_limit
    ):
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
