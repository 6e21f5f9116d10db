"""What a scored log file keeps: scores rows, rejects, and the bounded lists its alert shows.

:class:`LineRejects` writes a JSONL reject per line the stream could not use; :class:`Ledger` one
``session,score,anomaly`` row per scored session, one reject per session that was not scored, and
keeps the counts, top anomalies, templates of anomalous sessions and new template shapes.
"""

from __future__ import annotations

import csv
import heapq
import io
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any, Final

from anomaly_sentinel.logs.grouping import Group
from anomaly_sentinel.logs.model import LogModel
from anomaly_sentinel.logs.report import SAMPLE_CHARS, NewTemplate, TemplateCount, TopAnomaly

#: Distinct new-template shapes tracked per file (later shapes are counted under "more").
MAX_NEW_SHAPES: Final = 50
SCORES_HEADER: Final = ("session", "score", "anomaly")


class LineRejects:
    """Writes one JSONL reject per rejected line: ``stream.group_events``' ``on_reject``."""

    def __init__(self, sink: IO[bytes]) -> None:
        self.sink = sink
        self.count = 0

    def __call__(self, line: int, reason: str) -> None:
        self.count += 1
        self.sink.write(_jsonl({"line": line, "stage": "parse", "reason": reason}))


@dataclass
class Ledger:
    """Writes scores and session rejects; keeps the counts and the bounded lists the alert needs."""

    model: LogModel
    scores: IO[bytes]
    rejects: IO[bytes]
    keep: int = 10
    sessions: int = 0
    scored: int = 0
    rejected: int = 0
    anomalies: int = 0
    max_score: float | None = None
    reasons: Counter[str] = field(default_factory=Counter)
    _top: list[tuple[float, int, str, int]] = field(default_factory=list)
    _anomalous_templates: Counter[int] = field(default_factory=Counter)
    _shapes: dict[str, list[Any]] = field(default_factory=dict)  # shape -> [sessions, sample]
    _text: io.StringIO = field(default_factory=io.StringIO)

    def __post_init__(self) -> None:
        self._csv = csv.writer(self._text, lineterminator="\n")
        self._row(SCORES_HEADER)

    def add(self, group: Group, score: float | None, reason: str | None) -> None:
        self.sessions += 1
        self._observe_new(group)
        if score is None:
            self.rejected += 1
            code = (reason or "not-scored").split(":", 1)[0]
            self.reasons[code] += 1
            document = {"session": group.key, "first_line": group.first_line, "stage": "score"}
            self.rejects.write(_jsonl({**document, "reason": code, "detail": reason or ""}))
            return
        self.scored += 1
        anomaly = score > self.model.cutoff
        self.max_score = score if self.max_score is None else max(self.max_score, score)
        self._row((group.key, repr(score), int(anomaly)))
        if not anomaly:
            return
        self.anomalies += 1
        self._anomalous_templates.update({t: c for t, c in group.counts.items() if t is not None})
        item = (score, -group.first_line, group.key, group.length)
        if len(self._top) < self.keep:
            heapq.heappush(self._top, item)
        else:
            heapq.heappushpop(self._top, item)

    def _row(self, values: Iterable[Any]) -> None:
        self._csv.writerow(values)
        self.scores.write(self._text.getvalue().encode("utf-8"))
        self._text.seek(0)
        self._text.truncate()

    def _observe_new(self, group: Group) -> None:
        """Unseen lines by shape (the group keeps a few samples): sessions per shape, one sample."""
        if not group.new_templates:
            return
        mask = self.model.matcher.mask
        for shape in {mask(sample): sample for sample in group.new_templates}.items():
            entry = self._shapes.get(shape[0])
            if entry is not None:
                entry[0] += 1
            elif len(self._shapes) < MAX_NEW_SHAPES:
                self._shapes[shape[0]] = [1, shape[1]]

    # ------------------------------------------------------------------ what the report shows
    def top_anomalies(self) -> list[TopAnomaly]:
        return [
            TopAnomaly(session=key, score=score, first_line=-line, lines=length)
            for score, line, key, length in sorted(self._top, reverse=True)
        ]

    def top_templates(self) -> list[TemplateCount]:
        """Templates most frequent in the anomalous sessions, with their text."""
        texts = self.model.table.by_id()
        return [
            TemplateCount(template_id=t, count=n, text=texts[t].text if t in texts else "?")
            for t, n in self._anomalous_templates.most_common(self.keep)
        ]

    def new_templates(self) -> list[NewTemplate]:
        ranked = sorted(self._shapes.items(), key=lambda item: (-item[1][0], item[0]))
        return [
            NewTemplate(shape=shape[:SAMPLE_CHARS], sessions=count, sample=sample[:SAMPLE_CHARS])
            for shape, (count, sample) in ranked[: self.keep]
        ]


def _jsonl(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, separators=(",", ":")) + "\n").encode("utf-8")
