"""AWS client factory: one retry and timeout policy for every client the functions create.

Clients are created at module scope by the handlers so that warm invocations reuse connections.
Endpoints come from the standard ``AWS_ENDPOINT_URL_<SERVICE>`` variables, which is how the
embedded emulator and the local RCF endpoint are reached without a special code path.
"""

from __future__ import annotations

from typing import IO, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

#: Standard retry mode retries throttling and 5xx with exponential backoff and jitter.
DEFAULT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=30,
    user_agent_extra="anomaly-sentinel",
)


def client(service: str, config: Config | None = None, **kwargs: Any) -> Any:
    """Return a boto3 client with the package's retry policy merged under ``config``."""
    merged = DEFAULT_CONFIG.merge(config) if config is not None else DEFAULT_CONFIG
    return boto3.client(service, config=merged, **kwargs)


#: Error codes AWS services answer a call the caller's policies do not allow with.
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


def access_denied(error: BaseException) -> bool:
    """Whether ``error`` is AWS refusing the call for lack of permission (not a missing resource)."""
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code in ACCESS_DENIED_CODES


def error_code(exc: BaseException) -> str:
    """An AWS error's code (never its message, which may quote a payload), or the exception's type."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


def open_version(
    s3: Any, bucket: str, key: str, version_id: str | None, error: type[Exception]
) -> dict[str, Any]:
    """GetObject of exactly this version (the one the event named); ``error`` names it on failure."""
    request = {"Bucket": bucket, "Key": key}
    if version_id:
        request["VersionId"] = version_id
    try:
        return dict(s3.get_object(**request))
    except (ClientError, BotoCoreError) as exc:
        raise error(f"cannot read s3://{bucket}/{key}: {error_code(exc)}") from exc


def upload(s3: Any, bucket: str, key: str, handle: IO[bytes], content_type: str) -> None:
    """PutObject of a temporary file written so far (from its start)."""
    handle.flush()
    handle.seek(0)
    s3.put_object(Bucket=bucket, Key=key, Body=handle, ContentType=content_type)
