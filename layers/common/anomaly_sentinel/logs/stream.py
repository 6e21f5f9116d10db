"""One pass over a log: lines → (template, session keys, time) → groups, every line accounted for.

The job (per-line events, channels), the command line and the scoring function read logs through
here, so they count and reject alike: each line read is either placed (in one group or more) or
rejected with a reason — ``lines == placed + rejected`` always (:meth:`Tally.check`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from anomaly_sentinel.capture import Readable
from anomaly_sentinel.exceptions import ScoringInvariantError
from anomaly_sentinel.logs.grouping import Group, Grouper
from anomaly_sentinel.logs.lines import DEFAULT_MAX_LINE_BYTES, Rejected, decode_lines
from anomaly_sentinel.logs.table import Matcher

#: Characters of an unseen line kept as a sample (alerts name new templates with a sample line).
SAMPLE_CHARS: Final = 200


@dataclass(frozen=True, slots=True)
class LineEvent:
    """A line's outcome: its template (None = unseen) and keys, or the reason it was rejected."""

    line: int
    template_id: int | None
    session_keys: tuple[str, ...] = ()
    time: datetime | None = None
    label: str | None = None
    content: str | None = None
    reject: str | None = None


def read_events(
    stream: Readable, matcher: Matcher, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, first_line: int = 1
) -> Iterator[LineEvent]:
    """One event per line read, in order (numbered from ``first_line``); rejects carry the reason."""
    for number, text in decode_lines(stream, max_line_bytes, first_line):
        yield line_event(number, text, matcher)


def line_event(number: int, text: str | Rejected, matcher: Matcher) -> LineEvent:
    """The event of one decoded line (or of its reject): the one rule, whoever read the bytes."""
    if isinstance(text, Rejected):
        return LineEvent(number, None, reject=text.reason)
    parsed = matcher.table.format.split(text)
    if isinstance(parsed, Rejected):
        return LineEvent(number, None, reject=parsed.reason)
    return LineEvent(
        number, matcher.match(parsed.content), parsed.session_keys, parsed.time, parsed.label, parsed.content
    )


@dataclass
class Tally:
    """What happened to the lines of one input (counts only: never contents)."""

    lines: int = 0
    placed: int = 0
    rejects: Counter[str] = field(default_factory=Counter)
    unseen: int = 0
    templates: Counter[int] = field(default_factory=Counter)
    groups: int = 0
    evicted: int = 0

    @property
    def rejected(self) -> int:
        return sum(self.rejects.values())

    def check(self) -> None:
        """Every line placed or rejected: a line that vanished is a bug, never swallowed."""
        if self.placed + self.rejected != self.lines:
            raise ScoringInvariantError(
                f"log lines: {self.placed} placed + {self.rejected} rejected != {self.lines} read"
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "placed": self.placed,
            "rejected": self.rejected,
            "rejects": dict(sorted(self.rejects.items())),
            "unseen_lines": self.unseen,
            "groups": self.groups,
            "evicted_groups": self.evicted,
        }


#: Told of every rejected line: its number and the reason (a reject record, never its content).
OnReject = Callable[[int, str], None]


def group_events(
    events: Iterator[LineEvent],
    grouper: Grouper,
    normal_label: str | None,
    tally: Tally,
    on_reject: OnReject | None = None,
) -> Iterator[Group]:
    """Place each event in its groups; yield groups as they close, then the rest at the end.

    ``normal_label``: with a format whose lines carry a label (BGL), a group holding a line with
    any other label is *marked* (the window's real label). ``on_reject(line, reason)`` hears of
    every line rejected, whether the reader refused it (not UTF-8, too long, no header match) or
    the grouper did (no session key, no time, late), as it is counted.
    """
    for event in events:
        tally.lines += 1
        if event.reject is not None:
            tally.rejects[event.reject] += 1
            if on_reject is not None:
                on_reject(event.line, event.reject)
            continue
        if event.template_id is None:
            tally.unseen += 1
        else:
            tally.templates[event.template_id] += 1
        sample = event.content[:SAMPLE_CHARS] if event.template_id is None and event.content else None
        marked = normal_label is not None and event.label is not None and event.label != normal_label
        reason = grouper.add(
            event.line, event.template_id, event.session_keys, event.time, sample=sample, marked=marked
        )
        if reason is not None:
            tally.rejects[reason] += 1
            if on_reject is not None:
                on_reject(event.line, reason)
        else:
            tally.placed += 1
        for group in grouper.closed():
            tally.groups += 1
            yield group
    for group in grouper.close():
        tally.groups += 1
        yield group
    tally.evicted = grouper.evicted
    tally.check()


def groups_of(
    stream: Readable,
    matcher: Matcher,
    grouper: Grouper,
    tally: Tally,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> Iterator[Group]:
    """A byte stream's groups (streaming), counting into ``tally``."""
    log_format = matcher.table.format
    normal = log_format.normal_label if log_format.label_field else None
    yield from group_events(read_events(stream, matcher, max_line_bytes), grouper, normal, tally)
