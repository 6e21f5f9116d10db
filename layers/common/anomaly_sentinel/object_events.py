"""What a function triggered by uploaded files does with each "Object Created" event, in one place.

Capture files and log files are handled alike: an event that is not "Object Created", or names an
object the function must not act on, is ignored with its reason (logged and counted); otherwise the
object is processed once per version (a duplicate delivery gets the first result; one that arrives
while the first still runs is acknowledged); the result is counted and logged (counts and ids only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from anomaly_sentinel.events import S3Object, not_object_created, s3_object_from_eventbridge
from anomaly_sentinel.idempotency import DuplicateInProgress, Once
from anomaly_sentinel.observability import duplicate_in_progress, ignored


def handle_object_event(
    event: dict[str, Any],
    context: Any,
    *,
    logger: Logger,
    metrics: Metrics,
    once: Once,
    ignore_reason: Callable[[S3Object], str | None],
    process_once: Callable[..., dict[str, Any]],
    ignored_metric: str,
    handled_metric: str,
    what: str,
) -> dict[str, Any]:
    """``process_once(obj=...)`` is the function wrapped by ``once``; ``what`` names the file in logs."""
    mismatch = not_object_created(event)
    if mismatch is not None:
        return ignored(logger, metrics, ignored_metric, mismatch, str(event.get("id", "")))
    obj = s3_object_from_eventbridge(event)
    reason = ignore_reason(obj)
    if reason is not None:
        return ignored(logger, metrics, ignored_metric, reason, obj.identity, object=obj.uri)
    once.register(context)
    try:
        result = process_once(obj=obj)
    except DuplicateInProgress:
        return duplicate_in_progress(logger, metrics, obj.identity, object=obj.uri)
    metrics.add_metric(name=handled_metric, unit=MetricUnit.Count, value=1)  # duplicates too
    if result["status"] == "failed":  # alerted already; the reason is in the result
        logger.warning(f"{what} failed", extra={"object": obj.identity, **result})
    else:
        logger.info(f"{what} scored", extra={"object": obj.identity, **result})
    return result
