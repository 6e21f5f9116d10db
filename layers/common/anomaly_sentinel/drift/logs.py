"""Drift of log traffic: the share of unseen lines (OOV) and the new templates, per file and per window.

The scoring function stores one small statistics document per log file beside its scores
(:class:`LogFileStatistics`); the drift monitor merges a window of them (:class:`LogWindow`) and
compares it with the log model's own baseline — the OOV share on the data it was trained on,
``log_baseline.json`` in the model directory — in Model Monitor's violation format:

* ``oov_share_check``: the window's OOV share exceeds the baseline's by more than a tolerance
  (absolute, in share points), once the window has enough lines;
* ``new_template_check``: one violation per unseen line shape (masked as the template table masks),
  the most widespread first, bounded.

Standard library only; bounded reading (a statistics document is small and its lists are capped).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from anomaly_sentinel.contracts.messages import Violation
from anomaly_sentinel.documents import read_document

LOG_STATISTICS_VERSION: Final = 1
LOG_BASELINE_FILE: Final = "log_baseline.json"
#: Two numbers: anything larger is not the file the log route wrote.
LOG_BASELINE_MAX_BYTES: Final = 64 * 1024
OOV_SHARE_CHECK: Final = "oov_share_check"
NEW_TEMPLATE_CHECK: Final = "new_template_check"
OOV_FEATURE: Final = "oov_share"
#: New-template shapes a document or a window keeps (the most widespread).
MAX_SHAPES: Final = 50
#: New-template violations one window reports at most.
MAX_NEW_TEMPLATE_VIOLATIONS: Final = 10
#: Defaults: 1 share point over the baseline, at least 1,000 matched lines in the window.
OOV_TOLERANCE: Final = 0.01
MIN_LINES: Final = 1000
_SHAPE_CHARS: Final = 160


@dataclass(frozen=True, slots=True)
class Shape:
    """An unseen line shape, the sessions it appeared in, and one sample line (bounded)."""

    shape: str
    sessions: int
    sample: str

    def to_json(self) -> dict[str, Any]:
        return {"shape": self.shape, "sessions": self.sessions, "sample": self.sample}

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Shape:
        return cls(
            str(doc["shape"])[:_SHAPE_CHARS], _count(doc["sessions"]), str(doc["sample"])[:_SHAPE_CHARS]
        )


@dataclass(frozen=True, slots=True)
class LogFileStatistics:
    """One scored log file, as the drift monitor needs it (counts and a few shapes, never lines)."""

    source: str
    model_package: str
    lines: int
    matched: int
    unseen: int
    rejected: int
    sessions: int
    anomalies: int
    new_templates: tuple[Shape, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "version": LOG_STATISTICS_VERSION,
            "kind": "logs",
            "source": self.source,
            "model_package": self.model_package,
            "lines": self.lines,
            "matched": self.matched,
            "unseen": self.unseen,
            "rejected": self.rejected,
            "sessions": self.sessions,
            "anomalies": self.anomalies,
            "new_templates": [s.to_json() for s in self.new_templates[:MAX_SHAPES]],
        }

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> LogFileStatistics:
        """Raises ValueError, KeyError or TypeError on a malformed document (the caller names the file)."""
        if doc.get("version") != LOG_STATISTICS_VERSION or doc.get("kind") != "logs":
            raise ValueError(f"not a version {LOG_STATISTICS_VERSION} log statistics document")
        shapes = doc.get("new_templates") or []
        if not isinstance(shapes, list):
            raise TypeError("new_templates must be a list")
        return cls(
            source=str(doc.get("source", "")),
            model_package=str(doc.get("model_package", "")),
            lines=_count(doc["lines"]),
            matched=_count(doc["matched"]),
            unseen=_count(doc["unseen"]),
            rejected=_count(doc["rejected"]),
            sessions=_count(doc["sessions"]),
            anomalies=_count(doc["anomalies"]),
            new_templates=tuple(Shape.from_json(s) for s in shapes[:MAX_SHAPES]),
        )


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{value!r} is not a count")
    return value


@dataclass(frozen=True, slots=True)
class LogBaseline:
    """The OOV share of the log model on its own training lines (``log_baseline.json``)."""

    oov_share: float
    lines: int

    def to_bytes(self) -> bytes:
        return json.dumps({"oov_share": self.oov_share, "lines": self.lines}, indent=2).encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes) -> LogBaseline:
        """Through the guard of documents other runs wrote: a DocumentError (a ValueError) says why."""
        doc = read_document(raw, max_bytes=LOG_BASELINE_MAX_BYTES)
        share = doc["oov_share"]
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise ValueError("oov_share must be a number in [0, 1]")
        return cls(float(share), _count(doc["lines"]))


@dataclass
class LogWindow:
    """The merge of a window's log file statistics (memory bounded by MAX_SHAPES)."""

    files: int = 0
    lines: int = 0
    matched: int = 0
    unseen: int = 0
    rejected: int = 0
    sessions: int = 0
    anomalies: int = 0
    models: set[str] = field(default_factory=set)
    shapes: dict[str, Shape] = field(default_factory=dict)

    def add(self, stats: LogFileStatistics) -> None:
        self.files += 1
        self.lines += stats.lines
        self.matched += stats.matched
        self.unseen += stats.unseen
        self.rejected += stats.rejected
        self.sessions += stats.sessions
        self.anomalies += stats.anomalies
        self.models.add(stats.model_package)
        for shape in stats.new_templates:
            known = self.shapes.get(shape.shape)
            if known is not None:
                self.shapes[shape.shape] = Shape(known.shape, known.sessions + shape.sessions, known.sample)
            elif len(self.shapes) < MAX_SHAPES:
                self.shapes[shape.shape] = shape

    @property
    def oov_share(self) -> float | None:
        total = self.matched + self.unseen
        return self.unseen / total if total else None

    def ranked_shapes(self) -> list[Shape]:
        return sorted(self.shapes.values(), key=lambda s: (-s.sessions, s.shape))

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "lines": self.lines,
            "matched": self.matched,
            "unseen": self.unseen,
            "rejected": self.rejected,
            "sessions": self.sessions,
            "anomalies": self.anomalies,
            "oov_share": self.oov_share,
            "model_packages": sorted(self.models),
            "new_templates": [s.to_json() for s in self.ranked_shapes()],
        }


def merge_log_window(stats: Iterable[LogFileStatistics]) -> LogWindow:
    window = LogWindow()
    for item in stats:
        window.add(item)
    return window


def compare_logs(
    window: LogWindow,
    baseline: LogBaseline | None,
    *,
    min_lines: int = MIN_LINES,
    tolerance: float = OOV_TOLERANCE,
) -> tuple[list[Violation], str | None]:
    """Violations of the window, and why the comparison was skipped (None when it ran)."""
    share = window.oov_share
    seen = window.matched + window.unseen
    if share is None or seen < min_lines:
        return [], f"{seen} matched lines in the window, {min_lines} needed"
    violations = []
    if baseline is not None and share > baseline.oov_share + tolerance and math.isfinite(share):
        violations.append(
            Violation(
                feature_name=OOV_FEATURE,
                check_type=OOV_SHARE_CHECK,
                description=f"{share:.2%} of {seen} lines match no template of the log model; its "
                f"baseline is {baseline.oov_share:.2%} (tolerance {tolerance:.2%})",
                value=share,
                threshold=baseline.oov_share + tolerance,
            )
        )
    for shape in window.ranked_shapes()[:MAX_NEW_TEMPLATE_VIOLATIONS]:
        violations.append(
            Violation(
                feature_name=f"template:{shape.shape[:80]}",
                check_type=NEW_TEMPLATE_CHECK,
                description=f"a line shape the log model has no template for, in {shape.sessions} "
                f"session(s); sample: {shape.sample}",
            )
        )
    return violations, None if baseline is not None else "no log baseline: OOV share not compared"
