"""The local SageMaker runtime speaks the real wire format: boto3 sees what it sees on AWS.

Errors are checked against the exception classes boto3 builds from botocore's sagemaker-runtime
service model (ValidationError, ModelError with OriginalStatusCode/OriginalMessage,
ModelNotReadyException, ServiceUnavailable) and the generic ThrottlingException code.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError

from anomaly_sentinel import scoring
from anomaly_sentinel.capture import CaptureDecoder, CaptureRecord
from sentinel.endpoint import (
    ENDPOINT_URL_VARIABLE,
    EndpointBusy,
    EndpointServer,
    Faults,
    FaultyScorer,
    MeanScorer,
    static_resolver,
)
from sentinel.traffic import capture_line
from sentinel.world import local_world

NAME = "rcf"


@pytest.fixture
def faults() -> Faults:
    return Faults(poison_value=-1.0)


@pytest.fixture
def server(faults: Faults) -> Iterator[EndpointServer]:
    with EndpointServer(static_resolver({NAME: FaultyScorer(MeanScorer(feature_dim=2), faults)})) as srv:
        yield srv


@pytest.fixture
def runtime(server: EndpointServer, monkeypatch: pytest.MonkeyPatch):
    # Reached the way every Lambda reaches it: the standard per-service endpoint variable.
    monkeypatch.setenv(ENDPOINT_URL_VARIABLE, server.url)
    return boto3.client("sagemaker-runtime", config=scoring.runtime_config(1))


def invoke(runtime, body: bytes, content_type: str = "text/csv", name: str = NAME) -> dict:
    response = runtime.invoke_endpoint(
        EndpointName=name, Body=body, ContentType=content_type, Accept="application/json"
    )
    assert response["ContentType"] == "application/json"
    return json.loads(response["Body"].read())


def test_csv_rows_get_one_score_each_in_order(runtime):
    assert invoke(runtime, b"1,3\n10,20\n") == {"scores": [{"score": 2.0}, {"score": 15.0}]}


def test_json_instances_are_accepted(runtime):
    body = json.dumps({"instances": [{"features": [1, 3]}, {"features": [2, 2]}]}).encode()
    assert invoke(runtime, body, "application/json") == {"scores": [{"score": 2.0}, {"score": 2.0}]}


def test_unknown_endpoint_raises_validation_error_like_aws(runtime):
    with pytest.raises(
        runtime.exceptions.ValidationError, match="Endpoint nope of account 123456789012 not found"
    ):
        invoke(runtime, b"1,2", name="nope")


@pytest.mark.parametrize(
    ("body", "content_type", "original"),
    [
        (b"1,-1", "text/csv", 400),  # poison row
        (b"1,2,3", "text/csv", 400),  # wrong feature count
        (b"a,b", "text/csv", 400),
        (b"", "text/csv", 400),
        (b"{}", "application/x-protobuf", 415),
    ],
    ids=["poison", "feature-count", "not-numbers", "empty", "content-type"],
)
def test_requests_the_model_cannot_read_raise_model_error_with_the_original_status(
    runtime, body, content_type, original
):
    with pytest.raises(runtime.exceptions.ModelError) as raised:
        invoke(runtime, body, content_type)
    response = raised.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == original
    assert response["OriginalMessage"]


@pytest.mark.parametrize(
    ("fault", "exception", "status"),
    [("not_ready", "ModelNotReadyException", 429), ("unavailable", "ServiceUnavailable", 503)],
)
def test_endpoint_faults_raise_the_modeled_exceptions(runtime, faults, fault, exception, status):
    setattr(faults, fault, 1)
    with pytest.raises(getattr(runtime.exceptions, exception)) as raised:
        invoke(runtime, b"1,2")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert invoke(runtime, b"1,2") == {"scores": [{"score": 1.5}]}


def test_over_max_concurrency_is_throttled():
    # GIVEN an endpoint with MaxConcurrency 1 whose model is busy with a first request
    started, release = threading.Event(), threading.Event()

    class Slow:
        def score(self, rows):
            started.set()
            release.wait(5)
            return [0.0] * len(rows)

    with EndpointServer(static_resolver({NAME: Slow()}), max_concurrency=1) as srv:
        client = boto3.client("sagemaker-runtime", endpoint_url=srv.url, config=scoring.runtime_config(2))
        first = threading.Thread(target=invoke, args=(client, b"1"))
        first.start()
        assert started.wait(5)
        # WHEN a second request arrives / THEN it is throttled like a serverless endpoint
        with pytest.raises(ClientError) as raised:
            invoke(client, b"1")
        release.set()
        first.join()
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"


def test_a_scorer_raising_endpoint_busy_controls_the_error():
    class Busy:
        def score(self, rows):
            raise EndpointBusy("InternalFailure", 500, "boom")

    with EndpointServer(static_resolver({NAME: Busy()})) as srv:
        client = boto3.client("sagemaker-runtime", endpoint_url=srv.url, config=scoring.runtime_config(1))
        with pytest.raises(client.exceptions.InternalFailure):
            invoke(client, b"1")


def test_mock_aws_lets_the_local_endpoint_through(server):
    # GIVEN moto's in-process mock is active (as in every handler test)
    with local_world(deploy=False, execute_state_machines=False):
        os.environ[ENDPOINT_URL_VARIABLE] = server.url
        try:
            local = boto3.client("sagemaker-runtime")
            # WHEN a client built from AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME invokes the endpoint
            # THEN the local server answers: moto only intercepts URLs matching an AWS pattern
            assert invoke(local, b"1,3") == {"scores": [{"score": 2.0}]}
        finally:
            del os.environ[ENDPOINT_URL_VARIABLE]
        # ... while a client on the AWS URL gets moto's canned answer, not ours
        default = boto3.client("sagemaker-runtime")
        body = default.invoke_endpoint(EndpointName=NAME, Body=b"1,3", ContentType="text/csv")["Body"].read()
        assert body != b'{"scores": [{"score": 2.0}]}'
    assert server.stats.requests == 1


def test_resolver_errors_are_answered_as_the_runtime_would():
    # GIVEN a resolver whose endpoint's model cannot be loaded, and one whose error says how to
    # answer (code/status attributes, as sentinel.serving's errors do)
    class NotServable(Exception):
        code, status = "ModelError", 424

    class Warming(Exception):
        code, status = "ModelNotReadyException", 429

    def resolve(name: str):
        raise {"broken": NotServable("artifact unreadable"), "warming": Warming("warming up")}[name]

    with EndpointServer(resolve) as srv:
        client = boto3.client("sagemaker-runtime", endpoint_url=srv.url, config=scoring.runtime_config(1))
        # WHEN each is invoked / THEN boto3 raises the modeled exceptions
        with pytest.raises(client.exceptions.ModelError) as raised:
            invoke(client, b"1", name="broken")
        assert raised.value.response["OriginalStatusCode"] == 500
        with pytest.raises(client.exceptions.ModelNotReadyException):
            invoke(client, b"1", name="warming")


def test_capture_lines_written_for_replayed_traffic_decode_back_to_the_request_rows():
    # GIVEN a request/response pair replayed into a capture line, base64 and plain
    lines = [
        capture_line("1,3\n2,2", '{"scores":[]}', event_id="e1", inference_time="t1"),
        capture_line("5,6", '{"scores":[]}', event_id="e2", inference_time="t2", encoding="CSV"),
    ]
    decoder = CaptureDecoder()
    # WHEN the capture decoder reads them
    items = [decoder.decode_line(line.encode()) for line in lines]
    # THEN it recovers the request rows and the identities
    assert all(isinstance(i, CaptureRecord) for i in items)
    assert [(i.event_id, i.inference_time, i.rows) for i in items] == [
        ("e1", "t1", ["1,3", "2,2"]),
        ("e2", "t2", ["5,6"]),
    ]
