"""The deployed model's score statistics, found from its endpoint on the emulator.

``ServedModels`` follows DescribeEndpoint → DescribeEndpointConfig → DescribeModel to the
model's artefact and reads ``score_stats.json`` beside it; every way this can fail is a note that
the alert shows, never an error (the cutoff falls through to the next source).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from anomaly_sentinel.contracts import ScoreStats
from anomaly_sentinel.contracts.served import ServedModels, StatsLookup
from tests.support import Failing

ROLE = "arn:aws:iam::123456789012:role/sentinel-sagemaker"
BUCKET = "sentinel-models"
STATS = {"count": 1000, "mean": 1.0, "std": 0.2, "min": 0.5, "max": 2.5, "quantiles": {"0.99": 1.6}}


@pytest.fixture
def clients(aws: None) -> tuple[Any, Any]:
    sagemaker, s3 = boto3.client("sagemaker"), boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    return sagemaker, s3


def serve(sagemaker: Any, endpoint: str, container: dict[str, str]) -> None:
    """An endpoint serving one model whose container is ``container``."""
    sagemaker.create_model(
        ModelName=f"{endpoint}-model",
        PrimaryContainer={"Image": "rcf:1", **container},
        ExecutionRoleArn=ROLE,
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{endpoint}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{endpoint}-model",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 1},
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=endpoint, EndpointConfigName=f"{endpoint}-config")


def stats_of(source: ServedModels, endpoint: str) -> StatsLookup:
    """The statistics part of the model in service (the baseline is not asked for)."""
    found = source.resolve(endpoint, baseline=False).stats
    assert found is not None
    return found


def publish(s3: Any, key: str, body: str | dict[str, Any]) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body if isinstance(body, str) else json.dumps(body))


def test_statistics_beside_the_served_models_artefact_are_read_once_per_model(clients):
    # GIVEN two endpoints serving two models, each with its own statistics beside its artefact
    sagemaker, s3 = clients
    serve(sagemaker, "rcf", {"ModelDataUrl": f"s3://{BUCKET}/models/1/output/model.tar.gz"})
    serve(sagemaker, "rcf-b", {"ModelDataUrl": f"s3://{BUCKET}/models/2/output/model.tar.gz"})
    publish(s3, "models/1/output/score_stats.json", STATS)
    publish(s3, "models/2/output/score_stats.json", {**STATS, "mean": 7.0})
    source = ServedModels(sagemaker, s3)
    # WHEN the first endpoint's statistics are looked up twice
    first, again = stats_of(source, "rcf"), stats_of(source, "rcf")
    # THEN they are read from beside its artefact, then served from the cache, named both times
    uri = f"s3://{BUCKET}/models/1/output/score_stats.json"
    assert (first.stats, first.uri, first.note) == (ScoreStats(**STATS), uri, "read")
    assert (again.stats, again.uri, again.note) == (ScoreStats(**STATS), uri, "cached")
    # AND the other endpoint's model has its own statistics
    other = stats_of(source, "rcf-b")
    assert (other.stats.mean, other.uri) == (7.0, f"s3://{BUCKET}/models/2/output/score_stats.json")


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (None, "(NoSuchKey)"),
        ("not json", "(not JSON (Expecting value at line 1))"),
        ({"count": 0, "mean": 1}, "(ValidationError)"),
    ],
    ids=["missing", "garbage", "invalid"],
)
def test_unreadable_statistics_are_a_note_that_says_why(clients, body, why):
    # GIVEN a served model whose statistics are missing, garbled or invalid
    sagemaker, s3 = clients
    serve(sagemaker, "rcf", {"ModelDataUrl": f"s3://{BUCKET}/m/model.tar.gz"})
    if body is not None:
        publish(s3, "m/score_stats.json", body)
    # WHEN looked up THEN none are used; the address and the reason are in the note
    found = stats_of(ServedModels(sagemaker, s3), "rcf")
    assert (found.stats, found.uri) == (None, f"s3://{BUCKET}/m/score_stats.json")
    assert found.uri in found.note
    assert found.note.endswith(why)


def test_statistics_whose_cutoff_would_overflow_are_refused(clients):
    # GIVEN statistics of finite numbers whose sum is beyond the float range
    sagemaker, s3 = clients
    serve(sagemaker, "rcf", {"ModelDataUrl": f"s3://{BUCKET}/m/model.tar.gz"})
    publish(s3, "m/score_stats.json", {**STATS, "mean": 1.5e308, "std": 1.5e308})
    # WHEN looked up THEN they are not used, and the note names the file
    found = stats_of(ServedModels(sagemaker, s3), "rcf")
    assert (found.stats, found.uri) == (None, f"s3://{BUCKET}/m/score_stats.json")
    assert found.uri in found.note
    assert "non-finite" in found.note


def test_an_endpoint_that_does_not_exist_is_a_note_naming_it_and_the_error(clients):
    sagemaker, s3 = clients
    found = stats_of(ServedModels(sagemaker, s3), "missing-endpoint")
    assert (found.stats, found.uri) == (None, None)
    assert "'missing-endpoint'" in found.note
    assert found.note.endswith("(ValidationException)")


def test_a_model_without_an_artefact_is_a_note_naming_the_endpoint(clients):
    sagemaker, s3 = clients
    serve(sagemaker, "rcf", {})
    found = stats_of(ServedModels(sagemaker, s3), "rcf")
    assert (found.stats, found.uri) == (None, None)
    assert "'rcf'" in found.note
    assert "ModelDataUrl" in found.note


@pytest.mark.parametrize(
    ("error", "why"),
    [
        (ClientError({}, "GetObject"), "(ClientError)"),  # an error response without a code
        (ClientError({"Error": {"Code": "AccessDenied"}}, "GetObject"), "(AccessDenied)"),
        (EndpointConnectionError(endpoint_url="https://s3.amazonaws.com"), "(EndpointConnectionError)"),
    ],
    ids=["no-code", "access-denied", "connection"],
)
def test_an_s3_failure_is_a_note_naming_its_code_or_kind(clients, error, why):
    sagemaker, _ = clients
    serve(sagemaker, "rcf", {"ModelDataUrl": f"s3://{BUCKET}/m/model.tar.gz"})
    found = stats_of(ServedModels(sagemaker, Failing(error)), "rcf")
    assert (found.stats, found.uri) == (None, f"s3://{BUCKET}/m/score_stats.json")
    assert found.note.endswith(why)
