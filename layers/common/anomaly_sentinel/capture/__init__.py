"""Streaming decoder of SageMaker data-capture JSONL: feature rows out, rejects with reasons.

A capture file is read in fixed-size chunks and split into lines (:mod:`~.lines`: gzip read as it
streams, memory bounded, an over-long line skipped, not buffered). Every line is one *record*:
decoded into rows of validated CSV text, or rejected with its line number, its eventId when known
and a reason code from :data:`REASONS`, so ``decoded + rejected == records`` always holds. Reject
details never quote payload contents.

Modules: :mod:`~anomaly_sentinel.capture.lines` (stream → lines),
:mod:`~anomaly_sentinel.capture.records` (what comes out: records, rejects, reason codes),
:mod:`~anomaly_sentinel.capture.decoder` (lines → records; CSV by RFC 4180),
:mod:`~anomaly_sentinel.capture.shapes` (the JSON payload shapes). Pure: no AWS calls (the
scoring flow that reads capture objects from S3 is :mod:`anomaly_sentinel.score_capture`).
Import from the package: its names are the API the flows use.
"""

from anomaly_sentinel.capture.decoder import CaptureDecoder, decode_stream, dominant_width, media_type
from anomaly_sentinel.capture.lines import (
    DEFAULT_CHUNK_BYTES,
    DEFAULT_MAX_LINE_BYTES,
    OverlongLine,
    Readable,
    Unreadable,
    read_lines,
)
from anomaly_sentinel.capture.records import (
    BAD_BASE64,
    BAD_CSV,
    EMPTY_LINE,
    EMPTY_PAYLOAD,
    FEATURE_COUNT,
    GZIP_COMPRESSED,
    LINE_TOO_LONG,
    NO_CAPTURE_DATA,
    NON_FINITE,
    NON_NUMERIC,
    NOT_JSON,
    NOT_UTF8,
    REASONS,
    UNSUPPORTED_CONTENT,
    CaptureRecord,
    Reject,
)

__all__ = [
    "BAD_BASE64",
    "BAD_CSV",
    "DEFAULT_CHUNK_BYTES",
    "DEFAULT_MAX_LINE_BYTES",
    "EMPTY_LINE",
    "EMPTY_PAYLOAD",
    "FEATURE_COUNT",
    "GZIP_COMPRESSED",
    "LINE_TOO_LONG",
    "NON_FINITE",
    "NON_NUMERIC",
    "NOT_JSON",
    "NOT_UTF8",
    "NO_CAPTURE_DATA",
    "REASONS",
    "UNSUPPORTED_CONTENT",
    "CaptureDecoder",
    "CaptureRecord",
    "OverlongLine",
    "Readable",
    "Reject",
    "Unreadable",
    "decode_stream",
    "dominant_width",
    "media_type",
    "read_lines",
]
