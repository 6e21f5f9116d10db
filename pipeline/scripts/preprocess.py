"""Clean an uploaded series and write Random Cut Forest's train channel (and a labelled test channel).

Runs as the pipeline's Preprocess step (SageMaker Processing, scikit-learn image) and is imported by
the local pipeline executor and by ``preprocess_spark.py``, which applies these very row rules on
Spark: one definition of "clean" for both engines. Standard library only (Python 3.9+), so it runs in
any processing image and the Spark workers need nothing installed.

Rules (docs/PIPELINE.md explains why):

* Input: CSV with a header, plain or gzip. A column named timestamp/time/datetime/date/ts (or a first
  column whose first value is a date) is the time column; every other column whose non-missing values
  all parse as numbers is a feature; any other column is dropped and listed in the summary.
* Rows are sorted by time (stable); rows repeating a timestamp are duplicates: the first one in file
  order is kept. Without a time column the file order is kept and nothing counts as a duplicate.
* Missing values ("", NaN, NA, null, inf...) are filled with the previous value of the column, and
  leading ones with the first value; each fill is counted.
* A univariate series is shingled: row j holds values j-s+1..j (s = shingle size), so RCF sees shapes,
  not points. Several feature columns are used as they are (feature_dim = number of columns).
* Labels (NAB JSON: anomaly windows or timestamps, keyed by data file) mark a row 1 when its shingle's
  time span meets a labelled window; the test channel is ``label,features...`` (text/csv;label_size=1).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import math
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

TIME_COLUMN_NAMES = ("timestamp", "time", "datetime", "date", "ts")
MISSING_TOKENS = frozenset({"", "nan", "na", "n/a", "null", "none", "-"})
TRAIN_FILE = Path("train") / "train.csv"
TEST_FILE = Path("test") / "test.csv"
SUMMARY_FILE = Path("summary") / "summary.json"
_ERROR_EXAMPLES = 3
_MAX_SHINGLE = 1024

_TIMESTAMP = re.compile(
    r"^(?P<y>\d{4})[-/](?P<m>\d{1,2})[-/](?P<d>\d{1,2})"
    r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)


# ---------------------------------------------------------------------------- errors


class PreprocessError(Exception):
    """The input cannot become a training set; the message names the file and what to fix."""


class EmptyInputError(PreprocessError):
    """No header, or a header and no data rows."""


class NoNumericColumnError(PreprocessError):
    """No column holds numbers, so there is nothing to learn from."""


class UnparseableTimestampError(PreprocessError):
    """Some values of the time column are not dates; the message shows the first few, by line."""


class NotEnoughRowsError(PreprocessError):
    """Fewer clean rows than the shingle size: not a single training row can be built."""


class LabelsError(PreprocessError):
    """The labels file is malformed, names no entry for this data file, or meets none of its rows."""


# ---------------------------------------------------------------------------- value rules


def is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING_TOKENS


def parse_number(cell: str) -> float | None:
    """A finite float, None for a missing or non-finite value; ValueError when not a number at all."""
    if is_missing(cell):
        return None
    value = float(cell.strip())
    return value if math.isfinite(value) else None


def parse_timestamp(cell: str) -> datetime | None:
    """A naive UTC datetime, or None. One explicit grammar, identical on every Python version."""
    match = _TIMESTAMP.match(cell.strip())
    if match is None:
        return None
    part = match.groupdict()
    fraction = (part["f"] or "0")[:6].ljust(6, "0")
    try:
        parsed = datetime(
            int(part["y"]),
            int(part["m"]),
            int(part["d"]),
            int(part["H"] or 0),
            int(part["M"] or 0),
            int(part["S"] or 0),
            int(fraction),
        )
    except ValueError:  # e.g. month 13
        return None
    zone = part["tz"]
    if zone and zone.upper() != "Z":
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        try:
            parsed = parsed - offset if zone[0] == "+" else parsed + offset
        except OverflowError:  # an offset past year 1 or 9999 in UTC
            return None
    return parsed


def format_value(value: float) -> str:
    """Integral values without a trailing .0 (smaller files), others as Python's shortest repr."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def format_row(values: Sequence[float], label: float | None = None) -> str:
    cells = [format_value(v) for v in values]
    if label is not None:
        cells.insert(0, format_value(label))
    return ",".join(cells)


# ---------------------------------------------------------------------------- column profile


class ColumnProfile(NamedTuple):
    """Per-column facts gathered in one pass (mergeable, so Spark can reduce them)."""

    present: tuple[int, ...]  # non-missing cells per column
    numeric: tuple[int, ...]  # cells parsing as numbers per column
    first_line: int  # line number of the first data row (-1 when none)
    first_cells: tuple[str, ...]  # that row's cells


def profile_row(line_no: int, cells: Sequence[str]) -> ColumnProfile:
    present = []
    numeric = []
    for cell in cells:
        missing = is_missing(cell)
        present.append(0 if missing else 1)
        ok = 0
        if not missing:
            try:
                float(cell.strip())
                ok = 1
            except ValueError:
                ok = 0
        numeric.append(ok)
    return ColumnProfile(tuple(present), tuple(numeric), line_no, tuple(cells))


def merge_profiles(a: ColumnProfile, b: ColumnProfile) -> ColumnProfile:
    if a.first_line < 0:
        return b
    if b.first_line < 0:
        return a
    first = a if a.first_line <= b.first_line else b
    return ColumnProfile(
        tuple(x + y for x, y in zip(a.present, b.present)),  # noqa: B905 - Python 3.9 in processing images
        tuple(x + y for x, y in zip(a.numeric, b.numeric)),  # noqa: B905
        first.first_line,
        first.first_cells,
    )


def empty_profile(width: int) -> ColumnProfile:
    return ColumnProfile((0,) * width, (0,) * width, -1, ())


class Layout(NamedTuple):
    """Which columns are time, features and dropped."""

    header: tuple[str, ...]
    time_index: int | None
    feature_indexes: tuple[int, ...]
    dropped: tuple[str, ...]

    @property
    def time_column(self) -> str | None:
        return None if self.time_index is None else self.header[self.time_index]

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(self.header[i] for i in self.feature_indexes)


def classify_columns(header: Sequence[str], profile: ColumnProfile, source: str) -> Layout:
    """Decide the layout from the header and a profile of every data row."""
    names = tuple(name.strip() for name in header)
    time_index: int | None = None
    for index, name in enumerate(names):
        if name.lower() in TIME_COLUMN_NAMES:
            time_index = index
            break
    if time_index is None and profile.first_cells:
        first = profile.first_cells[0]
        if parse_timestamp(first) is not None and profile.numeric[0] < profile.present[0]:
            time_index = 0
    features = tuple(
        i
        for i in range(len(names))
        if i != time_index and profile.present[i] > 0 and profile.numeric[i] == profile.present[i]
    )
    if not features:
        raise NoNumericColumnError(
            f"{source}: no numeric column among {list(names)} (a feature column must hold only numbers "
            "or missing values)"
        )
    dropped = tuple(names[i] for i in range(len(names)) if i != time_index and i not in features)
    return Layout(names, time_index, features, dropped)


# ---------------------------------------------------------------------------- rows


class Row(NamedTuple):
    """One parsed data row: sort key first so that tuples order by time, then file order."""

    when: datetime | None
    line_no: int
    values: tuple[float | None, ...]


def parse_row(layout: Layout, line_no: int, cells: Sequence[str]) -> Row:
    when = None if layout.time_index is None else parse_timestamp(cells[layout.time_index])
    return Row(when, line_no, tuple(parse_number(cells[i]) for i in layout.feature_indexes))


def timestamp_problem(layout: Layout, line_no: int, cells: Sequence[str]) -> tuple[int, str] | None:
    if layout.time_index is None:
        return None
    cell = cells[layout.time_index]
    return None if parse_timestamp(cell) is not None else (line_no, cell)


def unparseable_error(source: str, column: str, count: int, examples: Sequence[tuple[int, str]]) -> Exception:
    shown = ", ".join(f"line {line}: {value!r}" for line, value in examples)
    return UnparseableTimestampError(
        f"{source}: {count} value(s) of time column {column!r} are not dates ({shown}); "
        "expected e.g. 2014-07-01 00:30:00 or 2014-07-01T00:30:00Z"
    )


def sort_key(row: Row) -> tuple[Any, ...]:
    return (row.when, row.line_no) if row.when is not None else (row.line_no,)


def fill_forward(
    rows: Iterable[Row], carry: Sequence[float | None], first: Sequence[float | None]
) -> Iterator[tuple[Row, tuple[float, ...]]]:
    """Fill each missing value with the column's previous value (``carry`` enters from earlier rows),
    leading ones with the column's first value. Yields each row with its filled values."""
    last = list(carry)
    for row in rows:
        filled = []
        for column, value in enumerate(row.values):
            if value is not None:
                last[column] = value
            chosen = last[column] if last[column] is not None else first[column]
            filled.append(float(chosen) if chosen is not None else math.nan)
        yield row, tuple(filled)


# ---------------------------------------------------------------------------- labels


Interval = tuple[datetime, datetime]


def load_labels(path: Path, data_name: str) -> list[Interval]:
    """Anomaly intervals for ``data_name`` from a NAB-style JSON labels file.

    Accepts ``{"dir/file.csv": [[start, end], ...]}`` (NAB windows), ``{"dir/file.csv": [ts, ...]}``
    (NAB labels; a timestamp is a zero-length window), or the bare list. With several keys, the one
    whose file name matches the data file (``.gz`` ignored) is used.
    """
    try:
        document = json.loads(_read_text(path))
    except (ValueError, UnicodeDecodeError) as exc:
        raise LabelsError(f"{path.name}: not a JSON labels file ({exc})") from exc
    entries = _labels_entry(document, path.name, data_name)
    intervals: list[Interval] = []
    for entry in entries:
        if isinstance(entry, str):
            bounds = [entry, entry]
        elif isinstance(entry, list) and len(entry) == 2 and all(isinstance(e, str) for e in entry):
            bounds = entry
        else:
            raise LabelsError(f"{path.name}: label {entry!r} is neither a timestamp nor a [start, end] pair")
        start, end = parse_timestamp(bounds[0]), parse_timestamp(bounds[1])
        if start is None or end is None or end < start:
            raise LabelsError(f"{path.name}: label {entry!r} is not a valid timestamp or window")
        intervals.append((start, end))
    return sorted(intervals)


def _labels_entry(document: Any, labels_name: str, data_name: str) -> list[Any]:
    if isinstance(document, list):
        return document
    if not isinstance(document, dict) or not document:
        raise LabelsError(f"{labels_name}: expected an object keyed by data file, or a list of labels")
    if len(document) == 1:
        (value,) = document.values()
    else:
        wanted = _base_name(data_name)
        matches = [key for key in document if _base_name(key) == wanted]
        if len(matches) != 1:
            raise LabelsError(
                f"{labels_name}: {len(matches)} entries match data file {wanted!r} "
                f"(keys: {sorted(document)[:5]}...)"
            )
        value = document[matches[0]]
    if not isinstance(value, list):
        raise LabelsError(f"{labels_name}: labels must be a list")
    return value


def _base_name(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return base[:-3] if base.endswith(".gz") else base


def label_for(intervals: Sequence[Interval], first: datetime, last: datetime) -> float:
    """1.0 when the time span [first, last] meets any labelled interval."""
    for start, end in intervals:
        if start <= last and end >= first:
            return 1.0
    return 0.0


# ---------------------------------------------------------------------------- summary


def build_summary(
    *,
    source: str,
    layout: Layout,
    rows_in: int,
    malformed: int,
    duplicates: int,
    missing_by_column: Sequence[int],
    shingle_size: int,
    rows_out: int,
    first_time: datetime | None,
    last_time: datetime | None,
    labels: str | None,
    intervals: int,
    test_rows: int,
    positive_rows: int,
) -> dict[str, Any]:
    """The summary both engines return (and write as summary.json): counts only, never data."""
    shingled = len(layout.feature_indexes) == 1 and shingle_size > 1
    return {
        "input": source,
        "rows_in": rows_in,
        "rows_malformed": malformed,
        "duplicates_dropped": duplicates,
        "rows_clean": rows_in - malformed - duplicates,
        "missing_filled": sum(missing_by_column),
        "missing_by_column": dict(zip(layout.features, missing_by_column)),  # noqa: B905
        "time_column": layout.time_column,
        "feature_columns": list(layout.features),
        "dropped_columns": list(layout.dropped),
        "shingled": shingled,
        "shingle_size": shingle_size if shingled else 1,
        "feature_dim": shingle_size if shingled else len(layout.feature_indexes),
        "rows_out": rows_out,
        "first_timestamp": first_time.isoformat(sep=" ") if first_time else None,
        "last_timestamp": last_time.isoformat(sep=" ") if last_time else None,
        "labels": labels,
        "label_intervals": intervals,
        "test_rows": test_rows,
        "test_positive_rows": positive_rows,
    }


# ---------------------------------------------------------------------------- single-instance engine


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8-sig")


def read_records(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, cells) of every non-blank data line (1-based line numbers)."""
    reader = csv.reader(io.StringIO(_read_text(path)))
    header: list[str] | None = None
    records: list[tuple[int, list[str]]] = []
    for line_no, cells in enumerate(reader, start=1):
        if not cells or all(not c.strip() for c in cells):
            continue
        if header is None:
            header = cells
        else:
            records.append((line_no, cells))
    if header is None:
        raise EmptyInputError(f"{path.name}: the file is empty (no header, no rows)")
    if not records:
        raise EmptyInputError(f"{path.name}: a header ({','.join(header)}) but no data rows")
    return header, records


def check_shingle_size(shingle_size: int) -> None:
    if not 1 <= shingle_size <= _MAX_SHINGLE:
        raise PreprocessError(f"shingle size must be between 1 and {_MAX_SHINGLE}, got {shingle_size}")


def preprocess(
    input_path: Path, output_dir: Path, *, shingle_size: int, labels_path: Path | None = None
) -> dict[str, Any]:
    """Write ``output_dir/train/train.csv`` (and ``test/test.csv`` with labels); return the summary."""
    check_shingle_size(shingle_size)
    source = input_path.name
    header, records = read_records(input_path)
    width = len(header)
    wellformed = [(n, cells) for n, cells in records if len(cells) == width]
    malformed = len(records) - len(wellformed)
    if not wellformed:
        raise EmptyInputError(f"{source}: none of the {len(records)} rows has the header's {width} fields")
    profile = empty_profile(width)
    for line_no, cells in wellformed:
        profile = merge_profiles(profile, profile_row(line_no, cells))
    layout = classify_columns(header, profile, source)
    intervals = load_labels(labels_path, source) if labels_path is not None else None
    if intervals is not None and layout.time_index is None:
        raise LabelsError(f"{source}: labels need a time column to match, and the file has none")

    problems = [p for n, cells in wellformed if (p := timestamp_problem(layout, n, cells)) is not None]
    if problems:
        raise unparseable_error(source, str(layout.time_column), len(problems), problems[:_ERROR_EXAMPLES])

    parsed = sorted((parse_row(layout, n, cells) for n, cells in wellformed), key=sort_key)
    rows: list[Row] = []
    for row in parsed:
        if rows and row.when is not None and row.when == rows[-1].when:
            continue
        rows.append(row)
    duplicates = len(parsed) - len(rows)

    columns = len(layout.feature_indexes)
    missing = [sum(1 for r in rows if r.values[c] is None) for c in range(columns)]
    first = [next((r.values[c] for r in rows if r.values[c] is not None), None) for c in range(columns)]
    filled = list(fill_forward(rows, [None] * columns, first))

    shingled = columns == 1 and shingle_size > 1
    size = shingle_size if shingled else 1
    if len(filled) < size:
        raise NotEnoughRowsError(f"{source}: {len(filled)} clean rows, fewer than the shingle size {size}")
    train_lines: list[str] = []
    test_lines: list[str] = []
    for end in range(size - 1, len(filled)):
        window = filled[end - size + 1 : end + 1]
        values = [v for _, vals in window for v in vals]
        train_lines.append(format_row(values))
        start, stop = window[0][0].when, window[-1][0].when
        if intervals is not None and start is not None and stop is not None:
            test_lines.append(format_row(values, label_for(intervals, start, stop)))
    positives = sum(1 for line in test_lines if line.startswith("1,"))
    if intervals is not None and positives == 0:
        raise LabelsError(f"{source}: no labelled window meets the data's time span; wrong labels file?")

    _write_lines(output_dir / TRAIN_FILE, train_lines)
    if intervals is not None:
        _write_lines(output_dir / TEST_FILE, test_lines)
    return build_summary(
        source=source,
        layout=layout,
        rows_in=len(records),
        malformed=malformed,
        duplicates=duplicates,
        missing_by_column=missing,
        shingle_size=shingle_size,
        rows_out=len(train_lines),
        first_time=rows[0].when,
        last_time=rows[-1].when,
        labels=labels_path.name if labels_path is not None else None,
        intervals=len(intervals or []),
        test_rows=len(test_lines),
        positive_rows=positives,
    )


def _write_lines(path: Path, lines: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for line in lines:
            handle.write(line + "\n")


# ---------------------------------------------------------------------------- SageMaker Processing entry


PROCESSING_INPUT = Path("/opt/ml/processing/input/data")
PROCESSING_LABELS = Path("/opt/ml/processing/input/labels")
PROCESSING_OUTPUT = Path("/opt/ml/processing/output")
#: SageMaker reports this file's first KB as the job's exit message (DescribeProcessingJob).
EXIT_MESSAGE = Path("/opt/ml/output/message")


def single_file(path: Path, what: str, uri: str | None = None) -> Path:
    """The file itself, or the one file of a processing input directory that is the object ``uri``.

    A processing input of type S3Prefix downloads every object whose key starts with the URI, so
    ``training/x.csv`` also brings ``training/x.csv.gz`` or ``training/x.csv.bak``: with ``uri`` the
    file named like the object's key is the one read, whatever else was downloaded beside it.
    """
    if path.is_file():
        return path
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else []
    if uri is not None:
        name = uri.rstrip("/").rsplit("/", 1)[-1]
        named = [p for p in files if p.name == name]
        if not named:
            found = ", ".join(p.name for p in files[:_ERROR_EXAMPLES]) or "nothing"
            raise PreprocessError(f"the {what} object {uri} is not among the files under {path} ({found})")
        if len(named) > 1:
            raise PreprocessError(f"{len(named)} {what} files named {name} under {path}: which is {uri}?")
        return named[0]
    if len(files) != 1:
        raise PreprocessError(f"expected exactly one {what} file under {path}, found {len(files)}")
    return files[0]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--input", type=Path, default=PROCESSING_INPUT, help="data file or directory")
    parser.add_argument("--labels", type=Path, default=None, help="labels JSON file or directory")
    parser.add_argument("--input-uri", default=None, help="the data object's S3 URI: read only that file")
    parser.add_argument("--labels-uri", default=None, help="the labels object's S3 URI: read only that file")
    parser.add_argument("--output", type=Path, default=PROCESSING_OUTPUT, help="train/, test/, summary/")
    parser.add_argument("--shingle-size", type=int, default=48)
    return parser.parse_args(argv)


def report_failure(exc: Exception) -> None:
    """Say why on stderr (job logs) and in the exit message (the console and DescribeProcessingJob)."""
    message = f"{type(exc).__name__}: {exc}"
    print(message, file=sys.stderr)
    if EXIT_MESSAGE.parent.is_dir():
        EXIT_MESSAGE.write_text(message[:1024], encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        data = single_file(args.input, "data", args.input_uri)
        labels = single_file(args.labels, "labels", args.labels_uri) if args.labels is not None else None
        summary = preprocess(data, args.output, shingle_size=args.shingle_size, labels_path=labels)
    except PreprocessError as exc:
        report_failure(exc)
        return 2
    target = args.output / SUMMARY_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")
    print(json.dumps({k: summary[k] for k in ("rows_in", "rows_out", "feature_dim", "test_rows")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
