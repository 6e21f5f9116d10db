"""Which S3 objects the log flow scores, and the keys of what it writes for each (no AWS calls)."""

from __future__ import annotations

from datetime import datetime

from anomaly_sentinel.contracts.layout import LOG_REJECTS_SUFFIX as REJECTS_SUFFIX
from anomaly_sentinel.contracts.layout import LOG_SCORES_SUFFIX as SCORES_SUFFIX
from anomaly_sentinel.contracts.layout import STATISTICS_SUFFIX, log_output_keys
from anomaly_sentinel.events import S3Object
from anomaly_sentinel.settings import ScoreLogsSettings

__all__ = ["REJECTS_SUFFIX", "SCORES_SUFFIX", "STATISTICS_SUFFIX", "ignore_reason", "output_keys"]


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
    """The object's scores, rejects and statistics keys
    (:func:`~anomaly_sentinel.contracts.layout.log_output_keys`)."""
    return log_output_keys(
        obj.key,
        obj.version_id,
        landed,
        endpoint=settings.endpoint_name,
        logs_prefix=settings.logs_prefix,
        scores_prefix=settings.scores_prefix,
        rejects_prefix=settings.rejects_prefix,
        statistics_prefix=settings.statistics_prefix,
    )
