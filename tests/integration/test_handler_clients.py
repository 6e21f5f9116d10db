"""Cold start: each deployed handler creates at most one boto3 client per AWS service at import.

Every client costs cold-start time (botocore loads and parses the service model per client), so a
second client for the same service is paid on every cold start for nothing. Observed from outside:
the service names botocore is asked for while the real handler module is imported with the
template's environment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import botocore.session
import pytest

from sentinel.invoke import LocalFunction
from sentinel.template import Template

#: Deploy-time custom resource: runs once per deployment, not per event.
NOT_EVENT_HANDLERS = {"PipelineArtifactsFunction"}
#: The X-Ray SDK's own clients (Powertools' Tracer, created once per process, not per handler).
NOT_OURS = {"xray"}


@pytest.fixture
def created_clients(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    created: list[str] = []
    original = botocore.session.Session.create_client

    def recording(self: botocore.session.Session, service_name: str, *args: Any, **kwargs: Any) -> Any:
        created.append(service_name)
        return original(self, service_name, *args, **kwargs)

    monkeypatch.setattr(botocore.session.Session, "create_client", recording)
    return created


def test_each_handler_creates_one_client_per_service_at_cold_start(
    stack: Template, lambda_function: Callable[..., LocalFunction], created_clients: list[str]
) -> None:
    # GIVEN every event handler of the template, deployed on the emulator
    handlers = [fid for fid in stack.function_ids() if fid not in NOT_EVENT_HANDLERS]
    assert len(handlers) >= 7
    repeated = {}
    for logical_id in handlers:
        created_clients.clear()
        # WHEN its module is imported as Lambda imports it on a cold start
        assert lambda_function(logical_id).module is not None
        # THEN no service gets a second client
        assert created_clients, f"{logical_id} created no client at import (clients belong at module scope)"
        counts = Counter(s for s in created_clients if s not in NOT_OURS)
        repeated[logical_id] = sorted(s for s, n in counts.items() if n > 1)
    assert repeated == {logical_id: [] for logical_id in handlers}
