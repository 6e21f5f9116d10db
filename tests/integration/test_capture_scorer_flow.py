"""CaptureScorer on one capture object: what it stores, counts, meters and alerts, field by field.

The flow runs on the bare emulator (a bucket and a topic, no stack: fast enough to pin each output)
against the local SageMaker runtime over real boto3 calls (``sentinel.endpoint``). MeanScorer makes
every score computable from its row, so a score, line or row attributed to the wrong record shows.
The handler's own end-to-end tests are in test_score_capture_handler.py.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import ClientError, EndpointConnectionError

from anomaly_sentinel import drift, scoring
from anomaly_sentinel.events import S3Object
from anomaly_sentinel.exceptions import CaptureReadError
from anomaly_sentinel.score_capture import CaptureScorer
from anomaly_sentinel.settings import ScoreCaptureSettings
from sentinel.endpoint import EndpointServer, Faults, FaultyScorer, MeanScorer, static_resolver
from tests.support import Failing, fixture_path, local_zone
from tests.support.capture import jsonl, record

NAME = "anomaly-sentinel-rcf"
BUCKET = "sentinel-data"
KEY = "capture/ep/AllTraffic/2026/11/21/10/05-00-123-abc.jsonl"


class Recorder:
    """A MetricsSink that keeps what it was given."""

    def __init__(self) -> None:
        self.metrics: dict[str, tuple[MetricUnit, float]] = {}
        self.dimensions: dict[str, str] = {}

    def add_metric(self, name: str, unit: MetricUnit, value: float) -> None:
        assert name not in self.metrics, f"{name} emitted twice"
        self.metrics[name] = (unit, value)

    def add_dimension(self, name: str, value: str) -> None:
        self.dimensions[name] = value


@pytest.fixture
def faults() -> Faults:
    return Faults(poison_value=-999.0)


@pytest.fixture
def endpoint(faults: Faults) -> Iterator[EndpointServer]:
    with EndpointServer(static_resolver({NAME: FaultyScorer(MeanScorer(feature_dim=3), faults)})) as srv:
        yield srv


@pytest.fixture
def topic(aws: None) -> tuple[str, str]:
    """The alerts topic and an SQS queue subscribed to it (to read what was published)."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    arn = sns.create_topic(Name="alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue)
    return arn, url


def settings(topic_arn: str, **env: str) -> ScoreCaptureSettings:
    return ScoreCaptureSettings.from_env(
        {
            "ENDPOINT_NAME": NAME,
            "CAPTURE_BUCKET": BUCKET,
            "CAPTURE_PREFIX": "capture/",
            "OUTPUT_BUCKET": BUCKET,
            "ALERTS_TOPIC_ARN": topic_arn,
            "IDEMPOTENCY_TABLE": "idempotency",
            "FEATURE_DIM": "3",
            "ANOMALY_THRESHOLD": "100",
            "SCORING_CONCURRENCY": "2",
            **env,
        }
    )


def scorer(
    endpoint: EndpointServer,
    topic_arn: str,
    metrics: Recorder | None = None,
    tmp_dir: str | None = None,
    s3: Any = None,
    **env: str,
) -> tuple[CaptureScorer, list[float]]:
    sleeps: list[float] = []
    runtime = boto3.client("sagemaker-runtime", endpoint_url=endpoint.url, config=scoring.runtime_config(2))
    built = CaptureScorer(
        settings(topic_arn, **env),
        s3=s3 or boto3.client("s3"),
        sagemaker=boto3.client("sagemaker"),
        runtime=runtime,
        sns=boto3.client("sns"),
        metrics=metrics,
        sleep=sleeps.append,
        tmp_dir=tmp_dir,
    )
    return built, sleeps


def upload(body: bytes, key: str = KEY) -> S3Object:
    put = boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    return S3Object(
        bucket=BUCKET, key=key, size=len(body), etag=put["ETag"].strip('"'), version_id=put["VersionId"]
    )


def read(uri: str | None) -> tuple[bytes, str]:
    assert uri is not None
    assert uri.startswith(f"s3://{BUCKET}/")
    got = boto3.client("s3").get_object(Bucket=BUCKET, Key=uri.removeprefix(f"s3://{BUCKET}/"))
    return got["Body"].read(), got["ContentType"]


def read_jsonl(uri: str | None) -> list[dict[str, Any]]:
    body, content_type = read(uri)
    assert content_type == "application/jsonlines"
    return [json.loads(line) for line in body.splitlines()]


def alerts(queue_url: str) -> list[dict[str, Any]]:
    found = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in found.get("Messages", [])]


def with_inference_id(captured: dict[str, Any], inference_id: str) -> dict[str, Any]:
    captured["eventMetadata"]["inferenceId"] = inference_id
    return captured


def mixed_file() -> bytes:
    """Line 1-2 good, 3 two rows (the second anomalous), 4 not JSON, 5 poison, 6 too large, 7 anomalous."""
    return (
        jsonl(
            [
                with_inference_id(
                    record("1,2,3", event_id="e1", inference_time="2026-11-21T10:00:01Z"), "i1"
                ),
                record("4,5,6", event_id="e2", inference_time="2026-11-21T10:00:02Z"),
                record("7,8,9\n300,300,300", event_id="e3", inference_time="2026-11-21T10:00:03Z"),
            ]
        )
        + b"not json\n"
        + jsonl(
            [
                record("-999,1,2", event_id="e5"),
                record("1." + "0" * 70 + ",2,3", event_id="e6"),
                record("200,200,200", event_id="e7", inference_time="2026-11-21T10:00:07Z"),
            ]
        )
    )


def test_every_record_of_a_mixed_file_is_scored_or_rejected_with_its_reason(endpoint, topic):
    # GIVEN a file with good records, a two-row record, a broken line, a poison row, a row over
    # the 64-byte request limit, and two records over the cutoff of 100
    arn, queue = topic
    metrics = Recorder()
    flow, _ = scorer(endpoint, arn, metrics, MAX_REQUEST_BYTES="64", TOP_ANOMALIES="10")
    obj = upload(mixed_file())
    # WHEN the file is processed
    report = flow.process(obj)
    # THEN 4 records (5 rows) are scored, 3 rejected, each reason counted once
    assert (report.records, report.scored, report.rejected, report.rows) == (7, 4, 3, 7)
    assert report.reasons == {"not-json": 1, "row-too-large": 1, "endpoint-rejected": 1}
    assert (report.anomalies, report.max_score, report.cutoff, report.cutoff_source) == (
        2,
        300.0,
        100.0,
        "threshold",
    )
    assert (report.expected_width, report.width_source, report.failure, report.status) == (
        3,
        "setting",
        None,
        "scored",
    )
    # ... the scores file holds one line per scored row, with its record's identity
    scores = read_jsonl(report.scores_uri)
    assert scores == [
        {
            "eventId": "e1",
            "inferenceId": "i1",
            "inferenceTime": "2026-11-21T10:00:01Z",
            "line": 1,
            "row": 0,
            "score": 2.0,
            "anomaly": False,
            "cutoff": 100.0,
        },
        {
            "eventId": "e2",
            "inferenceId": None,
            "inferenceTime": "2026-11-21T10:00:02Z",
            "line": 2,
            "row": 0,
            "score": 5.0,
            "anomaly": False,
            "cutoff": 100.0,
        },
        {
            "eventId": "e3",
            "inferenceId": None,
            "inferenceTime": "2026-11-21T10:00:03Z",
            "line": 3,
            "row": 0,
            "score": 8.0,
            "anomaly": False,
            "cutoff": 100.0,
        },
        {
            "eventId": "e3",
            "inferenceId": None,
            "inferenceTime": "2026-11-21T10:00:03Z",
            "line": 3,
            "row": 1,
            "score": 300.0,
            "anomaly": True,
            "cutoff": 100.0,
        },
        {
            "eventId": "e7",
            "inferenceId": None,
            "inferenceTime": "2026-11-21T10:00:07Z",
            "line": 7,
            "row": 0,
            "score": 200.0,
            "anomaly": True,
            "cutoff": 100.0,
        },
    ]
    # ... the rejects file names each refused record, its stage and why, in file order
    rejects = read_jsonl(report.rejects_uri)
    assert [(r["line"], r["eventId"], r["stage"], r["reason"]) for r in rejects] == [
        (4, None, "decode", "not-json"),
        (6, "e6", "decode", "row-too-large"),
        (5, "e5", "endpoint", "endpoint-rejected"),
    ]
    assert rejects[1]["detail"] == "a row is over the request limit of 64 bytes"
    assert rejects[2]["detail"] == "row 0: model error (status 400, error code ModelError)"
    # ... the top anomalies are ranked by score, each named by line and row
    assert [(a.event_id, a.line, a.row, a.score, a.inference_time) for a in report.top_anomalies] == [
        ("e3", 3, 1, 300.0, "2026-11-21T10:00:03Z"),
        ("e7", 7, 0, 200.0, "2026-11-21T10:00:07Z"),
    ]
    # ... the endpoint was called for the accepted rows only: the poison one bisected out
    assert endpoint.stats.rows == 5
    assert (report.calls, report.retries) == (endpoint.stats.requests, 0)
    assert report.bisections >= 1
    assert report.mean_latency_ms is not None
    assert 0 < report.mean_latency_ms < 60_000
    # ... one anomaly alert was sent and its id kept
    (alert,) = alerts(queue)
    assert alert["MessageId"] == report.alert_message_id
    assert alert["Subject"] == "2 anomalies on anomaly-sentinel-rcf in 05-00-123-abc.jsonl"
    # ... and the metrics say the same, under the endpoint's name
    assert metrics.dimensions == {"EndpointName": NAME}
    assert metrics.metrics == {
        "CaptureRecords": (MetricUnit.Count, 7),
        "RecordsScored": (MetricUnit.Count, 4),
        "RecordsRejected": (MetricUnit.Count, 3),
        "CaptureFilesFailed": (MetricUnit.Count, 0),
        "CaptureFilesUnmonitored": (MetricUnit.Count, 0),
        "Anomalies": (MetricUnit.Count, 2),
        "EndpointCalls": (MetricUnit.Count, report.calls),
        "MaxScore": (MetricUnit.NoUnit, 300.0),
        "EndpointLatency": (MetricUnit.Milliseconds, report.mean_latency_ms),
    }


def test_outputs_land_in_the_output_bucket_beside_each_other(endpoint, topic):
    # GIVEN a clean file whose records were captured 42 minutes into its key's hour
    arn, _ = topic
    flow, _ = scorer(endpoint, arn)
    obj = upload(jsonl([record(f"{i},1,1", inference_time="2026-11-21T10:42:07Z") for i in range(3)]))
    # WHEN processed
    report = flow.process(obj)
    # THEN scores, statistics and the dataset are stored under the output prefixes, named after
    # the object and its version (statistics: one per key, so a re-score replaces them); there is
    # no rejects file
    tail = f"{NAME}/2026/11/21/10/ep/AllTraffic/2026/11/21/10/05-00-123-abc"
    assert report.scores_uri == f"s3://{BUCKET}/scores/{tail}~{obj.version_id}.jsonl"
    assert report.statistics_uri == f"s3://{BUCKET}/statistics/{tail}.json"
    assert report.rejects_uri is None
    body, content_type = read(report.statistics_uri)
    assert content_type == "application/json"
    stored = json.loads(body)
    assert stored["source"] == obj.uri
    assert stored["scores"] == {"scored": 3, "anomalies": 0, "cutoff": 100.0, "cutoff_source": "threshold"}
    assert (report.dataset_rows, report.dataset_files) == (3, 1)
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="dataset/")["Contents"]
    (dataset_key,) = [o["Key"] for o in listed]
    body, content_type = read(f"s3://{BUCKET}/{dataset_key}")
    assert content_type == "text/csv"
    # AND each dataset row is dated by its record's inference time, not the key's hour
    assert body.decode().splitlines()[1:] == [
        "2026-11-21T10:42:07Z,0.6666666666666666,0,1,1",
        "2026-11-21T10:42:07Z,1.0,1,1,1",
        "2026-11-21T10:42:07Z,1.3333333333333333,2,1,1",
    ]
    # AND a file with no anomaly sends no alert
    assert report.alert_message_id is None


def test_only_the_highest_anomalies_are_kept_ties_going_to_the_earlier_record(endpoint, topic):
    # GIVEN five anomalous rows, two of them tied, and room for three in the alert
    arn, _ = topic
    flow, _ = scorer(endpoint, arn, TOP_ANOMALIES="3")
    values = ["150,150,150", "500,500,500", "150,150,150\n400,400,400", "200,200,200"]
    obj = upload(jsonl([record(v, event_id=f"e{i}") for i, v in enumerate(values, start=1)]))
    # WHEN processed
    report = flow.process(obj)
    # THEN the three highest are kept, highest first
    assert report.anomalies == 5
    assert [(a.event_id, a.line, a.row, a.score) for a in report.top_anomalies] == [
        ("e2", 2, 0, 500.0),
        ("e3", 3, 1, 400.0),
        ("e4", 4, 0, 200.0),
    ]
    # AND between equal scores the earlier line, then the earlier row, ranks first
    flow, _ = scorer(endpoint, arn, TOP_ANOMALIES="2")
    tied = upload(
        jsonl([record("150,150,150\n150,150,150", event_id="a"), record("150,150,150", event_id="b")])
    )
    ranked = flow.process(tied).top_anomalies
    assert [(a.line, a.row) for a in ranked] == [(1, 0), (1, 1)]


def test_refusals_are_judged_systematic_by_the_depth_of_the_configured_request_size(topic):
    # GIVEN a model refusing every row, and requests of at most 8 rows: one poison row fails at
    # most 4 calls in a row (8, 4, 2, 1 rows), so 12 same refusals in a row are the endpoint's fault
    arn, _ = topic
    wide = FaultyScorer(MeanScorer(feature_dim=5), Faults())
    with EndpointServer(static_resolver({NAME: wide})) as server:
        flow, _ = scorer(server, arn, FEATURE_DIM="", MAX_REQUEST_ROWS="8")
        # WHEN one request of 8 records is processed (bisecting it all would take 15 calls)
        report = flow.process(upload(jsonl([record(f"{i},2,3") for i in range(8)])))
    # THEN the file failed as a whole at the 12th refusal, before bisecting down to every row
    assert (report.rejected, report.reasons, report.calls) == (8, {"endpoint-failed": 8}, 12)
    assert report.status == "failed"


def test_an_endpoint_that_refuses_everything_fails_the_file_with_a_critical_alert(topic):
    # GIVEN a model that expects 5 features, FEATURE_DIM unset and a file of 3-feature rows
    arn, queue = topic
    wide = FaultyScorer(MeanScorer(feature_dim=5), Faults())
    with EndpointServer(static_resolver({NAME: wide})) as server:
        metrics = Recorder()
        flow, _ = scorer(server, arn, metrics, FEATURE_DIM="")
        # WHEN a file of 40 records (one request) is processed
        report = flow.process(upload(jsonl([record(f"{i},2,3") for i in range(40)])))
        requests = server.stats.requests
    # THEN every record is rejected for the one systematic reason, and the file has failed
    assert (report.scored, report.rejected, report.reasons) == (0, 40, {"endpoint-failed": 40})
    assert report.calls == requests < 2 * 40 - 1  # stopped before bisecting down to every row
    assert (report.expected_width, report.width_source) == (3, "file")
    assert report.status == "failed"
    assert report.failure is not None
    assert "status 400" in report.failure
    assert "the file's rows have 3 features" in report.failure
    assert {r["reason"] for r in read_jsonl(report.rejects_uri)} == {"endpoint-failed"}
    # ... the failure alert (critical) was sent instead of an anomaly alert
    (alert,) = alerts(queue)
    assert alert["MessageId"] == report.alert_message_id
    assert alert["Subject"].startswith(f"Scoring failed on {NAME}")
    assert report.failure in alert["Message"]
    assert metrics.metrics["CaptureFilesFailed"] == (MetricUnit.Count, 1)
    # AND no score, so no score metric
    assert "MaxScore" not in metrics.metrics


def test_transient_failures_are_retried_as_configured(endpoint, faults, topic):
    # GIVEN an endpoint that throttles the next two calls and ENDPOINT_MAX_ATTEMPTS=3
    arn, _ = topic
    faults.throttle = 2
    flow, sleeps = scorer(endpoint, arn, ENDPOINT_MAX_ATTEMPTS="3", MAX_REQUEST_ROWS="2")
    # WHEN a file of 3 records (two requests of at most 2 rows) is processed
    report = flow.process(upload(jsonl([record(f"{i},1,1") for i in range(3)])))
    # THEN it is scored after the retries, with their backoffs slept through the given sleep
    assert (report.scored, report.retries, report.calls) == (3, 2, 4)
    assert len(sleeps) == 2
    # AND a third throttle in a row is one too many for 3 attempts: the file fails for a retry
    faults.throttle = 3
    with pytest.raises(scoring.EndpointUnavailableError):
        flow.process(upload(jsonl([record("1,1,1")])))


def test_the_mean_latency_is_over_the_answered_calls_of_every_batch_not_refused_ones(endpoint, faults, topic):
    # GIVEN a clock on which every call takes 250 ms, an endpoint throttling the next two calls,
    # and requests of one row sent one at a time
    arn, _ = topic
    faults.throttle = 2
    flow, _ = scorer(endpoint, arn, ENDPOINT_MAX_ATTEMPTS="3", MAX_REQUEST_ROWS="1", SCORING_CONCURRENCY="1")
    flow.client.clock = itertools.count(step=0.25).__next__
    # WHEN a file of three records is processed (3 batches, 5 calls: 3 answered, 2 refused)
    report = flow.process(upload(jsonl([record(f"{i},1,1") for i in range(3)])))
    # THEN the mean latency is that of the three answered calls, whatever batch they were in
    assert (report.scored, report.calls, report.retries) == (3, 5, 2)
    assert report.mean_latency_ms == 250.0


def test_every_record_with_a_row_over_the_request_limit_is_counted(endpoint, topic):
    # GIVEN a 64-byte request limit and two records each holding a row longer than that
    arn, _ = topic
    flow, _ = scorer(endpoint, arn, MAX_REQUEST_BYTES="64")
    wide = ",".join(["1." + "0" * 24] * 3)
    big = [record(f"{wide}\n1,1,1"), record("2,2,2"), record(f"1,1,1\n{wide}")]
    # WHEN processed THEN both are rejected for it and counted: the small one is scored
    report = flow.process(upload(jsonl(big)))
    assert (report.scored, report.rejected, report.reasons) == (1, 2, {"row-too-large": 2})


def test_bisections_add_up_over_the_batches_of_a_file(endpoint, topic):
    # GIVEN requests of 2 rows, each holding one poison row
    arn, _ = topic
    flow, _ = scorer(endpoint, arn, MAX_REQUEST_ROWS="2")
    rows = ["1,1,1", "-999,1,1", "2,1,1", "-999,2,2"]
    # WHEN processed THEN each request was split once: 2 bisections, the 2 poison records rejected
    report = flow.process(upload(jsonl([record(row) for row in rows])))
    assert (report.scored, report.rejected, report.bisections) == (2, 2, 2)


def test_a_file_whose_every_record_is_rejected_before_the_endpoint_makes_no_call(endpoint, topic):
    # GIVEN a file of broken lines only
    arn, _ = topic
    metrics = Recorder()
    flow, _ = scorer(endpoint, arn, metrics)
    # WHEN processed
    report = flow.process(upload(b"not json\nnor this\n"))
    # THEN nothing is scored, no call is made, and latency and max score are left unset
    assert (report.records, report.rejected, report.calls, report.mean_latency_ms) == (2, 2, 0, None)
    assert report.max_score is None
    assert endpoint.stats.requests == 0
    assert set(metrics.metrics) == {
        "CaptureRecords",
        "RecordsScored",
        "RecordsRejected",
        "CaptureFilesFailed",
        "CaptureFilesUnmonitored",
        "Anomalies",
        "EndpointCalls",
    }


def test_an_object_that_cannot_be_read_fails_naming_it(endpoint, topic):
    # GIVEN an event for a version that does not exist
    arn, _ = topic
    flow, _ = scorer(endpoint, arn)
    upload(jsonl([record("1,2,3")]))
    missing = S3Object(bucket=BUCKET, key=KEY, size=10, version_id="no-such-version")
    # WHEN / THEN processing fails with the object and the error code, nothing written
    with pytest.raises(CaptureReadError, match=rf"s3://{BUCKET}/{KEY}: NoSuchVersion"):
        flow.process(missing)
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="scores/")


def test_the_version_named_by_the_event_is_the_one_scored(endpoint, topic):
    # GIVEN two versions of the same key, the event naming the first
    arn, _ = topic
    flow, _ = scorer(endpoint, arn)
    first = upload(jsonl([record("1,1,1")]))
    upload(jsonl([record("2,2,2"), record("3,3,3")]))
    # WHEN the first is processed THEN its single record is what was scored
    report = flow.process(first)
    assert [s["score"] for s in read_jsonl(report.scores_uri)] == [1.0]


def test_the_expected_width_is_read_from_the_version_named_by_the_event(endpoint, topic):
    # GIVEN FEATURE_DIM unset and two versions of a key: 3 features in the first, 2 in the second
    arn, _ = topic
    flow, _ = scorer(endpoint, arn, FEATURE_DIM="")
    first = upload(jsonl([record("1,1,1"), record("2,2,2")]))
    upload(jsonl([record("1,1"), record("2,2"), record("3,3")]))
    # WHEN the first is processed THEN its own dominant width decides
    report = flow.process(first)
    assert (report.expected_width, report.width_source, report.scored) == (3, "file", 2)


def test_stored_lines_are_compact_json(endpoint, topic):
    # GIVEN a file with a scored and a rejected record WHEN processed
    arn, _ = topic
    flow, _ = scorer(endpoint, arn)
    report = flow.process(upload(jsonl([record("1,2,3", event_id="e1")]) + b"not json\n"))
    # THEN each stored line is one JSON document without padding, newline-terminated
    for uri in (report.scores_uri, report.rejects_uri):
        body, _ = read(uri)
        assert body.endswith(b"}\n")
        assert b", " not in body
        assert b'": ' not in body


def test_each_output_goes_under_its_configured_prefix(endpoint, topic):
    # GIVEN output prefixes of the operator's choosing
    arn, _ = topic
    prefixes = {
        "SCORES_PREFIX": "o/s/",
        "REJECTS_PREFIX": "o/r/",
        "STATISTICS_PREFIX": "o/st/",
        "DATASET_PREFIX": "o/d/",
    }
    flow, _ = scorer(endpoint, arn, **prefixes)
    # WHEN a file with a scored and a rejected record is processed
    report = flow.process(upload(jsonl([record("1,1,1")]) + b"{\n"))
    # THEN every output was written under its own prefix, and nothing under the defaults
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]
    written = sorted(o["Key"] for o in listed if not o["Key"].startswith("capture/"))
    assert [key.split("/")[1] for key in written] == ["d", "r", "s", "st"]
    assert report.scores_uri.startswith(f"s3://{BUCKET}/o/s/")


def test_records_of_two_days_join_the_dataset_in_one_file_per_day(endpoint, topic):
    # GIVEN a file whose records were captured either side of midnight
    arn, _ = topic
    flow, _ = scorer(endpoint, arn)
    times = ["2026-11-21T23:59:59Z", "2026-11-22T00:00:01Z", "2026-11-22T00:00:02Z"]
    # WHEN processed
    report = flow.process(upload(jsonl([record("1,1,1", inference_time=t) for t in times])))
    # THEN the dataset has one file per day, each with that day's rows
    assert (report.dataset_rows, report.dataset_files) == (3, 2)
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="dataset/")["Contents"]
    rows = [len(read(f"s3://{BUCKET}/{o['Key']}")[0].decode().splitlines()) - 1 for o in listed]
    assert sorted(rows) == [1, 2]


def test_a_files_row_sample_is_drawn_by_its_identity(endpoint, topic):
    # GIVEN one body of 5,000 distinct rows (more than the 4,096 sampled) uploaded under two keys
    arn, _ = topic
    flow, _ = scorer(endpoint, arn, MAX_REQUEST_ROWS="1000")
    body = jsonl([record(f"{i},1,1") for i in range(5_000)])
    first, other = upload(body), upload(body, key=KEY.replace("abc", "def"))

    def sample_mean(obj: S3Object) -> float:
        stored = json.loads(read(flow.process(obj).statistics_uri)[0])
        assert stored["sampled"] == 4_096
        return stored["features"][0]["mean"]

    # WHEN each is summarised, the first twice
    # THEN a retry of a file draws the same sample, another file another one (no file position is
    # favoured in every file of a window)
    assert sample_mean(first) == sample_mean(first)
    assert sample_mean(first) != sample_mean(other)


def open_files() -> list[str]:
    """What ``lsof`` shows of this process: the paths of its open file descriptors (an unnamed
    temporary file shows as ``<directory>/#<inode> (deleted)``)."""
    paths = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the descriptor listdir itself used is gone
            paths.append(os.readlink(f"/proc/self/fd/{fd}"))
    return paths


class WatchedUploads:
    """The emulated S3 client; at each PutObject the process's open files are noted, and the
    upload of ``refuse`` (a key prefix) is refused."""

    def __init__(self, refuse: str | None = None) -> None:
        self.client = boto3.client("s3")
        self.refuse = refuse
        self.open_at_upload: list[list[str]] = []

    def put_object(self, **kwargs: Any) -> Any:
        self.open_at_upload.append(open_files())
        if self.refuse and kwargs["Key"].startswith(self.refuse):
            raise ClientError({"Error": {"Code": "InternalError", "Message": "refused"}}, "PutObject")
        return self.client.put_object(**kwargs)

    def __getattr__(self, operation: str) -> Any:
        return getattr(self.client, operation)


@pytest.mark.parametrize("refuse", [None, "scores/"], ids=["scored", "failed"])
def test_a_pass_spools_only_under_the_given_directory_and_leaves_nothing_there(
    endpoint, topic, tmp_path, refuse
):
    # GIVEN a scorer told to spool under a directory of its own (Lambda: /tmp is the writable place,
    # shared by every invocation of a warm container), uploads watched, the scores upload refused
    # in the failing case
    arn, _ = topic
    s3 = WatchedUploads(refuse)
    flow, _ = scorer(endpoint, arn, tmp_dir=str(tmp_path), s3=s3)
    spool = str(tmp_path)
    elsewhere = [p for p in open_files() if p.endswith("(deleted)")]
    # WHEN a file with a rejected record and scored rows is processed (or fails on the way)
    if refuse:
        with pytest.raises(ClientError, match="refused"):
            flow.process(upload(jsonl([record("1,1,1")]) + b"{\n"))
    else:
        report = flow.process(upload(jsonl([record("1,1,1")]) + b"{\n"))
        assert (report.scored, report.rejected, report.dataset_files) == (1, 1, 1)
    # THEN while the outputs were uploaded, the pass's spool files were open under that directory,
    # and no spool file of its own was open anywhere else
    assert s3.open_at_upload
    for seen in s3.open_at_upload:
        assert any(p.startswith(spool) for p in seen)
        assert [p for p in seen if p.endswith("(deleted)") and not p.startswith(spool)] == elsewhere
    # AND afterwards nothing is left in the directory and nothing there is held open (disk space a
    # warm container would lose for good)
    assert list(tmp_path.iterdir()) == []
    assert [p for p in open_files() if p.startswith(spool)] == []


def test_undated_records_of_a_dated_key_are_filed_under_its_utc_hour(endpoint, topic):
    # GIVEN a machine in another time zone and a record without inference time in a dated key
    arn, _ = topic
    flow, _ = scorer(endpoint, arn)
    obj = upload(jsonl([record("1,2,3", inference_time="")]))
    with local_zone("Asia/Kolkata"):
        report = flow.process(obj)
    # WHEN processed THEN its dataset row is dated by the key's hour, in UTC
    assert report.dataset_rows == 1
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="dataset/")["Contents"]
    (dataset_key,) = [o["Key"] for o in listed]
    row = read(f"s3://{BUCKET}/{dataset_key}")[0].decode().splitlines()[1]
    assert row.startswith("2026-11-21T10:00:00Z,")


@pytest.mark.parametrize(
    ("error", "named"),
    [
        (EndpointConnectionError(endpoint_url="https://s3"), "EndpointConnectionError"),
        (ClientError({}, "GetObject"), "ClientError"),
    ],
    ids=["network", "no-code"],
)
def test_a_read_failure_without_an_error_code_is_named_by_its_kind(endpoint, topic, error, named):
    # GIVEN S3 failing with a network error or an error without code
    arn, _ = topic
    flow, _ = scorer(endpoint, arn)
    flow.store.s3 = Failing(error)
    # WHEN / THEN processing fails naming the object and the kind of failure
    with pytest.raises(CaptureReadError, match=rf"cannot read s3://{BUCKET}/{KEY}: {named}$"):
        flow.process(S3Object(bucket=BUCKET, key=KEY, size=10, version_id="v1"))


class WithoutLastModified:
    """The S3 client, its GetObject answers stripped of LastModified (as a proxy might leave them)."""

    def __init__(self, s3: Any) -> None:
        self.s3 = s3

    def get_object(self, **request: Any) -> Any:
        return {k: v for k, v in self.s3.get_object(**request).items() if k != "LastModified"}

    def put_object(self, **request: Any) -> Any:
        return self.s3.put_object(**request)

    def list_objects_v2(self, **request: Any) -> Any:
        return self.s3.list_objects_v2(**request)


def test_without_a_modification_time_a_flat_key_is_filed_under_the_current_hour(endpoint, topic):
    # GIVEN a flat capture key whose GetObject answer carries no LastModified
    arn, _ = topic
    flow, _ = scorer(endpoint, arn)
    flow.store.s3 = WithoutLastModified(flow.store.s3)
    obj = upload(jsonl([record("1,2,3")]), key="capture/flat.jsonl")
    # WHEN processed
    before = datetime.now(UTC)
    report = flow.process(obj)
    after = datetime.now(UTC)
    # THEN it is filed under the hour it was scored in (UTC)
    hours = {f"{moment:%Y/%m/%d/%H}" for moment in (before, after)}
    assert any(report.scores_uri.endswith(f"/{hour}/flat~{obj.version_id}.jsonl") for hour in hours)


def deploy_model(feature_dim: int) -> None:
    """The endpoint's model on the emulator, its score_stats.json (mean 10, std 5) beside the artefact."""
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model(
        ModelName="rcf-1",
        PrimaryContainer={"Image": "rcf:1", "ModelDataUrl": f"s3://{BUCKET}/models/rcf-1/model.tar.gz"},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sentinel-sagemaker",
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="rcf-config-1",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "rcf-1",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 2},
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=NAME, EndpointConfigName="rcf-config-1")
    stats = {"count": 1000, "mean": 10.0, "std": 5.0, "min": 0, "max": 40, "feature_dim": feature_dim}
    boto3.client("s3").put_object(Bucket=BUCKET, Key="models/rcf-1/score_stats.json", Body=json.dumps(stats))


def test_with_a_threshold_set_the_models_width_still_decides_which_rows_are_sent(endpoint, topic):
    # GIVEN a model published as taking 3 features, ANOMALY_THRESHOLD set and FEATURE_DIM unset
    arn, _ = topic
    deploy_model(feature_dim=3)
    flow, _ = scorer(endpoint, arn, FEATURE_DIM="")
    # WHEN a file whose rows mostly have 2 features is processed
    report = flow.process(upload(jsonl([record("1,2"), record("3,4"), record("1,2,3")])))
    # THEN the model's width decides (the 3-feature row is scored), the threshold the cutoff
    assert (report.expected_width, report.width_source, report.scored) == (3, "model", 1)
    assert report.cutoff_source == "threshold"


def test_with_feature_dim_set_the_models_statistics_still_set_the_cutoff(endpoint, topic):
    # GIVEN FEATURE_DIM set, no threshold, and a model whose training scores had mean 10 and std 5
    arn, _ = topic
    deploy_model(feature_dim=3)
    flow, _ = scorer(endpoint, arn, ANOMALY_THRESHOLD="")
    # WHEN a file is processed THEN its cutoff is the model's mean + 3 std
    report = flow.process(upload(jsonl([record("1,2,3"), record("30,30,30")])))
    assert (report.cutoff, report.cutoff_source, report.anomalies) == (25.0, "model-stats", 1)


def test_a_files_statistics_are_summarised_on_the_models_baseline(topic):
    # GIVEN the endpoint's 6-feature model with its data-quality baseline beside it
    arn, _ = topic
    deploy_model(feature_dim=6)
    documents = {
        "statistics.json": fixture_path("capture/data-quality/statistics.json"),
        "constraints.json": fixture_path("capture/data-quality/good_cases/constraints.json"),
    }
    for name, path in documents.items():
        key = f"models/rcf-1/baseline/{name}"
        boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
    model = FaultyScorer(MeanScorer(feature_dim=6), Faults())
    with EndpointServer(static_resolver({NAME: model})) as server:
        flow, _ = scorer(server, arn, FEATURE_DIM="6")
        # WHEN a file of 6-feature records is processed
        report = flow.process(upload(jsonl([record(f"{i},1,2,3,4,5") for i in range(10)])))
    # THEN its statistics name that baseline and count every column on the baseline's edges
    stored = json.loads(read(report.statistics_uri)[0])
    baseline = json.loads(documents["statistics.json"].read_bytes())
    assert stored["baseline_id"] == drift.baseline_identity(baseline)
    assert [sum(f["counts"]) for f in stored["features"]] == [10] * 6


class Recording:
    """The S3 client, recording every GetObject request; LastModified replaced when given."""

    def __init__(self, s3: Any, last_modified: datetime | None = None) -> None:
        self.s3 = s3
        self.last_modified = last_modified
        self.gets: list[dict[str, Any]] = []

    def get_object(self, **request: Any) -> Any:
        self.gets.append(request)
        answer = dict(self.s3.get_object(**request))
        if self.last_modified is not None:
            answer["LastModified"] = self.last_modified
        return answer

    def put_object(self, **request: Any) -> Any:
        return self.s3.put_object(**request)

    def list_objects_v2(self, **request: Any) -> Any:
        return self.s3.list_objects_v2(**request)


@pytest.mark.parametrize("versioned", [True, False], ids=["version", "etag"])
def test_both_reads_of_a_file_read_the_same_version(endpoint, topic, versioned):
    # GIVEN FEATURE_DIM unset (the file's dominant width is read in a first pass)
    arn, _ = topic
    flow, _ = scorer(endpoint, arn, FEATURE_DIM="")
    recording = flow.store.s3 = Recording(flow.store.s3)
    put = upload(jsonl([record("1,2,3")]))
    obj = put if versioned else put.model_copy(update={"version_id": None})
    # WHEN processed THEN the width pass reads the version the event names, or, without a
    # version, only the object the scoring pass read (If-Match its ETag)
    flow.process(obj)
    first, second = recording.gets
    assert first == {"Bucket": BUCKET, "Key": KEY, **({"VersionId": put.version_id} if versioned else {})}
    expected = {"VersionId": put.version_id} if versioned else {"IfMatch": f'"{put.etag}"'}
    assert second == {"Bucket": BUCKET, "Key": KEY, **expected}


def test_a_flat_key_is_filed_under_the_utc_hour_s3_gives_and_undated_rows_at_that_moment(endpoint, topic):
    # GIVEN S3 saying a flat capture object was last modified at 05:17 UTC+2 on 1 January 2020
    arn, _ = topic
    flow, _ = scorer(endpoint, arn)
    modified = datetime.fromisoformat("2020-01-01T05:17:09+02:00")
    flow.store.s3 = Recording(flow.store.s3, last_modified=modified)
    obj = upload(jsonl([record("1,2,3", inference_time="")]), key="capture/flat.jsonl")
    # WHEN processed
    report = flow.process(obj)
    # THEN its outputs are filed under that hour in UTC, its undated row at that moment
    assert report.scores_uri == f"s3://{BUCKET}/scores/{NAME}/2020/01/01/03/flat~{obj.version_id}.jsonl"
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="dataset/")["Contents"]
    (dataset_key,) = [o["Key"] for o in listed]
    assert (
        read(f"s3://{BUCKET}/{dataset_key}")[0].decode().splitlines()[1].startswith("2020-01-01T03:17:09Z,")
    )


def test_lines_over_the_line_limit_are_rejected_and_do_not_decide_the_width(endpoint, topic):
    # GIVEN MAX_LINE_BYTES=1024, FEATURE_DIM unset, and two over-long 2-feature records beside one
    # 3-feature record
    arn, _ = topic
    flow, _ = scorer(endpoint, arn, FEATURE_DIM="", MAX_LINE_BYTES="1024")
    long = [record("1,2", event_id="x" * 1100), record("3,4", event_id="y" * 1100)]
    # WHEN processed THEN the over-long lines are rejected, and the width is that of the line kept
    report = flow.process(upload(jsonl([*long, record("1,2,3")])))
    assert (report.expected_width, report.scored, report.rejected) == (3, 1, 2)
    assert report.reasons == {"line-too-long": 2}


def test_a_refused_row_inside_a_record_is_named_and_latency_averages_every_answered_call(faults, topic):
    # GIVEN an endpoint taking at least 30 ms a call, and a record whose second row is poison,
    # scored in requests of 2 rows
    arn, _ = topic
    faults.latency_s = 0.03
    with EndpointServer(static_resolver({NAME: FaultyScorer(MeanScorer(feature_dim=3), faults)})) as server:
        flow, _ = scorer(server, arn, MAX_REQUEST_ROWS="2")
        report = flow.process(upload(jsonl([record("1,1,1"), record("1,2,3\n-999,1,1\n4,5,6")])))
        clean = flow.process(upload(jsonl([record(f"{i},1,1") for i in range(5)])))
    # WHEN processed THEN the record is rejected naming its refused row; the other is scored
    (rejected,) = read_jsonl(report.rejects_uri)
    assert rejected["line"] == 2
    assert rejected["detail"] == "row 1: model error (status 400, error code ModelError)"
    # AND for a file of 3 answered requests the mean latency is over all of them, each 30 ms or more
    assert clean.calls == 3
    assert clean.mean_latency_ms is not None
    assert clean.mean_latency_ms >= 30
