"""The model in service is resolved once per invocation: a bound on SageMaker Describe calls.

The scorer needs the served model's ``score_stats.json`` (cutoff, width) and its baseline (the
drift statistics' edges); the drift monitor needs the baseline and the statistics. Each reads both
from one resolution (``anomaly_sentinel.contracts.served``): at most three Describe calls per capture
file or per window (it was six: two lookups of the same endpoint). Every SageMaker Describe call any
client makes while the handler runs is counted (botocore's one entry point for API calls), on the offline
world; the bound holds whichever client or module makes them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient

from pipeline.scripts import baseline as baseline_script
from sentinel.endpoint import EndpointServer, MeanScorer, static_resolver
from sentinel.template import Template
from tests.support import s3_object_created
from tests.support.capture import jsonl, real_csv_records
from tests.support.retrain import serve

#: One resolution of the model in service: DescribeEndpoint → DescribeEndpointConfig → DescribeModel.
MAX_DESCRIBES_PER_INVOCATION = 3
STATS = {"count": 1000, "mean": 1.0, "std": 0.2, "min": 0.5, "max": 2.5, "feature_dim": 7}


def count_describes(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """From now on, every SageMaker Describe call any client makes, by operation name."""
    calls: Counter[str] = Counter()
    make_api_call = BaseClient._make_api_call

    def counted(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == "sagemaker" and operation.startswith("Describe"):
            calls[operation] += 1
        return make_api_call(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counted)
    return calls


@pytest.fixture
def model_in_service(stack: Template) -> str:
    """A model on the template's endpoint with score statistics and a baseline beside its artefact."""
    bucket = stack.ref("DataBucket")
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="models/run-1/score_stats.json", Body=json.dumps(STATS))
    rows = [",".join(str(float(i % 7 + j)) for j in range(7)) for i in range(200)]
    statistics, constraints = baseline_script.baseline(rows)
    for name, document in (("statistics.json", statistics), ("constraints.json", constraints)):
        s3.put_object(Bucket=bucket, Key=f"models/run-1/baseline/{name}", Body=json.dumps(document))
    serve(stack, {"model_data_url": f"s3://{bucket}/models/run-1/model.tar.gz"})
    return bucket


@pytest.fixture
def endpoint(stack: Template) -> Iterator[EndpointServer]:
    scorer = MeanScorer(feature_dim=7)
    with EndpointServer(static_resolver({stack.parameters["EndpointName"]: scorer})) as server:
        yield server


def test_each_capture_file_resolves_the_model_in_service_once(
    stack, lambda_function, endpoint, model_in_service, monkeypatch
):
    # GIVEN the scoring function and a model in service with its statistics and baseline
    function = lambda_function("ScoreCaptureFunction", **endpoint.environ())
    calls = count_describes(monkeypatch)
    s3 = boto3.client("s3")
    body = jsonl(real_csv_records())
    # WHEN two capture files are scored, one invocation each
    for name in ("a", "b"):
        key = f"capture/{stack.parameters['EndpointName']}/AllTraffic/2026/11/21/10/{name}.jsonl"
        put = s3.put_object(Bucket=model_in_service, Key=key, Body=body)
        event = s3_object_created(
            model_in_service, key, size=len(body), version_id=put["VersionId"], etag=put["ETag"].strip('"')
        )
        assert function(event)["status"] != "failed"
    # THEN each file cost at most one resolution: no more than three Describe calls per file, and
    # no Describe of the same kind twice for one file
    assert sum(calls.values()) <= 2 * MAX_DESCRIBES_PER_INVOCATION, calls
    assert max(calls.values(), default=0) <= 2, calls


def test_a_drift_window_resolves_the_model_in_service_once(
    stack, lambda_function, model_in_service, monkeypatch
):
    # GIVEN the drift monitor and a model in service with its statistics and baseline
    function = lambda_function("DriftMonitorFunction")
    calls = count_describes(monkeypatch)
    # WHEN one window runs
    moment = datetime(2026, 11, 21, 12, 5, tzinfo=UTC)
    report = function({"id": "tick-1", "time": f"{moment:%Y-%m-%dT%H:%M:%SZ}", "detail": {}})
    # THEN it found the baseline through at most one resolution: no more than three Describe calls
    assert report["baseline_uri"] == f"s3://{model_in_service}/models/run-1/baseline/"
    assert sum(calls.values()) <= MAX_DESCRIBES_PER_INVOCATION, calls
    assert max(calls.values(), default=0) <= 1, calls
