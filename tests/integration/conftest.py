"""Fixtures shared by the integration tests that run the pipeline's Spark jobs in local mode."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.cli import main
from tests.support.drift_cli import gaussian


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    """A local Spark session (2 cores, no UI) whose Python workers are this interpreter."""
    pyspark_sql = pytest.importorskip("pyspark.sql")
    # The Python workers must be this interpreter (same version as the driver).
    saved = {name: os.environ.get(name) for name in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")}
    os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("sentinel-spark-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def no_aws_setup(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A shell with no AWS region, no credentials and no config files (and no instance metadata)."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


@pytest.fixture
def baseline_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A baseline of 5,000 Gaussian rows of 4 features, written by ``sentinel baseline``."""
    features = tmp_path / "train.csv"
    features.write_text("\n".join(gaussian(5_000, 1)) + "\n")
    assert main(["baseline", str(features), "--out", str(tmp_path / "baseline")]) == 0
    capsys.readouterr()
    return tmp_path / "baseline"
