"""The decoder: capture lines → records of validated CSV rows, or rejects with their reason.

Every physical line is one *record*: it is either decoded (all of its rows are valid) or
rejected with its line number, its eventId when known and a reason code from
:data:`~anomaly_sentinel.capture.records.REASONS`, so ``decoded + rejected == records`` always
holds. Reject details never quote payload contents.

A CSV payload follows RFC 4180 (a quoted field may hold commas, line breaks and doubled quotes);
a JSON payload may take any of the shapes in :mod:`~anomaly_sentinel.capture.shapes`. Rows are
kept as validated CSV text (``"1.0,2,3.5"``): that is what the endpoint request needs, and it
costs far less memory than lists of floats. This is the hot path of the capture benchmark.
"""

from __future__ import annotations

import binascii
import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from math import isfinite
from typing import Any, Final

from anomaly_sentinel.capture.lines import (
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
    LINE_TOO_LONG,
    NO_CAPTURE_DATA,
    NON_FINITE,
    NON_NUMERIC,
    NOT_JSON,
    NOT_UTF8,
    UNSUPPORTED_CONTENT,
    CaptureRecord,
    Reject,
    Rejected,
)
from anomaly_sentinel.capture.shapes import feature_lists, finite_floats


def media_type(content_type: object) -> str:
    """``"text/csv; charset=utf-8"`` → ``"text/csv"`` (lower case)."""
    if not isinstance(content_type, str):
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def _payload_kind(content_type: object) -> str | None:
    """csv, json or None (unsupported) from an observedContentType."""
    media = media_type(content_type)
    if "csv" in media:
        return "csv"
    if "json" in media:  # application/json, application/jsonlines, application/x-ndjson...
        return "json"
    return None


_JSON = json.JSONDecoder()
_ENCODINGS = frozenset({"BASE64", "CSV", "JSON"})
_KINDS: dict[object, str | None] = {}


def _kind_of(content_type: object) -> str | None:
    """Cached :func:`_payload_kind` (a capture file repeats one or two content types)."""
    if not isinstance(content_type, str):
        return None
    try:
        return _KINDS[content_type]
    except KeyError:
        if len(_KINDS) > 64:  # bound the cache against arbitrary inputs
            _KINDS.clear()
        kind = _KINDS[content_type] = _payload_kind(content_type)
        return kind


def _loads(text: str) -> Any:
    """``json.loads`` without its wrapper layers (this is the decoder's hot path)."""
    if text.startswith((" ", "\t")):  # JSON allows whitespace before the value; raw_decode does not
        text = text.lstrip(" \t")
    value, end = _JSON.raw_decode(text)
    if end != len(text) and text[end:].strip():
        raise ValueError("extra data after the JSON value")
    return value


@dataclass
class CaptureDecoder:
    """Decodes capture lines against an expected ``feature_dim``, or any width when it is None.

    Without an expected width every width is accepted (a record's rows must still agree) and
    counted once per record in ``widths``, so a caller can find the file's dominant width in a
    first pass (:func:`dominant_width`) instead of trusting its first row. With one, ``widths``
    counts the rows that did not match it.
    """

    feature_dim: int | None = None
    #: An optional faster JSON parser of a whole line's bytes (orjson.loads, offline only). It is
    #: tried first; whatever it refuses goes to the standard library, which decides the reason,
    #: so the result never depends on it (tests/unit/test_capture_fast_json.py).
    fast_json: Callable[[bytes], Any] | None = None
    records: int = 0
    decoded: int = 0
    rejected: int = 0
    rows: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    widths: dict[int, int] = field(default_factory=dict)
    _record_dim: int | None = field(default=None, repr=False)

    @property
    def dominant_width(self) -> int | None:
        """The width most records have (the wider on a tie), None before any record."""
        if not self.widths:
            return None
        return max(self.widths, key=lambda width: (self.widths[width], width))

    def decode(self, lines: Iterable[bytes | OverlongLine | Unreadable]) -> Iterator[CaptureRecord | Reject]:
        """Decode lines in order; a record's line number is its position (1-based)."""
        return map(self.decode_line, lines)

    def decode_line(self, raw: bytes | OverlongLine | Unreadable) -> CaptureRecord | Reject:
        """Decode the next line. Never raises: any problem becomes a :class:`Reject`."""
        self.records += 1
        number = self.records
        event_id: str | None = None
        meta: Any = None
        try:
            doc = _UNPARSED
            if self.fast_json is not None and raw.__class__ is bytes:
                try:
                    doc = self.fast_json(raw)
                except Exception:  # noqa: BLE001 - the standard library below names what is wrong
                    doc = _UNPARSED
            if doc is _UNPARSED:
                doc = self._parse(raw)
            if doc.__class__ is not dict:
                raise Rejected(NO_CAPTURE_DATA, "line is not a JSON object")
            meta = doc.get("eventMetadata")
            if meta.__class__ is not dict:
                meta = _NO_META
            event_id = meta.get("eventId")
            if event_id.__class__ is not str:
                event_id = None
            self._record_dim = self.feature_dim
            rows = self._rows(doc)
        except Rejected as rejected:
            self.rejected += 1
            self.reasons[rejected.reason] = self.reasons.get(rejected.reason, 0) + 1
            return Reject(number, event_id, rejected.reason, rejected.detail, rejected.column)
        self.decoded += 1
        self.rows += len(rows)
        inference_id = meta.get("inferenceId")
        inference_time = meta.get("inferenceTime")
        return CaptureRecord(
            number,
            event_id,
            inference_id if inference_id.__class__ is str else None,
            inference_time if inference_time.__class__ is str else None,
            rows,
        )

    @staticmethod
    def _parse(raw: bytes | OverlongLine | Unreadable) -> Any:
        """The line's JSON value by the standard library, which names what is wrong with it."""
        if isinstance(raw, Unreadable):
            raise Rejected(raw.reason, raw.detail)
        if isinstance(raw, OverlongLine):
            raise Rejected(LINE_TOO_LONG, f"line of {raw.size} bytes is over the limit")
        try:
            return _loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise Rejected(NOT_UTF8, f"invalid UTF-8 at byte {exc.start}") from None
        except (ValueError, RecursionError):
            if not raw.strip():
                raise Rejected(EMPTY_LINE) from None
            raise Rejected(NOT_JSON, "line is not valid JSON") from None

    def _rows(self, doc: dict[str, Any]) -> list[str]:
        capture = doc.get("captureData")
        endpoint_input = capture.get("endpointInput") if capture.__class__ is dict else None
        if endpoint_input.__class__ is not dict:
            raise Rejected(NO_CAPTURE_DATA, "no captureData.endpointInput")
        data = endpoint_input.get("data")
        if endpoint_input.get("encoding") == "BASE64" and data.__class__ is str:
            # the common case, first: base64 CSV (everything else, and any error, in _payload)
            try:
                text = binascii.a2b_base64(data, strict_mode=True).decode("utf-8")
                kind = _KINDS[endpoint_input.get("observedContentType")]
            except (binascii.Error, ValueError, KeyError, TypeError):
                text, kind = _payload(endpoint_input)
            if kind is None:
                text, kind = _payload(endpoint_input)
        else:
            text, kind = _payload(endpoint_input)
        if kind == "csv":
            if '"' in text:  # quoted fields: the full RFC 4180 rules (rare, so slower is fine)
                return self._quoted_csv_rows(text)
            if "\n" not in text:  # the common case: one row per record
                row = text.strip()
                if row:
                    return [self._csv_row(row, 0)]
                raise Rejected(EMPTY_PAYLOAD, "payload is empty")
            rows = [
                self._csv_row(row, index)
                for index, line in enumerate(text.split("\n"))
                if (row := line.strip())
            ]
        else:
            if not text.strip():
                raise Rejected(EMPTY_PAYLOAD, "payload is empty")
            rows = self._json_rows(text)
        if not rows:
            raise Rejected(EMPTY_PAYLOAD, "payload holds no rows")
        return rows

    # ------------------------------------------------------------------ CSV
    def _csv_row(self, row: str, index: int) -> str:
        """Validate one stripped CSV row without quotes; returns it (without spaces around values)."""
        if not row.isascii() or "_" in row:  # float() accepts "1_0" and non-ASCII digits
            raise Rejected(NON_NUMERIC, f"row {index} has a non-numeric value")
        tokens = row.split(",")
        try:
            total = sum(map(float, tokens))
        except ValueError:
            column = next(i for i, token in enumerate(tokens, 1) if not _is_float(token))
            raise Rejected(NON_NUMERIC, f"row {index} column {column} is not a number", column) from None
        # One sum is cheaper than a finiteness test per value: a NaN or an infinity makes the sum
        # non-finite (so does a float overflow, which the exact test then clears).
        if not isfinite(total) and not all(map(isfinite, map(float, tokens))):
            column = next(i for i, token in enumerate(tokens, 1) if not isfinite(float(token)))
            raise Rejected(NON_FINITE, f"row {index} column {column} is NaN or infinite", column)
        if len(tokens) != self._record_dim:
            self._check_dim(len(tokens), index)
        if " " in row or "\t" in row:
            return ",".join(token.strip() for token in tokens)
        return row

    def _quoted_csv_rows(self, text: str) -> list[str]:
        """RFC 4180: a quoted field may hold commas, line breaks and doubled quotes."""
        try:
            records = list(csv.reader(text.splitlines(), strict=True))
        except csv.Error:
            raise Rejected(BAD_CSV, "payload is not valid CSV (unbalanced or misplaced quote)") from None
        rows: list[str] = []
        for fields in records:
            if not any(value.strip() for value in fields):
                continue
            index = len(rows)
            for column, value in enumerate(fields, 1):
                token = value.strip()
                if not token.isascii() or "_" in token or not _is_float(token):
                    raise Rejected(
                        NON_NUMERIC, f"row {index} column {column} is not a number (quoted field)", column
                    )
                if not isfinite(float(token)):
                    raise Rejected(NON_FINITE, f"row {index} column {column} is NaN or infinite", column)
            self._check_dim(len(fields), index)
            rows.append(",".join(value.strip() for value in fields))
        if not rows:
            raise Rejected(EMPTY_PAYLOAD, "payload holds no rows")
        return rows

    # ------------------------------------------------------------------ JSON
    def _json_rows(self, text: str) -> list[str]:
        try:
            docs = [json.loads(text)]
        except RecursionError:
            raise Rejected(NOT_JSON, "payload nests too deeply") from None
        except ValueError:
            docs = self._json_lines(text)
        rows: list[str] = []
        for doc in docs:
            for values in feature_lists(doc):
                floats = finite_floats(values, len(rows))
                self._check_dim(len(floats), len(rows))
                rows.append(",".join(map(repr, floats)))
        return rows

    @staticmethod
    def _json_lines(text: str) -> list[Any]:
        docs = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    docs.append(json.loads(line))
                except (ValueError, RecursionError):
                    raise Rejected(NOT_JSON, f"payload line {number} is not JSON") from None
        return docs

    def _check_dim(self, count: int, index: int) -> None:
        """A row whose width differs from the expected one (or the record's first): count the width;
        reject the row when a width was expected."""
        if count != self._record_dim:
            self.widths[count] = self.widths.get(count, 0) + 1
            if self._record_dim is not None:
                raise Rejected(
                    FEATURE_COUNT, f"row {index} has {count} features, expected {self._record_dim}"
                )
            self._record_dim = count


_NO_META: dict[str, Any] = {}
_UNPARSED: Final = object()  # no JSON value yet (a line may hold null)


def _payload(endpoint_input: dict[str, Any]) -> tuple[str, str]:
    """The payload text and its kind (csv or json), base64 decoded when captured as BASE64."""
    data = endpoint_input.get("data")
    if data.__class__ is not str:
        raise Rejected(NO_CAPTURE_DATA, "endpointInput has no data")
    encoding = endpoint_input.get("encoding")
    if encoding.__class__ is str and encoding not in _ENCODINGS:
        encoding = encoding.upper()
    content_type = endpoint_input.get("observedContentType")
    if encoding == "BASE64":
        try:
            payload = binascii.a2b_base64(data, strict_mode=True)
        except (binascii.Error, ValueError):
            raise Rejected(BAD_BASE64, "data is not valid base64") from None
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Rejected(NOT_UTF8, f"decoded payload: invalid UTF-8 at byte {exc.start}") from None
        kind = _kind_of(content_type)
    elif encoding == "CSV":
        text, kind = data, "csv"
    elif encoding == "JSON":
        text, kind = data, "json"
    else:  # no or unknown encoding: the data is text in the observed content type
        text, kind = data, _kind_of(content_type)
    if kind is None:
        raise Rejected(UNSUPPORTED_CONTENT, f"content type {media_type(content_type)!r}"[:120])
    return text, kind


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def dominant_width(stream: Readable, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> int | None:
    """The row width most of a capture stream's records have (a first pass; None without rows)."""
    decoder = CaptureDecoder()
    for _ in decoder.decode(read_lines(stream, max_line_bytes=max_line_bytes)):
        pass
    return decoder.dominant_width


def decode_stream(
    stream: Readable,
    decoder: CaptureDecoder | None = None,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[CaptureRecord | Reject]:
    """Decode a capture stream record by record (counts accumulate on ``decoder``)."""
    active = decoder if decoder is not None else CaptureDecoder()
    return active.decode(read_lines(stream, max_line_bytes=max_line_bytes))
