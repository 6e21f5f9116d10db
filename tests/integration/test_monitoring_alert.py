"""MonitoringAlertFunction end to end on moto: the real handler, environment from template.yaml.

moto's CreateProcessingJob drops MonitoringScheduleArn, ExitMessage and Environment and always says
Completed, and moto lacks ListMonitoringExecutions: the world's ``sentinel.moto_patches``
shape the job like a Model Monitor execution in moto's backend and add that API, so the states
other than moto's plain "Completed" are stubbed there (and one test uses moto's bare job as is).
Retraining executions the handler starts run on moto's engine (real Lambda, waits skipped) and are
waited for before the mock ends.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber

from anomaly_sentinel import monitoring
from anomaly_sentinel.exceptions import EventParseError, RetrainStartError
from tests.support import fixture_path
from tests.support.monitoring import JOB, SCHEDULE, executions, monitoring_run, put_report, report_uri
from tests.support.retrain import (
    AlertsInbox,
    drift_alarm_event,
    monitoring_event,
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
    """Subscribed with a filter policy: monitoring alerts only (retraining reports go elsewhere)."""
    return AlertsInbox(stack, kinds=["model-drift", "monitoring-failed"])


#: A policy that retrains on Model Monitor's own checks and on drift alarms (the template's default
#: retrains only on the model's anomaly rate: see the *_by_default tests).
RETRAIN_ON_DATA = {"RETRAIN_CHECK_TYPES": "categorical_values_check", "RETRAIN_ON_ALARM": "true"}


@pytest.fixture
def handler(lambda_function):
    return lambda_function(FUNCTION, **RETRAIN_ON_DATA)


@pytest.fixture
def default_handler(lambda_function):
    """The function with the template's own defaults."""
    return lambda_function(FUNCTION)


def real_violations():
    return fixture_path("capture/constraint_violations.json").read_bytes()


def execution_input(stack, name):
    sfn = boto3.client("stepfunctions")
    arn = f"{stack.ref('RetrainStateMachine').replace(':stateMachine:', ':execution:')}:{name}"
    return json.loads(sfn.describe_execution(executionArn=arn)["input"])


def test_violations_alert_names_endpoint_schedule_features_and_checks(stack, extras, inbox, handler):
    # GIVEN a monitoring run that found the real fixture's 7 violations
    put_report(stack, real_violations())
    job_arn = monitoring_run(stack, extras)
    # WHEN its processing-job event arrives
    result = handler(monitoring_event(job_arn))
    # THEN one model alert names the endpoint, schedule, features and checks
    assert result["status"] == "CompletedWithViolations"
    assert result["violations"] == 7
    (alert,) = inbox.messages()
    endpoint = stack.parameters["EndpointName"]
    assert alert["attributes"] == {"kind": "model-drift", "severity": "warning", "endpoint": endpoint}
    assert endpoint in alert["subject"]
    body = alert["message"]
    for expected in (
        f"Monitoring schedule: {SCHEDULE}",
        f"Report: {report_uri(stack)}",
        "categorical_values_check x1, completeness_check x1, data_type_check x5",
        "- store_and_fwd_flag: categorical_values_check (value 0.00900901)",
        "- congestion_surcharge: completeness_check (value 0)",
    ):
        assert expected in body
    # AND by a policy counting categorical_values_check one retraining run starts,
    # named after the job, with the trigger and reason for its report
    name = monitoring.execution_name(monitoring.signal_from_event(monitoring_event(job_arn)))
    assert [e["name"] for e in executions(stack)] == [name]
    started = execution_input(stack, name)
    assert started["trigger"] == "monitoring"
    assert job_arn in started["reason"]
    assert "inputDataUri" not in started  # RetrainInputDataUri empty: the pipeline's own default
    assert f"started execution {name}" in body


def test_constraints_violations_spelling_is_read_too(stack, extras, inbox, handler):
    # GIVEN the report under the other documented spelling only
    put_report(stack, real_violations(), name="constraints_violations.json")
    job_arn = monitoring_run(stack, extras)
    # WHEN / THEN the violations are read all the same
    assert handler(monitoring_event(job_arn))["violations"] == 7


def test_same_event_delivered_five_times_starts_one_execution_and_sends_one_alert(
    stack, extras, inbox, handler
):
    put_report(stack, real_violations())
    event = monitoring_event(monitoring_run(stack, extras))
    results = [handler(event) for _ in range(5)]
    assert len(executions(stack)) == 1
    assert len(inbox.messages()) == 1
    assert len({json.dumps(r, sort_keys=True) for r in results}) == 1


def test_state_machine_reporting_the_execution_exists_is_success(stack, extras, inbox, handler):
    # GIVEN the deterministic execution was already started (e.g. before the idempotency record
    # expired, or by a duplicate that raced past it)
    put_report(stack, real_violations())
    event = monitoring_event(monitoring_run(stack, extras))
    name = monitoring.execution_name(monitoring.signal_from_event(event))
    boto3.client("stepfunctions").start_execution(
        stateMachineArn=stack.ref("RetrainStateMachine"), name=name, input='{"trigger": "earlier"}'
    )
    wait_for_all_executions(stack)
    # WHEN the event is handled THEN ExecutionAlreadyExists counts as started, and the alert says so
    result = handler(event)
    assert result["execution"]["already_started"] is True
    assert f"execution {name} already started" in inbox.messages()[0]["message"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "empty"),
        (b"<html>not json</html>", "malformed: not JSON"),
        (b'{"violations": [{"feature_name": "x"}]}', "malformed: 1 of 1 entries"),
    ],
    ids=[
        "empty",
        "not-json",
        "entry-without-check-type",
    ],  # every shape: tests/unit/test_monitoring_outcomes.py
)
def test_unreadable_violations_file_gives_an_alert_that_says_so(stack, extras, inbox, handler, body, problem):
    # GIVEN a run with violations whose file cannot be read
    put_report(stack, body)
    job_arn = monitoring_run(stack, extras)
    # WHEN it is handled THEN no crash: an operational alert names the problem, and nothing retrains
    result = handler(monitoring_event(job_arn))
    assert result["violations_problem"].startswith(problem)
    (alert,) = inbox.messages()
    assert alert["attributes"]["kind"] == "monitoring-failed"
    assert problem in alert["message"]
    assert "the violations could not be read" in alert["message"]
    assert executions(stack) == []


def test_missing_violations_file_gives_an_alert_that_says_so(stack, extras, inbox, handler):
    job_arn = monitoring_run(stack, extras)  # nothing written under the report URI
    result = handler(monitoring_event(job_arn))
    assert result["violations_problem"].startswith("missing")
    assert (
        "missing: neither constraint_violations.json nor constraints_violations.json"
        in (inbox.messages()[0]["message"])
    )
    assert executions(stack) == []


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_failed_or_stopped_monitoring_is_an_operational_alert(stack, extras, inbox, handler, status):
    job_arn = monitoring_run(stack, extras, status=status)
    result = handler(monitoring_event(job_arn, status=status))
    assert result["status"] == status
    (alert,) = inbox.messages()
    assert alert["attributes"]["kind"] == "monitoring-failed"
    assert alert["subject"].startswith(f"Monitoring {status.lower()}")
    assert executions(stack) == []
    if status == "Failed":
        assert "AlgorithmError" in alert["message"]


def test_clean_run_alerts_nobody(stack, extras, inbox, handler):
    put_report(stack, b'{"violations": []}')
    job_arn = monitoring_run(stack, extras, status="Completed")
    assert handler(monitoring_event(job_arn))["status"] == "Completed"
    assert inbox.messages() == []
    assert executions(stack) == []


def test_status_from_list_monitoring_executions_when_exit_message_is_silent(stack, extras, inbox, handler):
    # GIVEN no ExitMessage, but ListMonitoringExecutions (added to moto) lists the run with violations
    put_report(stack, real_violations())
    job_arn = monitoring_run(stack, extras, exit_message="")
    # WHEN / THEN its status decides, and says where it came from
    handler(monitoring_event(job_arn))
    assert "Status: CompletedWithViolations (from ListMonitoringExecutions)" in inbox.messages()[0]["message"]


def test_bare_moto_job_with_schedule_arn_gets_its_status_from_the_violations_file(
    stack, extras, inbox, handler
):
    # GIVEN moto's own job (no ExitMessage) not listed by ListMonitoringExecutions
    put_report(stack, real_violations())
    job_arn = monitoring_run(stack, extras, exit_message="", listed=False)
    # WHEN / THEN the violations file itself decides the status
    assert handler(monitoring_event(job_arn))["status"] == "CompletedWithViolations"
    assert "(from violations file)" in inbox.messages()[0]["message"]


def test_processing_job_that_is_not_a_monitoring_execution_is_ignored(stack, extras, inbox, handler):
    # GIVEN an ordinary processing job (moto's, as created: no MonitoringScheduleArn) with a
    # monitoring-like name
    arn = boto3.client("sagemaker").create_processing_job(
        ProcessingJobName="model-monitoring-lookalike",
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 5}
        },
        AppSpecification={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"},
        RoleArn="arn:aws:iam::123456789012:role/x",
    )["ProcessingJobArn"]
    # WHEN / THEN it is ignored, saying why
    result = handler(monitoring_event(arn))
    assert result["status"] == "ignored"
    assert "not a monitoring execution" in result["reason"]
    assert inbox.messages() == []


@pytest.mark.parametrize(
    ("job", "status", "reason"),
    [
        ("integ-test-analytics-algo-54ee3282", "Completed", "outside the monitoring prefixes"),
        (JOB, "InProgress", "not finished"),
    ],
)
def test_other_jobs_and_unfinished_runs_are_ignored_without_calls(stack, handler, job, status, reason):
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:processing-job/{job}"
    result = handler(monitoring_event(arn, status=status))
    assert result["status"] == "ignored"
    assert reason in result["reason"]


def test_drift_alarm_alerts_with_distance_and_threshold_and_retrains(stack, extras, inbox, handler):
    # GIVEN a drift alarm on the endpoint's feature "value" entering ALARM
    alarm = f"{stack.parameters['DriftAlarmPrefix']}value"
    event = drift_alarm_event(alarm, endpoint=stack.parameters["EndpointName"], value=0.34, threshold=0.1)
    # WHEN it is handled
    result = handler(event)
    # THEN a model alert shows the drift, and a retraining run starts with trigger drift-alarm
    assert result["status"] == "CompletedWithViolations"
    (alert,) = inbox.messages()
    assert alert["attributes"]["kind"] == "model-drift"
    assert "- value: baseline_drift_check (distance 0.34, threshold 0.1)" in alert["message"]
    assert f"Monitoring schedule: {SCHEDULE}" in alert["message"]
    (execution,) = executions(stack)
    assert execution_input(stack, execution["name"])["trigger"] == "drift-alarm"


def test_by_default_data_that_moved_alerts_without_retraining(stack, extras, inbox, default_handler):
    # GIVEN the template's defaults and a Model Monitor run whose violations say the data moved
    # (a new categorical value, types, completeness) and nothing about the model's anomaly rate
    put_report(stack, real_violations())
    # WHEN its event arrives
    result = default_handler(monitoring_event(monitoring_run(stack, extras)))
    # THEN subscribers are alerted, saying why nothing retrains, and nothing starts
    assert result["retrain"] is False
    (alert,) = inbox.messages()
    assert "the data moved, the model's anomaly rate is within its budget: alert only" in alert["message"]
    assert executions(stack) == []


def test_by_default_a_drift_alarm_alerts_without_retraining(stack, extras, inbox, default_handler):
    alarm = f"{stack.parameters['DriftAlarmPrefix']}value"
    event = drift_alarm_event(alarm, endpoint=stack.parameters["EndpointName"], value=0.34, threshold=0.1)
    result = default_handler(event)
    assert result["retrain"] is False
    assert "drift alarms do not retrain (policy)" in inbox.messages()[0]["message"]
    assert executions(stack) == []


def test_drift_alarm_back_to_ok_or_outside_the_prefix_is_ignored(stack, handler):
    endpoint = stack.parameters["EndpointName"]
    ok = drift_alarm_event(f"{stack.parameters['DriftAlarmPrefix']}value", endpoint=endpoint, state="OK")
    other = drift_alarm_event("ServerCpuTooHigh", endpoint=endpoint)
    assert handler(ok)["status"] == "ignored"
    assert handler(other)["status"] == "ignored"


def test_policy_minimum_not_met_alerts_without_retraining(stack, extras, inbox, lambda_function):
    # GIVEN a policy needing 2 counted violations; the real fixture has 1 categorical_values_check
    handler = lambda_function(FUNCTION, RETRAIN_MIN_VIOLATIONS="2", **RETRAIN_ON_DATA)
    put_report(stack, real_violations())
    # WHEN / THEN the alert explains why nothing retrains
    result = handler(monitoring_event(monitoring_run(stack, extras)))
    assert result["retrain"] is False
    assert "not started: 1 counted violations < 2 required" in inbox.messages()[0]["message"]
    assert executions(stack) == []


def test_retraining_data_uri_is_passed_when_configured(stack, extras, lambda_function):
    data = f"s3://{stack.ref('DataBucket')}/training/"
    handler = lambda_function(FUNCTION, RETRAIN_INPUT_DATA_URI=data, **RETRAIN_ON_DATA)
    put_report(stack, real_violations())
    result = handler(monitoring_event(monitoring_run(stack, extras)))
    assert execution_input(stack, result["execution"]["execution_name"])["inputDataUri"] == data


def test_state_machine_refusing_the_start_fails_loudly_and_is_retried(stack, extras, inbox, handler):
    # GIVEN Step Functions refuses the start (stubbed with botocore's Stubber on the handler's
    # module-scope client: moto has no quota to exhaust)
    put_report(stack, real_violations())
    event = monitoring_event(monitoring_run(stack, extras))
    with Stubber(handler.module.sfn) as stub:
        stub.add_client_error("start_execution", service_error_code="ExecutionLimitExceeded")
        # WHEN / THEN the invocation fails naming the machine (so EventBridge retries, then the DLQ)
        with pytest.raises(RetrainStartError, match="ExecutionLimitExceeded"):
            handler(event)
    # AND nothing was remembered or sent: the retry starts the run and alerts once
    assert inbox.messages() == []
    assert handler(event)["execution"]["already_started"] is False
    assert len(inbox.messages()) == 1


def test_unrelated_event_is_rejected(handler):
    with pytest.raises(EventParseError, match="not a monitoring signal"):
        handler({"detail-type": "Object Created", "source": "aws.s3", "detail": {}})


def test_another_endpoints_monitoring_run_is_ignored_with_its_reason(stack, extras, inbox, handler):
    # GIVEN another team's Model Monitor run in the same account, with our job prefix, which found
    # violations on *their* endpoint
    put_report(stack, real_violations())
    job_arn = extras.monitoring_execution(
        job_name=JOB,
        schedule_name="other-team-data-quality",
        endpoint_name="other-team-endpoint",
        report_uri=report_uri(stack),
    )
    # WHEN its processing-job event reaches our function
    result = handler(monitoring_event(job_arn))
    # THEN it is ignored, saying whose endpoint it concerns: no alert, no retraining
    assert result["status"] == "ignored"
    assert "concerns endpoint other-team-endpoint" in result["reason"]
    assert inbox.messages() == []
    assert executions(stack) == []


def test_drift_alarm_on_another_endpoint_is_ignored(stack, extras, inbox, handler):
    # GIVEN a drift alarm with our prefix whose metric dimensions name another endpoint
    alarm = f"{stack.parameters['DriftAlarmPrefix']}value"
    event = drift_alarm_event(alarm, endpoint="other-team-endpoint", value=0.34, threshold=0.1)
    # WHEN / THEN it is ignored: the alarm's dimensions decide whose drift it is
    result = handler(event)
    assert result["status"] == "ignored"
    assert "concerns endpoint other-team-endpoint" in result["reason"]
    assert inbox.messages() == []
    assert executions(stack) == []


def test_ignored_foreign_signal_is_counted_in_a_metric(stack, extras, handler, capsys):
    # GIVEN another endpoint's monitoring run
    job_arn = extras.monitoring_execution(
        job_name=JOB, schedule_name="other", endpoint_name="other-team-endpoint", report_uri=report_uri(stack)
    )
    # WHEN it is handled
    handler(monitoring_event(job_arn))
    # THEN the MonitoringSignalsIgnored metric is published (EMF on stdout)
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any("MonitoringSignalsIgnored" in doc for doc in emf)


def test_deeply_nested_violations_file_is_a_report_unreadable_alert(stack, extras, inbox, handler):
    # GIVEN a violations file nested far deeper than any JSON parser's recursion limit
    depth = 100_000
    put_report(stack, b'{"violations": ' + b"[" * depth + b"]" * depth + b"}")
    job_arn = monitoring_run(stack, extras)
    # WHEN it is handled THEN no exception: an alert names the report and why it is unreadable
    result = handler(monitoring_event(job_arn))
    assert result["violations_problem"] == "malformed: nested too deeply (more than 32 levels)"
    (alert,) = inbox.messages()
    assert alert["attributes"]["kind"] == "monitoring-failed"
    assert "report is unreadable" in alert["subject"]
    assert f"Report: {report_uri(stack)}" in alert["message"]
    assert executions(stack) == []


def test_report_in_a_missing_bucket_is_a_report_unreadable_alert(stack, extras, inbox, handler):
    # GIVEN a monitoring run whose output points at a bucket that no longer exists
    gone = "s3://deleted-monitoring-bucket/monitoring/run-1"
    job_arn = extras.monitoring_execution(
        job_name=JOB,
        schedule_name=SCHEDULE,
        endpoint_name=stack.parameters["EndpointName"],
        report_uri=gone,
    )
    # WHEN it is handled THEN no NoSuchBucket escapes: the alert names the report file and the cause
    result = handler(monitoring_event(job_arn))
    expected = f"unreadable: {gone}/constraint_violations.json (NoSuchBucket)"
    assert result["violations_problem"] == expected
    (alert,) = inbox.messages()
    assert "report is unreadable" in alert["subject"]
    assert expected in alert["message"]
    assert executions(stack) == []
