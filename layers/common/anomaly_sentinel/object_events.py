"""What a function triggered by uploaded files does with each "Object Created" event, in one place.

Capture files and log files are handled alike: an event that is not "Object Created", or names an
object the function must not act on, is ignored with its reason (logged and counted); otherwise the
object is processed once per version (a duplicate delivery gets the first result; one that arrives
while the first still runs is acknowledged); the result is counted and logged (counts and ids only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from anomaly_sentinel.events import S3Object, not_object_created, s3_object_from_eventbridge
from anomaly_sentinel.handler_kit import Acknowledged, HandlerKit


def handle_object_event(
    event: dict[str, Any],
    context: Any,
    *,
    kit: HandlerKit,
    ignore_reason: Callable[[S3Object], str | None],
    process_once: Callable[..., dict[str, Any]],
    ignored_metric: str,
    handled_metric: str,
    what: str,
) -> dict[str, Any]:
    """``process_once(obj=...)`` is the function wrapped by ``kit.once``; ``what`` names the file in logs."""
    mismatch = not_object_created(event)
    if mismatch is not None:
        return kit.ignored_event(ignored_metric, mismatch, str(event.get("id", "")))
    obj = s3_object_from_eventbridge(event)
    reason = ignore_reason(obj)
    if reason is not None:
        return kit.ignored_event(ignored_metric, reason, obj.identity, object=obj.uri)
    result = kit.first_delivery(context, lambda: process_once(obj=obj), obj.identity, object=obj.uri)
    if isinstance(result, Acknowledged):
        return result
    kit.count_metric(handled_metric)  # duplicates too
    if result["status"] == "failed":  # alerted already; the reason is in the result
        kit.logger.warning(f"{what} failed", extra={"object": obj.identity, **result})
    else:
        kit.logger.info(f"{what} scored", extra={"object": obj.identity, **result})
    return result
