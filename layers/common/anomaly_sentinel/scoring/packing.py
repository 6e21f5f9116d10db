"""Request packing: rows into ``text/csv`` request bodies under a byte and a row limit.

Serverless endpoints refuse payloads over 4 MB; each request holds as many whole rows as fit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(slots=True)
class Batch:
    """Consecutive rows ``first_seq .. first_seq + count - 1`` as one request body."""

    first_seq: int
    count: int
    body: bytes


class RequestPacker:
    """Greedy packer: each request holds as many whole rows as fit under both limits."""

    def __init__(self, max_bytes: int, max_rows: int) -> None:
        self.max_bytes = max_bytes
        self.max_rows = max_rows
        self.next_seq = 0
        self._rows: list[str] = []
        self._size = 0
        self._first = 0

    def fits_alone(self, row: str) -> bool:
        return len(row) <= self.max_bytes

    def add(self, row: str) -> Batch | None:
        """Add one ASCII row (its sequence number is ``next_seq``); returns a sealed batch if any."""
        cost = len(row) + (1 if self._rows else 0)  # rows are joined with "\n"
        sealed = None
        if self._rows and (self._size + cost > self.max_bytes or len(self._rows) >= self.max_rows):
            sealed = self.flush()
            cost = len(row)
        if not self._rows:
            self._first = self.next_seq
        self._rows.append(row)
        self._size += cost
        self.next_seq += 1
        return sealed

    def pack(self, rows: Iterable[str]) -> Iterator[Batch]:
        """Every row of ``rows`` (in order, their sequence numbers counting on) in sealed batches,
        the last partial one included. Lazy: a flow's generator of rows may read ``next_seq`` to
        learn the number its next row gets, and skip what does not fit alone."""
        add = self.add
        for row in rows:
            sealed = add(row)
            if sealed is not None:
                yield sealed
        last = self.flush()
        if last is not None:
            yield last

    def flush(self) -> Batch | None:
        if not self._rows:
            return None
        batch = Batch(self._first, len(self._rows), "\n".join(self._rows).encode("ascii"))
        self._rows, self._size = [], 0
        return batch
