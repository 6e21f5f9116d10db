"""Log formats: split a line into header fields and content, find its session keys, mask its content.

A format is a small description (a header regex with named groups, one of them ``content``; a
session key regex; masks; where the time is), so the same code reads HDFS, BlueGene/L and a
user's own logs. Presets: ``hdfs`` and ``bgl`` (their real header layouts, docs/LOGS.md); any other
text is taken as the user's regex. Only the content goes to Drain and to the matcher; the header
gives the time and, for BGL, the line's own label (never a feature).

Masks (:mod:`anomaly_sentinel.logs.masks`) replace variable parts of the content before parsing;
the session keys come from the unmasked content. A line's bytes become text, or a reject reason,
in :mod:`anomaly_sentinel.logs.lines`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from anomaly_sentinel.logs.exceptions import LogFormatError
from anomaly_sentinel.logs.lines import (
    BINARY_LINE,
    DEFAULT_MAX_LINE_BYTES,
    EMPTY_LINE,
    LATE_LINE,
    LINE_TOO_LONG,
    NO_HEADER_MATCH,
    NO_SESSION_KEY,
    NO_TIME,
    NOT_UTF8,
    REASONS,
    UNREADABLE,
    Rejected,
    decode_line,
    decode_lines,
)
from anomaly_sentinel.logs.masks import DEFAULT_MASKS, Mask, Masker

# Re-exported: the reject reasons, masks and line decoding were first defined here.
__all__ = [
    "BGL",
    "BINARY_LINE",
    "DEFAULT_MASKS",
    "DEFAULT_MAX_LINE_BYTES",
    "EMPTY_LINE",
    "HDFS",
    "LATE_LINE",
    "LINE_TOO_LONG",
    "NOT_UTF8",
    "NO_HEADER_MATCH",
    "NO_SESSION_KEY",
    "NO_TIME",
    "PRESETS",
    "REASONS",
    "UNREADABLE",
    "LogFormat",
    "Mask",
    "Masker",
    "ParsedLine",
    "Rejected",
    "decode_line",
    "decode_lines",
    "resolve_format",
]

MAX_REGEX_CHARS: Final = 4096
CONTENT: Final = "content"
SESSION: Final = "session"
TIME: Final = "time"
LABEL: Final = "label"

_GROUP_NAME = re.compile(r"\(\?P<([A-Za-z_][A-Za-z0-9_]*)>")


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """A line's content (for Drain and the matcher), its session keys, time and header fields."""

    content: str
    session_keys: tuple[str, ...]
    time: datetime | None
    label: str | None
    fields: Mapping[str, str]


@dataclass(frozen=True)
class LogFormat:
    """How to read one kind of log; serialised into the template table so scoring reads alike."""

    name: str
    header: str
    session_key: str | None = None
    time_fields: tuple[str, ...] = ()
    time_format: str = "iso"
    label_field: str | None = None
    normal_label: str = "-"
    masks: tuple[Mask, ...] = DEFAULT_MASKS
    grouping: Mapping[str, Any] = field(default_factory=lambda: {"kind": "lines", "lines": 100})
    _header: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _session: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _session_group: bool = field(init=False, repr=False, compare=False)
    _masker: Masker = field(init=False, repr=False, compare=False)
    _clock: Callable[[str], datetime | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        header = _compile(self.header, "header regex")
        if CONTENT not in header.groupindex:
            raise LogFormatError("the header regex needs a named group (?P<content>...) for the message")
        for name in (*self.time_fields, *([self.label_field] if self.label_field else [])):
            if name not in header.groupindex:
                raise LogFormatError(f"the header regex has no group named {name!r}")
        session = _compile(self.session_key, "session key regex") if self.session_key else None
        object.__setattr__(self, "_header", header)
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_masker", Masker(self.masks))
        object.__setattr__(self, "_clock", _clock(self.time_format))
        object.__setattr__(self, "_session_group", SESSION in header.groupindex)

    @property
    def has_sessions(self) -> bool:
        """Lines carry session keys (block ids, or a ``session`` group): session windows apply."""
        return self._session is not None or self._session_group

    @property
    def has_time(self) -> bool:
        return bool(self.time_fields)

    @property
    def masker(self) -> Masker:
        return self._masker

    def split(self, line: str) -> ParsedLine | Rejected:
        """Header fields, content, session keys and time of one decoded line."""
        if not line.strip():
            return Rejected(EMPTY_LINE)
        match = self._header.fullmatch(line)
        if match is None:
            return Rejected(NO_HEADER_MATCH, f"does not match the {self.name} header")
        fields = match.groupdict()
        content = (fields.get(CONTENT) or "").strip()
        keys: tuple[str, ...] = ()
        if self._session is not None:
            keys = tuple(dict.fromkeys(self._session.findall(content)))
        elif self._session_group and fields.get(SESSION):
            keys = (fields[SESSION],)
        when = None
        if self.time_fields:
            when = self._clock(" ".join(fields[name] or "" for name in self.time_fields))
        label = fields.get(self.label_field) if self.label_field else None
        return ParsedLine(content, keys, when, label, fields)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "header": self.header,
            "session_key": self.session_key,
            "time_fields": list(self.time_fields),
            "time_format": self.time_format,
            "label_field": self.label_field,
            "normal_label": self.normal_label,
            "masks": [m.to_json() for m in self.masks],
            "grouping": dict(self.grouping),
        }

    @classmethod
    def from_json(cls, document: Any) -> LogFormat:
        """A format from its JSON form (inside templates.json); :class:`LogFormatError` names the field."""
        if not isinstance(document, dict):
            raise LogFormatError("format: expected a JSON object")
        try:
            masks = tuple(
                Mask(
                    str(m["name"]),
                    str(m["pattern"]),
                    tuple(str(h) for h in m.get("hints", [])),
                    int(m.get("hint_count", 1)),
                )
                for m in document.get("masks", [])
            )
            grouping = document.get("grouping") or {"kind": "lines", "lines": 100}
            if not isinstance(grouping, dict):
                raise LogFormatError("format: grouping must be an object")
            return cls(
                name=_text(document, "name"),
                header=_text(document, "header"),
                session_key=_text(document, "session_key") if document.get("session_key") else None,
                time_fields=tuple(str(n) for n in document.get("time_fields", [])),
                time_format=str(document.get("time_format", "iso")),
                label_field=_text(document, "label_field") if document.get("label_field") else None,
                normal_label=str(document.get("normal_label", "-")),
                masks=masks,
                grouping=grouping,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise LogFormatError(f"format: malformed ({exc})") from None


def _text(document: dict[str, Any], name: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value:
        raise LogFormatError(f"format: field {name!r} must be a non-empty string")
    if len(value) > MAX_REGEX_CHARS:
        raise LogFormatError(f"format: field {name!r} is longer than {MAX_REGEX_CHARS} characters")
    return value


def _compile(pattern: str | None, what: str) -> re.Pattern[str]:
    if not pattern:
        raise LogFormatError(f"the {what} is empty")
    if len(pattern) > MAX_REGEX_CHARS:
        raise LogFormatError(f"the {what} is longer than {MAX_REGEX_CHARS} characters")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise LogFormatError(f"the {what} does not compile: {exc}") from None


# ---------------------------------------------------------------------------- time


def _clock(time_format: str) -> Callable[[str], datetime | None]:
    """A parser of header times into UTC datetimes; None for a time that does not parse.

    Logs repeat the same second on many lines, so the last result is reused (strptime is slow).
    Times without a zone (HDFS, BGL's text time) are taken as UTC.
    """
    last: list[Any] = [None, None]

    def parse(text: str) -> datetime | None:
        if text == last[0]:
            return last[1]
        try:
            if time_format == "epoch":
                when = datetime.fromtimestamp(float(text), tz=UTC)
            elif time_format == "iso":
                when = datetime.fromisoformat(text.strip())
            else:
                when = datetime.strptime(text, time_format)
        except (ValueError, OverflowError, OSError):
            when = None
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        last[0], last[1] = text, when
        return when

    return parse


# ---------------------------------------------------------------------------- presets

HDFS: Final = LogFormat(
    name="hdfs",
    header=(
        r"(?P<date>\d{6}) (?P<time>\d{6}) (?P<pid>\d+) (?P<level>[A-Z]+) (?P<component>\S+?): "
        r"(?P<content>.*)"
    ),
    session_key=r"blk_-?\d+",
    time_fields=("date", "time"),
    time_format="%y%m%d %H%M%S",
    grouping={"kind": "session"},
)

BGL: Final = LogFormat(
    name="bgl",
    header=(
        r"(?P<label>\S+) (?P<timestamp>\d+) (?P<date>\d{4}\.\d{2}\.\d{2}) (?P<node>\S+) "
        r"(?P<time>\d{4}-\d{2}-\d{2}-\d{2}\.\d{2}\.\d{2}\.\d+) (?P<noderepeat>\S+) (?P<type>\S+) "
        r"(?P<component>\S+) (?P<level>\S+) (?P<content>.*)"
    ),
    time_fields=("timestamp",),
    time_format="epoch",
    label_field="label",
    normal_label="-",
    grouping={"kind": "time", "window_seconds": 60},
)

PRESETS: Final = {"hdfs": HDFS, "bgl": BGL}


def resolve_format(spec: str) -> LogFormat:
    """``hdfs``, ``bgl``, or a regex with named groups (``content`` required).

    A user regex may name ``session`` (the session key), ``time`` (ISO 8601) and ``label``. Without
    a session group, lines are grouped in time windows when the regex names a time, else in
    windows of N lines.
    """
    if not isinstance(spec, str) or not spec:
        raise LogFormatError("the format is empty: give hdfs, bgl or a regex with (?P<content>...)")
    preset = PRESETS.get(spec.lower())
    if preset is not None:
        return preset
    if "(?P<" not in spec:
        raise LogFormatError(
            f"unknown format {spec[:40]!r}: give hdfs, bgl or a regex with named groups "
            "incl. (?P<content>...)"
        )
    names = set(_GROUP_NAME.findall(spec))
    if SESSION in names:
        grouping: dict[str, Any] = {"kind": "session"}
    elif TIME in names:
        grouping = {"kind": "time", "window_seconds": 60}
    else:
        grouping = {"kind": "lines", "lines": 100}
    return LogFormat(
        name="custom",
        header=spec,
        time_fields=(TIME,) if TIME in names else (),
        time_format="iso",
        label_field=LABEL if LABEL in names else None,
        grouping=grouping,
    )
