"""One capture file → scored: stream, decode, score, write scores/ and rejects/, metrics, alert.

The object is streamed from S3 line by line and scored as it is decoded, so memory is bounded by
the in-flight requests, not by the file. Two small temporary files stand in for what cannot be
known before the last score (the cutoff may be the file's own mean + k·std): pass 1 writes each
decoded record's identity and its rows' sequence numbers, pass 2 joins them with the scores
(8 bytes per row in memory) and writes the final JSONL that is uploaded. Nothing is written to S3
before every record is accounted for, so a failed invocation leaves no partial output and its
retry starts clean; output keys derive from the object, so a repeated run overwrites, never adds.

Modules: :mod:`~anomaly_sentinel.score_capture.keys` (which objects are scored, where their
outputs go), :mod:`~anomaly_sentinel.score_capture.passes` (the two passes and their spool),
:mod:`~anomaly_sentinel.score_capture.report` (the report, rejects by reason, the alerts' text),
:mod:`~anomaly_sentinel.score_capture.adapters` (the S3 calls, metrics),
:mod:`~anomaly_sentinel.score_capture.flow` (the use case, :class:`CaptureScorer`). The decoder
is :mod:`anomaly_sentinel.capture`; the endpoint client, and what the log flow shares (the
scorer's collaborators, the SNS alert), :mod:`anomaly_sentinel.scoring`. Import from the package:
its names are the API the function, the tests and the benchmarks use.
"""

from anomaly_sentinel.score_capture.adapters import CaptureStore, MetricsSink
from anomaly_sentinel.score_capture.flow import CaptureScorer
from anomaly_sentinel.score_capture.keys import CAPTURE_SUFFIX, ignore_reason, output_hour, output_keys
from anomaly_sentinel.score_capture.report import (
    ROW_TOO_LARGE,
    CaptureReport,
    TopAnomaly,
    build_alert,
    build_failure_alert,
    failure_reason,
)
from anomaly_sentinel.scoring.files import ENDPOINT_FAILED, ENDPOINT_REJECTED

__all__ = [
    "CAPTURE_SUFFIX",
    "ENDPOINT_FAILED",
    "ENDPOINT_REJECTED",
    "ROW_TOO_LARGE",
    "CaptureReport",
    "CaptureScorer",
    "CaptureStore",
    "MetricsSink",
    "TopAnomaly",
    "build_alert",
    "build_failure_alert",
    "failure_reason",
    "ignore_reason",
    "output_hour",
    "output_keys",
]
