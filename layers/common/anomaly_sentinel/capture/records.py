"""What the decoder gives out: a decoded record (rows of validated CSV text) or a reject with a reason.

Reason codes are stable: they are written to rejects/ and counted by subscribers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

EMPTY_LINE: Final = "empty-line"
LINE_TOO_LONG: Final = "line-too-long"
NOT_UTF8: Final = "not-utf8"
NOT_JSON: Final = "not-json"
NO_CAPTURE_DATA: Final = "no-capture-data"
BAD_BASE64: Final = "bad-base64"
UNSUPPORTED_CONTENT: Final = "unsupported-content-type"
EMPTY_PAYLOAD: Final = "empty-payload"
NON_NUMERIC: Final = "non-numeric"
NON_FINITE: Final = "non-finite"
FEATURE_COUNT: Final = "feature-count"
BAD_CSV: Final = "bad-csv"
GZIP_COMPRESSED: Final = "gzip-compressed"
REASONS: Final = (
    EMPTY_LINE,
    LINE_TOO_LONG,
    NOT_UTF8,
    NOT_JSON,
    NO_CAPTURE_DATA,
    BAD_BASE64,
    UNSUPPORTED_CONTENT,
    EMPTY_PAYLOAD,
    NON_NUMERIC,
    NON_FINITE,
    FEATURE_COUNT,
    BAD_CSV,
    GZIP_COMPRESSED,
)


@dataclass(slots=True)
class CaptureRecord:
    """One decoded capture record: its identity and one or more rows of validated CSV text."""

    line: int
    event_id: str | None
    inference_id: str | None
    inference_time: str | None
    rows: list[str]


@dataclass(slots=True)
class Reject:
    """A record that could not be used, and why (never its payload)."""

    line: int
    event_id: str | None
    reason: str
    detail: str = ""
    #: The 1-based column of the value that was missing or not a number, when one was (the drift
    #: statistics count it missing there); the detail says it in words.
    column: int | None = None

    def to_json(self, stage: str = "decode") -> dict[str, Any]:
        found: dict[str, Any] = {
            "line": self.line,
            "eventId": self.event_id,
            "stage": stage,
            "reason": self.reason,
            "detail": self.detail,
        }
        if self.column is not None:
            found["column"] = self.column
        return found


class Rejected(Exception):
    """Internal control flow of the decoder; never escapes :class:`CaptureDecoder`."""

    def __init__(self, reason: str, detail: str = "", column: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail
        self.column = column
