"""``sentinel prepare series|features FILE.csv``: your data as the stack receives it.

The stack scores what an endpoint's data capture writes: JSONL, one record per request, the
request body (one CSV row of the model's input) base64-encoded. Clients shingle: a row is the
model's whole input. This command turns a ``timestamp,value`` series (shingled here) or a table of
feature rows into such a capture file, and into the headerless feature rows that ``sentinel
baseline`` and training read.
"""

from __future__ import annotations

import argparse
import base64
import csv
import json
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from math import isfinite
from pathlib import Path
from typing import Any

from sentinel.outputs import OutputPathError, output_file

DESCRIPTION = """\
Turn your data into what the stack receives, offline.

  series    FILE.csv holds timestamp,value lines (a header line is fine), as `sentinel score`
            reads. Each record is a shingle of N consecutive values (--shingle, default 48: the
            pipeline's ShingleSize), stamped with its last point's time.
  features  FILE.csv holds one row of numbers per request (a header line is fine). When the
            first column is an ISO 8601 time it is the record's time and not a feature; otherwise
            records are stamped from --start, --every seconds apart.

--capture writes JSONL as SageMaker data capture writes it with CaptureMode Input: per record
captureData.endpointInput {observedContentType text/csv, mode INPUT, data, encoding} and
eventMetadata {eventId, inferenceTime}, eventVersion "0". The data is base64 (data capture's
encoding unless the capture config lists text/csv in CsvContentTypes; --encoding CSV for that).
No endpointOutput is written: there is no model answer to record. Numbers are written as the
shortest text that reads back to the same float.
--rows writes the same rows as a headerless CSV (sentinel baseline, the pipeline's production rows).

A ragged row, a value that is not a finite number or a series shorter than the shingle exits 2
with one line naming the file and line. The last line printed is JSON:
{"records": N, "features": F, "first": time, "last": time}.
"""

EPILOG = """\
examples:
  sentinel prepare series local/sentinel/data/nab/nyc_taxi.csv --capture out/mine/capture.jsonl \\
      --rows out/mine/rows.csv
  sentinel prepare features sensors.csv --start 2026-01-01T00:00:00Z --every 300 \\
      --capture out/mine/capture.jsonl
"""

NAMESPACE = uuid.UUID("0d6c7f0e-7f3b-4d8c-8a55-2f1f5b9c6e21")


class PrepareError(Exception):
    """The input cannot become capture records; the message names file and line."""


@dataclass(frozen=True)
class Record:
    time: datetime
    values: tuple[float, ...]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "prepare",
        help="turn a timestamp,value series or feature rows into capture JSONL and feature rows",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", choices=("series", "features"), help="what FILE.csv holds")
    parser.add_argument("file", metavar="FILE.csv", type=Path, help="the series or the feature rows")
    parser.add_argument("--capture", metavar="JSONL", type=Path, help="write a data-capture file here")
    parser.add_argument("--rows", metavar="CSV", type=Path, help="write headerless feature rows here")
    parser.add_argument(
        "--shingle", metavar="N", type=int, default=48, help="series: values per record (default 48)"
    )
    parser.add_argument(
        "--start",
        metavar="TIME",
        help="features without a time column: the first record's time (ISO 8601; default: this hour, UTC)",
    )
    parser.add_argument(
        "--every", metavar="SECONDS", type=float, default=60.0, help="features: seconds between records (60)"
    )
    parser.add_argument(
        "--encoding",
        choices=("BASE64", "CSV"),
        default="BASE64",
        help="how the capture record holds the row (BASE64, data capture's default, or CSV)",
    )
    parser.set_defaults(run=run, parser=parser)


def _number_text(value: float) -> str:
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def _utc(text: str) -> datetime:
    """ISO 8601 with space or T; no offset means UTC."""
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def series_records(path: Path, size: int) -> list[Record]:
    from sentinel.rcf import RcfError, shingle
    from sentinel.series import SeriesError, load_series, shingle_timestamps

    try:
        series = load_series(path)
        rows = shingle(series.values, size)
    except (SeriesError, RcfError) as exc:
        raise PrepareError(f"{path}: {exc}" if isinstance(exc, RcfError) else str(exc)) from None
    stamps = shingle_timestamps(series.timestamps, size)
    return [
        Record(stamp.astype("datetime64[s]").astype(datetime).replace(tzinfo=UTC), tuple(map(float, row)))
        for stamp, row in zip(stamps, rows, strict=True)
    ]


def _numbers(cells: Sequence[str], where: str) -> tuple[float, ...]:
    try:
        values = tuple(float(cell) for cell in cells)
    except ValueError:
        raise PrepareError(f"{where}: expected numbers, got {','.join(cells)[:60]!r}") from None
    if not all(isfinite(value) for value in values):
        raise PrepareError(f"{where}: a value is not a finite number")
    return values


def feature_records(path: Path, start: datetime, every: timedelta) -> list[Record]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise PrepareError(f"cannot read {path}: {exc.strerror or exc}") from None
    records: list[Record] = []
    timed: bool | None = None  # decided by the first data line: is column 1 the record's time?
    header_seen = False
    with handle:
        for line_no, cells in enumerate(csv.reader(handle), start=1):
            if not "".join(cells).strip():
                continue
            where = f"{path}:{line_no}"
            if timed is None:
                if _is_numeric(cells):
                    timed = False
                elif len(cells) > 1 and _is_time(cells[0]) and _is_numeric(cells[1:]):
                    timed = True
                elif not header_seen:
                    header_seen = True
                    continue
            if timed and not _is_time(cells[0]):
                raise PrepareError(
                    f"{where}: the first column is a time on the rows before, here {cells[0]!r}"
                )
            values = _numbers(cells[1:] if timed else cells, where)
            if records and len(values) != len(records[0].values):
                raise PrepareError(
                    f"{where}: {len(values)} features, the rows before have {len(records[0].values)}"
                )
            records.append(Record(_utc(cells[0]) if timed else start + len(records) * every, values))
    if not records:
        raise PrepareError(f"{path}: no feature rows")
    return records


def _is_time(text: str) -> bool:
    try:
        _utc(text)
    except ValueError:
        return False
    return True


def _is_numeric(cells: Sequence[str]) -> bool:
    try:
        _numbers(cells, "")
    except PrepareError:
        return False
    return True


def capture_lines(records: list[Record], encoding: str) -> Iterator[str]:
    """One data-capture JSONL line per record (eventId derived from time and row: repeatable)."""
    for record in records:
        row = ",".join(map(_number_text, record.values))
        data = base64.b64encode(row.encode("ascii")).decode("ascii") if encoding == "BASE64" else row
        stamp = record.time.strftime("%Y-%m-%dT%H:%M:%SZ")
        document = {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": data,
                    "encoding": encoding,
                }
            },
            "eventMetadata": {
                "eventId": str(uuid.uuid5(NAMESPACE, f"{stamp},{row}")),
                "inferenceTime": stamp,
            },
            "eventVersion": "0",
        }
        yield json.dumps(document, separators=(",", ":"))


def run(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args.parser
    if args.capture is None and args.rows is None:
        parser.error("give --capture JSONL, --rows CSV or both")
    if args.shingle < 1:
        parser.error(f"--shingle must be at least 1, got {args.shingle}")
    if not (isfinite(args.every) and args.every > 0):
        parser.error(f"--every must be a number of seconds above 0, got {args.every}")
    try:
        start = (
            _utc(args.start) if args.start else datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        )
    except ValueError:
        parser.error(f"--start must be an ISO 8601 time such as 2026-01-01T00:00:00Z, got {args.start!r}")
    try:
        outputs = [
            (output_file(path, option), option)
            for path, option in ((args.capture, "--capture"), (args.rows, "--rows"))
            if path
        ]
        if args.kind == "series":
            records = series_records(args.file, args.shingle)
        else:
            records = feature_records(args.file, start, timedelta(seconds=args.every))
    except (OutputPathError, PrepareError) as exc:
        print(f"sentinel prepare: {exc}", file=sys.stderr)
        return 2
    for path, option in outputs:
        if option == "--capture":
            lines: Iterator[str] = capture_lines(records, args.encoding)
        else:
            lines = (",".join(map(_number_text, record.values)) for record in records)
        with path.open("w", encoding="utf-8", newline="\n") as out:
            for line in lines:
                out.write(line + "\n")
        print(f"wrote {path}", file=sys.stderr)
    print(
        json.dumps(
            {
                "records": len(records),
                "features": len(records[0].values),
                "first": records[0].time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "last": records[-1].time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    )
    return 0
