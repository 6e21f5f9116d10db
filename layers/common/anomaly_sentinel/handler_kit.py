"""The prologue every handler repeats, in one place: settings validated at start, the logger,
tracer and metrics decorators, once-per-identity execution, and the acknowledgement of a duplicate
delivery that arrives while the first one still runs.

A handler is then: ``kit = HandlerKit(Settings.from_env())`` at module scope (a bad setting fails
the cold start, not an event), ``@kit.handler`` on ``lambda_handler``, parse → one call into
``anomaly_sentinel`` (through :meth:`HandlerKit.first_delivery` when it has side effects) → a small
return.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from anomaly_sentinel.idempotency import DuplicateInProgress, Once
from anomaly_sentinel.observability import duplicate_in_progress, ignored

T = TypeVar("T")
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class Acknowledged(dict[str, Any]):
    """The small return of a duplicate delivery acknowledged (not raised): return it as it is."""


class HandlerKit:
    """Logger, tracer, metrics and (with ``idempotent``) the once-per-identity guard of one function."""

    def __init__(self, settings: Any, *, metrics: bool = True, idempotent: bool = True) -> None:
        self.logger = Logger()
        self.tracer = Tracer()
        self.metrics = Metrics()
        self._log_metrics = metrics
        self._once = (
            Once(settings.idempotency_table, settings.idempotency_ttl_seconds) if idempotent else None
        )

    @property
    def once(self) -> Once:
        """The once-per-identity guard: ``@kit.once("obj")`` on the function with side effects."""
        if self._once is None:
            raise RuntimeError("this handler kit was made without idempotency")
        return self._once

    def handler(self, function: Handler) -> Handler:
        """Lambda context in the logs, a trace of the invocation, metrics flushed at its end."""
        wrapped = self.metrics.log_metrics(function) if self._log_metrics else function
        wrapped = self.tracer.capture_lambda_handler(wrapped)
        return self.logger.inject_lambda_context(wrapped)

    def count_metric(self, name: str, value: float = 1) -> None:
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def ignored_event(self, metric: str, reason: str, subject: str, **result: Any) -> dict[str, Any]:
        """Not ours to act on: logged with its reason, counted, returned (no retry, no DLQ)."""
        return ignored(self.logger, self.metrics, metric, reason, subject, **result)

    def first_delivery(
        self, context: Any, call: Callable[[], T], subject: str, **ack: Any
    ) -> T | Acknowledged:
        """``call()`` (a function wrapped by :attr:`once`), or the acknowledgement of a duplicate
        delivery of ``subject`` while the first still runs."""
        self.once.register(context)
        try:
            return call()
        except DuplicateInProgress:
            return Acknowledged(duplicate_in_progress(self.logger, self.metrics, subject, **ack))
