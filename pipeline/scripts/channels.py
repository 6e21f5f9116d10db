"""Build a run's channels: train, a labelled validation channel for tuning, a labelled evaluation set.

Runs inside the pipeline's Preprocess step and in the local pipeline executor. Standard library only
(boto3 is imported only to read S3, and the processing images have it).

Where the rows come from (``--input``):

* an object (``…/file.csv[.gz]``): an upload run. The file is cleaned and shingled by
  ``preprocess.py`` (one definition of "clean"); NAB labels, when given, label its rows.
* a prefix ending in ``/`` (the template's default, ``dataset/endpoint={endpoint}/``): a retraining
  run on **production traffic** — the rows ScoreCaptureFunction stored (``anomaly_sentinel.dataset``
  layout), within ``--window-days`` of the newest stored record: ``(newest - days, newest]``. Only
  the day partitions of the window are listed and read. The rows are the model's own input rows
  (already shingled by the client), so they are used as they are; rows whose width is not the
  newest rows' width (traffic from before a change of model input) are dropped and counted.
* ``--blend URI --blend-share S`` (0 ≤ S < 1, default 0): S of the train channel's rows are drawn,
  evenly spaced, from that upload (a file, or the newest ``.csv``/``.csv.gz`` under a prefix).

Splits (time order kept): the oldest :data:`SHARES` ``train`` share trains; the next ``validation``
share becomes the tuner's labelled ``test`` channel; the newest ``evaluation`` share is the set on
which candidate and incumbent are both scored. Blended rows go to the train channel only, so
validation and evaluation are always held-out *recent* rows.

Labels: with no real labels, every held-out row is a normal example (label 0); synthetic anomalies
(:mod:`inject`) are added as labelled copies of held-out rows, with a fixed seed. Real labels, when
given, label their rows 1 and the injected anomalies are added as well. The validation channel gets
the tuner's rates; the evaluation set a realistic share (at most ``inject.EVALUATION_SHARE`` of its
rows labelled, real ones included), so that over-flagging costs what it costs in production.

The window is 14 days by default: production traffic has a weekly cycle, and the oldest 70 % of 7
days (about 5 days) never shows the model two of the weekdays, which it then flags every week
(docs/BENCHMARKS.md, "Retraining decisions against the next week").
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

try:  # a package (tests, the build)
    from . import inject
    from . import preprocess as pp
except ImportError:  # a file: the processing container, or the local executor's import by path
    # The sibling scripts sit next to this one, or in the step's "lib" input (docs/PIPELINE.md).
    for _folder in (Path(__file__).resolve().parent, Path("/opt/ml/processing/input/lib")):
        if str(_folder) not in sys.path:
            sys.path.append(str(_folder))
    import inject  # type: ignore[no-redef]
    import preprocess as pp  # type: ignore[no-redef]

#: Time-ordered split of the run's rows: oldest to train, then validation (tuning), then evaluation.
SHARES = {"train": 0.70, "validation": 0.15, "evaluation": 0.15}
MIN_ROWS = 20
MAX_BLEND_SHARE = 0.9
DEFAULT_WINDOW_DAYS = 14
DEFAULT_SEED = 20_240_601
TRAIN_FILE = Path("train") / "train.csv"
VALIDATION_FILE = Path("validation") / "validation.csv"
EVALUATION_FILE = Path("evaluation") / "evaluation.csv"
EVALUATION_FEATURES_FILE = Path("evaluation") / "features.csv"
BASELINE_FILE = Path("evaluation") / "baseline.json"
SUMMARY_FILE = Path("summary") / "summary.json"
DATA_SUFFIXES = (".csv", ".csv.gz")
_PARTITION = "date="
#: A stored row later than the run's clock by more than this is not trusted to end the window
#: (anomaly_sentinel.dataset allows the same skew between an inference and its capture file).
CLOCK_SKEW = timedelta(minutes=15)


class ChannelsError(pp.PreprocessError):
    """The run's data cannot make the channels; the message says what is missing."""


class EmptyWindowError(ChannelsError):
    """The production dataset holds no usable rows in the window (nothing scored yet?)."""


class BlendError(ChannelsError):
    """The blend data is missing or does not have the recent rows' width."""


# ---------------------------------------------------------------------------- stores


class Store(Protocol):
    """Where the dataset and uploads live: a local folder or S3, with the same keys."""

    def list(self, prefix: str, delimiter: bool = False) -> list[str]: ...

    def read(self, key: str) -> bytes: ...


class FolderStore:
    """Keys are paths relative to ``root`` (tests, the local executor, a downloaded copy)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def list(self, prefix: str, delimiter: bool = False) -> list[str]:
        base = self.root / prefix
        if not base.is_dir():
            return []
        if delimiter:
            return sorted(f"{prefix}{p.name}/" for p in base.iterdir() if p.is_dir())
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*") if p.is_file())

    def read(self, key: str) -> bytes:
        try:
            return (self.root / key).read_bytes()
        except OSError as error:
            raise ChannelsError(f"cannot read {self.root / key}: {error.strerror or error}") from error


class S3Store:
    """One bucket through a boto3 S3 client (``ListObjectsV2`` pages, ``Delimiter="/"`` for days)."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.bucket = bucket
        self.client = client

    def list(self, prefix: str, delimiter: bool = False) -> list[str]:
        found: list[str] = []
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = "/"
        for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
            if delimiter:
                found += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
            else:
                found += [o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/")]
        return sorted(found)

    def read(self, key: str) -> bytes:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        except Exception as error:  # botocore's ClientError, without importing botocore here
            raise ChannelsError(f"cannot download s3://{self.bucket}/{key}: {error}") from error
        try:
            data: bytes = body.read()
        finally:
            body.close()
        return data


def split_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ChannelsError(f"not an s3://bucket/key URI: {uri!r}")
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


# ---------------------------------------------------------------------------- the production dataset


@dataclass(frozen=True)
class StoredRow:
    #: None when the stored time cannot be read (counted by the window, never used).
    when: datetime | None
    features: tuple[float, ...]


def partition_day(prefix: str) -> date | None:
    """The day of a ``…/date=YYYY-MM-DD/`` partition prefix; None for anything else."""
    name = prefix.rstrip("/").rsplit("/", 1)[-1]
    if not name.startswith(_PARTITION):
        return None
    try:
        return date.fromisoformat(name[len(_PARTITION) :])
    except ValueError:
        return None


def read_dataset_file(data: bytes, key: str) -> Iterator[StoredRow]:
    """Rows of one dataset file (``timestamp,score,x1…``); a malformed file fails, naming it.

    A row whose time cannot be read comes with ``when=None``: the window counts it.
    """
    reader = csv.reader(io.StringIO(data.decode("utf-8")))
    head = next(reader, None)
    if not head or head[:2] != ["timestamp", "score"] or len(head) < 3:
        raise ChannelsError(f"{key}: not a dataset file (header must start timestamp,score,x1)")
    for line_no, cells in enumerate(reader, start=2):
        if not cells:
            continue
        when = pp.parse_timestamp(cells[0])
        try:
            features = tuple(float(c) for c in cells[2:])
        except ValueError:
            features = ()
        if len(features) != len(head) - 2:
            raise ChannelsError(f"{key}:{line_no}: malformed dataset row")
        yield StoredRow(when, features)


@dataclass
class Window:
    """What a retraining run read from the dataset, for the summary and the model's metadata."""

    uri: str
    days: int
    start: datetime | None = None
    end: datetime | None = None
    partitions: list[str] = field(default_factory=list)
    files: int = 0
    rows_read: int = 0
    rows_outside: int = 0
    rows_other_width: int = 0
    #: Rows whose time could not be read, and rows (or day partitions) later than the run's clock.
    rows_without_time: int = 0
    rows_in_future: int = 0
    partitions_in_future: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "source": "production-window",
            "uri": self.uri,
            "window_days": self.days,
            "start": self.start.isoformat() + "Z" if self.start else None,
            "end": self.end.isoformat() + "Z" if self.end else None,
            "partitions": len(self.partitions),
            "files": self.files,
            "rows_read": self.rows_read,
            "rows_outside_window": self.rows_outside,
            "rows_other_width": self.rows_other_width,
            "rows_without_time": self.rows_without_time,
            "rows_in_future": self.rows_in_future,
            "partitions_in_future": self.partitions_in_future,
        }


def recent_window(
    store: Store, prefix: str, days: int, uri: str = "", now: datetime | None = None
) -> tuple[list[StoredRow], Window]:
    """The rows within ``days`` of the newest stored record, oldest first (see the module doc).

    The newest record is the newest one not later than the run's clock (``now``, naive UTC): one
    future-dated record must not move the window. Rows without a readable time, and future rows and
    partitions, are counted in the window's description.
    """
    if days < 1:
        raise ChannelsError(f"window must be at least 1 day, got {days}")
    window = Window(uri=uri or prefix, days=days)
    latest = (now or datetime.now(timezone.utc).replace(tzinfo=None)) + CLOCK_SKEW  # noqa: UP017 - 3.9 images
    partitions = {d: p for p in store.list(prefix, delimiter=True) if (d := partition_day(p)) is not None}
    future = [d for d in partitions if d > latest.date()]
    window.partitions_in_future = len(future)
    for day in future:
        del partitions[day]
    if not partitions:
        raise EmptyWindowError(f"no date= partitions under {window.uri} up to today: nothing was scored yet")
    newest_day = max(partitions)
    chosen = [partitions[d] for d in sorted(partitions) if d > newest_day - timedelta(days=days + 1)]
    read: list[StoredRow] = []
    for partition in chosen:
        for key in store.list(partition):
            if key.endswith(".csv"):
                read += read_dataset_file(store.read(key), key)
                window.files += 1
    window.partitions = chosen
    window.rows_read = len(read)
    rows = [r for r in read if r.when is not None and r.when <= latest]
    window.rows_without_time = sum(1 for r in read if r.when is None)
    window.rows_in_future = len(read) - len(rows) - window.rows_without_time
    if not rows:
        raise EmptyWindowError(f"the newest partitions under {window.uri} hold no rows up to today")
    rows.sort(key=_when)
    window.end = _when(rows[-1])
    window.start = window.end - timedelta(days=days)
    inside = [r for r in rows if _when(r) > window.start]
    window.rows_outside = len(rows) - len(inside)
    width = len(inside[-1].features)
    kept = [r for r in inside if len(r.features) == width]
    window.rows_other_width = len(inside) - len(kept)
    return kept, window


def _when(row: StoredRow) -> datetime:
    assert row.when is not None  # rows without a time were counted and left out
    return row.when


# ---------------------------------------------------------------------------- uploads


def newest_data_key(store: Store, prefix: str) -> str:
    """The newest-named data file under a prefix (upload keys usually sort by time)."""
    keys = [k for k in store.list(prefix) if k.lower().endswith(DATA_SUFFIXES)]
    if not keys:
        raise BlendError(f"no {' or '.join(DATA_SUFFIXES)} file under {prefix!r}")
    return keys[-1]


def upload_rows(
    path: Path, *, shingle_size: int, labels_path: Path | None
) -> tuple[list[list[float]], list[int] | None, dict[str, Any]]:
    """An uploaded file through ``preprocess.py``: rows in time order, real labels, its summary."""
    with tempfile.TemporaryDirectory(prefix="channels-") as tmp:
        out = Path(tmp)
        summary = pp.preprocess(path, out, shingle_size=shingle_size, labels_path=labels_path)
        rows = _read_rows(out / pp.TRAIN_FILE)
        labels = None
        if labels_path is not None:
            labels = [int(float(line.split(",", 1)[0])) for line in _lines(out / pp.TEST_FILE)]
            if len(labels) != len(rows):
                raise ChannelsError("labelled rows do not line up with the train rows")
    return rows, labels, summary


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield line.rstrip("\n")


def _read_rows(path: Path) -> list[list[float]]:
    return [[float(x) for x in line.split(",")] for line in _lines(path)]


def blend_sample(rows: Sequence[list[float]], count: int) -> list[list[float]]:
    """``count`` rows evenly spaced over ``rows`` (deterministic, covers the whole upload)."""
    if count <= 0 or not rows:
        return []
    if count >= len(rows):
        return [list(r) for r in rows]
    step = len(rows) / count
    return [list(rows[int(i * step)]) for i in range(count)]


# ---------------------------------------------------------------------------- splits and channels


def split_counts(total: int) -> tuple[int, int, int]:
    """Train, validation, evaluation row counts of a time-ordered split (each at least 1)."""
    if total < MIN_ROWS:
        raise ChannelsError(f"{total} rows: at least {MIN_ROWS} are needed to train and hold out two sets")
    validation = max(1, round(total * SHARES["validation"]))
    evaluation = max(1, round(total * SHARES["evaluation"]))
    return total - validation - evaluation, validation, evaluation


def feature_stats(rows: Sequence[Sequence[float]]) -> tuple[list[float], list[float]]:
    """Per-feature mean and population standard deviation (one pass, Welford)."""
    width = len(rows[0])
    count = 0
    mean = [0.0] * width
    m2 = [0.0] * width
    for row in rows:
        count += 1
        for j, value in enumerate(row):
            delta = value - mean[j]
            mean[j] += delta / count
            m2[j] += delta * (value - mean[j])
    return mean, [(m / count) ** 0.5 for m in m2]


@dataclass
class Channels:
    train: list[list[float]]
    validation: list[tuple[int, list[float]]]
    evaluation: list[tuple[int, list[float]]]
    injected: dict[str, dict[str, int]]
    real_positives: dict[str, int]
    blended: int


def build_channels(
    rows: Sequence[list[float]],
    *,
    labels: Sequence[int] | None = None,
    blend: Sequence[list[float]] = (),
    blend_share: float = 0.0,
    seed: int = DEFAULT_SEED,
) -> Channels:
    """Split time-ordered rows, add blended rows to train, label and inject the held-out sets."""
    if not 0.0 <= blend_share <= MAX_BLEND_SHARE:
        raise BlendError(f"blend share must be in 0..{MAX_BLEND_SHARE}, got {blend_share}")
    n_train, n_validation, _ = split_counts(len(rows))
    width = len(rows[0])
    given = list(labels) if labels is not None else [0] * len(rows)
    train = [list(r) for r in rows[:n_train]]
    blended: list[list[float]] = []
    if blend_share > 0:
        if any(len(r) != width for r in blend[:1]):
            raise BlendError(f"blend rows have {len(blend[0])} features, the recent rows {width}")
        blended = blend_sample(blend, round(blend_share / (1 - blend_share) * len(train)))
        if not blended:
            raise BlendError("blend share is set but the blend data has no rows")
    # Injection magnitudes are relative to the spread of what the model trains on.
    _, scale = feature_stats(train + blended)
    held = {
        "validation": (rows[n_train : n_train + n_validation], given[n_train : n_train + n_validation]),
        "evaluation": (rows[n_train + n_validation :], given[n_train + n_validation :]),
    }
    sets: dict[str, list[tuple[int, list[float]]]] = {}
    injected: dict[str, dict[str, int]] = {}
    for offset, (name, (part, part_labels)) in enumerate(held.items()):
        normal = [(int(label), list(row)) for label, row in zip(part_labels, part, strict=True)]
        counts = inject.plan_share(len(part), int(sum(part_labels))) if name == "evaluation" else None
        anomalies = inject.inject(part, scale, seed=seed + offset, counts=counts)
        sets[name] = normal + [(1, a.row) for a in anomalies]
        injected[name] = inject.counts(anomalies)
    return Channels(
        train=train + blended,
        validation=sets["validation"],
        evaluation=sets["evaluation"],
        injected=injected,
        real_positives={name: int(sum(part_labels)) for name, (_, part_labels) in held.items()},
        blended=len(blended),
    )


def write_channels(channels: Channels, output: Path) -> None:
    """train (features), validation and evaluation (``label,features``), evaluation features alone
    (what batch transform scores), and the train statistics of the z-score baseline."""
    _write(output / TRAIN_FILE, (pp.format_row(r) for r in channels.train))
    _write(output / VALIDATION_FILE, (pp.format_row(r, label) for label, r in channels.validation))
    _write(output / EVALUATION_FILE, (pp.format_row(r, label) for label, r in channels.evaluation))
    _write(output / EVALUATION_FEATURES_FILE, (pp.format_row(r) for _, r in channels.evaluation))
    mean, std = feature_stats(channels.train)
    target = output / BASELINE_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps({"detector": "z-score", "mean": mean, "std": std}), encoding="utf-8")


def _write(path: Path, lines: Iterable[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        for line in lines:
            handle.write(line + "\n")


# ---------------------------------------------------------------------------- one run


#: What "no value" is for the optional URI parameters (SageMaker has rejected "" as a passed value).
NONE = "none"


@dataclass(frozen=True)
class RunInput:
    """Where a run's data is and how to read it (the step's arguments).

    ``rows``: a folder of feature rows already cleaned and shingled (the Spark preprocess output,
    part files in time order); it replaces ``input`` on the Spark route.
    """

    input: str
    rows: Path | None = None
    shingle_size: int = 48
    window_days: int = DEFAULT_WINDOW_DAYS
    labels: Path | None = None
    blend: str | None = None
    blend_share: float = 0.0
    seed: int = DEFAULT_SEED


def store_for(location: str, s3_client: Any = None) -> tuple[Store, str]:
    """A store and the key/prefix inside it, for an ``s3://`` URI or a local path."""
    if location.startswith("s3://"):
        bucket, key = split_uri(location)
        return S3Store(bucket, s3_client), key
    path = Path(location)
    if location.endswith("/") or path.is_dir():
        return FolderStore(path), ""
    return FolderStore(path.parent), path.name


def _fetch(store: Store, key: str, work: Path) -> Path:
    target = work / (key.rsplit("/", 1)[-1] or "data.csv")
    target.write_bytes(store.read(key))
    return target


def run(spec: RunInput, output: Path, *, s3_client: Any = None) -> dict[str, Any]:
    """Read the run's data, write the channels, return the summary (also written to summary.json)."""
    store, key = store_for(spec.input, s3_client)
    with tempfile.TemporaryDirectory(prefix="channels-") as tmp:
        work = Path(tmp)
        if spec.rows is not None:
            rows = [
                r
                for part in sorted(p for p in spec.rows.rglob("part-*") if p.is_file())
                for r in _read_rows(part)
            ]
            labels, preprocess_summary = None, {}
            source = {"source": "upload", "uri": spec.input, "rows": len(rows), "engine": "spark"}
        elif spec.input.endswith("/"):
            stored, window = recent_window(store, key, spec.window_days, spec.input)
            rows = [list(r.features) for r in stored]
            labels = None
            source: dict[str, Any] = window.describe()
            preprocess_summary: dict[str, Any] = {}
        else:
            rows, labels, preprocess_summary = upload_rows(
                _fetch(store, key, work), shingle_size=spec.shingle_size, labels_path=spec.labels
            )
            source = {"source": "upload", "uri": spec.input, "rows": len(rows)}
        blend_rows: list[list[float]] = []
        if spec.blend_share > 0:
            if not spec.blend or spec.blend == NONE:
                raise BlendError("a blend share needs the blend data's location")
            blend_store, blend_key = store_for(spec.blend, s3_client)
            if spec.blend.endswith("/"):
                blend_key = newest_data_key(blend_store, blend_key)
            blend_rows, _, _ = upload_rows(
                _fetch(blend_store, blend_key, work), shingle_size=spec.shingle_size, labels_path=None
            )
            source["blend"] = {"uri": _location(spec.blend, blend_key), "share": spec.blend_share}
    if not rows:
        raise EmptyWindowError(f"{spec.input}: no rows")
    channels = build_channels(
        rows, labels=labels, blend=blend_rows, blend_share=spec.blend_share, seed=spec.seed
    )
    write_channels(channels, output)
    source["blended_rows"] = channels.blended
    per_day = rows_per_day(len(rows), source, preprocess_summary)
    summary = {
        "training_data_label": describe_source(source),
        **{k: v for k, v in preprocess_summary.items() if k not in ("feature_dim", "test_rows")},
        "training_data": source,
        "feature_dim": len(rows[0]),
        "train_rows": len(channels.train),
        "validation_rows": len(channels.validation),
        "evaluation_rows": len(channels.evaluation),
        "injected": channels.injected,
        "real_positives": channels.real_positives,
        "evaluation_share": inject.EVALUATION_SHARE,
        "rows_per_day": per_day,
        "seed": spec.seed,
        "shares": SHARES,
        "injection": inject.describe(),
    }
    target = output / SUMMARY_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(summary, indent=2, sort_keys=True), encoding="utf-8")
    return summary


def rows_per_day(rows: int, source: dict[str, Any], preprocess_summary: dict[str, Any]) -> float | None:
    """How many rows a day of the run's traffic holds (false alerts per day need it); None when unknown.

    A production window spans its ``window_days``; an upload, its first to last timestamp.
    """
    if source.get("source") == "production-window":
        first, last = _timestamp(source.get("start")), _timestamp(source.get("end"))
    else:
        first = _timestamp(preprocess_summary.get("first_timestamp"))
        last = _timestamp(preprocess_summary.get("last_timestamp"))
    if first is None or last is None or last <= first:
        return None
    return rows / ((last - first).total_seconds() / 86_400)


def _timestamp(text: Any) -> datetime | None:
    return pp.parse_timestamp(text) if isinstance(text, str) else None


def describe_source(source: dict[str, Any]) -> str:
    """One line for the model package's ``training_data`` metadata: what the model learned from.

    SageMaker refuses a metadata value outside ``[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]``, 1-256 characters
    (botocore ``CustomerMetadataValue``): a refused value fails the Register step, so the line is
    made to fit (:func:`metadata_value`). The exact locations stay in the run summary's
    ``training_data`` and in ``evaluation.json``, which the package's metadata also names.
    """
    if source.get("source") == "production-window":
        text = (
            f"production {source.get('window_days')}-day window {source.get('start')}..{source.get('end')} "
            f"of {source.get('uri')}"
        )
    else:
        text = f"upload {source.get('uri')}"
    if source.get("blend"):
        text += f" + {source.get('blended_rows')} rows of {source['blend']['uri']}"
    return metadata_value(text)


#: Characters a model package metadata value may hold besides letters, separators and numbers.
METADATA_MARKS = frozenset("_.:/=+-@")
METADATA_MAX = 256
METADATA_GAP = "..."


def metadata_value(text: str, replacement: str = "_") -> str:
    """``text`` as SageMaker accepts a metadata value: others characters become ``replacement``,
    and a text over 256 characters keeps its start and its end (a file name is at the end)."""
    allowed = "".join(
        ch if ch in METADATA_MARKS or unicodedata.category(ch)[0] in "LZN" else replacement for ch in text
    )
    if len(allowed) > METADATA_MAX:
        keep = METADATA_MAX - len(METADATA_GAP)
        allowed = f"{allowed[: keep // 2]}{METADATA_GAP}{allowed[-(keep - keep // 2) :]}"
    return allowed or replacement


def fetch_labels(uri: str, work: Path, s3_client: Any = None) -> Path | None:
    """The labels file named by ``--labels-uri`` (None for ``none``)."""
    if not uri or uri == NONE:
        return None
    store, key = store_for(uri, s3_client)
    return _fetch(store, key, work)


def _location(given: str, key: str) -> str:
    if given.startswith("s3://"):
        bucket, _ = split_uri(given)
        return f"s3://{bucket}/{key}"
    return str(Path(given) / key) if given.endswith("/") else given


# ---------------------------------------------------------------------------- SageMaker Processing entry


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--input", required=True, help="s3:// object, or a dataset prefix ending in /")
    parser.add_argument("--labels", type=Path, default=None, help="labels JSON file or directory")
    parser.add_argument("--labels-uri", default=NONE, help="labels JSON as an s3:// URI, or none")
    parser.add_argument("--rows", type=Path, default=None, help="folder of cleaned feature rows (Spark)")
    parser.add_argument("--output", type=Path, default=pp.PROCESSING_OUTPUT)
    parser.add_argument("--shingle-size", type=int, default=48)
    parser.add_argument("--window-days", type=int, default=DEFAULT_WINDOW_DAYS)
    parser.add_argument("--blend", default=NONE, help="upload to blend: s3:// object or prefix, or none")
    parser.add_argument("--blend-share", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        work = Path(tempfile.mkdtemp(prefix="labels-"))  # the job's scratch space, gone with the job
        labels = (
            pp.single_file(args.labels, "labels")
            if args.labels is not None
            else fetch_labels(args.labels_uri, work)
        )
        spec = RunInput(
            input=args.input,
            rows=args.rows,
            shingle_size=args.shingle_size,
            window_days=args.window_days,
            labels=labels,
            blend=None if args.blend == NONE else args.blend,
            blend_share=args.blend_share,
            seed=args.seed,
        )
        summary = run(spec, args.output)
    except pp.PreprocessError as exc:
        pp.report_failure(exc)
        return 2
    print(json.dumps({k: summary[k] for k in ("feature_dim", "train_rows", "evaluation_rows")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
