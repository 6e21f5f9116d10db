"""``sentinel decode FILE [--out CSV] [--rejects JSONL]``: decode a capture file offline.

The same streaming decoder the Lambda uses. Rows must have --feature-dim values; without it, the
file's dominant width (the width most rows have, found in a first pass). ``--out`` writes one CSV
line per decoded row (``line,row,event_id,inference_id,inference_time,f1..fN``; ``row`` counts
from 0 within a record, as reject details do); ``--rejects`` writes one JSON line per rejected
record (line, eventId, reason, detail — never the payload). Output folders are created. The last
stdout line is ``{"records": N, "decoded": D, "rejected": R}``; the exit code is 0 even when
records are rejected, and 2 when the file cannot be read or an output cannot be written.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

from anomaly_sentinel.capture import (
    DEFAULT_MAX_LINE_BYTES,
    CaptureDecoder,
    Reject,
    dominant_width,
    read_lines,
)
from sentinel.outputs import OutputPathError, output_file

EXIT_UNREADABLE = 2


def _positive(text: str) -> int:
    """argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "decode",
        help="decode a SageMaker data-capture file (CSV, JSON or base64) into feature rows",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, help="capture file (JSON Lines)")
    parser.add_argument("--out", type=Path, help="write decoded rows to this CSV file")
    parser.add_argument("--rejects", type=Path, help="write rejected records to this JSONL file")
    parser.add_argument(
        "--feature-dim",
        type=_positive,
        default=None,
        help="expected features per row (default: the file's dominant width)",
    )
    parser.add_argument("--max-line-bytes", type=_positive, default=DEFAULT_MAX_LINE_BYTES)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    def fail(message: str) -> int:
        print(f"sentinel decode: {message}", file=sys.stderr)
        return EXIT_UNREADABLE

    try:
        for path, option in ((args.out, "--out"), (args.rejects, "--rejects")):
            if path is not None:
                output_file(path, option)
        width = args.feature_dim
        if width is None:
            with args.file.open("rb") as first_pass:
                width = dominant_width(first_pass, max_line_bytes=args.max_line_bytes)
        source = args.file.open("rb")
    except OutputPathError as exc:
        return fail(f"error: {exc}")
    except OSError as exc:
        return fail(f"cannot read {args.file}: {exc.strerror or exc}")
    decoder = CaptureDecoder(feature_dim=width)
    with ExitStack() as stack:
        stack.enter_context(source)
        try:
            rows_out = (
                stack.enter_context(args.out.open("w", newline="", encoding="utf-8")) if args.out else None
            )
            rejects_out = (
                stack.enter_context(args.rejects.open("w", encoding="utf-8")) if args.rejects else None
            )
        except OSError as exc:
            return fail(f"error: cannot write {exc.filename}: {exc.strerror or exc}")
        try:
            _decode(args, decoder, source, rows_out, rejects_out)
        except OSError as exc:
            return fail(f"cannot read {args.file}: {exc.strerror or exc}")
    for reason, count in sorted(decoder.reasons.items()):
        print(f"rejected {count} record(s): {reason}", file=sys.stderr)
    print(json.dumps({"records": decoder.records, "decoded": decoder.decoded, "rejected": decoder.rejected}))
    return 0


def _decode(
    args: argparse.Namespace,
    decoder: CaptureDecoder,
    source: IO[bytes],
    rows_out: IO[str] | None,
    rejects_out: IO[str] | None,
) -> None:
    """Stream the file through the decoder into the CSV of rows and the JSONL of rejects."""
    writer = csv.writer(rows_out, lineterminator="\n") if rows_out else None
    header_written = False
    for item in decoder.decode(read_lines(source, max_line_bytes=args.max_line_bytes)):
        if isinstance(item, Reject):
            if rejects_out:
                rejects_out.write(json.dumps(item.to_json()) + "\n")
            continue
        if writer is None:
            continue
        if not header_written:
            width = len(item.rows[0].split(","))
            meta = ["line", "row", "event_id", "inference_id", "inference_time"]
            writer.writerow(meta + [f"f{i}" for i in range(1, width + 1)])
            header_written = True
        for index, row in enumerate(item.rows):
            ids = [item.line, index, item.event_id, item.inference_id, item.inference_time]
            writer.writerow(ids + row.split(","))
