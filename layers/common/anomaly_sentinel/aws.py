"""AWS client factory: one retry and timeout policy for every client the functions create.

Clients are created at module scope by the handlers so that warm invocations reuse connections.
Endpoints come from the standard ``AWS_ENDPOINT_URL_<SERVICE>`` variables, which is how the
embedded emulator and the local RCF endpoint are reached without a special code path.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

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
