"""StartPipelineFunction end to end on moto: the real handler, environment from template.yaml."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from anomaly_sentinel.exceptions import PipelineStartError, SettingsError
from sentinel.template import Template
from tests.support import ensure_pipeline, load_event, s3_object_created

FUNCTION = "StartPipelineFunction"


def executions(name: str) -> list[dict]:
    return boto3.client("sagemaker").list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"]


def parameters_of(arn: str) -> dict[str, str]:
    found = boto3.client("sagemaker").list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)
    return {p["Name"]: p["Value"] for p in found["PipelineParameters"]}


@pytest.fixture
def pipeline(stack: Template) -> str:
    return ensure_pipeline(stack)


@pytest.fixture
def bucket(stack: Template) -> str:
    return stack.ref("DataBucket")


def test_one_upload_starts_one_execution_with_the_object_uri(lambda_function, pipeline, bucket):
    # GIVEN a training upload event for the stack's bucket
    event = s3_object_created(bucket, "training/nyc_taxi.csv")
    # WHEN the function handles it
    result = lambda_function(FUNCTION)(event)
    # THEN the result names the object it started for, and exactly one execution runs, with
    # InputDataUri naming the object
    assert (result["status"], result["object"]) == ("started", f"s3://{bucket}/training/nyc_taxi.csv")
    runs = executions(pipeline)
    assert len(runs) == 1
    assert runs[0]["PipelineExecutionArn"] == result["pipeline_execution_arn"]
    assert parameters_of(result["pipeline_execution_arn"]) == {
        "InputDataUri": f"s3://{bucket}/training/nyc_taxi.csv"
    }


def test_same_event_delivered_five_times_starts_one_execution(lambda_function, pipeline, bucket):
    # GIVEN one upload event delivered five times (EventBridge is at-least-once)
    event = s3_object_created(bucket, "training/nyc_taxi.csv")
    handler = lambda_function(FUNCTION)
    # WHEN each delivery is handled
    results = [handler(event) for _ in range(5)]
    # THEN one execution exists and every delivery reports that same execution
    assert len(executions(pipeline)) == 1
    assert len({r["pipeline_execution_arn"] for r in results}) == 1


def test_new_version_of_the_same_key_starts_a_new_execution(lambda_function, pipeline, bucket):
    handler = lambda_function(FUNCTION)
    handler(s3_object_created(bucket, "training/nyc_taxi.csv", version_id="v1"))
    handler(s3_object_created(bucket, "training/nyc_taxi.csv", version_id="v2"))
    assert len(executions(pipeline)) == 2


@pytest.mark.parametrize(
    ("key", "size", "reason"),
    [
        ("training/", 0, "folder placeholder"),
        ("training/empty.csv", 0, "zero-byte object"),
        ("training/readme.txt", 120, "suffix not accepted"),
    ],
)
def test_ignored_keys_start_nothing_and_say_why(lambda_function, pipeline, bucket, key, size, reason):
    result = lambda_function(FUNCTION)(s3_object_created(bucket, key, size=size))
    assert result == {"status": "ignored", "reason": reason, "object": f"s3://{bucket}/{key}"}
    assert executions(pipeline) == []


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (
            lambda bucket: s3_object_created(bucket, "training/x.csv", detail_type="Object Deleted"),
            "not an S3 Object Created event (source 'aws.s3', detail-type 'Object Deleted')",
        ),
        (
            lambda bucket: load_event("CloudWatchAlarmStateChange"),
            "not an S3 Object Created event (source 'aws.cloudwatch', "
            "detail-type 'CloudWatch Alarm State Change')",
        ),
        (lambda bucket: s3_object_created("another-bucket", "training/x.csv"), "not the training bucket"),
        (lambda bucket: s3_object_created(bucket, "capture/x.csv"), "outside training prefix"),
    ],
    ids=["object-deleted", "another-service", "another-bucket", "another-prefix"],
)
def test_events_the_rule_would_not_match_start_nothing_when_invoked_directly(
    lambda_function, pipeline, bucket, event, reason
):
    # GIVEN an event the rule's pattern excludes, delivered straight to the function
    # WHEN it is handled THEN no pipeline starts, and the reason is returned
    result = lambda_function(FUNCTION)(event(bucket))
    assert result["status"] == "ignored"
    assert result["reason"] == reason
    assert executions(pipeline) == []


def test_key_with_spaces_plus_and_unicode_reaches_the_pipeline_decoded(lambda_function, pipeline, bucket):
    # GIVEN a key S3 delivers URL-encoded ("+" for space, %-escapes for "+" and unicode)
    key = "training/NYC taxi+fares (été) 数据.csv"
    # WHEN the function handles the event
    result = lambda_function(FUNCTION)(s3_object_created(bucket, key))
    # THEN the pipeline receives the real key
    assert parameters_of(result["pipeline_execution_arn"])["InputDataUri"] == f"s3://{bucket}/{key}"


def test_missing_pipeline_fails_loudly_naming_it(lambda_function, bucket):
    # GIVEN the function is configured with a pipeline that does not exist
    handler = lambda_function(FUNCTION, PIPELINE_NAME="no-such-pipeline")
    # WHEN / THEN the invocation fails (so the event reaches the DLQ) naming the pipeline
    with pytest.raises(PipelineStartError, match="'no-such-pipeline'"):
        handler(s3_object_created(bucket, "training/nyc_taxi.csv"))


def test_failed_start_is_not_remembered_so_a_retry_can_succeed(lambda_function, stack, bucket):
    # GIVEN a first delivery failed because the pipeline was not there yet
    handler = lambda_function(FUNCTION, PIPELINE_NAME="late-pipeline")
    event = s3_object_created(bucket, "training/nyc_taxi.csv")
    with pytest.raises(PipelineStartError):
        handler(event)
    # WHEN the pipeline appears and the event is retried
    boto3.client("sagemaker").create_pipeline(
        PipelineName="late-pipeline",
        PipelineDefinition='{"Version": "2020-12-01", "Steps": []}',
        RoleArn="arn:aws:iam::123456789012:role/sentinel-pipeline",
    )
    # THEN the retry starts it: the failed attempt left no idempotency record behind
    assert handler(event)["status"] == "started"
    assert len(executions("late-pipeline")) == 1


def test_denied_call_fails_loudly_naming_the_pipeline(lambda_function, pipeline, bucket):
    # GIVEN SageMaker denies the call. moto has no IAM enforcement here, so this one call is
    # stubbed with botocore's Stubber on the handler's module-scope client.
    function = lambda_function(FUNCTION)
    with Stubber(function.module.sagemaker) as stub:
        stub.add_client_error(
            "start_pipeline_execution", service_error_code="AccessDeniedException", http_status_code=400
        )
        # WHEN / THEN the error names the pipeline and the AWS error code
        with pytest.raises(PipelineStartError, match=rf"'{pipeline}'.*AccessDeniedException"):
            function(s3_object_created(bucket, "training/nyc_taxi.csv"))


def test_missing_setting_fails_at_import_naming_the_variable(lambda_function):
    function = lambda_function(FUNCTION, PIPELINE_NAME="")
    del function.environ["PIPELINE_NAME"]
    with pytest.raises(SettingsError, match="PIPELINE_NAME"):
        _ = function.module
