"""Shared fixtures. moto is imported first so that every client is created under its mocks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import moto  # noqa: F401 - must be imported before boto3 clients are created
import pytest
from moto import mock_aws

from sentinel.emulator import LOCAL_ENV, LocalStack
from sentinel.invoke import LocalFunction
from sentinel.template import Template

MOTO_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}


@pytest.fixture(autouse=True)
def _offline_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test can reach a real account: fake credentials, no endpoint overrides, no profile."""
    for name, value in LOCAL_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "MOTO_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "AnomalySentinelTests")


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(config=MOTO_CONFIG):
        yield


@pytest.fixture
def stack(aws: None) -> Template:
    """template.yaml deployed on moto: resources named and created as the emulator does."""
    return LocalStack().deploy()


@pytest.fixture
def lambda_function(stack: Template) -> Callable[..., LocalFunction]:
    """Factory: the real handler of a template function, with the template's environment."""

    def make(logical_id: str, **overrides: str) -> LocalFunction:
        return LocalFunction(stack.function(logical_id), {**LOCAL_ENV, **overrides})

    return make
