"""The production dataset: every record ScoreCaptureFunction accepted and scored, kept for retraining.

Layout (composed in ``contracts.layout``; the pipeline's ``channels.py`` reads exactly this;
docs/PIPELINE.md describes it)::

    s3://{DataBucket}/dataset/endpoint={endpoint}/date=YYYY-MM-DD/{capture stem}-{digest}.csv

One file per capture object and UTC day of its records. Each file has the header
``timestamp,score,x1,…,xN`` and one line per scored feature row: the record's ``inferenceTime``
(UTC, ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``; the capture file's hour when the record has none), the
score the endpoint returned, and the features exactly as they were sent. Day partitions let a
retraining run list a window of days with one ``ListObjectsV2`` per day (``Delimiter="/"`` lists
the days themselves), Athena reads the same layout as Hive partitions, and the file name derives
from the capture object (bucket and key, not its version), so scoring a file again, redelivered or
copied onto itself, overwrites, never adds.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import IO, Final

from anomaly_sentinel.contracts.layout import DATASET_PREFIX, dataset_file_name, dataset_key
from anomaly_sentinel.contracts.layout import dataset_endpoint_prefix as endpoint_prefix

__all__ = [
    "CLOCK_SKEW",
    "CONTENT_TYPE",
    "DATASET_PREFIX",
    "HEADER_SCORE",
    "HEADER_TIME",
    "TIME_FUTURE",
    "TIME_MISSING",
    "TIME_UNREADABLE",
    "DatasetError",
    "DatasetWriter",
    "DayFile",
    "endpoint_prefix",
    "format_time",
    "header",
    "parse_time",
]

HEADER_TIME = "timestamp"
HEADER_SCORE = "score"
CONTENT_TYPE = "text/csv"
#: Clock skew allowed between an inference and the capture file that records it.
CLOCK_SKEW: Final = timedelta(minutes=15)
#: Why a row's inference time was replaced by the capture file's hour (counted per reason).
TIME_MISSING: Final = "missing"
TIME_UNREADABLE: Final = "unreadable"
TIME_FUTURE: Final = "after-the-file-was-written"


class DatasetError(ValueError):
    """A row does not fit the dataset file it is written to (a bug upstream: never swallowed)."""


def header(width: int) -> str:
    return ",".join([HEADER_TIME, HEADER_SCORE, *(f"x{i}" for i in range(1, width + 1))])


def parse_time(text: str | None) -> datetime | None:
    """A capture ``inferenceTime`` as an aware UTC datetime; None when absent or not ISO 8601.

    A value without an offset is taken as UTC (data capture writes ``…Z``).
    """
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.strip())
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset past year 1 or 9999 in UTC
        return None


def format_time(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (the year always four digits, which strftime does not promise)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


@dataclass
class DayFile:
    """The rows of one capture object falling on one UTC day, spooled to a temporary file."""

    key: str
    handle: IO[bytes]
    width: int
    rows: int = 0


class DatasetWriter:
    """Collects one capture object's scored rows by day; :meth:`files` yields what to upload.

    Rows arrive as the validated CSV text the endpoint was sent (``"1.0,2,3.5"``), so a row is
    stored as scored, byte for byte. Memory stays bounded: each day spools to its own temporary file.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        source_uri: str,
        fallback_time: datetime,
        latest_time: datetime | None = None,
        prefix: str = DATASET_PREFIX,
        tmp_dir: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.prefix = prefix
        self.name = dataset_file_name(source_uri)
        self.fallback_time = fallback_time.astimezone(UTC)
        #: No inference happens after its capture file was written (give or take the clock skew):
        #: a later time would move the retraining window (channels.py ends it at the newest row).
        self.latest = latest_time.astimezone(UTC) + CLOCK_SKEW if latest_time is not None else None
        self.tmp_dir = tmp_dir
        self.replaced: dict[str, int] = {}
        self._days: dict[date, DayFile] = {}

    def _moment(self, inference_time: str | None) -> datetime:
        """The row's time, or the capture file's hour (counted by why) when it cannot be trusted."""
        moment = parse_time(inference_time)
        if moment is None:
            why = TIME_MISSING if not inference_time else TIME_UNREADABLE
        elif self.latest is not None and moment > self.latest:
            why = TIME_FUTURE
        else:
            return moment
        self.replaced[why] = self.replaced.get(why, 0) + 1
        return self.fallback_time

    def add(self, inference_time: str | None, score: float, row: str) -> None:
        moment = self._moment(inference_time)
        width = row.count(",") + 1
        day = self._days.get(moment.date())
        if day is None:
            handle = tempfile.TemporaryFile("w+b", dir=self.tmp_dir)  # noqa: SIM115 - closed in close()
            handle.write((header(width) + "\n").encode("utf-8"))
            key = dataset_key(self.endpoint, moment.date(), self.name, self.prefix)
            day = self._days[moment.date()] = DayFile(key=key, handle=handle, width=width)
        if width != day.width:
            raise DatasetError(f"{day.key}: a row of {width} features among rows of {day.width}")
        day.handle.write(f"{format_time(moment)},{score!r},{row}\n".encode())
        day.rows += 1

    @property
    def rows(self) -> int:
        return sum(day.rows for day in self._days.values())

    def files(self) -> Iterator[DayFile]:
        """Each day's file, rewound, oldest day first."""
        for _, day in sorted(self._days.items()):
            day.handle.flush()
            day.handle.seek(0)
            yield day

    def close(self) -> None:
        for day in self._days.values():
            day.handle.close()
        self._days.clear()

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
