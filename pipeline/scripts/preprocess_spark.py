"""The Preprocess step on Spark (SageMaker PySparkProcessor), for data too large for one instance.

Same output as ``preprocess.py``, row for row: the row rules (parsing, column layout, labels, number
formatting, summary) are imported from it, shipped to every executor with ``--py-files``; only the
whole-data operations are Spark's: sort by time, de-duplicate (reduceByKey), forward-fill across
partitions (a two-pass scan: each partition's last values, then a carry per partition) and shingling
(each value is sent to the s shingle rows that contain it, grouped by row index). Nothing collects the
data on the driver, and no window without a partition moves everything to one executor.

On SageMaker the data is read from and written to S3 directly (``s3://`` becomes ``s3a://``): every
instance of the cluster writes its own part files, which a local processing output could not merge.
The labels file (small) comes in as a processing input and the summary goes out as one.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from pyspark import RDD, SparkContext
from pyspark.sql import SparkSession

#: Where the pipeline also mounts preprocess.py (a processing input), should --py-files not have
#: put it on the driver's path.
RULES_INPUT = Path("/opt/ml/processing/input/rules")

try:  # on SageMaker, preprocess.py arrives with --py-files and is importable as is
    import preprocess as rules
except ImportError:  # from a checkout it sits next to this file; on SageMaker also in RULES_INPUT
    sys.path[:0] = [str(Path(__file__).resolve().parent), str(RULES_INPUT)]
    import preprocess as rules

PROCESSING_LABELS = Path("/opt/ml/processing/input/labels")
PROCESSING_SUMMARY = Path("/opt/ml/processing/output/summary")

Window = tuple[tuple[float, ...], Any, Any]  # feature values, first and last timestamp of the shingle


def _cells(line: str) -> list[str]:
    return next(csv.reader([line]), [])


def _blank(cells: Sequence[str]) -> bool:
    return not cells or all(not c.strip() for c in cells)


def _ship_rules(sc: SparkContext) -> None:
    """Executors unpickle the row rules by module name: make sure they can import ``preprocess``."""
    shipped = sc.getConf().get("spark.submit.pyFiles", "") or ""
    if "preprocess.py" not in shipped:
        sc.addPyFile(str(Path(rules.__file__).resolve()))


def to_spark_uri(uri: str) -> str:
    return "s3a://" + uri[len("s3://") :] if uri.startswith("s3://") else uri


def literal_path(uri: str) -> str:
    """Hadoop reads input paths as glob patterns: escape them so exactly the named object is read."""
    return "".join("\\" + c if c in "\\*?[]{}" else c for c in uri)


def keep_only_data(sc: SparkContext, uri: str) -> int:
    """Leave only non-empty part files in a written channel; return how many entries were removed.

    RCF's training channel and the batch transform read every object under the prefix: a
    ``_SUCCESS`` marker, a leftover ``_temporary/``, checksum files or the empty part file of an
    empty partition must not be among them.
    """
    hadoop = sc._jvm.org.apache.hadoop.fs  # type: ignore[attr-defined]
    path = hadoop.Path(to_spark_uri(uri))
    conf = sc._jsc.hadoopConfiguration()  # type: ignore[attr-defined]
    fs = path.getFileSystem(conf)
    if fs.getScheme() == "file":  # list the checksum files a local run writes too (S3A writes none)
        fs = hadoop.FileSystem.getLocal(conf).getRawFileSystem()
    removed = 0
    for status in fs.listStatus(path):
        name = status.getPath().getName()
        if status.isDirectory() or name.startswith(("_", ".")) or status.getLen() == 0:
            fs.delete(status.getPath(), True)
            removed += 1
    return removed


def run(
    spark: SparkSession,
    *,
    input_uri: str,
    train_uri: str,
    shingle_size: int,
    test_uri: str | None = None,
    labels_path: Path | None = None,
    partitions: int | None = None,
) -> dict[str, Any]:
    """Write the train (and test) channel as part files under the given URIs; return the summary.

    ``partitions`` sets how many partitions the sorted data has (default: Spark's parallelism).
    """
    rules.check_shingle_size(shingle_size)
    sc = spark.sparkContext
    _ship_rules(sc)
    source = input_uri.rstrip("/").rsplit("/", 1)[-1]
    header, rows_in, wellformed = _records(sc, input_uri, source)
    kept = wellformed.count()

    profile = wellformed.map(lambda r: rules.profile_row(r[0], r[1])).fold(
        rules.empty_profile(len(header)), rules.merge_profiles
    )
    layout = rules.classify_columns(header, profile, source)
    intervals = rules.load_labels(labels_path, source) if labels_path is not None else None
    if intervals is not None and layout.time_index is None:
        raise rules.LabelsError(f"{source}: labels need a time column to match, and the file has none")
    problems = wellformed.map(lambda r: rules.timestamp_problem(layout, r[0], r[1])).filter(
        lambda p: p is not None
    )
    bad = problems.count()
    if bad:
        examples = problems.takeOrdered(3, key=lambda p: p[0])
        raise rules.unparseable_error(source, str(layout.time_column), bad, examples)

    rows = _sorted_unique(wellformed, layout, partitions or sc.defaultParallelism)
    count = rows.count()
    columns = len(layout.feature_indexes)
    missing = rows.map(lambda r: [1 if v is None else 0 for v in r.values]).fold(
        [0] * columns, lambda a, b: [x + y for x, y in zip(a, b, strict=True)]
    )
    size = shingle_size if columns == 1 and shingle_size > 1 else 1
    if count < size:
        raise rules.NotEnoughRowsError(f"{source}: {count} clean rows, fewer than the shingle size {size}")
    filled = _fill_forward(sc, rows, columns, _first_values(rows, columns))
    windows = _shingles(filled.zipWithIndex(), size, count).sortByKey().cache()
    rows_out = windows.count()

    positives = 0
    if intervals is not None:
        labelled = windows.map(lambda kv: (rules.label_for(intervals, kv[1][1], kv[1][2]), kv[1][0])).cache()
        positives = int(labelled.map(lambda lv: lv[0]).sum())
        if positives == 0:
            raise rules.LabelsError(
                f"{source}: no labelled window meets the data's time span; wrong labels file?"
            )
        if test_uri is None:
            raise rules.PreprocessError("labels were given without a test channel URI (--test-output)")
        labelled.map(lambda lv: rules.format_row(lv[1], lv[0])).saveAsTextFile(to_spark_uri(test_uri))
        keep_only_data(sc, test_uri)
    windows.map(lambda kv: rules.format_row(kv[1][0])).saveAsTextFile(to_spark_uri(train_uri))
    keep_only_data(sc, train_uri)

    times = rows.map(lambda r: r.when).filter(lambda w: w is not None)
    has_times = layout.time_index is not None
    return rules.build_summary(
        source=source,
        layout=layout,
        rows_in=rows_in,
        malformed=rows_in - kept,
        duplicates=kept - count,
        missing_by_column=missing,
        shingle_size=shingle_size,
        rows_out=rows_out,
        first_time=times.min() if has_times else None,
        last_time=times.max() if has_times else None,
        labels=labels_path.name if labels_path is not None else None,
        intervals=len(intervals or []),
        test_rows=rows_out if intervals is not None else 0,
        positive_rows=positives,
    )


def _records(sc: SparkContext, input_uri: str, source: str) -> tuple[list[str], int, RDD[Any]]:
    """Header, data row count, and the (line number, cells) of rows with the header's width."""
    records = (
        sc.textFile(literal_path(to_spark_uri(input_uri)))
        .zipWithIndex()
        .map(lambda item: (item[1] + 1, _cells(item[0].lstrip("\ufeff") if item[1] == 0 else item[0])))
        .filter(lambda record: not _blank(record[1]))
        .cache()
    )
    first = records.takeOrdered(1, key=lambda record: record[0])
    if not first:
        raise rules.EmptyInputError(f"{source}: the file is empty (no header, no rows)")
    header_line, header = first[0]
    width = len(header)
    data = records.filter(lambda record: record[0] != header_line)
    rows_in = data.count()
    if rows_in == 0:
        raise rules.EmptyInputError(f"{source}: a header ({','.join(header)}) but no data rows")
    wellformed = data.filter(lambda record: len(record[1]) == width).cache()
    if wellformed.isEmpty():
        raise rules.EmptyInputError(f"{source}: none of the {rows_in} rows has the header's {width} fields")
    return header, rows_in, wellformed


def _sorted_unique(wellformed: RDD[Any], layout: rules.Layout, partitions: int) -> RDD[Any]:
    """Parsed rows sorted by time; of rows sharing a timestamp, the first in file order."""
    parsed = wellformed.map(lambda r: rules.parse_row(layout, r[0], r[1]))
    if layout.time_index is not None:
        parsed = (
            parsed.map(lambda row: (row.when, row))
            .reduceByKey(lambda a, b: a if a.line_no <= b.line_no else b)
            .values()
        )
    return parsed.sortBy(rules.sort_key, numPartitions=partitions).cache()


def _first_values(rows: RDD[Any], columns: int) -> list[float | None]:
    """Each column's first non-missing value in time order (fills leading gaps)."""
    firsts = dict(
        rows.flatMap(lambda r: [(c, (rules.sort_key(r), v)) for c, v in enumerate(r.values) if v is not None])
        .reduceByKey(min)
        .mapValues(lambda keyed: keyed[1])
        .collect()
    )
    return [firsts.get(c) for c in range(columns)]


def _fill_forward(sc: SparkContext, rows: RDD[Any], columns: int, first: list[float | None]) -> RDD[Any]:
    """Forward-fill across partitions: each partition's last values, then a carry into each partition."""

    def last_values(index: int, items: Iterable[Any]) -> Iterator[tuple[int, list[float | None]]]:
        last: list[float | None] = [None] * columns
        for row in items:
            for column, value in enumerate(row.values):
                if value is not None:
                    last[column] = value
        yield index, last

    lasts = dict(rows.mapPartitionsWithIndex(last_values).collect())
    carries: list[list[float | None]] = []
    running: list[float | None] = [None] * columns
    for index in range(rows.getNumPartitions()):
        carries.append(list(running))
        for column, value in enumerate(lasts.get(index, [None] * columns)):
            if value is not None:
                running[column] = value
    shared = sc.broadcast((carries, first))

    def fill(index: int, items: Iterable[Any]) -> Iterator[Any]:
        carry, start = shared.value
        return rules.fill_forward(items, carry[index], start)

    return rows.mapPartitionsWithIndex(fill, preservesPartitioning=True)


def _shingles(indexed: RDD[Any], size: int, count: int) -> RDD[tuple[int, Window]]:
    """Row j holds values j-size+1..j: each value goes to the rows that contain it, grouped by j."""
    if size == 1:
        return indexed.map(lambda item: (item[1], (item[0][1], item[0][0].when, item[0][0].when)))

    def spread(item: Any) -> Iterator[tuple[int, tuple[int, float, Any]]]:
        (row, values), index = item
        for offset in range(size):
            target = index + offset
            if target < count:
                yield target, (size - 1 - offset, values[0], row.when)

    def assemble(parts: Iterable[tuple[int, float, Any]]) -> Window:
        ordered = sorted(parts, key=lambda part: part[0])
        return tuple(p[1] for p in ordered), ordered[0][2], ordered[-1][2]

    return indexed.flatMap(spread).groupByKey().filter(lambda kv: kv[0] >= size - 1).mapValues(assemble)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--input", required=True, help="data file URI (s3:// or a local path)")
    parser.add_argument("--train-output", required=True, help="train channel prefix URI")
    parser.add_argument("--test-output", default=None, help="test channel prefix URI (with labels)")
    parser.add_argument("--labels", type=Path, default=None, help="labels JSON file or directory")
    parser.add_argument("--labels-uri", default=None, help="the labels object's S3 URI: read only that file")
    parser.add_argument("--summary-dir", type=Path, default=PROCESSING_SUMMARY)
    parser.add_argument("--shingle-size", type=int, default=48)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    spark = (
        SparkSession.builder.appName("anomaly-sentinel-preprocess")
        # RCF reads every object under the channel prefix: no _SUCCESS marker there.
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .getOrCreate()
    )
    try:
        labels = (
            rules.single_file(args.labels, "labels", args.labels_uri) if args.labels is not None else None
        )
        summary = run(
            spark,
            input_uri=args.input,
            train_uri=args.train_output,
            test_uri=args.test_output,
            labels_path=labels,
            shingle_size=args.shingle_size,
        )
    except rules.PreprocessError as exc:
        rules.report_failure(exc)
        return 2
    finally:
        spark.stop()
    args.summary_dir.mkdir(parents=True, exist_ok=True)
    (args.summary_dir / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True), "utf-8")
    print(json.dumps({k: summary[k] for k in ("rows_in", "rows_out", "feature_dim", "test_rows")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
