"""A log line's bytes → its text, or why it cannot be used (the reject reasons every stage shares).

Lines are read as the capture path reads them (gzip, BOM, CRLF; bounded memory); a line that is
not UTF-8 or holds control characters is rejected whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from anomaly_sentinel.capture import OverlongLine, Readable, Unreadable, read_lines

# Reject reasons of a line (stable names: reports, metrics and tests use them).
EMPTY_LINE: Final = "empty-line"
NOT_UTF8: Final = "not-utf8"
BINARY_LINE: Final = "binary-line"
LINE_TOO_LONG: Final = "line-too-long"
UNREADABLE: Final = "unreadable-stream"
NO_HEADER_MATCH: Final = "no-header-match"
NO_SESSION_KEY: Final = "no-session-key"
NO_TIME: Final = "no-time"
LATE_LINE: Final = "late-line"
REASONS: Final = (
    EMPTY_LINE,
    NOT_UTF8,
    BINARY_LINE,
    LINE_TOO_LONG,
    UNREADABLE,
    NO_HEADER_MATCH,
    NO_SESSION_KEY,
    NO_TIME,
    LATE_LINE,
)

#: A log line is short; anything longer than this is rejected (its bytes are skipped, not held).
DEFAULT_MAX_LINE_BYTES: Final = 64 * 1024

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Rejected:
    """A line that cannot be used, and why (the reason is one of :data:`REASONS`)."""

    reason: str
    detail: str = ""


def decode_lines(
    stream: Readable, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, first_line: int = 1
) -> Iterator[tuple[int, str | Rejected]]:
    """Number (from ``first_line``) and text of each line of a byte stream, or why it cannot be read.

    Bounded memory (``capture.read_lines``: gzip read as it streams, over-long lines skipped).
    A line that is not UTF-8, or holds control characters other than tab, is rejected whole: a
    partly decoded line would give a wrong template. A corrupt gzip stream ends with one reject.
    """
    number = first_line - 1
    for raw in read_lines(stream, max_line_bytes=max_line_bytes):
        number += 1
        if isinstance(raw, OverlongLine):
            yield number, Rejected(LINE_TOO_LONG, f"{raw.size} bytes; the limit is {max_line_bytes}")
            continue
        if isinstance(raw, Unreadable):
            yield number, Rejected(UNREADABLE, raw.detail)
            continue
        yield number, decode_line(raw)


def decode_line(raw: bytes) -> str | Rejected:
    """A line's bytes as text, or why not: not UTF-8, or control characters other than tab."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected(NOT_UTF8, f"invalid byte at offset {exc.start}")
    if _CONTROL.search(text):
        return Rejected(BINARY_LINE, "control characters")
    return text
