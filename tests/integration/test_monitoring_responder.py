"""The responder's answer, and the retraining lock and alert digest it respects, on the deployed stack.

The responder is the handler module's own (settings from template.yaml, its clients); a fixed clock
makes the digest's window and expiry checkable.
"""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest

from anomaly_sentinel import monitoring, storms
from anomaly_sentinel.contracts.messages import Violation
from tests.support.monitoring import DRIFTED, drift_event, window_report
from tests.support.retrain import AlertsInbox, hold_lock, wait_for_all_executions

FUNCTION = "MonitoringAlertFunction"
FOLDED_NOTE = "Further signals this hour are counted, not alerted, until the retraining ends."
NOW = datetime(2026, 11, 30, 1, 42, 7, tzinfo=UTC)


@pytest.fixture
def module(stack, lambda_function):
    yield lambda_function(FUNCTION).module
    wait_for_all_executions(stack)


def responder(module, clock=lambda: NOW) -> monitoring.MonitoringResponder:
    m = module
    return monitoring.MonitoringResponder(
        m.settings, sagemaker=m.sagemaker, s3=m.s3, sns=m.sns, sfn=m.sfn, dynamodb=m.dynamodb, clock=clock
    )


def window_signal(stack, hour="2026/11/30/01", violations=DRIFTED) -> monitoring.MonitoringSignal:
    return monitoring.signal_from_event(
        drift_event(stack, hour, report_uri=window_report(stack, hour, violations))
    )


def test_a_window_that_retrains_is_answered_with_its_outcome_alert_and_execution(stack, module):
    # GIVEN a drift window with a counted violation (the anomaly rate, persisting) and no retraining running
    inbox = AlertsInbox(stack)
    signal = window_signal(stack)
    # WHEN the responder handles it
    result = responder(module).handle(signal).model_dump()
    # THEN the answer says what was found, what was sent and what was started
    name = monitoring.execution_name(signal)
    endpoint = stack.parameters["EndpointName"]
    assert result["alert"]["message_id"]
    assert result["execution"]["execution_arn"].endswith(f":{name}")
    assert result == {
        "status": "CompletedWithViolations",
        "endpoint": endpoint,
        "schedule": monitoring.DRIFT_MONITOR_SCHEDULE,
        "job_arn": signal.arn,
        "violations": 2,
        "violations_problem": None,
        "alert": {"kind": "model-drift", "severity": "warning", "message_id": result["alert"]["message_id"]},
        "retrain": True,
        "retrain_reason": result["retrain_reason"],
        "retraining": f"started execution {name} ({result['retrain_reason']})",
        "episode": name,
        "execution": {
            "execution_name": name,
            "execution_arn": result["execution"]["execution_arn"],
            "already_started": False,
        },
        "digest_signals": 0,
    }
    assert result["retrain_reason"].startswith("1 counted violations >= ")
    # AND the alert says the run started, with no word of folded signals
    (alert,) = inbox.messages()
    assert f"Retraining: started execution {name} (1 counted violations >= " in alert["message"]
    assert "Further signals" not in alert["message"]


def test_a_window_that_does_not_retrain_sends_its_alert_and_starts_nothing(stack, module):
    # GIVEN a window whose only violation is of a check type the policy does not count
    uncounted = [Violation(feature_name="_c0", check_type="data_type_check", description="Value: 0.5")]
    result = responder(module).handle(window_signal(stack, violations=uncounted)).model_dump()
    assert (result["retrain"], result["execution"], result["digest_signals"]) == (False, None, 0)
    assert result["alert"]["kind"] == "model-drift"
    assert result["retrain_reason"].startswith("0 counted violations < ")


def test_a_lock_held_by_this_very_signals_run_does_not_fold_it(stack, module):
    # GIVEN the endpoint's lock held by the execution this signal starts (a retry after it started)
    signal = window_signal(stack)
    hold_lock(stack, monitoring.execution_name(signal))
    # WHEN handled THEN it is not counted on a digest: the start is made (again) and the alert sent
    result = responder(module).handle(signal).model_dump()
    assert result["digest_signals"] == 0
    assert result["execution"]["execution_name"] == monitoring.execution_name(signal)
    assert result["alert"] is not None


def test_a_signal_folded_while_another_retraining_runs_is_counted_for_its_hour_until_the_ttl(stack, module):
    # GIVEN another execution holding the endpoint's retraining lock
    inbox = AlertsInbox(stack)
    hold_lock(stack, "drift-earlier-window")
    # WHEN a window's signal is handled at 01:42:07
    first = responder(module).handle(window_signal(stack)).model_dump()
    second = responder(module).handle(window_signal(stack, hour="2026/11/30/00")).model_dump()
    # THEN nothing starts; the first alert says why, the second is only counted
    assert (first["execution"], first["digest_signals"]) == (None, 1)
    assert first["alert"] is not None
    assert (second["alert"], second["digest_signals"]) == (None, 2)
    (alert,) = inbox.messages()
    assert "Retraining: not started: retraining drift-earlier-window is already running" in alert["message"]
    assert alert["message"].endswith("\n" + FOLDED_NOTE)
    # AND the digest is the 01:00 hour's, kept as long as the idempotency records
    endpoint = stack.parameters["EndpointName"]
    item = boto3.client("dynamodb").get_item(
        TableName=stack.ref("IdempotencyTable"),
        Key={"id": {"S": f"{storms.DIGEST_PREFIX}{endpoint}#2026-11-30T01"}},
    )["Item"]
    assert item["signals"] == {"N": "2"}
    assert int(item["expiration"]["N"]) == int(NOW.timestamp()) + module.settings.idempotency_ttl_seconds


def test_runs_of_the_model_monitor_endpoint_are_ours_but_a_third_endpoints_are_not(stack, module, world):
    # GIVEN the function also watching the real-time endpoint of the optional Model Monitor schedule
    settings = module.settings.model_copy(update={"model_monitor_endpoint": "realtime-rcf"})
    m = module
    watching = monitoring.MonitoringResponder(
        settings, sagemaker=m.sagemaker, s3=m.s3, sns=m.sns, sfn=m.sfn, dynamodb=m.dynamodb, clock=lambda: NOW
    )
    report = f"s3://{stack.ref('DataBucket')}/model-monitor/run-1"
    runs = {
        endpoint: world.extras.monitoring_execution(
            job_name=f"model-monitoring-202611300100-{endpoint}",
            schedule_name=f"{endpoint}-data-quality",
            endpoint_name=endpoint,
            report_uri=report,
        )
        for endpoint in ("realtime-rcf", "other-team-endpoint")
    }
    signals = {
        endpoint: monitoring.ProcessingJobSignal(
            source="processing-job", name=arn.rsplit("/", 1)[-1], arn=arn, status="Completed"
        )
        for endpoint, arn in runs.items()
    }
    # WHEN each run's outcome is asked for
    # THEN the watched endpoint's run is read, the third endpoint's is not ours, naming why
    watched = watching.outcome(signals["realtime-rcf"])
    assert isinstance(watched, monitoring.MonitoringOutcome)
    assert watched.endpoint == "realtime-rcf"
    assert watching.outcome(signals["other-team-endpoint"]) == monitoring.Ignored(
        reason="monitoring schedule other-team-endpoint-data-quality concerns endpoint other-team-endpoint, "
        f"not {settings.endpoint_name}"
    )


def test_a_processing_job_that_is_no_monitoring_execution_is_not_ours(stack, module):
    arn = boto3.client("sagemaker").create_processing_job(
        ProcessingJobName="model-monitoring-lookalike",
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 5}
        },
        AppSpecification={"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1"},
        RoleArn="arn:aws:iam::123456789012:role/x",
    )["ProcessingJobArn"]
    signal = monitoring.ProcessingJobSignal(
        source="processing-job", name="model-monitoring-lookalike", arn=arn, status="Completed"
    )
    assert responder(module).outcome(signal) == monitoring.Ignored(
        reason="not a monitoring execution (no MonitoringScheduleArn)"
    )
