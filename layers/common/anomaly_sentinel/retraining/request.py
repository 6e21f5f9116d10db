"""The prepare step: the execution input checked, and everything the machine needs decided up front.

JSONPath ASL cannot do clock arithmetic (the lock's expiry) or hashing (unique, retry-safe
names): this step does both, and names the deployment the later states create.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from anomaly_sentinel.contracts.messages import RetrainLock, RetrainRequest, validate
from anomaly_sentinel.exceptions import EventParseError
from anomaly_sentinel.log_retraining import log_settings
from anomaly_sentinel.settings import RetrainStepsSettings

DISPLAY_NAME_MAX = 82
NONE = "none"  # placeholder in state data: States.Format prints JSON null awkwardly

_NOT_NAME_CHARS = re.compile(r"[^A-Za-z0-9]+")


def _token(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _slug(text: str, fallback: str) -> str:
    return _NOT_NAME_CHARS.sub("-", text).strip("-").lower() or fallback


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
