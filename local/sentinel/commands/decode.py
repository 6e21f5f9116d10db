"""``sentinel decode FILE [--out CSV] [--rejects JSONL]``: decode a capture file offline.

The same streaming decoder the Lambda uses. ``--out`` writes one CSV line per decoded row
(``line,row,event_id,inference_id,inference_time,f1..fN``); ``--rejects`` writes one JSON line
per rejected record (line, eventId, reason, detail — never the payload). The last stdout line is
``{"records": N, "decoded": D, "rejected": R}``; the exit code is 0 even when records are
rejected, and 2 only when the file cannot be read.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from anomaly_sentinel.capture import DEFAULT_MAX_LINE_BYTES, CaptureDecoder, Reject, read_lines

EXIT_UNREADABLE = 2


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
    parser.add_argument("--feature-dim", type=int, default=None, help="expected features per row")
    parser.add_argument("--max-line-bytes", type=int, default=DEFAULT_MAX_LINE_BYTES)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    decoder = CaptureDecoder(feature_dim=args.feature_dim)
    try:
        source = args.file.open("rb")
    except OSError as exc:
        print(f"sentinel decode: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    with ExitStack() as stack:
        stack.enter_context(source)
        rows_out = stack.enter_context(args.out.open("w", newline="", encoding="utf-8")) if args.out else None
        rejects_out = stack.enter_context(args.rejects.open("w", encoding="utf-8")) if args.rejects else None
        writer = csv.writer(rows_out) if rows_out else None
        header_written = False
        try:
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
        except OSError as exc:
            print(f"sentinel decode: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_UNREADABLE
    for reason, count in sorted(decoder.reasons.items()):
        print(f"rejected {count} record(s): {reason}", file=sys.stderr)
    print(json.dumps({"records": decoder.records, "decoded": decoder.decoded, "rejected": decoder.rejected}))
    return 0
