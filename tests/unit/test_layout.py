"""contracts.layout is the one map of the data bucket; the job scripts' and drift's copies agree."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Any

import boto3

from anomaly_sentinel import drift, settings
from anomaly_sentinel.contracts import layout
from anomaly_sentinel.contracts.messages import RetrainLock
from anomaly_sentinel.dataset import DatasetWriter
from anomaly_sentinel.events import S3Object
from anomaly_sentinel.logs import objects as log_objects
from anomaly_sentinel.logs.adapters import LogDriftWindow, LogModelSource
from anomaly_sentinel.score_capture import keys as capture_keys
from pipeline import build
from pipeline.publisher import app as publisher
from pipeline.scripts import baseline as baseline_script
from pipeline.scripts import channels as channels_script
from pipeline.scripts import evaluate as evaluate_script
from pipeline.scripts import logs_evaluate as logs_evaluate_script
from pipeline.scripts import score_stats as score_stats_script
from sentinel import log_route as local_log_route
from sentinel.template import PROJECT_ROOT, Template

#: Physical names the template leaves to the deployment; every prefix stays the template's own.
DEPLOYED = {
    "CAPTURE_BUCKET": "data-bucket",
    "LOGS_BUCKET": "data-bucket",
    "OUTPUT_BUCKET": "data-bucket",
    "DATA_BUCKET": "data-bucket",
    "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
    "IDEMPOTENCY_TABLE": "idempotency",
}


def function_environment(logical_id: str) -> dict[str, str]:
    """The function's environment from the real template (default parameters) plus physical names."""
    return {**Template().function(logical_id).environment, **DEPLOYED}


def test_the_job_scripts_write_the_files_where_the_layout_says():
    # GIVEN the standard-library-only job scripts (they run in containers without the layer)
    # THEN each file name they write beside a model is the layout's
    assert score_stats_script.STATS_FILE == layout.SCORE_STATS_FILE
    assert baseline_script.STATISTICS_FILE == layout.STATISTICS_FILE
    assert baseline_script.CONSTRAINTS_FILE == layout.CONSTRAINTS_FILE
    assert evaluate_script.EVALUATION_FILE == layout.EVALUATION_FILE
    assert logs_evaluate_script.EVALUATION_FILE == layout.EVALUATION_FILE
    # AND the retraining run reads the dataset's day partitions the layout names
    prefix = layout.dataset_partition_prefix("rcf", date(2026, 11, 21))
    assert channels_script.partition_day(prefix) == date(2026, 11, 21)
    # AND the drift reports use Model Monitor's names, as the layout lists them
    assert (drift.STATISTICS_FILE, drift.CONSTRAINTS_FILE, drift.VIOLATIONS_FILE) == (
        layout.STATISTICS_FILE,
        layout.CONSTRAINTS_FILE,
        layout.VIOLATIONS_FILE,
    )


def test_a_models_documents_sit_beside_its_artefact():
    url = "s3://bucket/models/run-1/output/model.tar.gz"
    assert layout.score_stats_uri(url) == "s3://bucket/models/run-1/output/score_stats.json"
    assert layout.baseline_uris(url) == (
        "s3://bucket/models/run-1/output/baseline/statistics.json",
        "s3://bucket/models/run-1/output/baseline/constraints.json",
    )


def test_a_capture_files_statistics_land_where_its_window_lists_them():
    # GIVEN the scores key of a capture file scored in the 10:00 hour
    scores_key = "scores/rcf/2026/11/21/10/AllTraffic/file~v1.jsonl"
    key = layout.statistics_key(scores_key, "scores/", "statistics/")
    # WHEN the window holding that hour lists its statistics prefixes
    window = layout.window_before(datetime(2026, 11, 21, 12, 5, tzinfo=UTC), "rcf", 2)
    # THEN the file's statistics are under one of them, and the report lands under the window's start
    assert key == "statistics/rcf/2026/11/21/10/AllTraffic/file~v1.json"
    assert any(key.startswith(prefix) for prefix in window.statistics_prefixes("statistics/"))
    assert window.report_prefix("drift-reports/") == "drift-reports/rcf/2026/11/21/10/"


def test_the_settings_defaults_are_the_prefixes_the_layout_documents():
    # GIVEN the settings of the writers and readers with nothing but their required variables
    capture = settings.ScoreCaptureSettings.from_env(function_environment("ScoreCaptureFunction"))
    logs = settings.ScoreLogsSettings.from_env(function_environment("ScoreLogsFunction"))
    monitor = settings.DriftMonitorSettings.from_env(function_environment("DriftMonitorFunction"))
    # THEN each prefix is the layout's documented default
    assert (capture.scores_prefix, capture.rejects_prefix, capture.statistics_prefix) == (
        layout.SCORES_PREFIX,
        layout.REJECTS_PREFIX,
        layout.STATISTICS_PREFIX,
    )
    assert (capture.dataset_prefix, monitor.reports_prefix) == (layout.DATASET_PREFIX, layout.REPORTS_PREFIX)
    assert (logs.scores_prefix, logs.rejects_prefix, logs.statistics_prefix) == (
        layout.LOG_SCORES_PREFIX,
        layout.LOG_REJECTS_PREFIX,
        layout.LOG_STATISTICS_PREFIX,
    )
    assert monitor.logs_statistics_prefix == layout.LOG_STATISTICS_PREFIX


def test_a_capture_files_scores_and_rejects_keys_are_the_layouts():
    # GIVEN ScoreCaptureFunction's settings from the template and a versioned capture object
    config = settings.ScoreCaptureSettings.from_env(function_environment("ScoreCaptureFunction"))
    key = "capture/anomaly-sentinel-rcf/AllTraffic/2026/11/21/10/05-12-abc.jsonl"
    obj = S3Object(bucket="data-bucket", key=key, size=10, version_id="v1")
    # WHEN the scorer asks where its outputs go
    written = capture_keys.output_keys(obj, datetime(2026, 11, 21, 11, 3, tzinfo=UTC), config)
    # THEN they are the layout's keys, byte for byte
    tail = (
        "anomaly-sentinel-rcf/2026/11/21/10/anomaly-sentinel-rcf/AllTraffic/2026/11/21/10/05-12-abc~v1.jsonl"
    )
    assert written == (f"scores/{tail}", f"rejects/{tail}")
    assert written == layout.capture_output_keys(
        key, "v1", "2026/11/21/10", endpoint="anomaly-sentinel-rcf", capture_prefix="capture/"
    )
    # AND an unversioned object without a dated key is filed under its LastModified hour (UTC)
    flat = S3Object(bucket="data-bucket", key="capture/loose.jsonl", size=10)
    written = capture_keys.output_keys(flat, datetime(2026, 11, 21, 23, 59, tzinfo=UTC), config)
    assert written[0] == "scores/anomaly-sentinel-rcf/2026/11/21/23/loose.jsonl"
    assert (
        written[0]
        == layout.capture_output_keys(
            flat.key, None, "2026/11/21/23", endpoint="anomaly-sentinel-rcf", capture_prefix="capture/"
        )[0]
    )


def test_a_log_files_scores_rejects_and_statistics_keys_are_the_layouts():
    # GIVEN ScoreLogsFunction's settings from the template and a versioned log object
    config = settings.ScoreLogsSettings.from_env(function_environment("ScoreLogsFunction"))
    obj = S3Object(bucket="data-bucket", key="logs/incoming/host-a/app.log.gz", size=10, version_id="v7")
    landed = datetime(2026, 11, 21, 12, 30, tzinfo=UTC)
    # WHEN the log scorer asks where its outputs go
    written = log_objects.output_keys(obj, landed, config)
    # THEN they are the layout's keys, byte for byte
    tail = "anomaly-sentinel-logs/2026/11/21/12/host-a/app.log.gz~v7"
    assert written == (
        f"logs/scores/{tail}.csv",
        f"logs/rejects/{tail}.jsonl",
        f"logs/statistics/{tail}.json",
    )
    assert written == layout.log_output_keys(
        obj.key, "v7", landed, endpoint="anomaly-sentinel-logs", logs_prefix="logs/incoming/"
    )


def test_a_dataset_file_lands_in_the_layouts_day_partition():
    # GIVEN the dataset writer of one capture object, as ScoreCaptureFunction builds it
    obj = S3Object(
        bucket="data-bucket", key="capture/rcf/AllTraffic/2026/11/21/23/f-1.jsonl", version_id="v1"
    )
    with DatasetWriter(
        "rcf",
        source_uri=obj.uri,
        fallback_time=datetime(2026, 11, 21, 23, tzinfo=UTC),
    ) as writer:
        # WHEN rows of two UTC days are added
        writer.add("2026-11-21T23:59:59Z", 0.5, "1,2")
        writer.add("2026-11-22T00:00:01Z", 0.7, "3,4")
        written = [day.key for day in writer.files()]
    # THEN each day's file has the layout's key, byte for byte
    name = "f-1-3bce89b464fa.csv"
    assert layout.dataset_file_name(obj.uri) == name
    assert written == [
        "dataset/endpoint=rcf/date=2026-11-21/" + name,
        "dataset/endpoint=rcf/date=2026-11-22/" + name,
    ]
    assert written == [layout.dataset_key("rcf", date(2026, 11, day), name) for day in (21, 22)]
    # AND the pipeline's default input is the layout's prefix of the stack's endpoint
    assert build.DATASET_URI == "s3://${DataBucket}/dataset/endpoint=${EndpointName}/"
    assert "s3://${DataBucket}/" + layout.dataset_endpoint_prefix("${EndpointName}") == build.DATASET_URI


def test_the_log_drift_window_reads_and_reports_where_the_layout_says(aws):
    # GIVEN a log file's statistics object at the key ScoreLogs writes (unreadable on purpose: the
    # window names each object it listed but could not read)
    s3, bucket = boto3.client("s3"), "data-bucket"
    s3.create_bucket(Bucket=bucket)
    obj = S3Object(bucket=bucket, key="logs/incoming/a.log", size=1)
    hour = datetime(2026, 11, 21, 10, tzinfo=UTC)
    stats_key = layout.log_output_keys(obj.key, None, hour, endpoint="logs-ep", logs_prefix="logs/incoming/")[
        2
    ]
    assert stats_key == "logs/statistics/logs-ep/2026/11/21/10/a.log.json"
    s3.put_object(Bucket=bucket, Key=stats_key, Body=b"not json")
    models = LogModelSource(boto3.client("sagemaker"), s3, "no-log-model", 1000)
    window = LogDriftWindow(
        s3,
        models,
        bucket=bucket,
        statistics_prefix="logs/statistics/",
        reports_prefix="drift-reports/",
        detector="logs-ep",
    )
    # WHEN the drift monitor runs the window of that hour
    result = window.run([hour], hour)
    # THEN it listed the object under the layout's hour prefix and wrote its reports under the layout's
    (unreadable,) = result["unreadable_files"]
    assert unreadable.startswith(f"{stats_key}: not JSON (")
    report = "drift-reports/logs-ep/2026/11/21/10/"
    assert report == layout.hour_prefix("drift-reports/", "logs-ep", hour)
    assert result["report_uri"] == f"s3://{bucket}/{report}"
    listed = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="drift-reports/")["Contents"]}
    assert listed == {report + layout.LOG_STATISTICS_FILE, report + layout.VIOLATIONS_FILE}
    assert listed == {report + "log_statistics.json", report + "constraint_violations.json"}


def test_the_pipeline_code_is_published_and_named_where_the_layout_says(aws):
    # GIVEN the definition's code URIs (placeholders filled at deploy time)
    uri = "s3://${DataBucket}/pipeline/code/${CodeDigest}/evaluate.py"
    assert build.code_uri("evaluate.py") == uri
    assert layout.pipeline_code_uri("${DataBucket}", "${CodeDigest}", "evaluate.py") == uri
    # WHEN the publisher (a Lambda without the layer: its own copy of the prefix) publishes the scripts
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="data-bucket")
    substitutions = dict.fromkeys(publisher.REQUIRED_SUBSTITUTIONS, "x") | {"DataBucket": "data-bucket"}
    published = publisher.publish(
        s3,
        root=PROJECT_ROOT / "pipeline",
        bucket="data-bucket",
        region="us-east-1",
        substitutions=substitutions,
    )
    # THEN its code prefix is the layout's for that digest, and the scripts are under it
    assert re.fullmatch(r"pipeline/code/[0-9a-f]{16}/", published.code_prefix)
    assert published.code_prefix == layout.pipeline_code_prefix(published.code_digest)
    keys = {
        o["Key"] for o in s3.list_objects_v2(Bucket="data-bucket", Prefix=published.code_prefix)["Contents"]
    }
    assert published.code_prefix + "evaluate.py" in keys


def _joins(node: Any) -> list[list[Any]]:
    """Every ``Std:Join`` value list in a pipeline definition."""
    if isinstance(node, dict):
        found = [node["Std:Join"]["Values"]] if "Std:Join" in node else []
        return found + [j for value in node.values() for j in _joins(value)]
    if isinstance(node, list):
        return [j for item in node for j in _joins(item)]
    return []


def test_every_pipeline_run_location_is_the_layouts():
    # GIVEN the committed pipeline definition (what the publisher deploys)
    definition = json.loads((PROJECT_ROOT / "pipeline" / "definition.json").read_text(encoding="utf-8"))
    execution = {"Get": "Execution.PipelineExecutionId"}
    runs = [v for v in _joins(definition) if isinstance(v[0], str) and "/runs" in v[0]]
    # THEN every run location in it is the layout's, and the model's own is this one
    assert runs
    assert all(v == layout.pipeline_run_parts("${DataBucket}", execution, v[2], v[3]) for v in runs)
    model = ["s3://${DataBucket}/pipeline/runs", execution, "Python", "model"]
    assert model in runs
    # AND the model artefact is SageMaker's {output path}/{job}/output/model.tar.gz under it
    job = {"Get": "Steps.Tune-Python.BestTrainingJob.TrainingJobName"}
    artefact = [{"Std:Join": {"On": "/", "Values": model}}, job, "output", "model.tar.gz"]
    assert artefact in _joins(definition)
    assert artefact == [*layout.training_output_parts(artefact[0], job), layout.MODEL_ARTEFACT_FILE]
    # AND the offline twin's log route (its own copy) writes where the real one does
    assert "/".join(layout.pipeline_run_parts("b", "e-1", "Logs", "model")) + "/" == (
        "s3://b/" + local_log_route.model_prefix("e-1")
    )


def test_the_state_machine_writes_and_reads_the_lock_item_the_model_names():
    # GIVEN the real state machine definition
    text = (PROJECT_ROOT / "statemachine" / "retrain.asl.json").read_text(encoding="utf-8")
    states = json.loads(text)["States"]
    fields = set(RetrainLock.model_fields)
    # THEN every lock field it reads from the Prepare step's output is one of the model's
    read = set(re.findall(r"\$\.request\.lock\.(\w+)", text))
    assert read, "the ASL reads no lock fields"
    assert read <= fields
    # AND the item AcquireLock writes holds the model's stored fields (plus the request's trigger)
    item = states["AcquireLock"]["Parameters"]["Item"]
    assert set(item) - {"trigger"} == fields - {"now"}
    assert {name: item[name] for name in ("id", "holder")} == {
        "id": {"S.$": "$.request.lock.id"},
        "holder": {"S.$": "$.request.lock.holder"},
    }
    # AND ReleaseLock deletes the model's id, only while it holds the lock
    release = states["ReleaseLock"]["Parameters"]
    assert release["Key"] == {"id": {"S.$": "$.request.lock.id"}}
    assert release["ExpressionAttributeNames"] == {"#holder": "holder"}


def test_a_lock_is_held_until_it_expires():
    # GIVEN a lock taken at 1000 for 60 s, as the Prepare step decides it
    lock = RetrainLock.taken("rcf", "exec-1", now=1000, ttl_seconds=60)
    state = lock.state_input()
    assert state == {"id": "retrain-lock#rcf", "holder": "exec-1", "now": "1000", "expiration": "1060"}
    # WHEN the state machine stored it (N values as strings) THEN it is held until its expiry
    item = {"id": {"S": state["id"]}, "holder": {"S": "exec-1"}, "expiration": {"N": state["expiration"]}}
    assert RetrainLock.current_holder(item, now=1060) == "exec-1"
    assert RetrainLock.current_holder(item, now=1061) is None
    assert RetrainLock.current_holder(None, now=0) is None
