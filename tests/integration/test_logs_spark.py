"""The Spark route of the log step (logs_prepare_spark.py) writes what the Python route writes,
byte for byte, on the same input: pyspark in local mode, the job's own code."""

from __future__ import annotations

from pathlib import Path

import pytest

from anomaly_sentinel.logs import resolve_format
from pipeline.scripts import logs_prepare
from sentinel.loggen import BglLog, HdfsLog

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]

OUTPUTS = (
    "templates.json",
    "vector_spec.json",
    "report.json",
    "train/train.csv",
    "validation/validation.csv",
    "evaluation/evaluation.csv",
    "sessions/train.csv",
    "sessions/validation.csv",
    "sessions/evaluation.csv",
)


def _same_outputs(python_out: Path, spark_out: Path) -> None:
    for name in OUTPUTS:
        assert (spark_out / name).read_bytes() == (python_out / name).read_bytes(), name


def test_both_routes_write_the_same_channels_for_hdfs_sessions_across_files(spark, tmp_path):
    from pipeline.scripts import logs_prepare_spark

    # GIVEN an HDFS-like log in two files, with unreadable and keyless lines in between
    lines = [line.text.encode() for line in HdfsLog(400, seed=8).lines()]
    folder = tmp_path / "in"
    folder.mkdir()
    half = len(lines) // 2
    bad = [
        b"\xff\xfe not utf-8",
        b"081109 203615 1 INFO dfs.X: binary \x00",
        b"081109 203615 1 INFO dfs.X: no key",
    ]
    (folder / "part-1.log").write_bytes(b"\n".join(lines[:half] + bad) + b"\n")
    (folder / "part-2.log").write_bytes(b"\n".join(lines[half:]))
    paths = logs_prepare.input_files(folder)
    hdfs = resolve_format("hdfs")
    # WHEN both routes prepare it
    python_report = logs_prepare.prepare(paths, hdfs, tmp_path / "python", seed=3)
    logs_prepare_spark.run(spark, paths, hdfs, tmp_path / "spark", seed=3)
    # THEN every output file is the same, rejects included
    assert python_report["rejects"] == {"binary-line": 1, "no-session-key": 1, "not-utf8": 1}
    _same_outputs(tmp_path / "python", tmp_path / "spark")


def test_both_routes_write_the_same_channels_for_bgl_time_windows(spark, tmp_path):
    from pipeline.scripts import logs_prepare_spark

    BglLog(5000, seed=4, burst_share=0.01).write(tmp_path / "bgl.log")
    bgl = resolve_format("bgl")
    logs_prepare.prepare([tmp_path / "bgl.log"], bgl, tmp_path / "python")
    logs_prepare_spark.run(spark, [tmp_path / "bgl.log"], bgl, tmp_path / "spark")
    _same_outputs(tmp_path / "python", tmp_path / "spark")
