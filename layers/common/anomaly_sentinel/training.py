"""Training data uploaded → SageMaker pipeline started: the decision and the one AWS call."""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from anomaly_sentinel.events import S3Object
from anomaly_sentinel.exceptions import PipelineStartError
from anomaly_sentinel.settings import StartPipelineSettings, has_suffix

_DISPLAY_NAME_MAX = 82  # PipelineExecutionDisplayName limit
_NOT_NAME_CHARS = re.compile(r"[^A-Za-z0-9]+")


class PipelineStarted(BaseModel):
    pipeline_execution_arn: str
    display_name: str
    input_data_uri: str
    client_request_token: str


#: Display-name prefixes: the retraining state machine adopts ``upload-`` runs (numeric models for the
#: endpoint); ``logs-`` runs register log models and are never deployed to the numeric endpoint.
UPLOAD_PREFIX = "upload-"
LOGS_PREFIX = "logs-"
#: Pipeline parameters of the log route (pipeline/build.py).
DATA_KIND = "DataKind"
LOGS_KIND = "logs"
LOG_FORMAT = "LogFormat"


def ignore_reason(obj: S3Object, settings: StartPipelineSettings) -> str | None:
    """Why this object must not start a pipeline, or None when it should."""
    if obj.bucket != settings.training_bucket:
        return "not the training bucket"
    logs = settings.is_log_upload(obj.key)
    if not logs and not obj.key.startswith(settings.training_prefix):
        return "outside training prefix"
    if obj.key.endswith("/"):
        return "folder placeholder"
    if obj.size == 0:
        return "zero-byte object"
    if not (has_suffix(obj.key, settings.log_suffixes) if logs else settings.accepts(obj.key)):
        return "suffix not accepted"
    return None


def display_name(obj: S3Object, prefix: str = UPLOAD_PREFIX) -> str:
    """Readable in the SageMaker console, unique per object version, within the API's pattern."""
    stem = obj.key.rsplit("/", 1)[-1].split(".", 1)[0]
    slug = _NOT_NAME_CHARS.sub("-", stem).strip("-") or "data"
    suffix = f"-{obj.token(8)}"
    return f"{prefix}{slug}"[: _DISPLAY_NAME_MAX - len(suffix)].rstrip("-") + suffix


def start_request(obj: S3Object, settings: StartPipelineSettings) -> dict[str, Any]:
    """The StartPipelineExecution request for an accepted object (the log route for raw logs)."""
    version = f" (version {obj.version_id})" if obj.version_id else ""
    parameters = [{"Name": "InputDataUri", "Value": obj.uri}]
    route, prefix = "", UPLOAD_PREFIX
    if settings.is_log_upload(obj.key):
        parameters += [
            {"Name": DATA_KIND, "Value": LOGS_KIND},
            {"Name": LOG_FORMAT, "Value": settings.log_format},
        ]
        route, prefix = " (log route)", LOGS_PREFIX
    return {
        "PipelineName": settings.pipeline_name,
        "PipelineExecutionDisplayName": display_name(obj, prefix),
        "PipelineExecutionDescription": f"Started by Anomaly Sentinel{route} for {obj.uri}{version}"[:3072],
        "PipelineParameters": parameters,
        "ClientRequestToken": obj.token(),
    }


def start_pipeline(obj: S3Object, settings: StartPipelineSettings, sagemaker: Any) -> PipelineStarted:
    """Start one execution; any failure names the pipeline so the DLQ message is actionable."""
    request = start_request(obj, settings)
    try:
        response = sagemaker.start_pipeline_execution(**request)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise PipelineStartError(
            f"cannot start pipeline '{settings.pipeline_name}' for {obj.uri}: "
            f"{error.get('Code', 'Unknown')}: {error.get('Message', '')}"
        ) from exc
    except BotoCoreError as exc:
        raise PipelineStartError(
            f"cannot start pipeline '{settings.pipeline_name}' for {obj.uri}: {exc}"
        ) from exc
    return PipelineStarted(
        pipeline_execution_arn=response["PipelineExecutionArn"],
        display_name=request["PipelineExecutionDisplayName"],
        input_data_uri=obj.uri,
        client_request_token=request["ClientRequestToken"],
    )
