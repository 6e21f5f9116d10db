"""Shared fixtures. moto is imported first so that every client is created under its mocks.

Every emulated test runs in ``sentinel.world.local_world()`` (the twin the demo and ``sentinel
invoke`` use): ``aws`` is the bare emulator with every moto patch, ``stack`` deploys template.yaml
on it, ``world`` gives both plus the patches' handle (``world.extras``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import moto  # noqa: F401 - must be imported before boto3 clients are created
import pytest

from sentinel.emulator import LOCAL_ENV
from sentinel.invoke import LocalFunction
from sentinel.template import Template
from sentinel.world import World, local_world


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
def world() -> Iterator[World]:
    """The emulator with every moto patch; template.yaml deployed once ``stack`` is asked for."""
    with local_world(deploy=False) as twin:
        yield twin


@pytest.fixture
def aws(world: World) -> None:
    """moto active (in-process), nothing deployed."""


@pytest.fixture
def stack(world: World) -> Template:
    """template.yaml deployed on moto: resources named and created as the emulator does."""
    return world.deploy()


@pytest.fixture
def lambda_function(stack: Template) -> Callable[..., LocalFunction]:
    """Factory: the real handler of a template function, with the template's environment."""

    def make(logical_id: str, **overrides: str) -> LocalFunction:
        return LocalFunction(stack.function(logical_id), {**LOCAL_ENV, **overrides})

    return make
