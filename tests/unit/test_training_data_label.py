"""The one-line ``training_data`` a model package carries: what SageMaker accepts, saying what matters."""

from __future__ import annotations

import botocore.session
import pytest

from pipeline.scripts.channels import describe_source
from sentinel.strict import violations

METADATA_VALUE = (
    botocore.session.get_session().get_service_model("sagemaker").shape_for("CustomerMetadataValue")
)


def accepted(label: str) -> bool:
    return violations(label, METADATA_VALUE) == []


def test_a_production_window_reads_its_length_dates_and_prefix():
    source = {
        "source": "production-window",
        "uri": "s3://data/dataset/endpoint=anomaly-sentinel-rcf/",
        "window_days": 7,
        "start": "2026-11-03T23:00:00Z",
        "end": "2026-11-10T23:00:00Z",
    }
    label = describe_source(source)
    assert label == (
        "production 7-day window 2026-11-03T23:00:00Z..2026-11-10T23:00:00Z "
        "of s3://data/dataset/endpoint=anomaly-sentinel-rcf/"
    )
    assert accepted(label)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("training/data (1).csv", "upload s3://data/training/data _1_.csv"),
        ("training/taxi, 2015 & 2016.csv.gz", "upload s3://data/training/taxi_ 2015 _ 2016.csv.gz"),
        ("training/größen.csv", "upload s3://data/training/größen.csv"),  # letters of any script stay
    ],
)
def test_an_upload_keeps_its_name_with_refused_characters_replaced(key, expected):
    label = describe_source({"source": "upload", "uri": f"s3://data/{key}"})
    assert label == expected
    assert accepted(label)


def test_a_long_location_keeps_its_start_and_its_file_name():
    uri = "s3://data/" + "deep/" * 60 + "week (final).csv"
    label = describe_source({"source": "upload", "uri": uri, "blend": None})
    assert len(label) == 256
    assert label.startswith("upload s3://data/deep/")
    assert label.endswith("week _final_.csv")
    assert "..." in label
    assert accepted(label)


def test_a_blend_is_named_after_the_main_source():
    source = {
        "source": "upload",
        "uri": "s3://data/training/week.csv",
        "blend": {"uri": "s3://data/seed/taxi.csv", "share": 0.2},
        "blended_rows": 12,
    }
    label = describe_source(source)
    assert label == "upload s3://data/training/week.csv + 12 rows of s3://data/seed/taxi.csv"
    assert accepted(label)
