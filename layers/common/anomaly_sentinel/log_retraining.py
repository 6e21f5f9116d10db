"""The retraining state machine's evaluate step for a log route run (``kind: logs``).

The pipeline's Evaluate-Logs step already judged the candidate against the log model in service
on the same real sessions (``evaluation.json`` in the model directory: ``verdict``, ``reason``).
What is left is where the model runs:

* **PCA** is scored inside ScoreLogsFunction: nothing to deploy. The pipeline registered it with
  its verdict; the machine only reports it (``deploy`` false).
* **RCF** is scored on the log endpoint (LogsEndpointName). The pipeline registers a winning RCF
  model PendingManualApproval, because ScoreLogsFunction takes the newest *Approved* package and
  would otherwise meet a model the endpoint does not serve yet; the machine deploys it to the log
  endpoint and approves it once it serves — the numeric route's order.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from anomaly_sentinel.contracts import (
    METADATA_LOG_MODEL,
    S3UriError,
    parse_s3_uri,
    read_at_most,
)
from anomaly_sentinel.contracts.served import served_model
from anomaly_sentinel.exceptions import CandidateNotFoundError, EventParseError
from anomaly_sentinel.settings import RetrainStepsSettings

APPROVED = "Approved"
EVALUATION_FILE = "evaluation.json"  # logs_evaluate.EVALUATION_FILE, in the model directory
MAX_EVALUATION_BYTES = 1024 * 1024
#: The package's metadata key naming its detector (pipeline/log_route.py's Register-Logs step).
METADATA_DETECTOR = "detector"


def log_settings(settings: RetrainStepsSettings) -> tuple[str, str]:
    """The log endpoint and group, or a clear refusal when the stack did not configure them."""
    if not settings.logs_endpoint_name or not settings.logs_model_package_group:
        raise EventParseError(
            "kind 'logs' needs LOGS_ENDPOINT_NAME and LOGS_MODEL_PACKAGE_GROUP_NAME in RetrainStepsFunction"
        )
    return settings.logs_endpoint_name, settings.logs_model_package_group


def pipeline_verdict(s3: Any, directory: str) -> dict[str, Any]:
    """``evaluation.json`` of the log model directory (bounded read): the pipeline's judgement."""
    try:
        bucket, prefix = parse_s3_uri(directory.rstrip("/") + "/" + EVALUATION_FILE)
        raw = read_at_most(s3.get_object(Bucket=bucket, Key=prefix)["Body"], MAX_EVALUATION_BYTES)
    except (S3UriError, ClientError) as exc:
        raise CandidateNotFoundError(f"the log model's {EVALUATION_FILE} cannot be read: {exc}") from None
    try:
        document = json.loads(raw) if len(raw) <= MAX_EVALUATION_BYTES else None
    except ValueError:
        document = None
    if not isinstance(document, dict) or not isinstance(document.get("reason"), str):
        raise CandidateNotFoundError(f"the log model's {EVALUATION_FILE} is not the pipeline's verdict")
    return document


def _served_url(sagemaker: Any, endpoint: str) -> tuple[bool, str | None, str | None]:
    """(endpoint exists, its config, the model data it serves)."""
    try:
        served = served_model(sagemaker, endpoint)
    except ClientError as exc:
        if "Could not find" in str(exc.response.get("Error", {}).get("Message", "")):
            return False, None, None
        raise
    return True, served.endpoint_config_name, served.model_data_url


def evaluate_log_candidate(
    candidate: Any, settings: RetrainStepsSettings, sagemaker: Any, s3: Any
) -> dict[str, Any]:
    """Approve and deploy (RCF), approve without an endpoint (PCA), or leave it pending.

    ``candidate`` is the registered package (``retraining.PackageInfo``) with its group name in
    ``group``; the result has the evaluate step's keys plus ``deploy``.
    """
    endpoint, group = log_settings(settings)
    if candidate.group != group:
        raise CandidateNotFoundError(
            f"model package {candidate.arn} is not in the log model package group {group!r}"
        )
    detector = candidate.metadata.get(METADATA_DETECTOR)
    directory = candidate.metadata.get(METADATA_LOG_MODEL, "")
    if detector not in ("rcf", "pca") or not directory:
        raise CandidateNotFoundError(
            f"log model package {candidate.arn} names no detector or no {METADATA_LOG_MODEL}"
        )
    judged = pipeline_verdict(s3, directory)
    verdict = str(judged.get("verdict") or judged.get("approval") or "")
    exists, config, url = _served_url(sagemaker, endpoint)
    deploy = detector == "rcf"
    if deploy and url == candidate.model_data_url:
        approve, rule, reason = False, "same-model", f"the candidate already serves on {endpoint}"
    else:
        approve, rule = verdict == APPROVED, "log-evaluation"
        where = f"deployed to {endpoint}" if deploy else "scored inside ScoreLogsFunction, no endpoint"
        reason = f"{detector.upper()} log model ({where}): {judged['reason']}"
    return {
        "approve": approve,
        "deploy": deploy,
        "rule": rule,
        "reason": reason,
        "endpointExists": exists,
        "previousEndpointConfig": config,
        "previousModelDataUrl": url,
        "figures": judged.get("detectors") or {},
    }
