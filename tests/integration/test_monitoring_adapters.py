"""The monitoring adapters on moto: the violations file, the monitoring job behind an event, the start.

Each adapter is called with real boto3 clients on the emulator (no stack deployed); where an AWS
error cannot be provoked on moto, botocore's Stubber answers on the same client.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber

from anomaly_sentinel import monitoring
from anomaly_sentinel.contracts.messages import RetrainRequest
from anomaly_sentinel.exceptions import RetrainStartError, ViolationsFileError
from anomaly_sentinel.monitoring import Decision, DriftWindowSignal, ProcessingJobSignal
from tests.support import Failing, fixture_path

BUCKET = "monitoring-reports"
ENDPOINT = "anomaly-sentinel-rcf"
SCHEDULE = "anomaly-sentinel-data-quality"
JOB = "model-monitoring-202611300100-0a1b2c3d4e5f"
SCHEDULE_ARN = f"arn:aws:sagemaker:us-east-1:123456789012:monitoring-schedule/{SCHEDULE}"
ONE = b'{"violations": [{"feature_name": "a", "constraint_check_type": "data_type_check"}]}'


@pytest.fixture
def s3(aws):
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def put(s3, key: str, body: bytes) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)


# ---------------------------------------------------------------------------- the violations file


@pytest.mark.parametrize(
    ("report_uri", "key"),
    [
        (f"s3://{BUCKET}/monitoring/run-1", "monitoring/run-1/constraint_violations.json"),
        (f"s3://{BUCKET}/monitoring/run-1/", "monitoring/run-1/constraint_violations.json"),
        (f"s3://{BUCKET}", "constraint_violations.json"),
        (f"s3://{BUCKET}/", "constraint_violations.json"),
        (f"s3://{BUCKET}/reports/RUN-X", "reports/RUN-X/constraint_violations.json"),
    ],
)
def test_the_violations_file_is_read_in_the_report_folder_wherever_it_is(s3, report_uri, key):
    # GIVEN the report's violations file under its folder (or at the bucket's root)
    put(s3, key, ONE)
    # WHEN read through the report's URI THEN its violations are those of that file
    (only,) = monitoring.read_violations(s3, report_uri, model_monitor=True)
    assert (only.feature_name, only.check_type) == ("a", "data_type_check")


def test_the_model_monitor_spelling_wins_over_the_other_when_both_exist(s3):
    put(s3, "run/constraint_violations.json", ONE)
    put(
        s3, "run/constraints_violations.json", fixture_path("capture/constraint_violations.json").read_bytes()
    )
    assert len(monitoring.read_violations(s3, f"s3://{BUCKET}/run", model_monitor=True)) == 1


def test_a_file_of_exactly_the_size_limit_is_read_and_one_byte_more_is_refused(s3):
    # GIVEN a valid violations file padded to exactly the size limit
    exact = ONE + b" " * (monitoring.VIOLATIONS_MAX_BYTES - len(ONE))
    put(s3, "exact/constraint_violations.json", exact)
    put(s3, "over/constraint_violations.json", exact + b" ")
    # WHEN / THEN the first is read and the second is refused as too large
    assert len(monitoring.read_violations(s3, f"s3://{BUCKET}/exact", model_monitor=True)) == 1
    with pytest.raises(ViolationsFileError, match=r"^malformed: larger than"):
        monitoring.read_violations(s3, f"s3://{BUCKET}/over", model_monitor=True)


def test_a_report_with_neither_file_is_missing(s3):
    with pytest.raises(ViolationsFileError, match=r"^missing: "):
        monitoring.read_violations(s3, f"s3://{BUCKET}/nothing-here", model_monitor=True)


def test_a_report_location_that_is_not_an_s3_uri_is_malformed(s3):
    with pytest.raises(ViolationsFileError, match=r"^malformed: "):
        monitoring.read_violations(s3, "/opt/ml/processing/resultdata", model_monitor=True)


@pytest.mark.parametrize("code", ["AccessDenied", "403", "InvalidObjectState", "NoSuchBucket"])
def test_a_report_s3_refuses_for_good_is_unreadable_naming_the_file_and_the_code(s3, code):
    # GIVEN S3 refusing the first file with a lasting error
    with Stubber(s3) as stub:
        stub.add_client_error(
            "get_object",
            service_error_code=code,
            expected_params={"Bucket": BUCKET, "Key": "run/constraint_violations.json"},
        )
        # WHEN / THEN the report is unreadable, naming the file and the code
        with pytest.raises(ViolationsFileError) as raised:
            monitoring.read_violations(s3, f"s3://{BUCKET}/run/", model_monitor=True)
    assert str(raised.value) == f"unreadable: s3://{BUCKET}/run/constraint_violations.json ({code})"


@pytest.mark.parametrize("code", ["NoSuchKey", "404", "NotFound"])
def test_a_first_spelling_that_is_not_there_falls_back_to_the_second(s3, code):
    put(s3, "run/constraints_violations.json", ONE)
    with Stubber(s3) as stub:
        stub.add_client_error(
            "get_object",
            service_error_code=code,
            expected_params={"Bucket": BUCKET, "Key": "run/constraint_violations.json"},
        )
        stub.add_response(
            "get_object",
            {
                "Body": boto3.client("s3").get_object(Bucket=BUCKET, Key="run/constraints_violations.json")[
                    "Body"
                ]
            },
            expected_params={"Bucket": BUCKET, "Key": "run/constraints_violations.json"},
        )
        assert len(monitoring.read_violations(s3, f"s3://{BUCKET}/run", model_monitor=True)) == 1


def test_a_transient_s3_error_is_raised_for_the_retry(s3):
    with Stubber(s3) as stub:
        stub.add_client_error("get_object", service_error_code="SlowDown", http_status_code=503)
        with pytest.raises(ClientError):
            monitoring.read_violations(s3, f"s3://{BUCKET}/run", model_monitor=True)


# ---------------------------------------------------------------------------- the monitoring job


def monitoring_job(world, s3, **kwargs) -> str:
    return world.extras.monitoring_execution(
        job_name=JOB,
        schedule_name=SCHEDULE,
        endpoint_name=ENDPOINT,
        report_uri=f"s3://{BUCKET}/monitoring/{SCHEDULE}/run-1",
        **kwargs,
    )


def job_signal(arn: str, status: str = "Completed") -> ProcessingJobSignal:
    return ProcessingJobSignal(source="processing-job", name=arn.rsplit("/", 1)[-1], arn=arn, status=status)


def test_a_monitoring_job_is_described_with_its_schedule_endpoint_report_and_listed_status(world, s3):
    # GIVEN a Model Monitor execution that found violations
    arn = monitoring_job(world, s3)
    # WHEN the job behind its event is described
    job = monitoring.describe_monitoring_job(job_signal(arn), boto3.client("sagemaker"))
    # THEN it is a monitoring job of our schedule and endpoint, with its report and statuses
    assert job is not None
    assert (job.job_arn, job.schedule, job.endpoint) == (arn, SCHEDULE, ENDPOINT)
    assert job.report_uri == f"s3://{BUCKET}/monitoring/{SCHEDULE}/run-1"
    assert job.processing_status == "Completed"
    assert job.exit_message is not None
    assert job.exit_message.startswith("CompletedWithViolations")
    assert job.listed_status == "CompletedWithViolations"
    # AND without a FailureReason, the ExitMessage is the detail an alert shows
    assert job.failure_reason == job.exit_message


def test_a_failed_monitoring_job_carries_its_failure_reason(world, s3):
    arn = monitoring_job(world, s3, status="Failed")
    job = monitoring.describe_monitoring_job(job_signal(arn, "Failed"), boto3.client("sagemaker"))
    assert job is not None
    assert job.processing_status == "Failed"
    assert job.failure_reason == "AlgorithmError: see the job logs"


def bare_job(arn: str, status: str) -> dict[str, Any]:
    """DescribeProcessingJob of a monitoring run without Environment, ExitMessage or FailureReason."""
    return {
        "ProcessingJobName": JOB,
        "ProcessingJobArn": arn,
        "ProcessingJobStatus": status,
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}
        },
        "AppSpecification": {"ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/monitor:1"},
        "CreationTime": datetime(2026, 11, 30, 1, 0, tzinfo=UTC),
        "MonitoringScheduleArn": SCHEDULE_ARN,
    }


def test_a_job_described_and_listed_with_no_details_has_no_endpoint_and_no_failure(aws):
    # GIVEN a completed monitoring job described without details and missing from the listing,
    # and an event about it that still says it is stopping
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:processing-job/{JOB}"
    sagemaker = boto3.client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_processing_job", bare_job(arn, "Completed"), {"ProcessingJobName": JOB})
        stub.add_response("list_monitoring_executions", {"MonitoringExecutionSummaries": []})
        signal = ProcessingJobSignal(source="processing-job", name=JOB, arn=arn, status="Stopping")
        # WHEN it is described
        job = monitoring.describe_monitoring_job(signal, sagemaker)
    # THEN nothing is made up: no endpoint, no failure, no listed status; the job's own status wins
    assert job is not None
    assert (job.endpoint, job.failure_reason, job.listed_status) == (None, None, None)
    assert (job.schedule, job.processing_status) == (SCHEDULE, "Completed")


def test_a_job_whose_environment_names_nothing_takes_endpoint_and_failure_from_the_listing(aws):
    # GIVEN a monitoring job described without Environment, ExitMessage or FailureReason, whose
    # listing names the endpoint and the failure
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:processing-job/{JOB}"
    sagemaker = boto3.client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_processing_job", bare_job(arn, "Failed"), {"ProcessingJobName": JOB})
        stub.add_response(
            "list_monitoring_executions",
            {
                "MonitoringExecutionSummaries": [
                    {
                        "MonitoringScheduleName": SCHEDULE,
                        "ScheduledTime": datetime(2026, 11, 30, 1, 0, tzinfo=UTC),
                        "CreationTime": datetime(2026, 11, 30, 1, 0, tzinfo=UTC),
                        "LastModifiedTime": datetime(2026, 11, 30, 1, 5, tzinfo=UTC),
                        "MonitoringExecutionStatus": "Failed",
                        "ProcessingJobArn": arn,
                        "EndpointName": ENDPOINT,
                        "FailureReason": "ClientError: no captured data",
                    }
                ]
            },
        )
        # WHEN described for an event that spells the job's ARN in another case
        event_arn = arn.replace(JOB, JOB.upper())
        signal = ProcessingJobSignal(source="processing-job", name=JOB, arn=event_arn, status="Failed")
        job = monitoring.describe_monitoring_job(signal, sagemaker)
    # THEN the job is its described ARN (the one the listing knows), the endpoint and the failure
    # come from the listing, the schedule from its ARN
    assert job is not None
    assert job.job_arn == arn
    assert (job.schedule, job.endpoint, job.failure_reason, job.listed_status) == (
        SCHEDULE,
        ENDPOINT,
        "ClientError: no captured data",
        "Failed",
    )
    assert (job.report_uri, job.exit_message) == (None, None)


def test_the_listing_finds_only_the_job_asked_about(world, s3):
    arn = monitoring_job(world, s3)
    sagemaker = boto3.client("sagemaker")
    summary = monitoring.monitoring_execution_status(sagemaker, SCHEDULE, arn)
    assert summary is not None
    assert summary["ProcessingJobArn"] == arn
    assert summary["MonitoringExecutionStatus"] == "CompletedWithViolations"
    assert monitoring.monitoring_execution_status(sagemaker, SCHEDULE, arn + "-other") is None


def test_a_listing_that_is_refused_leaves_the_decision_to_the_job_itself(world, s3):
    sagemaker = boto3.client("sagemaker")
    with Stubber(sagemaker) as stub:
        stub.add_client_error("list_monitoring_executions", service_error_code="AccessDeniedException")
        assert monitoring.monitoring_execution_status(sagemaker, SCHEDULE, "arn") is None


def test_an_unlisted_job_with_an_exit_message_keeps_the_exit_messages_status(world, s3):
    # GIVEN a run with violations the listing does not show, whose ExitMessage says so
    put(s3, f"monitoring/{SCHEDULE}/run-1/constraint_violations.json", ONE)
    arn = monitoring_job(world, s3, listed=False)
    job = monitoring.describe_monitoring_job(job_signal(arn), boto3.client("sagemaker"))
    assert job is not None
    assert job.listed_status is None
    # WHEN its outcome is read THEN the status comes from the ExitMessage, the violations from S3
    found = monitoring.outcome_from_job(job, s3)
    assert (found.status, found.status_source) == ("CompletedWithViolations", "ExitMessage")
    assert [v.feature_name for v in found.violations] == ["a"]
    assert (found.source, found.endpoint, found.schedule, found.job_arn) == (
        "processing-job",
        ENDPOINT,
        SCHEDULE,
        arn,
    )
    assert found.report_uri == job.report_uri
    assert found.violations_problem is None


def test_a_clean_run_reads_no_violations_file(world, s3):
    # GIVEN a clean run whose report folder holds an unreadable file
    put(s3, f"monitoring/{SCHEDULE}/run-1/constraint_violations.json", b"not json")
    arn = monitoring_job(world, s3, status="Completed")
    job = monitoring.describe_monitoring_job(job_signal(arn), boto3.client("sagemaker"))
    assert job is not None
    # WHEN / THEN the outcome is clean, as listed: the file is not read, so nothing is said about it
    found = monitoring.outcome_from_job(job, s3)
    assert (found.status, found.violations, found.violations_problem) == ("Completed", (), None)
    assert found.status_source == "ListMonitoringExecutions"


def test_a_stopped_run_is_stopped_as_listed(world, s3):
    arn = monitoring_job(world, s3, status="Stopped")
    job = monitoring.describe_monitoring_job(job_signal(arn, "Stopped"), boto3.client("sagemaker"))
    assert job is not None
    found = monitoring.outcome_from_job(job, s3)
    assert (found.status, found.status_source, found.violations_problem) == (
        "Stopped",
        "ListMonitoringExecutions",
        None,
    )


def test_a_job_nothing_says_has_finished_is_taken_as_clean_and_nothing_is_read():
    # GIVEN a job still stopping, with no ExitMessage and no listing (nothing to read either)
    job = monitoring.MonitoringJob(
        job_arn="arn:aws:sagemaker:us-east-1:123456789012:processing-job/model-monitoring-1",
        schedule=SCHEDULE,
        endpoint=None,
        processing_status="Stopping",
        report_uri="s3://nowhere/at-all",
    )
    # WHEN its outcome is read THEN it is a clean run on no named endpoint; S3 is never asked
    found = monitoring.outcome_from_job(job, s3=None)
    assert (found.status, found.status_source, found.endpoint) == ("Completed", "processing job", "")


def test_a_run_reporting_violations_whose_file_lists_none_is_an_empty_report(world, s3):
    put(s3, f"monitoring/{SCHEDULE}/run-1/constraint_violations.json", b'{"violations": []}')
    arn = monitoring_job(world, s3)
    job = monitoring.describe_monitoring_job(job_signal(arn), boto3.client("sagemaker"))
    assert job is not None
    found = monitoring.outcome_from_job(job, s3)
    assert found.status == "CompletedWithViolations"
    assert found.violations_problem == "empty: the run reported violations but the file lists none"


@pytest.mark.parametrize(
    ("body", "status"), [(ONE, "CompletedWithViolations"), (b'{"violations": []}', "Completed")]
)
def test_without_exit_message_or_listing_the_violations_file_decides(world, s3, body, status):
    put(s3, f"monitoring/{SCHEDULE}/run-1/constraint_violations.json", body)
    arn = monitoring_job(world, s3, exit_message="", listed=False)
    job = monitoring.describe_monitoring_job(job_signal(arn), boto3.client("sagemaker"))
    assert job is not None
    found = monitoring.outcome_from_job(job, s3)
    assert (found.status, found.status_source) == (status, "violations file")


def test_without_exit_message_or_listing_an_unreadable_file_means_violations_unread(world, s3):
    put(s3, f"monitoring/{SCHEDULE}/run-1/constraint_violations.json", b"not json")
    arn = monitoring_job(world, s3, exit_message="", listed=False)
    job = monitoring.describe_monitoring_job(job_signal(arn), boto3.client("sagemaker"))
    assert job is not None
    found = monitoring.outcome_from_job(job, s3)
    assert found.status == "CompletedWithViolations"
    assert found.violations_problem is not None
    assert found.violations_problem.startswith("malformed: not JSON")


def test_a_job_without_an_output_location_has_a_missing_report(world, s3):
    arn = monitoring_job(world, s3)
    job = monitoring.describe_monitoring_job(job_signal(arn), boto3.client("sagemaker"))
    assert job is not None
    found = monitoring.outcome_from_job(job.model_copy(update={"report_uri": None}), s3)
    assert found.violations_problem == "missing: the job has no S3 output location"


def test_a_failed_run_is_failed_with_its_reason_and_no_report_read(world, s3):
    arn = monitoring_job(world, s3, status="Failed")
    job = monitoring.describe_monitoring_job(job_signal(arn, "Failed"), boto3.client("sagemaker"))
    assert job is not None
    found = monitoring.outcome_from_job(job, s3)
    assert (found.status, found.detail, found.violations_problem) == (
        "Failed",
        "AlgorithmError: see the job logs",
        None,
    )
    assert found.status_source == "ListMonitoringExecutions"


# ---------------------------------------------------------------------------- drift windows


def drift_signal(status: str, report_uri: str | None) -> DriftWindowSignal:
    execution = f"drift-monitor/{ENDPOINT}/2026-11-30T01:00:00Z"
    return DriftWindowSignal(
        source="drift-monitor",
        name=execution,
        arn=execution,
        status=status,
        endpoint=ENDPOINT,
        report_uri=report_uri,
    )


def test_a_drift_window_with_violations_reads_them_from_its_report(s3):
    put(s3, "drift-reports/w1/constraint_violations.json", ONE)
    signal = drift_signal("CompletedWithViolations", f"s3://{BUCKET}/drift-reports/w1/")
    found = monitoring.outcome_from_drift(signal, s3)
    assert (found.source, found.endpoint, found.schedule, found.job_arn) == (
        "drift-monitor",
        ENDPOINT,
        monitoring.DRIFT_MONITOR_SCHEDULE,
        signal.arn,
    )
    assert (found.status, found.status_source, found.violations_problem) == (
        "CompletedWithViolations",
        "drift monitor event",
        None,
    )
    assert [v.feature_name for v in found.violations] == ["a"]
    assert found.report_uri == signal.report_uri


def test_a_drift_window_naming_no_endpoint_has_an_empty_endpoint(s3):
    signal = drift_signal("Completed", None).model_copy(update={"endpoint": None})
    assert monitoring.outcome_from_drift(signal, s3).endpoint == ""


def test_a_clean_drift_window_reads_nothing(s3):
    found = monitoring.outcome_from_drift(drift_signal("Completed", f"s3://{BUCKET}/drift-reports/none/"), s3)
    assert (found.status, found.violations, found.violations_problem) == ("Completed", (), None)


@pytest.mark.parametrize(
    ("report", "body", "problem"),
    [
        (None, None, "missing: the drift event names no report"),
        (
            "drift-reports/w2/",
            b'{"violations": []}',
            "empty: the window reported violations but the file lists none",
        ),
    ],
)
def test_a_drift_window_whose_report_names_nothing_says_so(s3, report, body, problem):
    if body is not None:
        put(s3, f"{report}constraint_violations.json", body)
    uri = f"s3://{BUCKET}/{report}" if report else None
    found = monitoring.outcome_from_drift(drift_signal("CompletedWithViolations", uri), s3)
    assert found.violations_problem == problem


# ---------------------------------------------------------------------------- starting a retraining


@pytest.fixture
def state_machine(aws):
    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(
        name="retrain",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    return sfn, arn


def test_a_retraining_starts_with_the_payload_under_the_given_name(state_machine):
    sfn, arn = state_machine
    payload = {"trigger": "monitoring", "reason": "r"}
    started = monitoring.start_retraining(sfn, arn, "monitor-x-0123456789ab", RetrainRequest(**payload))
    assert started.already_started is False
    assert started.execution_name == "monitor-x-0123456789ab"
    described = sfn.describe_execution(executionArn=started.execution_arn)
    assert json.loads(described["input"]) == payload
    assert described["name"] == "monitor-x-0123456789ab"


def test_a_name_already_started_is_success_with_that_executions_arn(state_machine):
    sfn, arn = state_machine
    first = monitoring.start_retraining(sfn, arn, "monitor-x-0123456789ab", RetrainRequest())
    with Stubber(sfn) as stub:
        stub.add_client_error("start_execution", service_error_code="ExecutionAlreadyExists")
        again = monitoring.start_retraining(sfn, arn, "monitor-x-0123456789ab", RetrainRequest())
    assert again.model_dump() == {
        "execution_name": "monitor-x-0123456789ab",
        "execution_arn": first.execution_arn,
        "already_started": True,
    }


def test_a_refused_start_is_a_retrain_start_error(state_machine):
    sfn, arn = state_machine
    with Stubber(sfn) as stub:
        stub.add_client_error("start_execution", service_error_code="StateMachineDoesNotExist")
        with pytest.raises(RetrainStartError, match="StateMachineDoesNotExist"):
            monitoring.start_retraining(sfn, arn, "monitor-x-0123456789ab", RetrainRequest())


MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:retrain"


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (
            ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "StartExecution"
            ),
            "AccessDeniedException: not allowed",
        ),
        (
            ClientError({"Error": {"Code": "ExecutionLimitExceeded"}}, "StartExecution"),
            "ExecutionLimitExceeded: ",
        ),
        (ClientError({}, "StartExecution"), "Unknown: "),
        (
            EndpointConnectionError(endpoint_url="https://states.us-east-1.amazonaws.com/"),
            'Could not connect to the endpoint URL: "https://states.us-east-1.amazonaws.com/"',
        ),
    ],
)
def test_a_failed_start_names_the_execution_the_state_machine_and_the_cause(error, cause):
    # GIVEN Step Functions refusing the start, or unreachable
    # WHEN a retraining is started THEN the error says what could not start where, and why
    with pytest.raises(RetrainStartError) as raised:
        monitoring.start_retraining(Failing(error), MACHINE, "monitor-x-0123456789ab", RetrainRequest())
    assert str(raised.value) == f"cannot start retraining 'monitor-x-0123456789ab' on {MACHINE}: {cause}"


def test_retrain_input_reaches_the_execution_as_json(state_machine):
    sfn, arn = state_machine
    outcome = monitoring.MonitoringOutcome(
        source="drift-monitor", endpoint=ENDPOINT, job_arn="drift-monitor/x", status="CompletedWithViolations"
    )
    payload = monitoring.retrain_input(outcome, Decision(retrain=True, reason="r"), "s3://b/training/")
    started = monitoring.start_retraining(sfn, arn, "drift-x-0123456789ab", payload)
    described = sfn.describe_execution(executionArn=started.execution_arn)
    assert json.loads(described["input"])["inputDataUri"] == "s3://b/training/"


def test_a_run_is_found_among_its_schedules_hundred_newest_whatever_other_schedules_did(world, s3):
    # GIVEN our run, then ten newer runs of its schedule and a hundred newer runs of another schedule
    ours = monitoring_job(world, s3)
    for i in range(10):
        world.extras.monitoring_execution(
            job_name=f"model-monitoring-newer-{i}",
            schedule_name=SCHEDULE,
            endpoint_name=ENDPOINT,
            report_uri=f"s3://{BUCKET}/newer/{i}",
        )
    for i in range(100):
        world.extras.monitoring_execution(
            job_name=f"model-monitoring-other-{i}",
            schedule_name="other-schedule",
            endpoint_name=ENDPOINT,
            report_uri=f"s3://{BUCKET}/other/{i}",
        )
    # WHEN the listing is asked about our run THEN it is found, with its status
    summary = monitoring.monitoring_execution_status(boto3.client("sagemaker"), SCHEDULE, ours)
    assert summary is not None
    assert (summary["ProcessingJobArn"], summary["MonitoringExecutionStatus"]) == (
        ours,
        "CompletedWithViolations",
    )
