"""``timestamp,value`` series, the NAB NYC taxi data shipped with the project, and window scoring.

Shared by ``sentinel score``, the demo, the RCF benchmark and the tests, so that all of them read
the data, stamp scores and count "windows hit" the same way.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from sentinel.errors import LocalError

NAB_DIR = Path(__file__).parent / "data" / "nab"
NYC_TAXI = NAB_DIR / "nyc_taxi.csv"
NYC_TAXI_WINDOWS = NAB_DIR / "nyc_taxi_windows.json"

Window = tuple[datetime, datetime]


class SeriesError(LocalError):
    """The file is not a readable ``timestamp,value`` series (the message names file and line)."""


@dataclass(frozen=True)
class Series:
    timestamps: NDArray[np.datetime64]
    values: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.values.size)


def _timestamp(text: str) -> datetime:
    """ISO-8601 (space or T); an explicit offset is converted to naive UTC."""
    parsed = datetime.fromisoformat(text.strip())
    return parsed if parsed.tzinfo is None else parsed.astimezone(UTC).replace(tzinfo=None)


def load_series(path: Path) -> Series:
    """Read a CSV whose first column is a timestamp and second a number; a header row is optional."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise SeriesError(f"cannot read {path}: {error.strerror or error}") from error
    stamps: list[datetime] = []
    values: list[float] = []
    with handle:
        for line_no, cells in enumerate(csv.reader(handle), start=1):
            if not cells or not "".join(cells).strip():
                continue
            if len(cells) < 2:
                raise SeriesError(f"{path}:{line_no}: expected timestamp,value; got {len(cells)} field(s)")
            try:
                when = _timestamp(cells[0])
                value = float(cells[1])
            except ValueError:
                if line_no == 1 and not stamps:
                    continue  # header
                raise SeriesError(
                    f"{path}:{line_no}: expected timestamp,value (e.g. 2014-07-01 00:30:00,10844)"
                ) from None
            if not np.isfinite(value):
                raise SeriesError(f"{path}:{line_no}: value is not a finite number")
            stamps.append(when)
            values.append(value)
    if not values:
        raise SeriesError(f"{path}: no timestamp,value rows")
    order = np.argsort(np.array(stamps, dtype="datetime64[s]"), kind="stable")
    return Series(
        timestamps=np.array(stamps, dtype="datetime64[s]")[order],
        values=np.array(values, dtype=np.float64)[order],
    )


def load_windows(path: Path = NYC_TAXI_WINDOWS, data_name: str = NYC_TAXI.name) -> list[Window]:
    """NAB anomaly windows (``combined_windows.json`` format, or a bare list) for one data file.

    The entry whose key ends with ``data_name`` is used, even when it is the only one: windows
    labelled for another series would be drawn on this one without a word. A bare list names no
    series (the caller checks that its windows fall on the series: :func:`check_windows`).
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SeriesError(f"cannot read windows from {path}: {error}") from error
    if isinstance(document, dict):
        matches = [key for key in document if key.rsplit("/", 1)[-1] == data_name]
        if len(matches) != 1:
            raise SeriesError(
                f"{path} has no single entry for {data_name}: its windows are for {sorted(document)[:5]}"
            )
        entries = document[matches[0]]
    else:
        entries = document
    try:
        return [(_timestamp(start), _timestamp(end)) for start, end in entries]
    except (TypeError, ValueError) as error:
        raise SeriesError(f"{path}: windows must be [start, end] timestamp pairs ({error})") from error


def check_windows(windows: list[Window], timestamps: NDArray[np.datetime64], path: Path) -> None:
    """Windows must touch the series they are drawn on: none of them doing so means another series'."""
    first, last = timestamps[0], timestamps[-1]
    if windows and not any(start <= last and end >= first for start, end in windows):
        raise SeriesError(
            f"none of the {len(windows)} windows in {path} falls between the series' first and last "
            f"points ({str(first)[:19]} .. {str(last)[:19]}): they label another series"
        )


def shingle_timestamps(timestamps: NDArray[np.datetime64], size: int) -> NDArray[np.datetime64]:
    """Shingle i covers points i..i+size-1 and is stamped with its last point (when it is known)."""
    return timestamps[size - 1 :]


def point_scores(shares: NDArray[np.float64]) -> NDArray[np.float64]:
    """Shingle scores attributed to the points that make them anomalous: one score per point.

    ``shares`` holds each shingle's score split over its values (``attribution_array``; shingle
    i covers points i..i+size-1). A shingle gives each of its points its score scaled by that
    point's share relative to the largest share, and a point keeps the largest it is given. The
    point that dominates a shingle gets the full score, so a spike is flagged at its own
    timestamp while the normal values after it, in the same shingles, stay low.
    """
    count, size = shares.shape
    scores = shares.sum(axis=1)
    peak = shares.max(axis=1)
    relative = shares * np.divide(scores, peak, out=np.zeros_like(scores), where=peak > 0)[:, None]
    points = np.zeros(count + size - 1, dtype=np.float64)
    for offset in range(size):
        np.maximum(points[offset : offset + count], relative[:, offset], out=points[offset : offset + count])
    return points


def cutoff(scores: NDArray[np.float64], sigmas: float = 3.0) -> float:
    """The mean + k std rule of the AWS RCF examples (std over all the scores, ddof 0)."""
    return float(scores.mean() + sigmas * scores.std())


@dataclass(frozen=True)
class WindowQuality:
    """How flagged points fall on labelled windows: the benchmark's quality figures."""

    windows: int
    hits_per_window: tuple[int, ...]
    flagged: int
    flagged_in_windows: int

    @property
    def windows_hit(self) -> int:
        return sum(1 for hits in self.hits_per_window if hits > 0)

    @property
    def precision(self) -> float:
        return self.flagged_in_windows / self.flagged if self.flagged else 0.0


def window_quality(
    timestamps: NDArray[np.datetime64], flagged: NDArray[np.bool_], windows: Sequence[Window]
) -> WindowQuality:
    inside_any = np.zeros(timestamps.size, dtype=bool)
    hits = []
    for start, end in windows:
        inside = (timestamps >= np.datetime64(start)) & (timestamps <= np.datetime64(end))
        inside_any |= inside
        hits.append(int((flagged & inside).sum()))
    return WindowQuality(
        windows=len(windows),
        hits_per_window=tuple(hits),
        flagged=int(flagged.sum()),
        flagged_in_windows=int((flagged & inside_any).sum()),
    )
