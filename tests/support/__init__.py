"""Helpers shared by the tests: fixtures loaded by name, events adapted to a local stack."""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

FIXTURES = Path(__file__).parent.parent / "fixtures"

#: One RetrainSteps environment for the unit and integration tests of the evaluation step.
RETRAIN_STEPS_ENV = {
    "ENDPOINT_NAME": "anomaly-sentinel-rcf",
    "MODEL_PACKAGE_GROUP_NAME": "anomaly-sentinel-rcf",
    "PIPELINE_NAME": "anomaly-sentinel-rcf",
    "SERVERLESS_MEMORY_SIZE_MB": "2048",
    "SERVERLESS_MAX_CONCURRENCY": "20",
}


def fixture_path(name: str) -> Path:
    """``name`` is relative to tests/fixtures, e.g. ``capture/capture.jsonl``."""
    path = FIXTURES / name
    if not path.exists():
        raise FileNotFoundError(f"no fixture {name!r} under {FIXTURES}")
    return path


def load_event(name: str) -> dict[str, Any]:
    """A real event fixture from tests/fixtures/events (``.json`` optional)."""
    file = name if name.endswith(".json") else f"{name}.json"
    loaded: dict[str, Any] = json.loads(fixture_path(f"events/{file}").read_text(encoding="utf-8"))
    return loaded


def s3_object_created(
    bucket: str,
    key: str,
    *,
    size: int = 184662,
    version_id: str | None = "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
    etag: str = "4e68adba0abe2dc8653dc3354e14c01d",
    detail_type: str = "Object Created",
) -> dict[str, Any]:
    """The real Powertools S3 EventBridge fixture, adapted to a bucket and key (URL-encoded as S3 does)."""
    event = copy.deepcopy(load_event("s3EventBridgeNotificationObjectCreatedEvent"))
    event["detail-type"] = detail_type
    event["resources"] = [f"arn:aws:s3:::{bucket}"]
    event["detail"]["bucket"]["name"] = bucket
    obj = event["detail"]["object"]
    obj.update(key=quote_plus(key, safe="/"), size=size, etag=etag)
    if version_id is not None:
        obj["version-id"] = version_id
    return event


def drift_window_delivery(detail: dict[str, Any], event_id: str) -> dict[str, Any]:
    """A drift window event as EventBridge delivers it: the envelope around what DriftMonitorFunction puts."""
    from anomaly_sentinel.contracts import DRIFT_EVENT_DETAIL_TYPE, DRIFT_EVENT_SOURCE

    return {
        "version": "0",
        "id": event_id,
        "detail-type": DRIFT_EVENT_DETAIL_TYPE,
        "source": DRIFT_EVENT_SOURCE,
        "account": "123456789012",
        "time": "2026-11-30T02:15:07Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    }


def ensure_pipeline(stack: Any) -> str:
    """The pipeline the template names exists on the emulator (created if the stack has none)."""
    import boto3

    name: str = stack.parameters["PipelineName"]
    sagemaker = boto3.client("sagemaker")
    if not any(p["PipelineName"] == name for p in sagemaker.list_pipelines()["PipelineSummaries"]):
        sagemaker.create_pipeline(
            PipelineName=name,
            PipelineDefinition=json.dumps({"Version": "2020-12-01", "Parameters": [], "Steps": []}),
            RoleArn="arn:aws:iam::123456789012:role/sentinel-pipeline",
        )
    return name


class Failing:
    """An AWS client every call of which fails with ``error`` (answers moto cannot give)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, operation: str) -> Any:
        def fail(**_: Any) -> Any:
            raise self.error

        return fail


class Denying:
    """A real AWS client, except ``operations``: refused as IAM refuses a call no policy allows."""

    def __init__(self, client: Any, *operations: str) -> None:
        self.client = client
        self.operations = operations

    def __getattr__(self, operation: str) -> Any:
        if operation not in self.operations:
            return getattr(self.client, operation)
        from botocore.exceptions import ClientError

        action = "".join(part.title() for part in operation.split("_"))
        message = (
            f"User: arn:aws:sts::123456789012:assumed-role/sentinel/session is not authorized to perform: "
            f"sagemaker:{action} because no identity-based policy allows the sagemaker:{action} action"
        )

        def deny(**_: Any) -> Any:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": message}}, action)

        return deny


@contextmanager
def local_zone(name: str) -> Iterator[None]:
    """The process's local time zone set to ``name`` for the duration."""
    saved = os.environ.get("TZ")
    os.environ["TZ"] = name
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()
