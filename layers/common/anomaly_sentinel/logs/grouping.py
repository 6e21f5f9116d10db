"""Lines → groups, streaming: memory is bounded by the open groups, not the file.

Grouping (loglizer's recipe, docs/LOGS.md):

* ``session``: one group per session key; a line naming several keys (an HDFS line naming several
  blocks) counts in each. A group closes at the end of the input, after ``idle_seconds`` without a
  line (when set), or — least recently active first — when more than ``max_open`` are open.
* ``time``: fixed windows of ``window_seconds`` (``step_seconds`` smaller than the window makes them
  sliding, a line then counts in every window that covers it). A window closes once a line at least
  ``lateness_seconds`` past its end arrives; a line whose windows are all closed is rejected late.
* ``lines``: consecutive windows of ``lines`` placed lines (logs with neither sessions nor time).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from anomaly_sentinel.logs.exceptions import VectorSpecError
from anomaly_sentinel.logs.jsonio import is_finite_number
from anomaly_sentinel.logs.lines import LATE_LINE, NO_SESSION_KEY, NO_TIME

if TYPE_CHECKING:
    from anomaly_sentinel.logs.vectors import VectorSpec

KINDS: Final = ("session", "time", "lines")
#: Sample contents of unseen lines kept per group (for alerts; bounded).
NEW_TEMPLATE_SAMPLES: Final = 3
MAX_WINDOW_SECONDS: Final = 7 * 24 * 3600
#: Events kept per group when sequences are kept (the training job's injected anomalies need order).
MAX_SEQUENCE: Final = 10_000


@dataclass(frozen=True)
class GroupingSpec:
    """How lines become groups (module doc)."""

    kind: str = "session"
    window_seconds: float = 60.0
    step_seconds: float | None = None
    lines: int = 100
    idle_seconds: float | None = None
    max_open: int = 200_000
    lateness_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise VectorSpecError(f"grouping kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not (_positive(self.window_seconds) and self.window_seconds <= MAX_WINDOW_SECONDS):
            raise VectorSpecError(f"window_seconds must be in (0, {MAX_WINDOW_SECONDS}]")
        if self.step_seconds is not None and not (
            _positive(self.step_seconds) and self.step_seconds <= self.window_seconds
        ):
            raise VectorSpecError("step_seconds must be positive and at most window_seconds")
        if not _whole(self.lines) or not 1 <= self.lines <= 1_000_000:
            raise VectorSpecError("lines must be a whole number in 1..1000000")
        if self.idle_seconds is not None and not _positive(self.idle_seconds):
            raise VectorSpecError("idle_seconds must be positive")
        if not _whole(self.max_open) or self.max_open < 1:
            raise VectorSpecError("max_open must be a whole number of at least 1")
        if not (is_finite_number(self.lateness_seconds) and self.lateness_seconds >= 0):
            raise VectorSpecError("lateness_seconds must be a number >= 0")

    @property
    def step(self) -> float:
        return self.step_seconds if self.step_seconds is not None else self.window_seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "window_seconds": self.window_seconds,
            "step_seconds": self.step_seconds,
            "lines": self.lines,
            "idle_seconds": self.idle_seconds,
            "max_open": self.max_open,
            "lateness_seconds": self.lateness_seconds,
        }

    @classmethod
    def from_json(cls, document: Any) -> GroupingSpec:
        if not isinstance(document, Mapping):
            raise VectorSpecError("grouping: expected an object")
        unknown = set(document) - set(cls().to_json())
        if unknown:
            raise VectorSpecError(f"grouping: unknown setting(s) {', '.join(sorted(unknown))}")
        try:
            return cls(**dict(document))
        except TypeError as exc:
            raise VectorSpecError(f"grouping: {exc}") from None


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive(value: Any) -> bool:
    return is_finite_number(value) and value > 0


@dataclass(slots=True)
class Group:
    """A session or window: template counts (``None`` = unseen line) and where it lies in the input."""

    key: str
    counts: Counter[int | None] = field(default_factory=Counter)
    length: int = 0
    first_line: int = 0
    last_line: int = 0
    start: datetime | None = None
    end: datetime | None = None
    marked: bool = False
    new_templates: list[str] = field(default_factory=list)
    #: The template ids in line order (only when the grouper keeps sequences; bounded).
    sequence: list[int | None] | None = None

    def add(self, line_no: int, template_id: int | None, when: datetime | None, sample: str | None) -> None:
        self.counts[template_id] += 1
        if self.sequence is not None and len(self.sequence) < MAX_SEQUENCE:
            self.sequence.append(template_id)
        self.length += 1
        if not self.first_line:
            self.first_line = line_no
        self.last_line = line_no
        if when is not None:
            if self.start is None or when < self.start:
                self.start = when
            if self.end is None or when > self.end:
                self.end = when
        if template_id is None and sample is not None and len(self.new_templates) < NEW_TEMPLATE_SAMPLES:
            self.new_templates.append(sample)


class Grouper:
    """Streaming grouping (module doc). ``add`` places a line; ``closed``/``close`` hand out groups.

    ``add`` returns None when the line was placed, else the reject reason (``no-session-key``,
    ``no-time``, ``late-line``), also counted in :attr:`rejects`; :attr:`last_keys` names the groups
    the last line went to. ``keep_sequences`` keeps each group's template ids in order (training).
    """

    def __init__(self, spec: GroupingSpec | VectorSpec, *, keep_sequences: bool = False) -> None:
        self.spec = spec if isinstance(spec, GroupingSpec) else spec.grouping
        self.keep_sequences = keep_sequences
        self.last_keys: tuple[str, ...] = ()
        self._open: dict[Any, Group] = {}
        self._done: list[Group] = []
        self._closed_through: int | None = None  # time windows: every window index <= this is closed
        self._watermark: float | None = None
        self.placed = 0
        self.evicted = 0
        self.rejects: Counter[str] = Counter()

    @property
    def open_groups(self) -> int:
        return len(self._open)

    def add(
        self,
        line_no: int,
        template_id: int | None,
        session_keys: tuple[str, ...] = (),
        time: datetime | None = None,
        *,
        sample: str | None = None,
        marked: bool = False,
    ) -> str | None:
        kind = self.spec.kind
        if kind == "session":
            reason = self._add_session(line_no, template_id, session_keys, time, sample=sample, marked=marked)
        elif kind == "time":
            reason = self._add_time(line_no, template_id, time, sample=sample, marked=marked)
        else:
            reason = self._add_lines(line_no, template_id, time, sample=sample, marked=marked)
        if reason is None:
            self.placed += 1
        else:
            self.rejects[reason] += 1
            self.last_keys = ()
        return reason

    def _new(self, key: str) -> Group:
        return Group(key, sequence=[] if self.keep_sequences else None)

    def closed(self) -> Iterator[Group]:
        """Groups closed since the last call, in closing order."""
        done, self._done = self._done, []
        yield from done

    def close(self) -> Iterator[Group]:
        """End of input: every group still open, after those already closed."""
        yield from self.closed()
        remaining = self._open.values()
        if self.spec.kind == "time":
            remaining = [self._open[k] for k in sorted(self._open)]  # type: ignore[assignment]
        groups = list(remaining)
        self._open = {}
        yield from groups

    # -------------------------------------------------------------- sessions
    def _add_session(
        self,
        line_no: int,
        template_id: int | None,
        keys: tuple[str, ...],
        when: datetime | None,
        *,
        sample: str | None,
        marked: bool,
    ) -> str | None:
        if not keys:
            return NO_SESSION_KEY
        opened = self._open
        for key in keys:
            group = opened.pop(key, None)
            if group is None:
                group = self._new(key)
            group.add(line_no, template_id, when, sample)
            group.marked = group.marked or marked
            opened[key] = group  # re-inserted: the dict is ordered by last activity
        self.last_keys = keys
        spec = self.spec
        if spec.idle_seconds is not None and when is not None:
            horizon = when.timestamp() - spec.idle_seconds
            while opened:
                oldest = next(iter(opened.values()))
                if oldest.end is None or oldest.end.timestamp() >= horizon:
                    break
                self._done.append(opened.pop(oldest.key))
        while len(opened) > spec.max_open:
            oldest = next(iter(opened.values()))
            self._done.append(opened.pop(oldest.key))
            self.evicted += 1
        return None

    # -------------------------------------------------------------- time windows
    def _add_time(
        self,
        line_no: int,
        template_id: int | None,
        when: datetime | None,
        *,
        sample: str | None,
        marked: bool,
    ) -> str | None:
        if when is None:
            return NO_TIME
        moment = when.timestamp()
        spec = self.spec
        step, size = spec.step, spec.window_seconds
        first = math.floor((moment - size) / step) + 1
        last = math.floor(moment / step)
        placed: list[str] = []
        for index in range(first, last + 1):
            if self._closed_through is not None and index <= self._closed_through:
                continue
            group = self._open.get(index)
            if group is None:
                start = datetime.fromtimestamp(index * step, tz=UTC)
                group = self._open[index] = self._new(start.strftime("%Y-%m-%dT%H:%M:%SZ"))
                group.start = start
            group.add(line_no, template_id, None, sample)
            group.marked = group.marked or marked
            placed.append(group.key)
        if not placed:
            return LATE_LINE
        self.last_keys = tuple(placed)
        if self._watermark is None or moment > self._watermark:
            self._watermark = moment
            horizon = moment - spec.lateness_seconds
            for index in sorted(self._open):
                if index * step + size > horizon:
                    break
                self._done.append(self._open.pop(index))
                self._closed_through = index  # windows close in index order
        return None

    # -------------------------------------------------------------- line windows
    def _add_lines(
        self,
        line_no: int,
        template_id: int | None,
        when: datetime | None,
        *,
        sample: str | None,
        marked: bool,
    ) -> str | None:
        group = self._open.get(0)
        if group is None:
            group = self._open[0] = self._new(f"lines:{line_no}")
        group.add(line_no, template_id, when, sample)
        group.marked = group.marked or marked
        self.last_keys = (group.key,)
        if group.length >= self.spec.lines:
            self._done.append(self._open.pop(0))
        return None
