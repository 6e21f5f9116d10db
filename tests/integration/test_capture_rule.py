"""The CaptureFile rule and the anomalies alarm, read from template.yaml.

moto's ``test_event_pattern`` API is a no-op, so the real matcher (``EventPattern``) is used. The
rule must fire for ``<CapturePrefix>...jsonl`` keys only — never for the function's own scores/
and rejects/ outputs, which land in the same bucket (no loops).
"""

from __future__ import annotations

import json

import pytest
from moto.events.models import EventPattern

from sentinel.template import PhysicalResource, Template
from tests.support import s3_object_created

BUCKET = "sentinel-databucket"
RULE = "ScoreCaptureFunctionCaptureFile"


def pattern_for(**parameters: str) -> EventPattern:
    template = Template(physical={"DataBucket": PhysicalResource(BUCKET)}, parameters=parameters)
    rule = template.rule(RULE)
    assert rule.target == "ScoreCaptureFunction"
    return EventPattern.load(json.dumps(rule.pattern))


@pytest.fixture(scope="module")
def pattern() -> EventPattern:
    return pattern_for()


@pytest.mark.parametrize(
    "key",
    [
        "capture/prod/AllTraffic/2026/11/21/10/05-00-123-abc.jsonl",
        "capture/file.jsonl",
        "capture/with space/and+plus/é.jsonl",  # URL-encoded in the event, still matched
    ],
)
def test_matches_capture_jsonl_in_the_data_bucket(pattern, key):
    assert pattern.matches_event(s3_object_created(BUCKET, key))


@pytest.mark.parametrize(
    "event",
    [
        s3_object_created(BUCKET, "scores/anomaly-sentinel-rcf/2026/11/21/10/05-00-123-abc.jsonl"),
        s3_object_created(BUCKET, "rejects/anomaly-sentinel-rcf/2026/11/21/10/05-00-123-abc.jsonl"),
        s3_object_created(BUCKET, "capture/prod/AllTraffic/2026/11/21/10/file.json"),
        s3_object_created(BUCKET, "capture/prod/file.jsonl.gz"),
        s3_object_created(BUCKET, "training/file.jsonl"),
        s3_object_created("another-bucket", "capture/file.jsonl"),
        s3_object_created(BUCKET, "capture/file.jsonl", detail_type="Object Deleted"),
    ],
    ids=[
        "scores-output",
        "rejects-output",
        "json-suffix",
        "gz-suffix",
        "other-prefix",
        "other-bucket",
        "deleted",
    ],
)
def test_does_not_match_outputs_or_other_objects(pattern, event):
    assert not pattern.matches_event(event)


def test_named_capture_bucket_and_prefix_replace_the_defaults():
    # GIVEN an existing capture bucket and prefix named by parameter
    pattern = pattern_for(CaptureBucketName="prod-capture-bucket", CapturePrefix="datacapture/")
    # THEN the rule follows them, and no longer fires for the stack's own bucket
    assert pattern.matches_event(s3_object_created("prod-capture-bucket", "datacapture/ep/v/x.jsonl"))
    assert not pattern.matches_event(s3_object_created(BUCKET, "datacapture/ep/v/x.jsonl"))
    assert not pattern.matches_event(s3_object_created("prod-capture-bucket", "capture/ep/v/x.jsonl"))


def test_function_reads_the_named_capture_bucket_and_writes_to_the_data_bucket():
    template = Template(
        physical={"DataBucket": PhysicalResource(BUCKET), "AlertsTopic": PhysicalResource("arn:aws:sns:x")},
        parameters={"CaptureBucketName": "prod-capture-bucket"},
    )
    env = template.function("ScoreCaptureFunction").environment
    assert (env["CAPTURE_BUCKET"], env["OUTPUT_BUCKET"]) == ("prod-capture-bucket", BUCKET)


def test_anomalies_alarm_watches_the_metric_the_function_publishes():
    # GIVEN the alarm and the Powertools namespace/service every function publishes under
    template = Template()
    alarm = template.resource("AnomaliesAlarm")["Properties"]
    env = template.document["Globals"]["Function"]["Environment"]["Variables"]
    dimensions = {d["Name"]: template.resolve(d["Value"]) for d in alarm["Dimensions"]}
    # THEN the alarm's namespace and dimensions are exactly those of the EMF metric (a mismatch
    # would leave the alarm on an empty metric forever)
    assert alarm["Namespace"] == env["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["MetricName"] == "Anomalies"
    assert dimensions == {
        "service": env["POWERTOOLS_SERVICE_NAME"],
        "EndpointName": template.parameters["EndpointName"],
    }
    assert alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}]


def test_reject_ratio_alarm_divides_the_metrics_the_function_publishes():
    # GIVEN the alarm on the share of rejected records and the Powertools namespace/service
    template = Template()
    alarm = template.resource("RejectedRecordsAlarm")["Properties"]
    env = template.document["Globals"]["Function"]["Environment"]["Variables"]
    stats = {m["Id"]: m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m}
    # THEN it divides RecordsRejected by CaptureRecords, both under the EMF namespace and dimensions
    assert {i: m["MetricName"] for i, m in stats.items()} == {
        "rejected": "RecordsRejected",
        "records": "CaptureRecords",
    }
    for metric in stats.values():
        assert metric["Namespace"] == env["POWERTOOLS_METRICS_NAMESPACE"]
        assert {d["Name"]: template.resolve(d["Value"]) for d in metric["Dimensions"]} == {
            "service": env["POWERTOOLS_SERVICE_NAME"],
            "EndpointName": template.parameters["EndpointName"],
        }
    (ratio,) = [m for m in alarm["Metrics"] if m.get("ReturnData")]
    assert ratio["Expression"] == "IF(records > 0, rejected / records, 0)"
    # AND its threshold is the template parameter (default 10 %), alerting subscribers
    assert alarm["Threshold"] == {"Ref": "RejectRatioAlarmThreshold"}
    assert template.parameters["RejectRatioAlarmThreshold"] in ("0.1", 0.1)
    assert alarm["AlarmActions"] == [{"Ref": "AlertsTopic"}]
