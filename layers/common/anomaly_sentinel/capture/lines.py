"""Capture lines from a binary stream: split on line breaks, gzip read as it streams, memory bounded.

A capture file is read in fixed-size chunks (never the whole file in memory, and a line longer than
``max_line_bytes`` is skipped, not buffered). JSON escapes raw newlines inside strings, so a capture
record is always exactly one line even when its output ``data`` holds newlines. botocore's
``StreamingBody.iter_lines`` is not used because it buffers an unterminated line without bound.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final, Protocol

from anomaly_sentinel.capture.records import GZIP_COMPRESSED

DEFAULT_MAX_LINE_BYTES: Final = 16 * 1024 * 1024
DEFAULT_CHUNK_BYTES: Final = 1024 * 1024


class Readable(Protocol):
    """botocore's StreamingBody, an open binary file, io.BytesIO..."""

    def read(self, amt: int, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class OverlongLine:
    """Stands in for a line that exceeded the limit; its bytes were skipped, only its size is known."""

    size: int


@dataclass(frozen=True, slots=True)
class Unreadable:
    """Stands in for the rest of a stream that cannot be read as lines (a corrupt gzip file)."""

    reason: str
    detail: str


def read_lines(
    stream: Readable,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[bytes | OverlongLine | Unreadable]:
    """Yield the lines of a binary stream, in order, without their line break.

    A line ends with ``\\n``, ``\\r\\n`` or a lone ``\\r`` (JSON escapes both inside strings, so
    a raw one is always a break). A gzip stream (known by its magic bytes) is decompressed as it
    is read, and a UTF-8 byte order mark before the first line is dropped. Memory stays under
    ``chunk_bytes + max_line_bytes`` whatever the file size: an over-long line is replaced by
    :class:`OverlongLine` and its bytes are discarded as they arrive. A final line without a line
    break counts; an empty stream has no lines. A gzip stream that cannot be decompressed ends
    with one :class:`Unreadable`.
    """
    pending = b""
    skipping = 0  # > 0 while discarding the rest of an over-long line (bytes seen so far)
    carry = b""  # a chunk's last "\r": it may be the first half of a "\r\n"
    try:
        for raw in _chunks(stream, chunk_bytes):
            chunk = carry + raw if carry else raw
            carry = b""
            if b"\r" in chunk:
                if chunk.endswith(b"\r"):
                    chunk, carry = chunk[:-1], b"\r"
                chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if skipping:
                cut = chunk.find(b"\n")
                if cut < 0:
                    skipping += len(chunk)
                    continue
                yield OverlongLine(skipping + cut)
                skipping = 0
                chunk = chunk[cut + 1 :]
            pieces = (pending + chunk).split(b"\n") if pending else chunk.split(b"\n")
            pending = pieces.pop()
            for piece in pieces:
                yield OverlongLine(len(piece)) if len(piece) > max_line_bytes else piece
            if len(pending) > max_line_bytes:
                skipping, pending = len(pending), b""
    except _GzipError as exc:
        yield Unreadable(GZIP_COMPRESSED, f"{exc}: decompress it (gunzip) and upload it again")
        return
    if skipping:
        yield OverlongLine(skipping)
    elif pending or carry:
        yield OverlongLine(len(pending)) if len(pending) > max_line_bytes else pending


_BOM: Final = b"\xef\xbb\xbf"
_GZIP_MAGIC: Final = b"\x1f\x8b\x08"  # gzip header + deflate, the only method


class _GzipError(Exception):
    """A gzip stream is corrupt or truncated."""


def _chunks(stream: Readable, size: int) -> Iterator[bytes]:
    """The stream's bytes in chunks of at most ``size``: BOM dropped, gzip decompressed."""
    first = stream.read(size)
    if first.startswith(_GZIP_MAGIC):
        yield from _gunzip(first, stream, size)
        return
    chunk = first.removeprefix(_BOM)
    while chunk:
        yield chunk
        chunk = stream.read(size)


def _gunzip(first: bytes, stream: Readable, size: int) -> Iterator[bytes]:
    """Decompress (every member of) a gzip stream, at most ``size`` bytes out per step."""
    inflate = zlib.decompressobj(wbits=31)
    in_member = False
    leading = True
    data = first
    while data:
        while data:
            in_member = True
            try:
                out = inflate.decompress(data, size)
            except zlib.error as exc:
                raise _GzipError(f"gzip-compressed file is corrupt ({exc})") from None
            data = inflate.unconsumed_tail
            if inflate.eof:
                in_member = False
                data = inflate.unused_data + data
                inflate = zlib.decompressobj(wbits=31)
            if leading and out:
                leading = False
                out = out.removeprefix(_BOM)
            if out:
                yield out
        data = stream.read(size)
    if in_member:
        raise _GzipError("gzip-compressed file is truncated")
