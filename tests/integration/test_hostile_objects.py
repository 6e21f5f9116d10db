"""Objects we did not write in this request, hostile or corrupt, on the deployed stack (moto).

Baselines, per-file statistics, score statistics, evaluation reports and violations are written by
other runs, jobs or people. Each reader goes through one guard (bounded size and depth, finite
numbers, a named error), so a bad object is a reason in a result, never an exception that fails
every invocation after it (retries, then the dead-letter queue).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from anomaly_sentinel import drift, retraining
from sentinel.endpoint import EndpointServer, MeanScorer, static_resolver
from tests.support.capture import jsonl, put_capture, record
from tests.support.monitoring import HOUR, Deployment, rows, scheduled_event
from tests.support.retrain import AlertsInbox, wait_for_all_executions
from tests.support.retrain_step import BUCKET, SETTINGS, model_url
from tests.support.retrain_step import clients as clients  # noqa: PLC0414 - fixture

NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture
def monitor(lambda_function):
    """DriftMonitorFunction's real handler with the template's environment."""
    return lambda_function("DriftMonitorFunction")


@pytest.fixture
def score(stack, lambda_function):
    """ScoreCaptureFunction's real handler, scoring on a local endpoint."""
    scorer = MeanScorer(feature_dim=7)
    with EndpointServer(static_resolver({stack.parameters["EndpointName"]: scorer})) as server:
        yield lambda_function("ScoreCaptureFunction", **server.environ(), MIN_RECORDS_FOR_FILE_CUTOFF="20")


def statistics_with(**changes: Any) -> bytes:
    """A real baseline's statistics.json (the pipeline's own script) with ``changes`` applied."""
    from pipeline.scripts import baseline as baseline_script

    statistics, _ = baseline_script.baseline(rows(500, 1))
    for path, value in changes.items():
        node = statistics
        *parents, last = path.split(".")
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value
    return json.dumps(statistics).replace('"INFINITY"', "1e999").encode()


CORRUPT_BASELINES = {
    "nested": b'{"features": ' + NESTED + b"}",
    "infinite-item-count": statistics_with(**{"dataset.item_count": "INFINITY"}),
    "1100-kll-levels": statistics_with(
        **{
            "features.0.numerical_statistics.distribution.kll.sketch.data": [[] for _ in range(1_099)]
            + [[1.0]]
        }
    ),
}


def corrupt_baseline(deployment: Deployment, body: bytes) -> None:
    deployment.s3.put_object(Bucket=deployment.bucket, Key="models/run-1/baseline/statistics.json", Body=body)


@pytest.mark.parametrize("body", CORRUPT_BASELINES.values(), ids=CORRUPT_BASELINES.keys())
def test_a_corrupt_baseline_skips_the_window_with_its_reason(stack, monitor, body):
    # GIVEN a model in service whose baseline beside the artefact is corrupt, and one scored file
    deployment = Deployment(stack)
    corrupt_baseline(deployment, body)
    deployment.capture_statistics("capture-0", rows(1_200, 2))
    # WHEN the window is monitored
    result = monitor(scheduled_event())
    # THEN the window completes with "no baseline: <reason>", its file still counted
    assert (result["status"], result["files"], result["records"]) == ("Completed", 1, 1_200)
    assert result["skipped"].startswith(
        f"no baseline: baseline s3://{deployment.bucket}/models/run-1/baseline/: "
    )


def test_a_corrupt_baseline_does_not_stop_scoring(stack, score):
    # GIVEN the model in service with a baseline nested beyond any parser's recursion limit
    deployment = Deployment(stack)
    corrupt_baseline(deployment, CORRUPT_BASELINES["nested"])
    # WHEN a capture file arrives
    result = score(put_capture(stack.ref("DataBucket")))
    # THEN it is scored, and its statistics carry counts and moments but no distribution
    assert result["status"] == "scored"
    assert result["scored"] + result["rejected"] == result["records"]
    bucket, key = result["statistics_uri"].removeprefix("s3://").split("/", 1)
    stored = json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert stored["baseline_id"] is None
    assert stored["rows"] > 0
    assert all(f["counts"] is None for f in stored["features"])


BAD_SCORE_STATS = {
    "nested": b'{"count": 10, "mean": 1, "std": 1, "min": 0, "max": 2, "quantiles": ' + NESTED + b"}",
    "non-numeric-quantile": json.dumps(
        {"count": 10, "mean": 20.0, "std": 5.0, "min": 1, "max": 40, "quantiles": {"p99": 35.0}}
    ).encode(),
}


@pytest.mark.parametrize("body", BAD_SCORE_STATS.values(), ids=BAD_SCORE_STATS.keys())
def test_bad_score_statistics_are_unreadable_and_the_cutoff_falls_back(stack, score, monitor, body):
    # GIVEN the model in service (with a good baseline) whose score_stats.json is hostile
    deployment = Deployment(stack)
    deployment.s3.put_object(Bucket=deployment.bucket, Key="models/run-1/score_stats.json", Body=body)
    # WHEN a capture file is scored
    result = score(put_capture(stack.ref("DataBucket")))
    # THEN the cutoff falls back to the file's own, saying the model's statistics are unreadable
    assert (result["status"], result["cutoff_source"]) == ("scored", "file-stats")
    # AND a window of files classified on the model's cutoff is compared without the score-drift
    # check, not failed
    builder = drift.FileStatisticsBuilder(deployment.baseline, seed="capture-0")
    builder.offer(rows(1_200, 2))
    scores = drift.ScoreSummary(scored=1_200, anomalies=600, cutoff=35.0, cutoff_source="model-stats")
    deployment.s3.put_object(
        Bucket=deployment.bucket,
        Key=f"statistics/{deployment.endpoint}/{HOUR}/capture-0.json",
        Body=builder.finish(scores).to_bytes(),
    )
    window = monitor(scheduled_event())
    assert window["status"] == "Completed"
    assert "score_drift_check" not in window["check_types"]


def good_statistics(deployment: Deployment) -> dict[str, Any]:
    key = deployment.capture_statistics("model", rows(50, 3))
    return json.loads(deployment.s3.get_object(Bucket=deployment.bucket, Key=key)["Body"].read())


CORRUPT_FILES = {
    "null-feature": lambda d: {**d, "features": [None, *d["features"][1:]]},
    "scores-as-a-list": lambda d: {**d, "scores": [1, 2]},
    "infinite-rows": lambda d: json.dumps({**d, "rows": "INFINITY"}).replace('"INFINITY"', "1e999"),
    "counts-of-another-length": lambda d: {
        **d,
        "features": [{**f, "counts": f["counts"][:-1]} for f in d["features"]],
    },
    "nested": lambda d: b'{"version": 1, "features": ' + NESTED + b"}",
}


@pytest.mark.parametrize("corrupt", CORRUPT_FILES.values(), ids=CORRUPT_FILES.keys())
def test_a_corrupt_statistics_file_is_named_in_the_window_and_the_rest_compared(stack, monitor, corrupt):
    # GIVEN a window of one good file of 1,200 rows and one corrupt file
    deployment = Deployment(stack)
    document = corrupt(good_statistics(deployment))
    body = (
        document
        if isinstance(document, bytes)
        else document.encode()
        if isinstance(document, str)
        else json.dumps(document).encode()
    )
    broken = f"statistics/{deployment.endpoint}/{HOUR}/broken.json"
    deployment.s3.put_object(Bucket=deployment.bucket, Key=broken, Body=body)
    deployment.s3.delete_object(
        Bucket=deployment.bucket, Key=f"statistics/{deployment.endpoint}/{HOUR}/model.json"
    )
    deployment.capture_statistics("capture-0", rows(1_200, 7))
    # WHEN the window is monitored
    result = monitor(scheduled_event())
    # THEN the corrupt file is named with its reason and the good one compared on its own
    (named,) = result["unreadable_files"]
    assert named.startswith(f"{broken}: ")
    assert (result["files"], result["records"], result["unreadable_count"]) == (1, 1_200, 1)


def test_a_window_of_many_unreadable_files_stays_within_aws_limits(stack, monitor):
    # GIVEN 450 unreadable statistics files with long keys (900 characters each)
    deployment = Deployment(stack)
    for index in range(450):
        key = f"statistics/{deployment.endpoint}/{HOUR}/{index:04d}-{'x' * 900}.json"
        deployment.s3.put_object(Bucket=deployment.bucket, Key=key, Body=b"{")
    # WHEN the window is monitored (its result is the idempotency record and its event's detail)
    result = monitor(scheduled_event())
    # THEN every file is counted, a few are named, and the result fits an EventBridge entry (256 KB)
    # and a DynamoDB item (400 KB)
    assert result["unreadable_count"] == 450
    assert 0 < len(result["unreadable_files"]) <= 20
    assert len(json.dumps(result).encode()) < 64 * 1024
    # AND a repeated tick gets the stored result
    assert monitor(scheduled_event()) == result


def test_a_deeply_nested_evaluation_is_a_reasoned_rejection(clients):
    # GIVEN a candidate naming an evaluation.json that nests beyond any parser's recursion limit
    _, s3 = clients
    s3.put_object(Bucket=BUCKET, Key="models/new/evaluation.json", Body=b'{"candidate": ' + NESTED + b"}")
    candidate = retraining.PackageInfo(
        arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/anomaly-sentinel-rcf/2",
        model_data_url=model_url("new"),
        image="382416733822.dkr.ecr.us-east-1.amazonaws.com/randomcutforest:1",
        metadata={"evaluation_uri": f"s3://{BUCKET}/models/new/evaluation.json"},
    )
    # WHEN the evaluation rule judges it
    judgement = retraining.judge_evaluation(candidate, retraining.InService(), SETTINGS, s3)
    # THEN the candidate is not approved, and the reason says why
    assert judgement is not None
    assert judgement.approve is False
    assert "nested too deeply" in judgement.reason


def test_a_long_feature_name_in_a_violations_report_is_shortened_in_the_alert(stack, world, lambda_function):
    # GIVEN a Model Monitor run whose report names 25 features of 150,000 characters
    from tests.support.monitoring import SCHEDULE, monitoring_run, put_report
    from tests.support.retrain import monitoring_event

    long_name = "f" * 150_000
    violations = [
        {
            "feature_name": f"{long_name}{i}",
            "constraint_check_type": "baseline_drift_check",
            "description": "",
        }
        for i in range(25)
    ]
    put_report(stack, json.dumps({"violations": violations}).encode())
    job_arn = monitoring_run(stack, world.extras)
    inbox = AlertsInbox(stack, kinds=["model-drift"])
    # WHEN the run is handled
    result = lambda_function("MonitoringAlertFunction")(monitoring_event(job_arn))
    wait_for_all_executions(stack)
    # THEN one alert is delivered within SNS's limits, each name cut to a readable length
    assert (result["violations"], result["alert"]["kind"]) == (25, "model-drift")
    (alert,) = inbox.messages()
    assert len(alert["message"].encode()) <= 256 * 1024
    assert f"- {'f' * 117}...: baseline_drift_check" in alert["message"]
    assert SCHEDULE in alert["message"]


def test_an_anomaly_alert_with_long_event_ids_stays_within_sns_limits(stack, score):
    # GIVEN a capture file of ten anomalous records whose event ids are 100,000 characters long
    body = jsonl([record(",".join(["500"] * 7), event_id=f"{i}{'e' * 100_000}") for i in range(10)])
    body += jsonl([record(f"{i % 5},1,2,3,4,5,6") for i in range(400)])
    inbox = AlertsInbox(stack, kinds=["anomaly"])
    # WHEN it is scored
    result = score(put_capture(stack.ref("DataBucket"), body=body))
    # THEN the anomaly alert is delivered, within SNS's limits, the ids shortened
    assert (result["status"], result["anomalies"]) == ("scored", 10)
    (alert,) = inbox.messages()
    assert len(alert["message"].encode()) <= 256 * 1024
    assert f"  0{'e' * 116}...  " in alert["message"]
