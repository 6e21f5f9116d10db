"""The Spark preprocessing (pipeline/scripts/preprocess_spark.py) equals the single-instance script,
row for row, on a messy slice of NYC taxi: pyspark in local mode, the job's own code."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from pipeline.scripts import preprocess as pp
from sentinel.template import PROJECT_ROOT

pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")

NAB = PROJECT_ROOT / "local" / "sentinel" / "data" / "nab"
WINDOWS = NAB / "nyc_taxi_windows.json"


def messy_taxi_slice(path: Path) -> Path:
    """1,500 half-hours around the NYC marathon window, gzip'd: shuffled, 20 repeated rows, a run of
    400 missing values (longer than a partition, so the forward fill must carry across partitions),
    scattered missing values and a missing first value."""
    lines = (NAB / "nyc_taxi.csv").read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[5501:7001]
    blank = set(range(600, 1000)) | set(random.Random(5).sample(range(1500), 25)) | {0}
    rows = [
        row.split(",")[0] + ("," if i in blank else "," + row.split(",")[1]) for i, row in enumerate(rows)
    ]
    shuffler = random.Random(7)
    rows += [rows[i] for i in shuffler.sample(range(1500), 20)]
    shuffler.shuffle(rows)
    path.write_bytes(gzip.compress(("\n".join([header, *rows]) + "\n").encode()))
    return path


def part_lines(directory: Path) -> list[str]:
    lines: list[str] = []
    for part in sorted(directory.glob("part-*")):
        lines += part.read_text(encoding="utf-8").splitlines()
    return lines


@pytest.mark.slow
def test_spark_output_equals_the_single_instance_script_row_for_row(spark, tmp_path):
    from pipeline.scripts import preprocess_spark

    # GIVEN a messy gzip'd slice of NYC taxi and the NAB windows
    data = messy_taxi_slice(tmp_path / "nyc_taxi.csv.gz")
    # WHEN both engines preprocess it (Spark over 4 partitions)
    expected = pp.preprocess(data, tmp_path / "single", shingle_size=48, labels_path=WINDOWS)
    summary = preprocess_spark.run(
        spark,
        input_uri=str(data),
        train_uri=str(tmp_path / "spark" / "train"),
        test_uri=str(tmp_path / "spark" / "test"),
        labels_path=WINDOWS,
        shingle_size=48,
        partitions=4,
    )
    # THEN the train and test channels are identical, line for line, and so are the summaries
    train = (tmp_path / "single" / "train" / "train.csv").read_text(encoding="utf-8").splitlines()
    test = (tmp_path / "single" / "test" / "test.csv").read_text(encoding="utf-8").splitlines()
    assert part_lines(tmp_path / "spark" / "train") == train
    assert part_lines(tmp_path / "spark" / "test") == test
    assert summary == expected
    # and the slice really was messy, and labelled on both sides of the window
    assert expected["duplicates_dropped"] == 20
    assert expected["missing_filled"] >= 400
    assert 0 < expected["test_positive_rows"] < expected["test_rows"] == len(train) == 1500 - 47
    assert not (tmp_path / "spark" / "train" / "_SUCCESS").exists()


@pytest.mark.slow
def test_spark_refuses_bad_input_with_the_same_named_error(spark, tmp_path):
    from pipeline.scripts import preprocess_spark

    data = tmp_path / "dates.csv"
    data.write_text("timestamp,value\n2024-01-01,1\nnot a date,2\n", encoding="utf-8")
    # (the Spark job imports the row rules as ``preprocess``, as on SageMaker: its own error classes)
    with pytest.raises(preprocess_spark.rules.UnparseableTimestampError, match="line 3: 'not a date'"):
        preprocess_spark.run(spark, input_uri=str(data), train_uri=str(tmp_path / "out"), shingle_size=1)


@pytest.mark.slow
def test_spark_channels_hold_only_non_empty_part_files_and_the_exact_object_is_read(spark, tmp_path):
    from pipeline.scripts import preprocess_spark

    # GIVEN Hadoop's committer writing _SUCCESS markers (the image's default), more partitions than
    # rows (so some part files are empty), and an upload whose key is also a glob pattern, next to a
    # file the pattern would match
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    conf.set("mapreduce.fileoutputcommitter.marksuccessfuljobs", "true")
    data = tmp_path / "in" / "x[1].csv"
    data.parent.mkdir()
    data.write_text("timestamp,value\n2024-01-01 00:00,1\n2024-01-01 00:30,2\n2024-01-01 01:00,3\n")
    (tmp_path / "in" / "x1.csv").write_text("timestamp,value\n2024-01-01 00:00,9\n")
    try:
        # WHEN the Spark job writes the train channel over 8 partitions
        summary = preprocess_spark.run(
            spark, input_uri=str(data), train_uri=str(tmp_path / "train"), shingle_size=1, partitions=8
        )
    finally:
        conf.set("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
    # THEN what RCF and the batch transform read under the prefix is only data: no marker, no
    # checksum, no empty part file, and every row of the uploaded file (and only it) is there
    files = sorted(p.name for p in (tmp_path / "train").iterdir())
    assert files
    assert all(name.startswith("part-") for name in files), files
    assert all((tmp_path / "train" / name).stat().st_size > 0 for name in files)
    assert part_lines(tmp_path / "train") == ["1", "2", "3"]
    assert summary["rows_in"] == 3
