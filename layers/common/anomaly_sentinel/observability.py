"""What every handler does when it decides not to act on an event: say why, count it, return it.

Ignoring is not an error (no retry, no DLQ), so it must be visible some other way: a log line
with the reason and a metric an operator can graph or alarm on.
"""

from __future__ import annotations

from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from anomaly_sentinel.idempotency import DUPLICATE_IN_PROGRESS


class MetricsSink(Protocol):
    """What the flows need from Powertools ``Metrics`` (a test can pass a recorder)."""

    def add_metric(self, name: str, unit: MetricUnit, value: float) -> None: ...

    def add_dimension(self, name: str, value: str) -> None: ...


def ignored(
    logger: Logger, metrics: Metrics, metric: str, reason: str, subject: str, **result: Any
) -> dict[str, Any]:
    """Log ``reason`` for ``subject`` (an identity, never payload), count ``metric``, return a small dict."""
    logger.info("event ignored", extra={"reason": reason, "subject": subject})
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    return {"status": "ignored", "reason": reason, **result}


def duplicate_in_progress(logger: Logger, metrics: Metrics, subject: str, **result: Any) -> dict[str, Any]:
    """A delivery that arrived while the first delivery of the same event still runs: acknowledged,
    not raised (a raise means retries, then the dead-letter queue, for work that is being done)."""
    return ignored(logger, metrics, "DuplicatesInProgress", DUPLICATE_IN_PROGRESS, subject, **result)
