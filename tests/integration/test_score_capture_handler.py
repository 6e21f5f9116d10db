"""ScoreCaptureFunction end to end: the real handler on moto, scoring on the local endpoint.

The stack comes from template.yaml (bucket, table, topic, key); the endpoint is
``sentinel.endpoint.EndpointServer`` reached through AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME, exactly as
a Lambda would reach SageMaker. mock_aws lets that loopback URL through: moto's botocore stubber
only answers URLs matching an AWS service pattern (see test_endpoint_wire_format.py).
Capture records are the real fixture (half of them base64-encoded by the test, as data capture
does for unlisted content types) plus two anomalous, one broken and one poison record.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from anomaly_sentinel.exceptions import CaptureReadError, EndpointError
from sentinel.endpoint import EndpointServer, Faults, FaultyScorer, MeanScorer, static_resolver
from sentinel.template import Template
from tests.support import s3_object_created
from tests.support.capture import ANOMALOUS, POISON, jsonl, put_capture, record
from tests.support.capture import CAPTURE_KEY as KEY
from tests.support.outputs import emf_documents, messages, read_jsonl, subscribe

FUNCTION = "ScoreCaptureFunction"


@pytest.fixture
def endpoint(stack: Template) -> Iterator[EndpointServer]:
    scorer = FaultyScorer(MeanScorer(feature_dim=7), Faults(poison_value=float(POISON)))
    with EndpointServer(static_resolver({stack.parameters["EndpointName"]: scorer})) as server:
        yield server


@pytest.fixture
def function(lambda_function, endpoint):
    def make(**env: str):
        return lambda_function(FUNCTION, **endpoint.environ(), **env)

    return make


@pytest.fixture
def bucket(stack: Template) -> str:
    return stack.ref("DataBucket")


def test_capture_file_is_scored_stored_metered_and_alerted(function, stack, bucket, endpoint, capsys, caplog):
    # GIVEN subscribers filtering on kind=anomaly and on severity=critical, and a capture file
    anomalies_q = subscribe(stack, "anomalies", {"kind": ["anomaly"]})
    critical_q = subscribe(stack, "critical", {"severity": ["critical"]})
    event = put_capture(bucket)
    # WHEN the function handles the upload (file big enough for its own mean + 3 sigma cutoff)
    result = function(MIN_RECORDS_FOR_FILE_CUTOFF="20")(event)
    # THEN every record is accounted for: 46 scored, 2 rejected, 2 anomalies
    assert result["status"] == "scored"
    assert (result["records"], result["scored"], result["rejected"]) == (48, 46, 2)
    assert result["anomalies"] == 2
    assert result["cutoff_source"] == "file-stats"
    assert result["reasons"] == {"not-json": 1, "endpoint-rejected": 1}
    # ... the scores are stored under scores/{endpoint}/yyyy/mm/dd/hh/<key below capture/>~<version>
    endpoint_name = stack.parameters["EndpointName"]
    relative = KEY.removeprefix("capture/").removesuffix(".jsonl")
    assert result["scores_uri"] == (
        f"s3://{bucket}/scores/{endpoint_name}/2026/11/21/10/{relative}~{event['detail']['object']['version-id']}.jsonl"
    )
    scored = read_jsonl(result["scores_uri"])
    assert len(scored) == 46
    assert scored[0]["eventId"] == "74b0dd56-e7c8-368e-94b1-14a138a96000"
    assert scored[0]["inferenceTime"] == "2026-11-21T10:00:00Z"
    assert scored[0]["score"] == pytest.approx((9 + 45 + 45 + 42 + 7 + 5 + 0) / 7)
    assert [s["eventId"] for s in scored if s["anomaly"]] == list(ANOMALOUS)
    assert {s["cutoff"] for s in scored} == {result["cutoff"]}
    # ... the rejects under rejects/ with reasons and no payload
    rejects = read_jsonl(result["rejects_uri"])
    assert {(r["line"], r["reason"], r["stage"]) for r in rejects} == {
        (47, "endpoint-rejected", "endpoint"),
        (48, "not-json", "decode"),
    }
    assert POISON not in json.dumps(rejects)
    # ... one alert reached the anomaly subscriber, with attributes, counts, top anomalies and URIs
    (alert,) = messages(anomalies_q)
    assert alert["MessageAttributes"]["kind"]["Value"] == "anomaly"
    assert alert["MessageAttributes"]["endpoint"]["Value"] == endpoint_name
    assert len(alert["Subject"]) <= 100
    assert "2 anomalies" in alert["Subject"]
    body = alert["Message"]
    assert "anomaly-1" in body
    assert "anomaly-2" in body
    assert "source: file-stats" in body
    assert result["scores_uri"] in body
    assert result["rejects_uri"] in body
    assert "Records: 48  scored: 46  rejected: 2  anomalies: 2" in body
    assert messages(critical_q) == []
    # ... and per-file metrics were published (EMF) with the endpoint as dimension
    output = capsys.readouterr().out
    (emf,) = [d for d in emf_documents(output) if "Anomalies" in d]
    assert emf["EndpointName"] == endpoint_name
    assert emf["service"] == "anomaly-sentinel"
    assert (emf["Anomalies"], emf["CaptureRecords"], emf["RecordsRejected"]) == ([2.0], [48.0], [2.0])
    assert emf["MaxScore"] == [500.0]
    # ... having called the endpoint for the scoring (packed) and the poison-row bisection only
    assert endpoint.stats.rows == 46
    # ... and no payload value reached the logs or metrics (the poison row's value is only in the
    # file). Log records are read from caplog with their extras: Powertools binds its stream once
    # per process, so stdout alone may miss them.
    records = [json.dumps(vars(r), default=str) for r in caplog.records]
    assert any("capture file scored" in r for r in records)
    assert POISON not in output + "".join(records)


def deploy_model(stack: Template, bucket: str, stats: dict[str, Any]) -> None:
    """The endpoint's model artifact in the data bucket with score_stats.json beside it."""
    name = stack.parameters["EndpointName"]
    sagemaker, s3 = boto3.client("sagemaker"), boto3.client("s3")
    sagemaker.create_model(
        ModelName=f"{name}-model-1",
        PrimaryContainer={
            "Image": "rcf:1",
            "ModelDataUrl": f"s3://{bucket}/models/rcf-1/output/model.tar.gz",
        },
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sentinel-sagemaker",
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config-1",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-model-1",
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 20},
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config-1")
    s3.put_object(Bucket=bucket, Key="models/rcf-1/output/score_stats.json", Body=json.dumps(stats))


STATS = {"count": 10000, "mean": 20.0, "std": 5.0, "min": 1, "max": 40, "quantiles": {"0.99": 35.0}}


def test_a_short_first_row_does_not_poison_the_file(function, bucket, endpoint):
    # GIVEN FeatureDim unset, no model stats, one 2-feature row then 300 good 7-feature rows
    body = jsonl([record("1,2"), *(record(f"{i},1,2,3,4,5,6") for i in range(300))])
    # WHEN the file is scored
    result = function()(put_capture(bucket, body=body))
    # THEN the expected width is the file's dominant width: only the short row is rejected
    assert (result["scored"], result["rejected"], result["reasons"]) == (300, 1, {"feature-count": 1})
    assert (result["expected_width"], result["width_source"]) == (7, "file")


def test_a_file_the_model_cannot_take_fails_with_one_reason_and_a_critical_alert(
    function, stack, bucket, endpoint, capsys
):
    # GIVEN a deployed model whose score_stats.json says it takes 48 features, and a 7-feature file
    deploy_model(stack, bucket, {**STATS, "feature_dim": 48})
    critical = subscribe(stack, "critical", {"severity": ["critical"]})
    # WHEN the file is scored
    result = function()(put_capture(bucket))
    # THEN the file fails with one actionable reason, every record rejected, no endpoint call
    assert result["status"] == "failed"
    assert result["failure"].startswith("model expects 48 features, file has 7")
    assert (result["scored"], result["rejected"]) == (0, 48)
    assert endpoint.stats.requests == 0
    (alert,) = messages(critical)
    assert "model expects 48 features, file has 7" in alert["Message"]
    (emf,) = [d for d in emf_documents(capsys.readouterr().out) if "CaptureFilesFailed" in d]
    assert (emf["CaptureFilesFailed"], emf["RecordsRejected"]) == ([1.0], [48.0])


def test_an_endpoint_that_refuses_every_request_fails_the_file_early(lambda_function, stack, bucket):
    # GIVEN an endpoint whose model expects 48 features (not published), and 1,000 3-feature rows
    wide = FaultyScorer(MeanScorer(feature_dim=48), Faults())
    body = jsonl([record(f"{i},2,3") for i in range(1000)])
    critical = subscribe(stack, "critical", {"severity": ["critical"]})
    with EndpointServer(static_resolver({stack.parameters["EndpointName"]: wide})) as server:
        handler = lambda_function(
            FUNCTION, **server.environ(), MAX_REQUEST_ROWS="100", SCORING_CONCURRENCY="2"
        )
        # WHEN the file is scored
        result = handler(put_capture(bucket, body=body))
        requests = server.stats.requests
    # THEN it stops early (calls ≤ batches + per request in flight the failure run that proves the
    # fault: 10 + 2 x (ceil(log2 100) + 1 + 8), not 2N-1 = 1,999) and fails with one reason
    assert result["status"] == "failed"
    assert requests <= 10 + 2 * (7 + 1 + 8)
    assert "status 400" in result["failure"]
    assert "3 features" in result["failure"]
    assert (result["scored"], result["rejected"], result["reasons"]) == (0, 1000, {"endpoint-failed": 1000})
    (alert,) = messages(critical)
    assert alert["MessageAttributes"]["severity"]["Value"] == "critical"
    assert result["failure"] in alert["Message"]


@pytest.mark.parametrize("rows", [1, 5, 11])
def test_a_small_file_the_endpoint_refuses_entirely_fails_and_alerts_like_a_large_one(
    lambda_function, stack, bucket, rows
):
    # GIVEN an endpoint whose model expects 48 features (not published), and a file of a few
    # 3-feature rows: too few for the run of failures that stops a large file early
    wide = FaultyScorer(MeanScorer(feature_dim=48), Faults())
    body = jsonl([record(f"{i},2,3") for i in range(rows)])
    critical = subscribe(stack, "critical", {"severity": ["critical"]})
    with EndpointServer(static_resolver({stack.parameters["EndpointName"]: wide})) as server:
        handler = lambda_function(FUNCTION, **server.environ())
        # WHEN the file is scored
        result = handler(put_capture(bucket, body=body))
    # THEN the file fails as the endpoint's fault, not as rows refused one by one, and says so
    assert result["status"] == "failed"
    assert "the endpoint failed every request the same way" in result["failure"]
    assert "status 400" in result["failure"]
    assert (result["scored"], result["rejected"], result["reasons"]) == (0, rows, {"endpoint-failed": rows})
    assert {r["reason"] for r in read_jsonl(result["rejects_uri"])} == {"endpoint-failed"}
    (alert,) = messages(critical)
    assert result["failure"] in alert["Message"]


def test_a_small_file_with_one_refused_row_among_scored_ones_is_not_failed(function, stack, bucket):
    # GIVEN a 5-record file whose third record the endpoint refuses
    body = jsonl([record(f"{POISON if i == 2 else i},1,2,3,4,5,6", event_id=f"e-{i}") for i in range(5)])
    critical = subscribe(stack, "critical", {"severity": ["critical"]})
    # WHEN it is scored THEN that row alone is rejected as refused, the file is scored, nobody paged
    result = function()(put_capture(bucket, body=body))
    assert (result["status"], result["scored"], result["reasons"]) == ("scored", 4, {"endpoint-rejected": 1})
    assert messages(critical) == []


def test_with_the_templates_defaults_a_file_needs_100_scores_for_its_own_cutoff(function, stack, bucket):
    # GIVEN the stack as deployed with its default parameters, no model statistics in service, and
    # files of 99 and of 100 scorable records
    handler = function()
    results = {}
    for count in (99, 100):
        body = jsonl([record(",".join(str(i % 10 + c) for c in range(7))) for i in range(count)])
        key = f"capture/e/AllTraffic/2026/11/21/10/{count}.jsonl"
        # WHEN each is scored
        results[count] = handler(put_capture(bucket, key, body=body))
    # THEN 99 scores are too few for a cutoff of the file's own, and 100 are enough
    assert (results[99]["cutoff_source"], results[99]["cutoff"]) == ("none", None)
    assert results[100]["cutoff_source"] == "file-stats"


def test_a_request_split_around_a_refused_row_keeps_each_score_on_its_row_even_with_a_form_feed(
    function, stack, bucket
):
    # GIVEN eight records scored in one request: the fourth has a form feed before a value (CSV
    # and float() both allow it; it is whitespace, not a line break), the sixth is refused
    values = [[float(i + c) for c in range(7)] for i in range(8)]
    rows = [",".join(f"{v:g}" for v in row) for row in values]
    rows[3] = rows[3].replace(",", ",\f", 1)
    rows[5] = f"{POISON},1,2,3,4,5,6"
    body = jsonl([record(row, event_id=f"e-{i}") for i, row in enumerate(rows)])
    # WHEN the file is scored (the request is split in halves around the refused row)
    result = function()(put_capture(bucket, body=body))
    # THEN each row has its own score (the endpoint's score is the row's mean) and only the
    # refused one is rejected
    assert (result["scored"], result["rejected"], result["bisections"] > 0) == (7, 1, True)
    scored = {r["eventId"]: r["score"] for r in read_jsonl(result["scores_uri"])}
    assert scored == {f"e-{i}": pytest.approx(sum(values[i]) / 7) for i in range(8) if i != 5}


def test_same_event_delivered_three_times_scores_and_alerts_once(function, stack, bucket, endpoint):
    queue = subscribe(stack, "anomalies", {"kind": ["anomaly"]})
    event = put_capture(bucket)
    handler = function(MIN_RECORDS_FOR_FILE_CUTOFF="20")
    results = [handler(event) for _ in range(3)]
    assert len({json.dumps(r, sort_keys=True) for r in results}) == 1
    assert len(messages(queue)) == 1
    assert endpoint.stats.rows == 46


def test_score_stats_next_to_the_deployed_model_set_the_cutoff(function, stack, bucket):
    # GIVEN the endpoint's model artifact in the data bucket with score_stats.json beside it
    deploy_model(stack, bucket, STATS)
    queue = subscribe(stack, "anomalies", {"kind": ["anomaly"]})
    # WHEN a capture file is scored
    result = function()(put_capture(bucket))
    # THEN the cutoff is the model's mean + 3 std, and the alert names where it came from
    assert (result["cutoff"], result["cutoff_source"]) == (35.0, "model-stats")
    (alert,) = messages(queue)
    assert f"s3://{bucket}/models/rcf-1/output/score_stats.json" in alert["Message"]
    assert result["anomalies"] == sum(1 for s in read_jsonl(result["scores_uri"]) if s["score"] > 35.0)


def test_explicit_threshold_wins_over_every_other_source(function, bucket):
    result = function(ANOMALY_THRESHOLD="499.5", MIN_RECORDS_FOR_FILE_CUTOFF="20")(put_capture(bucket))
    assert (result["cutoff"], result["cutoff_source"], result["anomalies"]) == (499.5, "threshold", 2)


def test_small_file_without_model_stats_flags_nothing_and_says_why(function, stack, bucket):
    # GIVEN no deployed model stats and the default minimum of 100 records for a file's own cutoff
    queue = subscribe(stack, "anomalies", {"kind": ["anomaly"]})
    # WHEN a 48-record file is scored
    result = function()(put_capture(bucket))
    # THEN records are scored but none is flagged, no alert is sent, and the report says why
    assert (result["scored"], result["anomalies"], result["cutoff_source"]) == (46, 0, "none")
    assert result["cutoff"] is None
    assert result["alert_message_id"] is None
    assert messages(queue) == []


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("capture/x/AllTraffic/2026/11/21/10/file.json", "not a .jsonl file"),
        ("training/file.jsonl", "outside capture prefix"),
        ("scores/anomaly-sentinel-rcf/2026/11/21/10/file.jsonl", "our own output"),
        ("rejects/anomaly-sentinel-rcf/2026/11/21/10/file.jsonl", "our own output"),
    ],
)
def test_objects_that_are_not_capture_files_are_ignored(function, bucket, endpoint, key, reason):
    result = function()(put_capture(bucket, key))
    assert result == {"status": "ignored", "reason": reason, "object": f"s3://{bucket}/{key}"}
    assert endpoint.stats.requests == 0


def test_zero_byte_capture_file_is_ignored(function, bucket):
    assert function()(put_capture(bucket, body=b""))["reason"] == "zero-byte object"


def test_missing_object_fails_loudly_naming_it(function, bucket):
    event = s3_object_created(bucket, KEY, version_id=None)
    with pytest.raises(CaptureReadError, match=KEY):
        function()(event)


def test_unknown_endpoint_fails_the_invocation_and_writes_nothing(function, bucket):
    # GIVEN a function configured for an endpoint the runtime does not know
    handler = function(ENDPOINT_NAME="not-deployed")
    # WHEN / THEN the invocation fails naming the endpoint (so the event is retried, then DLQ'd)
    with pytest.raises(EndpointError, match="not-deployed"):
        handler(put_capture(bucket))
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="scores/")
    assert listed.get("KeyCount", 0) == 0


def test_the_files_feature_statistics_are_stored_beside_its_scores_for_the_drift_monitor(
    function, stack, bucket
):
    # GIVEN a capture file scored with no model in service (no baseline: counts and moments only)
    event = put_capture(bucket)
    # WHEN the function handles it
    result = function(MIN_RECORDS_FOR_FILE_CUTOFF="20")(event)
    # THEN statistics/ mirrors scores/ with one summary of the 47 decoded rows (the poison row
    # was decoded, then rejected by the endpoint) and the file's scored rows and anomalies
    # (one per capture key: the object's version is left out, so scoring it again replaces it)
    versioned = result["scores_uri"].replace("/scores/", "/statistics/", 1).removesuffix(".jsonl")
    assert result["statistics_uri"] == versioned.rsplit("~", 1)[0] + ".json"
    key = result["statistics_uri"].removeprefix(f"s3://{bucket}/")
    stored = json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert (stored["rows"], stored["sampled"], stored["baseline_id"]) == (47, 47, None)
    assert stored["scores"] == {
        "scored": 46,
        "anomalies": 2,
        "cutoff": result["cutoff"],
        "cutoff_source": "file-stats",
    }
    assert len(stored["features"]) == 7
    assert stored["features"][0]["max"] == 500.0
    assert stored["features"][0]["counts"] is None


def test_accepted_records_join_the_production_dataset_with_time_score_and_features(function, bucket):
    # GIVEN the capture file (46 good records, one of which the endpoint refuses, and a broken line)
    event = put_capture(bucket)
    # WHEN the function handles it
    result = function(MIN_RECORDS_FOR_FILE_CUTOFF="20")(event)
    # THEN the 46 scored records, and only they, are in the dataset's day partition, as sent
    s3 = boto3.client("s3")
    prefix = "dataset/endpoint=anomaly-sentinel-rcf/date=2026-11-21/"
    (key,) = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    assert key.startswith(prefix + "05-00-123-abc-")
    lines = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
    assert lines[0] == "timestamp,score,x1,x2,x3,x4,x5,x6,x7"
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == result["scored"] == result["dataset_rows"] == 46
    assert result["dataset_files"] == 1
    scores = {r["eventId"]: r for r in read_jsonl(result["scores_uri"])}
    assert {float(r[1]) for r in rows} == {r["score"] for r in scores.values()}
    assert ["500"] * 7 in [r[2:] for r in rows]  # the anomalous records are kept too: they were scored
    assert all(r[2:] != [POISON, "1", "2", "3", "4", "5", "6"] for r in rows)  # the refused one is not
    assert all(r[0].startswith("2026-11-21T") and r[0].endswith("Z") for r in rows)
    # AND handling the same object again rewrites the same key, adding nothing
    function(MIN_RECORDS_FOR_FILE_CUTOFF="20")(event)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="dataset/")["Contents"]] == [key]


def test_a_duplicate_arriving_while_the_first_is_running_is_acknowledged(lambda_function, stack, bucket):
    # GIVEN a slow endpoint and the same event delivered twice, the second during the first
    faults = Faults(latency_s=0.3)
    scorer = FaultyScorer(MeanScorer(feature_dim=7), faults)
    event = put_capture(bucket, body=jsonl([record(f"{i},1,2,3,4,5,6") for i in range(5)]))
    with EndpointServer(static_resolver({stack.parameters["EndpointName"]: scorer})) as server:
        handler = lambda_function(FUNCTION, **server.environ(), MAX_REQUEST_ROWS="1")
        with ThreadPoolExecutor(max_workers=1) as pool:
            running = pool.submit(handler, event)
            while scorer.calls == 0 and not running.done():
                time.sleep(0.01)
            # WHEN the duplicate is delivered while the first is scoring
            duplicate = handler(event)
            result = running.result()
    # THEN the duplicate is acknowledged (not raised, so no retry or DLQ), the first completes
    assert duplicate["status"] == "ignored"
    assert duplicate["reason"] == "duplicate: the first delivery is still in progress"
    assert result["status"] == "scored"
    assert result["scored"] == 5
