"""``sentinel decode FILE [--out CSV] [--rejects JSONL]``: decode a capture file offline.

The same streaming decoder the Lambda uses. Rows must have --feature-dim values; without it, the
file's dominant width (the width most records have, the wider on a tie). The file is decoded once
either way: without --feature-dim, decoded rows wait in a temporary spool (beside --out) tagged
with their width until the end of the file shows which width dominates. ``--out`` writes one CSV
line per decoded row (``line,row,event_id,inference_id,inference_time,f1..fN``; ``row`` counts
from 0 within a record, as reject details do); ``--rejects`` writes one JSON line per rejected
record, in line order (line, eventId, reason, detail — never the payload). Output folders are
created. The last stdout line is ``{"records": N, "decoded": D, "rejected": R}``; the exit code is
0 even when records are rejected, and 2 when the file cannot be read or an output cannot be written.
"""

from __future__ import annotations

import argparse
import csv
import gc
import heapq
import io
import json
import shutil
import sys
import tempfile
from array import array
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

from anomaly_sentinel.capture import (
    DEFAULT_MAX_LINE_BYTES,
    FEATURE_COUNT,
    CaptureDecoder,
    CaptureRecord,
    Reject,
    read_lines,
)
from sentinel.outputs import OutputPathError, output_file

EXIT_UNREADABLE = 2
META = ["line", "row", "event_id", "inference_id", "inference_time"]


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
        source = args.file.open("rb")
    except OutputPathError as exc:
        return fail(f"error: {exc}")
    except OSError as exc:
        return fail(f"error: FILE: cannot read {args.file}: {exc.strerror or exc}")
    decoder = CaptureDecoder(feature_dim=args.feature_dim, fast_json=_fast_json())
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
        # Decoding allocates a few objects per record and never a cycle: the cyclic collector would
        # only cost time (about 5% here, bench_capture), so it pauses until the file is done.
        stack.enter_context(_collector_paused())
        writer = _Writer(rows_out, rejects_out)
        items = decoder.decode(read_lines(source, max_line_bytes=args.max_line_bytes))
        try:
            if args.feature_dim is not None:
                writer.write_all(items)
            else:
                folder = args.out.parent if args.out else None
                spool = stack.enter_context(
                    tempfile.TemporaryFile("w+", encoding="utf-8", newline="\n", dir=folder)
                )
                _Spool(spool, writer, args.out).decode(items, decoder)
        except OSError as exc:
            if exc.filename is not None and str(exc.filename) != str(args.file):
                return fail(f"error: cannot write {exc.filename}: {exc.strerror or exc}")
            return fail(f"error: FILE: cannot read {args.file}: {exc.strerror or exc}")
    for reason, count in sorted(decoder.reasons.items()):
        print(f"rejected {count} record(s): {reason}", file=sys.stderr)
    print(json.dumps({"records": decoder.records, "decoded": decoder.decoded, "rejected": decoder.rejected}))
    return 0


@contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _fast_json() -> Any:
    """orjson.loads where it is installed (the dev environment pins it): the decoder tries it first
    and lets the standard library judge whatever it refuses, so results are the same without it."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson is pinned in requirements/dev.txt
        return None
    return orjson.loads


class _Writer:
    """The CSV of rows (header from the first row written) and the JSONL of rejects."""

    def __init__(self, rows_out: IO[str] | None, rejects_out: IO[str] | None) -> None:
        self.rows_out = rows_out
        self.rejects_out = rejects_out
        self.header_written = False

    def reject(self, item: Reject) -> None:
        if self.rejects_out is not None:
            self.rejects_out.write(json.dumps(item.to_json()) + "\n")

    def header(self, width: int) -> None:
        if self.rows_out is not None and not self.header_written:
            self.rows_out.write(",".join(META + [f"f{i}" for i in range(1, width + 1)]) + "\n")
            self.header_written = True

    def write_all(self, items: Any) -> None:
        """Write every item as it comes (the width is known): rows to the CSV, rejects to the JSONL."""
        out = self.rows_out
        for item in items:
            if item.__class__ is Reject:
                self.reject(item)
            elif out is not None:
                if not self.header_written:
                    self.header(item.rows[0].count(",") + 1)
                out.write(_lines(item))


def _lines(item: CaptureRecord) -> str:
    """The record's CSV lines (``line,row,event_id,inference_id,inference_time,f1..fN``). Values
    are validated numbers, written as they are; identities are quoted as the csv module would."""
    rows = item.rows
    ids = f"{item.line},0,{item.event_id or ''},{item.inference_id or ''},{item.inference_time or ''},"
    if (
        len(rows) == 1
        and ids.count(",") == 5  # csv quotes an identity with a comma, a quote or a line break
        and '"' not in ids
        and "\n" not in ids
        and "\r" not in ids
        and "\r" not in rows[0]
    ):
        return f"{ids}{rows[0]}\n"  # the common case: one row, nothing to quote
    # The rest, through the csv module: identities quoted where they hold a comma, a quote or a
    # line break (its "\r\n" terminator makes it quote a lone "\r" too; lines still end in "\n"),
    # values without the whitespace float() allows around them (a "\r" would split the line).
    lines = []
    for index, row in enumerate(rows):
        text = io.StringIO()
        identity = [item.line, index, item.event_id, item.inference_id, item.inference_time]
        csv.writer(text, lineterminator="\r\n").writerow(
            identity + [value.strip() for value in row.split(",")]
        )
        lines.append(text.getvalue()[:-2] + "\n")
    return "".join(lines)


class _Spool:
    """One pass without a known width. Rows of the first width seen (the leader) go straight to
    the CSV; everything else waits in a temporary file, in line order: rejects, and records of other
    widths tagged with their width. At the end the dominant width is known: when it is the leader
    (nearly always), the spool adds the other widths' ``feature-count`` rejects in line order;
    otherwise the CSV written so far is read back, its records become rejects, and the spool's
    dominant rows are written in their place. Either way the file itself is decoded once."""

    def __init__(self, spool: IO[str], writer: _Writer, out_path: Path | None) -> None:
        self.spool = spool
        self.out_path = out_path
        self.writer = writer
        self.keep_rows = out_path is not None
        self.leader: int | None = None
        #: Lines of leader records written without an eventId (None, not "", if they are rejected).
        self.anonymous: array[int] = array("q")
        self.last_rejected = 0

    def decode(self, items: Any, decoder: CaptureDecoder) -> None:
        write = self.spool.write
        out = self.writer.rows_out if self.keep_rows else None
        leader = None
        for item in items:
            if item.__class__ is Reject:
                write(f"R\t{item.line}\t{json.dumps(item.to_json())}\n")
                continue
            width = item.rows[0].count(",") + 1
            if leader is None:
                leader = self.leader = width
                if out is not None:
                    self.writer.header(width)
            if width == leader and out is not None:
                out.write(_lines(item))
                if item.event_id is None:
                    self.anonymous.append(item.line)
                continue
            text = _lines(item) if out is not None else ""
            write(f"J\t{item.line}\t{json.dumps([width, item.event_id, text])}\n")
        self.spool.seek(0)
        dominant = decoder.dominant_width
        if dominant == leader or leader is None or out is None:
            for entry in self.spool:
                self._replay(entry, decoder, dominant)
        else:
            self._replace_leader(decoder, dominant)

    def _replay(self, entry: str, decoder: CaptureDecoder, dominant: int | None) -> None:
        kind, _, rest = entry.partition("\t")
        _, _, rest = rest.partition("\t")
        if kind == "R":
            if self.writer.rejects_out is not None:
                self.writer.rejects_out.write(rest)
            return
        width, event_id, text = json.loads(rest)
        line = int(entry.split("\t", 2)[1])
        if width == dominant:
            if self.writer.rows_out is not None and self.keep_rows:
                self.writer.header(width)
                self.writer.rows_out.write(text)
        else:
            self._reject(decoder, line, event_id, width, dominant)

    def _replace_leader(self, decoder: CaptureDecoder, dominant: int | None) -> None:
        """The first width seen is not the dominant one: its rows, already in the CSV, are rejects."""
        out = self.writer.rows_out
        assert out is not None
        assert self.out_path is not None
        assert self.leader is not None
        out.flush()
        with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as written:
            with self.out_path.open(encoding="utf-8", newline="") as reread:
                shutil.copyfileobj(reread, written)
            out.seek(0)
            out.truncate()
            self.writer.header_written = False
            written.seek(0)
            spooled: Iterator[tuple[int, str | tuple[str | None]]] = (
                (int(entry.split("\t", 2)[1]), entry) for entry in self.spool
            )
            for line, entry in heapq.merge(self._leader_records(written), spooled, key=lambda pair: pair[0]):
                if isinstance(entry, str):
                    self._replay(entry, decoder, dominant)
                else:
                    self._reject(decoder, line, entry[0], self.leader, dominant)

    def _leader_records(self, written: IO[str]) -> Iterator[tuple[int, str | tuple[str | None]]]:
        """(line, (eventId,)) of each record in the CSV written so far (first row only)."""
        anonymous = set(self.anonymous)
        reader = csv.reader(written)
        next(reader, None)  # the header
        last = 0
        for fields in reader:
            line = int(fields[0])
            if line != last:
                last = line
                yield line, (None if line in anonymous else fields[2],)

    def _reject(
        self, decoder: CaptureDecoder, line: int, event_id: str | None, width: int, dominant: int | None
    ) -> None:
        decoder.decoded -= 1
        decoder.rejected += 1
        decoder.reasons[FEATURE_COUNT] = decoder.reasons.get(FEATURE_COUNT, 0) + 1
        detail = f"row 0 has {width} features, expected {dominant}"
        self.writer.reject(Reject(line, event_id, FEATURE_COUNT, detail))
