"""A readable, timed timeline for long local runs (the demo): one line per stage, failures kept."""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO


@dataclass
class Stage:
    name: str
    started: float
    seconds: float = 0.0
    ok: bool = True
    notes: list[str] = field(default_factory=list)
    error: str | None = None


class Timeline:
    """``with timeline.stage("upload") as s: ...; s.notes.append("...")`` — prints as it goes."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.origin = time.perf_counter()
        self.stages: list[Stage] = []

    @property
    def failed(self) -> list[Stage]:
        return [s for s in self.stages if not s.ok]

    def say(self, stage: str, message: str) -> None:
        elapsed = time.perf_counter() - self.origin
        print(f"[{elapsed:6.1f}s] {stage:<12} {message}", file=self.out, flush=True)

    @contextmanager
    def stage(self, name: str) -> Iterator[Stage]:
        current = Stage(name, time.perf_counter())
        self.stages.append(current)
        try:
            yield current
        except Exception as exc:
            current.ok = False
            current.error = f"{type(exc).__name__}: {exc}"
            self.say(name, f"FAILED {current.error}")
            traceback.print_exc(file=sys.stderr)
            raise
        finally:
            current.seconds = time.perf_counter() - current.started
