"""Which S3 objects the log flow scores, and the keys of what it writes for each (no AWS calls)."""

from __future__ import annotations

from datetime import UTC, datetime

from anomaly_sentinel.events import S3Object
from anomaly_sentinel.settings import ScoreLogsSettings

SCORES_SUFFIX = ".csv"
REJECTS_SUFFIX = ".jsonl"
STATISTICS_SUFFIX = ".json"


def ignore_reason(obj: S3Object, settings: ScoreLogsSettings) -> str | None:
    """Why this object is not a log file to score, or None when it is."""
    checks = (
        # belt and braces: the rule's prefix already excludes our own output
        (
            obj.bucket == settings.output_bucket and obj.key.startswith(settings.output_prefixes()),
            "our own output",
        ),
        (obj.bucket != settings.logs_bucket, "not the logs bucket"),
        (not obj.key.startswith(settings.logs_prefix), "outside logs prefix"),
        (obj.key.endswith("/"), "folder placeholder"),
        (obj.size == 0, "zero-byte object"),
        (not settings.is_log_file(obj.key), "suffix not accepted"),
    )
    return next((reason for failed, reason in checks if failed), None)


def output_keys(obj: S3Object, landed: datetime, settings: ScoreLogsSettings) -> tuple[str, str, str]:
    """``logs/scores/{endpoint}/yyyy/mm/dd/hh/<key below LogsPrefix>~<version>.csv``; rejects and
    statistics alike. The hour is when the object landed (the drift monitor's window)."""
    hour = landed.astimezone(UTC).strftime("%Y/%m/%d/%H")
    relative = obj.key.removeprefix(settings.logs_prefix)
    version = f"~{obj.version_id}" if obj.version_id else ""
    tail = f"{settings.endpoint_name}/{hour}/{relative}{version}"
    return (
        settings.scores_prefix + tail + SCORES_SUFFIX,
        settings.rejects_prefix + tail + REJECTS_SUFFIX,
        settings.statistics_prefix + tail + STATISTICS_SUFFIX,
    )
