"""Which objects are capture files to score, and where their outputs go (pure: keys and hours)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from anomaly_sentinel.contracts.layout import CAPTURE_SUFFIX, capture_output_keys, hour_path
from anomaly_sentinel.events import S3Object
from anomaly_sentinel.settings import ScoreCaptureSettings

__all__ = ["CAPTURE_SUFFIX", "capture_hour", "ignore_reason", "output_hour", "output_keys"]
_DATED_KEY = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")


def ignore_reason(obj: S3Object, settings: ScoreCaptureSettings) -> str | None:
    """Why this object is not a capture file to score, or None when it is."""
    if obj.bucket == settings.output_bucket and obj.key.startswith(settings.output_prefixes()):
        return "our own output"  # belt and braces: the rule's pattern already excludes it
    if obj.bucket != settings.capture_bucket:
        return "not the capture bucket"
    if not obj.key.startswith(settings.capture_prefix):
        return "outside capture prefix"
    if not obj.key.endswith(CAPTURE_SUFFIX):
        return "not a .jsonl file"
    if obj.size == 0:
        return "zero-byte object"
    return None


def output_keys(obj: S3Object, last_modified: datetime, settings: ScoreCaptureSettings) -> tuple[str, str]:
    """The object's scores and rejects keys (:func:`~anomaly_sentinel.contracts.layout.capture_output_keys`).

    The hour comes from the capture key (``.../yyyy/mm/dd/hh/file.jsonl``, as data capture
    writes it), else from the object's LastModified.
    """
    return capture_output_keys(
        obj.key,
        obj.version_id,
        output_hour(obj, last_modified),
        endpoint=settings.endpoint_name,
        capture_prefix=settings.capture_prefix,
        scores_prefix=settings.scores_prefix,
        rejects_prefix=settings.rejects_prefix,
    )


def output_hour(obj: S3Object, last_modified: datetime) -> str:
    """``yyyy/mm/dd/hh``: the hour of the capture key (as data capture files it), else LastModified's."""
    found = _DATED_KEY.search(obj.key)
    return "/".join(found.groups()) if found else hour_path(last_modified)


def capture_hour(key: str) -> datetime | None:
    """The hour data capture filed the object under (``…/yyyy/mm/dd/hh/file.jsonl``), UTC."""
    found = _DATED_KEY.search(key)
    if not found:
        return None
    year, month, day, hour = (int(part) for part in found.groups())
    try:
        return datetime(year, month, day, hour, tzinfo=UTC)
    except ValueError:
        return None
