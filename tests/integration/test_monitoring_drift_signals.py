"""MonitoringAlertFunction on the drift monitor's windows, and storms kept small (real handler, moto).

A window with violations takes the same outcome → policy → alert → retraining path as a Model
Monitor execution. While a retraining of the endpoint runs (its lock held), further signals start
nothing and alert once per hour; the rest are counted on the digest.
"""

from __future__ import annotations

import json

import boto3
import pytest

from anomaly_sentinel import drift
from anomaly_sentinel.contracts.messages import Violation
from sentinel.router import Router
from tests.support.monitoring import DRIFTED, drift_event, executions, window_report
from tests.support.retrain import (
    AlertsInbox,
    drift_alarm_event,
    hold_lock,
    wait_for_all_executions,
)

FUNCTION = "MonitoringAlertFunction"


@pytest.fixture
def extras(world, stack):
    """The world's moto patches; retraining runs it starts end before the emulator does."""
    yield world.extras
    wait_for_all_executions(stack)


@pytest.fixture
def inbox(stack):
    return AlertsInbox(stack, kinds=["model-drift", "monitoring-failed"])


@pytest.fixture
def handler(lambda_function):
    return lambda_function(FUNCTION)


#: The data moved; the model's anomaly rate stays within its budget.
MOVED = DRIFTED[:1]


def test_a_malformed_drift_event_fails_and_is_dead_lettered_naming_the_field(stack, extras, inbox):
    # GIVEN a drift event the rule matches (our endpoint, a window with violations) whose record
    # count is not a count: not the message the drift monitor puts
    event = drift_event(stack, report_uri=window_report(stack, "2026/11/30/01", DRIFTED), records="many")
    # WHEN EventBridge delivers it to MonitoringAlertFunction (the template's rule and retries)
    (delivery,) = Router(stack).deliver(event)
    # THEN every attempt fails with the named error, and the event lands in the DLQ with it
    assert delivery.target == FUNCTION
    assert delivery.error is not None
    assert delivery.error.startswith("MessageError: invalid drift window event: records: ")
    messages = boto3.client("sqs").receive_message(
        QueueUrl=stack.ref("DeadLetterQueue"), MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    (message,) = messages
    assert json.loads(message["Body"])["detail"]["records"] == "many"
    assert (
        "invalid drift window event: records" in message["MessageAttributes"]["ErrorMessage"]["StringValue"]
    )
    # AND nothing was alerted or started on its account
    assert inbox.messages() == []
    assert executions(stack) == []


def test_a_drift_window_with_violations_alerts_and_retrains_like_a_model_monitor_run(
    stack, extras, inbox, handler
):
    # GIVEN the drift monitor's report of a window with a baseline drift and the model's anomaly rate
    # beyond its budget for 3 windows running
    event = drift_event(stack, report_uri=window_report(stack, "2026/11/30/01", DRIFTED))
    # WHEN its event is handled by the template's default policy
    result = handler(event)
    # THEN one model-drift alert lists both, with their figures
    assert (result["status"], result["violations"], result["retrain"]) == ("CompletedWithViolations", 2, True)
    (alert,) = inbox.messages()
    assert alert["attributes"]["kind"] == "model-drift"
    assert "- _c0: baseline_drift_check (distance 0.31, threshold 0.1)" in alert["message"]
    # (the score drift's figures are the window's anomaly rate against the model's, not its p-value)
    assert (
        "- anomaly_rate: score_drift_check (value 0.4, threshold 0.001, p-value 2.5e-12, "
        "3 consecutive window(s))" in alert["message"]
    )
    assert "beyond its budget for 3 consecutive window(s), 3 required" in alert["message"]
    assert "Monitoring schedule: drift-monitor" in alert["message"]
    # AND one retraining run starts, named for the window, triggered by the drift monitor
    (execution,) = executions(stack)
    assert execution["name"].startswith("drift-drift-monitor-")
    described = boto3.client("stepfunctions").describe_execution(executionArn=execution["executionArn"])
    assert json.loads(described["input"])["trigger"] == "drift-monitor"


@pytest.mark.parametrize(
    ("violations", "why"),
    [
        (MOVED, "the data moved, the model's anomaly rate is within its budget: alert only"),
        (
            [
                DRIFTED[0],
                Violation(
                    feature_name="anomaly_rate",
                    check_type="score_drift_check",
                    description="Anomaly rate",
                    consecutive_windows=2,
                ),
            ],
            "beyond its budget for 2 consecutive window(s), 3 required",
        ),
    ],
)
def test_by_default_moved_data_or_a_short_excess_of_anomalies_alerts_without_retraining(
    stack, extras, inbox, handler, violations, why
):
    event = drift_event(stack, report_uri=window_report(stack, "2026/11/30/01", violations))
    result = handler(event)
    assert result["retrain"] is False
    (alert,) = inbox.messages()
    assert why in alert["message"]
    assert executions(stack) == []


def test_a_window_whose_report_is_missing_alerts_that_it_is_unreadable_and_does_not_retrain(
    stack, extras, inbox, handler
):
    event = drift_event(stack, report_uri=f"s3://{stack.ref('DataBucket')}/drift-reports/nowhere/")
    result = handler(event)
    assert result["retrain"] is False
    assert result["violations_problem"].startswith("missing")
    (alert,) = inbox.messages()
    assert alert["attributes"]["kind"] == "monitoring-failed"


def test_another_endpoints_window_is_ignored(stack, handler):
    event = drift_event(stack)
    event["detail"]["endpoint"] = "someone-elses-endpoint"
    assert handler(event)["status"] == "ignored"


def test_twenty_signals_while_a_retraining_runs_start_nothing_and_alert_once_per_hour(
    stack, extras, inbox, lambda_function
):
    # (drift alarms alert only by default: this stack retrains on them)
    handler = lambda_function(FUNCTION, RETRAIN_ON_ALARM="true")
    # GIVEN a retraining of the endpoint in progress (its lock held by its execution)
    hold_lock(stack, "drift-drift-monitor-earlier-window")
    endpoint = stack.parameters["EndpointName"]
    report = window_report(stack, "2026/11/30/01", DRIFTED)
    # WHEN twenty signals arrive: nineteen per-feature drift alarms and the drift monitor's window
    events = [
        drift_alarm_event(f"{stack.parameters['DriftAlarmPrefix']}c{i}", endpoint=endpoint, feature=f"_c{i}")
        for i in range(19)
    ]
    events.append(drift_event(stack, report_uri=report))
    results = [handler(event) for event in events]
    # THEN no retraining starts, one alert says a retraining is running, the rest are counted
    assert executions(stack) == []
    assert all(r["retrain"] and r["execution"] is None for r in results)
    assert [r["digest_signals"] for r in results] == list(range(1, 21))
    (alert,) = inbox.messages()
    assert "retraining drift-drift-monitor-earlier-window is already running" in alert["message"]
    assert "Further signals this hour are counted" in alert["message"]


def test_runs_of_the_optional_model_monitor_schedule_are_handled_for_its_endpoint(
    stack, world, lambda_function
):
    # GIVEN the stack deployed with ModelMonitorEndpointName (the template passes it to the function)
    from tests.support.retrain import monitoring_event

    spec = stack.resolve(stack.resource(FUNCTION)["Properties"]["Environment"]["Variables"])
    assert spec["MODEL_MONITOR_ENDPOINT_NAME"] == stack.parameters["ModelMonitorEndpointName"]
    handler = lambda_function(FUNCTION, MODEL_MONITOR_ENDPOINT_NAME="realtime-rcf")
    bucket = stack.ref("DataBucket")
    prefix = "model-monitor/realtime-rcf/2026/11/30/01"
    boto3.client("s3").put_object(
        Bucket=bucket,
        Key=f"{prefix}/{drift.VIOLATIONS_FILE}",
        Body=drift.dumps(drift.violations_document(DRIFTED)),
    )
    job_arn = world.extras.monitoring_execution(
        job_name="model-monitoring-202611300100-abc",
        schedule_name="realtime-rcf-data-quality",
        endpoint_name="realtime-rcf",
        report_uri=f"s3://{bucket}/{prefix}",
    )
    # WHEN its run with violations is handled THEN it is not ignored as another endpoint's
    result = handler(monitoring_event(job_arn))
    assert (result["status"], result["violations"]) == ("CompletedWithViolations", 2)
    wait_for_all_executions(stack)
