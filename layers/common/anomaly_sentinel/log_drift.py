"""Moved to :mod:`anomaly_sentinel.drift.logs` (the drift flow's package); this name stays for callers."""

from anomaly_sentinel.drift.logs import (  # noqa: F401 - names callers import
    LOG_BASELINE_FILE,
    LOG_STATISTICS_VERSION,
    MAX_NEW_TEMPLATE_VIOLATIONS,
    MAX_SHAPES,
    MIN_LINES,
    NEW_TEMPLATE_CHECK,
    OOV_FEATURE,
    OOV_SHARE_CHECK,
    OOV_TOLERANCE,
    LogBaseline,
    LogFileStatistics,
    LogWindow,
    Shape,
    compare_logs,
    merge_log_window,
)
