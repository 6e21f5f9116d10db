"""Once-per-identity execution on DynamoDB (Powertools idempotency), shared by every trigger.

EventBridge delivers at least once and SageMaker may emit several events for one change: each
function wraps its side effect with :class:`Once` keyed on the event's identity, so duplicates
return the first result instead of repeating the work. A duplicate that arrives while the first
delivery is still running raises :class:`DuplicateInProgress`: the handler acknowledges it (log and
metric) instead of failing, since only the first delivery's own failure should be retried.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

from anomaly_sentinel import aws
from anomaly_sentinel.exceptions import SentinelError

F = TypeVar("F", bound=Callable[..., Any])

#: What a handler reports for a delivery acknowledged as a duplicate of one still running.
DUPLICATE_IN_PROGRESS = "duplicate: the first delivery is still in progress"


class DuplicateInProgress(SentinelError):
    """The same event is being handled by an earlier delivery right now."""


class Once:
    """Decorator factory: ``@once("obj")`` makes a function run once per ``obj.identity``."""

    def __init__(self, table_name: str, ttl_seconds: int, key_jmespath: str = "identity") -> None:
        self.config = IdempotencyConfig(
            event_key_jmespath=key_jmespath,
            expires_after_seconds=ttl_seconds,
            raise_on_no_idempotency_key=True,
        )
        #: Shared with the function's own DynamoDB calls: one client per service at cold start.
        self.dynamodb = aws.client("dynamodb")
        self.persistence = DynamoDBPersistenceLayer(table_name=table_name, boto3_client=self.dynamodb)

    def __call__(self, data_keyword_argument: str) -> Callable[[F], F]:
        def decorate(function: F) -> F:
            wrapped = idempotent_function(
                function,
                data_keyword_argument=data_keyword_argument,
                persistence_store=self.persistence,
                config=self.config,
            )

            @functools.wraps(function)
            def once(*args: Any, **kwargs: Any) -> Any:
                try:
                    return wrapped(*args, **kwargs)
                except IdempotencyAlreadyInProgressError:
                    raise DuplicateInProgress(DUPLICATE_IN_PROGRESS) from None

            return cast(F, once)

        return decorate

    def register(self, context: Any) -> None:
        """Let in-progress records expire with the invocation if the function times out."""
        self.config.register_lambda_context(context)
