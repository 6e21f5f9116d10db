"""The monitoring and retraining rule patterns, read from template.yaml, against real-shaped events.

moto's ``test_event_pattern`` API is a no-op, so the real matcher (``EventPattern``) is used. The
events are the real AWS samples (tests/fixtures/events, see SOURCES.md) adapted to this stack.
"""

from __future__ import annotations

import json

import pytest
from moto.events.models import EventPattern

from anomaly_sentinel.contracts import DRIFT_EVENT_DETAIL_TYPE, DRIFT_EVENT_SOURCE
from anomaly_sentinel.contracts.messages import DriftWindowEvent, RetrainRequest
from sentinel.emulator import nominal
from sentinel.stepfunctions import apply_input_transformer
from sentinel.template import Template, load_template
from tests.support import drift_window_delivery, load_event
from tests.support.retrain import drift_alarm_event, monitoring_event
from tests.support.retrain import pipeline_event as adapted_pipeline_event

DOCUMENT = load_template()
#: Names as the emulator gives them, without deploying: every rule's pattern resolves.
TEMPLATE = Template(
    DOCUMENT,
    physical={lid: nominal(lid, r["Type"], {}) for lid, r in DOCUMENT["Resources"].items()},
)
ACCOUNT_REGION = "us-east-1:123456789012"
JOB = f"arn:aws:sagemaker:{ACCOUNT_REGION}:processing-job/model-monitoring-202611220100-3b7f0e8c"
PIPELINE = TEMPLATE.parameters["PipelineName"]


def pipeline_event(display_name="upload-nyc-taxi-1a2b3c4d", status="Succeeded", pipeline=PIPELINE):
    return adapted_pipeline_event(pipeline, display_name=display_name, status=status)


def pattern(rule_id):
    return EventPattern.load(json.dumps(TEMPLATE.rule(rule_id).pattern))


# ---------------------------------------------------------------------------- monitoring executions


def test_monitoring_rule_targets_the_alert_function():
    assert TEMPLATE.rule("MonitoringAlertFunctionMonitoringExecution").target == "MonitoringAlertFunction"
    assert TEMPLATE.rule("MonitoringAlertFunctionDriftAlarm").target == "MonitoringAlertFunction"


@pytest.mark.parametrize("status", ["Completed", "Failed", "Stopped"])
def test_finished_monitoring_jobs_match(status):
    assert pattern("MonitoringAlertFunctionMonitoringExecution").matches_event(monitoring_event(JOB, status))


def test_both_configured_prefixes_match():
    second = JOB.replace("model-monitoring-", TEMPLATE.parameters["MonitoringJobNamePrefixes"].split(",")[1])
    assert pattern("MonitoringAlertFunctionMonitoringExecution").matches_event(monitoring_event(second))


@pytest.mark.parametrize(
    "event",
    [
        monitoring_event(JOB, "InProgress"),
        monitoring_event(JOB, "Stopping"),
        load_event("SageMakerProcessingJobStateChange"),  # the AWS sample: another job's name
        {**monitoring_event(JOB), "detail-type": "SageMaker Training Job State Change"},
    ],
    ids=["in-progress", "stopping", "other-job", "other-detail-type"],
)
def test_other_processing_events_do_not_match(event):
    assert not pattern("MonitoringAlertFunctionMonitoringExecution").matches_event(event)


# ---------------------------------------------------------------------------- drift alarms


def test_drift_alarm_entering_alarm_matches():
    event = drift_alarm_event(f"{TEMPLATE.parameters['DriftAlarmPrefix']}value", endpoint="e")
    assert pattern("MonitoringAlertFunctionDriftAlarm").matches_event(event)


@pytest.mark.parametrize(
    "event",
    [
        drift_alarm_event(f"{TEMPLATE.parameters['DriftAlarmPrefix']}value", endpoint="e", state="OK"),
        drift_alarm_event("ServerCpuTooHigh", endpoint="e"),
        load_event("CloudWatchAlarmStateChange"),
    ],
    ids=["back-to-ok", "other-alarm", "aws-sample"],
)
def test_other_alarm_events_do_not_match(event):
    assert not pattern("MonitoringAlertFunctionDriftAlarm").matches_event(event)


# ---------------------------------------------------------------------------- upload runs → retraining


def test_succeeded_upload_run_of_our_pipeline_starts_the_state_machine():
    rule = TEMPLATE.rule("RetrainStateMachineTrainedFromUpload")
    assert rule.target == "RetrainStateMachine"
    assert pattern(rule.logical_id).matches_event(pipeline_event())


def test_pipeline_arn_matches_whatever_case_sagemaker_writes_it_in():
    event = pipeline_event()
    event["detail"]["pipelineArn"] = (
        event["detail"]["pipelineArn"].upper().replace("ARN:AWS:SAGEMAKER", "arn:aws:sagemaker")
    )
    assert pattern("RetrainStateMachineTrainedFromUpload").matches_event(event)


@pytest.mark.parametrize(
    "event",
    [
        pipeline_event(status="Failed"),
        pipeline_event(status="Executing"),
        pipeline_event(display_name="retrain-monitoring-1a2b3c4d"),  # the machine's own runs
        pipeline_event(pipeline="another-pipeline"),
        load_event("SageMakerModelBuildingPipelineExecutionStatusChange"),
    ],
    ids=["failed", "executing", "retrain-run", "other-pipeline", "aws-sample"],
)
def test_other_pipeline_events_do_not_start_it(event):
    assert not pattern("RetrainStateMachineTrainedFromUpload").matches_event(event)


def test_input_transformer_gives_the_adopt_contract():
    # GIVEN the rule's InputTransformer, as template.yaml writes it
    props = TEMPLATE.resource("RetrainStateMachine")["Properties"]["Events"]["TrainedFromUpload"][
        "Properties"
    ]
    transformer = TEMPLATE.resolve(props["InputTransformer"])
    event = pipeline_event()
    # WHEN applied to the event as EventBridge does
    payload = json.loads(apply_input_transformer(transformer, event))
    # THEN the machine adopts that execution, and reports the trigger
    request = RetrainRequest.model_validate(payload)
    assert request.pipeline_execution_arn == event["detail"]["pipelineExecutionArn"]
    assert request.trigger == "training-upload"
    assert request.input_data_uri is None


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{"a": <v>}', {"a": 'say "hi"'}),
        ('{"a": "<v> now"}', {"a": 'say "hi" now'}),
        ('{"n": <n>, "missing": <m>}', {"n": 3, "missing": None}),
    ],
)
def test_input_transformer_quotes_like_eventbridge(template, expected):
    transformer = {
        "InputPathsMap": {"v": "$.detail.v", "n": "$.detail.n", "m": "$.detail.absent"},
        "InputTemplate": template,
    }
    event = {"detail": {"v": 'say "hi"', "n": 3}}
    assert json.loads(apply_input_transformer(transformer, event)) == expected


# ---------------------------------------------------------------------------- drift monitor runs


def drift_event(status="CompletedWithViolations", endpoint=None):
    """The event as DriftMonitorFunction puts it: its detail is the message model, dumped."""
    window = DriftWindowEvent(
        execution="drift-monitor/x/2026-11-30T01:00:00Z",
        endpoint=endpoint or TEMPLATE.parameters["EndpointName"],
        window_start="2026-11-30T01:00:00Z",
        window_end="2026-11-30T02:00:00Z",
        status=status,
        files=1,
        records=1000,
        effective_records=1000.0,
        violations=1 if status == "CompletedWithViolations" else 0,
        check_types={"baseline_drift_check": 1} if status == "CompletedWithViolations" else {},
        report_uri="s3://bucket/drift-reports/x/2026/11/30/01/",
        baseline_uri=None,
    )
    return drift_window_delivery(
        json.loads(json.dumps(window.detail())), "4f6d1c8e-2b1a-4c3d-9e8f-0a1b2c3d4e5f"
    )


def test_drift_monitor_runs_with_violations_reach_the_alert_function():
    rule = TEMPLATE.rule("MonitoringAlertFunctionDriftMonitorRun")
    assert rule.target == "MonitoringAlertFunction"
    assert pattern("MonitoringAlertFunctionDriftMonitorRun").matches_event(drift_event())


@pytest.mark.parametrize(
    "event",
    [drift_event(status="Completed"), drift_event(endpoint="someone-elses-endpoint")],
    ids=["no violations", "another endpoint"],
)
def test_clean_windows_and_other_endpoints_do_not_invoke_it(event):
    assert not pattern("MonitoringAlertFunctionDriftMonitorRun").matches_event(event)


def test_the_drift_monitors_events_are_what_the_rule_expects():
    spec = TEMPLATE.rule("MonitoringAlertFunctionDriftMonitorRun").pattern
    assert spec["source"] == [DRIFT_EVENT_SOURCE]
    assert spec["detail-type"] == [DRIFT_EVENT_DETAIL_TYPE]
    # AND every detail field the rule filters on is a field of the message the monitor puts
    assert set(spec["detail"]) <= set(DriftWindowEvent.model_fields)
