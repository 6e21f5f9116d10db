"""The drift monitor's log window on moto: ScoreLogsFunction's per-file statistics feed DriftMonitorFunction.

Both handlers are the real ones with the template's environment; the log model in service is the
exactly known one of tests/logs_support.py (its log_baseline.json says 0% unseen lines).
"""

from __future__ import annotations

import json
from datetime import UTC, timedelta

import boto3

from tests.support.logs import EXCEPTION, hdfs_log, put_log, register_log_model, text
from tests.support.monitoring import scheduled_event
from tests.support.outputs import emf_documents


def test_unseen_lines_and_new_templates_of_scored_logs_are_reported_by_the_drift_monitor(
    stack, lambda_function, capsys
):
    # GIVEN a log model in service and two log files scored this hour, with faults the model never saw
    register_log_model(stack, "pca")
    bucket, detector = stack.ref("DataBucket"), stack.parameters["LogsEndpointName"]
    score = lambda_function("ScoreLogsFunction")
    results = [
        score(put_log(bucket, text(hdfs_log(20, faulty)), key=f"logs/incoming/{name}.log"))
        for name, faulty in (("a", (1, 2, 3)), ("b", (4,)))
    ]
    assert [r["unseen_lines"] for r in results] == [6, 2]
    # WHEN the drift monitor handles the window of this hour (at least 100 lines needed)
    # (the window of the hour the objects landed in, by their LastModified, as the function keys them)
    landed = boto3.client("s3").head_object(Bucket=bucket, Key="logs/incoming/a.log")["LastModified"]
    hour = landed.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    tick = scheduled_event(f"{hour + timedelta(hours=1, minutes=15):%Y-%m-%dT%H:%M:%SZ}")
    result = lambda_function("DriftMonitorFunction", LOGS_MIN_LINES="100")(tick)
    # THEN its log window merged both files: 8 unseen of the lines that reached the matcher
    logs = result["logs"]
    assert (logs["detector"], logs["files"]) == (detector, 2)
    matched = sum(r["placed"] for r in results) - 8
    assert logs["oov_share"] == 8 / (matched + 8)
    assert logs["baseline_oov_share"] == 0.0
    # ... over the baseline by more than a point, and two new shapes (interrupted responder, exception)
    assert logs["status"] == "CompletedWithViolations"
    assert logs["check_types"] == ["new_template_check", "oov_share_check"]
    assert logs["new_templates"] == 2
    # ... written as Model Monitor's violations file beside the window's log statistics
    prefix = logs["report_uri"].removeprefix(f"s3://{bucket}/")
    assert prefix == f"drift-reports/{detector}/{hour:%Y/%m/%d/%H}/"
    s3 = boto3.client("s3")
    violations = json.loads(
        s3.get_object(Bucket=bucket, Key=prefix + "constraint_violations.json")["Body"].read()
    )
    described = " ".join(v["description"] for v in violations["violations"])
    assert EXCEPTION.split(" {block}")[0] in described or "writeBlock" in described
    assert "Interrupted." in described
    # ... published for the log detector (LogDriftAlarm watches LogDriftViolations)
    documents = emf_documents(capsys.readouterr().out)
    (published,) = [d for d in documents if "LogDriftViolations" in d]
    assert (published["EndpointName"], published["LogDriftViolations"]) == (detector, [3.0])
    (share,) = [d for d in documents if "LogOovShare" in d]
    assert share["LogOovShare"] == [logs["oov_share"]]


def test_without_log_files_the_log_window_reports_an_empty_window(stack, lambda_function):
    register_log_model(stack, "pca")
    result = lambda_function("DriftMonitorFunction")(scheduled_event())
    logs = result["logs"]
    assert (logs["files"], logs["violations"], logs["oov_share"]) == (0, 0, None)
    assert logs["skipped"] == "0 matched lines in the window, 1000 needed"


def test_a_hostile_log_statistics_file_is_named_unreadable_and_the_window_goes_on(stack, lambda_function):
    # GIVEN a log file scored this hour, and beside its statistics a file nested far deeper than
    # any JSON parser recurses (what a bad writer or a hostile one could leave there)
    register_log_model(stack, "pca")
    bucket = stack.ref("DataBucket")
    put = put_log(bucket, text(hdfs_log(20)), key="logs/incoming/a.log")
    scored = lambda_function("ScoreLogsFunction")(put)
    statistics_key = scored["statistics_uri"].removeprefix(f"s3://{bucket}/")
    hostile_key = statistics_key.removesuffix(".json") + "-hostile.json"
    s3 = boto3.client("s3")
    s3.put_object(
        Bucket=bucket, Key=hostile_key, Body=b'{"new_templates": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    )
    # WHEN the drift monitor handles the window of that hour
    landed = s3.head_object(Bucket=bucket, Key="logs/incoming/a.log")["LastModified"]
    hour = landed.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    tick = scheduled_event(f"{hour + timedelta(hours=1, minutes=15):%Y-%m-%dT%H:%M:%SZ}")
    logs = lambda_function("DriftMonitorFunction", LOGS_MIN_LINES="100")(tick)["logs"]
    # THEN the hostile file is named unreadable and the scored one is merged as usual
    assert logs["unreadable_files"] == [f"{hostile_key}: nested too deeply (more than 32 levels)"]
    assert (logs["files"], logs["lines"]) == (1, scored["lines"])


def test_a_hostile_log_baseline_is_named_in_the_report_and_the_window_goes_on(stack, lambda_function):
    # GIVEN the log model in service, whose log_baseline.json was replaced by a file nested far
    # deeper than any JSON parser recurses
    _, uri = register_log_model(stack, "pca")
    bucket, prefix = uri.removeprefix("s3://").split("/", 1)
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key=prefix + "log_baseline.json", Body=b"[" * 10_000 + b"]" * 10_000)
    # WHEN the drift monitor runs its windows
    result = lambda_function("DriftMonitorFunction")(scheduled_event())
    # THEN the log window still reports, without a baseline, and its statistics say why
    logs = result["logs"]
    assert logs["baseline_oov_share"] is None
    report = logs["report_uri"].removeprefix(f"s3://{bucket}/") + "log_statistics.json"
    written = json.loads(s3.get_object(Bucket=bucket, Key=report)["Body"].read())
    assert written["baseline"] == f"{uri}log_baseline.json: nested too deeply (more than 32 levels)"
