"""The log route's processing step on Spark (SageMaker PySparkProcessor): same outputs, line for line.

Drain is single-threaded, so the driver mines the same sample the Python route mines
(``logs_prepare.build_table``: the first ``--sample-lines`` readable lines) and broadcasts the
exported table; executors only **match** with the pure-Python matcher, so both routes give every
line the same template. Each file is read by one task with the runtime package's own line reader
(``decode_lines``: the same line breaks, gzip, non-UTF-8, binary and over-long rejects); line
numbers continue from file to file as in the Python route. Sessions (every key of a line) and
time windows are formed with ``groupByKey``; only the small per-group counts reach the driver,
which then splits, labels, fits the vectors and writes exactly what ``logs_prepare.py`` writes
(``logs_prepare.finish``).

Differences, by design: a Spark job sees the whole input at once, so sessions never close early
(no ``idle_seconds``, no ``max_open`` eviction) and time windows take late lines (no
``late-line`` rejects); ``lines`` windows are not supported. On a time-ordered input without
evictions both routes write the same bytes (tests/integration/test_logs_spark.py). A file is
read whole by one executor (many files spread over the cluster; a single huge file does not).
Not yet run on SageMaker.
"""

from __future__ import annotations

import functools
import io
import math
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pyspark import SparkContext
from pyspark.sql import SparkSession

_HERE = Path(__file__).resolve().parent
for _folder in (_HERE, Path("/opt/ml/processing/input/lib"), _HERE.parents[1] / "layers" / "common"):
    if _folder.is_dir() and str(_folder) not in sys.path:
        sys.path.append(str(_folder))

try:  # a package (tests)
    from . import logs_prepare as rules
except ImportError:  # a file: the processing container
    import logs_prepare as rules  # type: ignore[no-redef]

import anomaly_sentinel  # noqa: E402
from anomaly_sentinel.logs import Group, GroupingSpec, LogFormat, Tally  # noqa: E402
from anomaly_sentinel.logs.formats import (  # noqa: E402
    DEFAULT_MAX_LINE_BYTES,
    NO_SESSION_KEY,
    NO_TIME,
)
from anomaly_sentinel.logs.vectors import MAX_SEQUENCE  # noqa: E402

# One line's event as it travels: (file index, line in file, template id, keys, epoch time, marked, reject)
Event = tuple[int, int, int | None, tuple[str, ...], float | None, bool, str | None]


def ship_package(sc: SparkContext, scratch: Path) -> None:
    """Executors import ``anomaly_sentinel`` (the matcher, the line reader): send it as a zip."""
    source = Path(anomaly_sentinel.__file__).resolve().parent
    archive = scratch / "anomaly_sentinel.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(source.rglob("*.py")):
            bundle.write(path, path.relative_to(source.parent))
    sc.addPyFile(str(archive))


def file_events(index: int, data: bytes, table_raw: bytes, max_line_bytes: int) -> Iterator[Event]:
    """Every line of one file, read and matched exactly as the Python route does."""
    from anomaly_sentinel.logs import Matcher, TemplateTable
    from anomaly_sentinel.logs.stream import read_events

    table = TemplateTable.load(table_raw)
    log_format = table.format
    normal = log_format.normal_label if log_format.label_field else None
    for event in read_events(io.BytesIO(data), Matcher(table), max_line_bytes):
        marked = normal is not None and event.label is not None and event.label != normal
        when = event.time.timestamp() if event.time is not None else None
        yield (index, event.line, event.template_id, event.session_keys, when, marked, event.reject)


def placements(
    event: Event, offsets: list[int], grouping: GroupingSpec
) -> Iterator[tuple[str, tuple[int, int | None, bool]]]:
    """The groups a placed line goes to, keyed for ``groupByKey`` (the Grouper's rules, whole-file)."""
    index, line, template, keys, when, marked, reject = event
    if reject is not None:
        return
    number = offsets[index] + line
    if grouping.kind == "session":
        for key in keys:
            yield key, (number, template, marked)
        return
    if when is None:
        return
    step, size = grouping.step, grouping.window_seconds
    for k in range(math.floor((when - size) / step) + 1, math.floor(when / step) + 1):
        start = datetime.fromtimestamp(k * step, tz=UTC)
        yield start.strftime("%Y-%m-%dT%H:%M:%SZ"), (number, template, marked)


def reason(event: Event, grouping: GroupingSpec) -> str | None:
    """Why a line is not placed (the Python route's reject reasons), or None."""
    _, _, _, keys, when, _, reject = event
    if reject is not None:
        return reject
    if grouping.kind == "session" and not keys:
        return NO_SESSION_KEY
    if grouping.kind == "time" and when is None:
        return NO_TIME
    return None


def build_group(key: str, members: Iterable[tuple[int, int | None, bool]], kind: str) -> dict[str, Any]:
    ordered = sorted(members)
    sequence = [template for _, template, _ in ordered]
    return {
        "key": key,
        "sequence": sequence,
        "first_line": ordered[0][0],
        "last_line": ordered[-1][0],
        "marked": any(marked for _, _, marked in ordered),
        "window": kind == "time",
    }


def to_group(item: dict[str, Any]) -> Group:
    group = Group(item["key"], sequence=item["sequence"][:MAX_SEQUENCE])
    group.counts.update(item["sequence"])
    group.length = len(item["sequence"])
    group.first_line, group.last_line, group.marked = item["first_line"], item["last_line"], item["marked"]
    if item["window"]:
        group.start = datetime.strptime(item["key"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return group


def run(
    spark: SparkSession,
    paths: Sequence[Path],
    log_format: LogFormat,
    out: Path,
    *,
    labels_path: Path | None = None,
    grouping: GroupingSpec | None = None,
    weighting: str = "log1p",
    seed: int = rules.DEFAULT_SEED,
    sample_lines: int = rules.DEFAULT_SAMPLE_LINES,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> dict[str, Any]:
    """The Spark route of ``logs_prepare.prepare`` (module doc)."""
    labels = rules.read_labels(labels_path) if labels_path is not None else None
    grouping = grouping or GroupingSpec.from_json(log_format.grouping)
    if grouping.kind == "lines":
        raise rules.PrepareError(
            "the Spark route groups sessions or time windows; use logs_prepare.py for lines"
        )
    table = rules.build_table(paths, log_format, sample_lines=sample_lines, max_line_bytes=max_line_bytes)
    sc = spark.sparkContext
    scratch = Path(tempfile.mkdtemp(prefix="logs-spark-"))
    try:
        ship_package(sc, scratch)
        table_raw = sc.broadcast(table.dump())
        files = sc.binaryFiles(",".join(str(p) for p in paths))
        order = {str(Path(p).resolve()): i for i, p in enumerate(paths)}
        limit = max_line_bytes

        def read(item: tuple[str, bytes]) -> Iterator[Event]:
            index = order[str(Path(item[0].removeprefix("file:")).resolve())]
            return file_events(index, item[1], table_raw.value, limit)

        lines = files.flatMap(read).cache()
        per_file = lines.map(lambda e: (e[0], 1)).countByKey()
        offsets = [0] * len(paths)
        for i in range(1, len(paths)):
            offsets[i] = offsets[i - 1] + int(per_file.get(i - 1, 0))
        tally = Tally(lines=sum(int(n) for n in per_file.values()))
        for why, count in lines.map(lambda e: (reason(e, grouping), 1)).countByKey().items():
            if why is None:
                tally.placed = int(count)
            else:
                tally.rejects[why] = int(count)
        for template, count in (
            lines.filter(lambda e: e[6] is None).map(lambda e: (e[2], 1)).countByKey().items()
        ):
            if template is None:
                tally.unseen = int(count)
            else:
                tally.templates[template] = int(count)
        kind = grouping.kind
        collected = (
            lines.flatMap(lambda e: placements(e, offsets, grouping))
            .groupByKey()
            .map(lambda kv: build_group(kv[0], kv[1], kind))
            .collect()
        )
        lines.unpersist()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    groups = [to_group(item) for item in collected]
    tally.groups = len(groups)
    tally.check()
    return rules.finish(table, grouping, groups, tally, out, labels=labels, weighting=weighting, seed=seed)


def main(argv: Sequence[str] | None = None) -> int:
    """``logs_prepare.py``'s arguments, exit codes and messages; the Spark route does the work."""
    spark = SparkSession.builder.appName("anomaly-sentinel-logs-prepare").getOrCreate()
    try:
        return rules.main(argv, route=functools.partial(run, spark))
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main())
