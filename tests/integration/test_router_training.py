"""The embedded router: a real S3 upload on moto reaches StartPipelineFunction through the
template's rule, duplicates are absorbed, failures are retried and land in the DLQ."""

from __future__ import annotations

import json

import boto3
import pytest

from sentinel.router import Router
from sentinel.template import Template
from tests.support import ensure_pipeline


@pytest.fixture
def router(stack: Template) -> Router:
    r = Router(stack)
    r.install()
    return r


def upload(bucket: str, key: str, body: bytes = b"timestamp,value\n2014-07-01 00:00:00,10844\n") -> None:
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=body)


def test_training_upload_reaches_only_the_start_pipeline_function(stack, router):
    # GIVEN the stack's pipeline and bucket
    name = ensure_pipeline(stack)
    # WHEN a training file is uploaded and the bus is drained
    upload(stack.ref("DataBucket"), "training/nyc taxi.csv")
    deliveries = router.drain()
    # THEN exactly one delivery, to StartPipelineFunction, started one execution for that key
    assert [(d.target, d.error) for d in deliveries] == [("StartPipelineFunction", None)]
    assert deliveries[0].result["status"] == "started"
    assert deliveries[0].result["input_data_uri"] == f"s3://{stack.ref('DataBucket')}/training/nyc taxi.csv"
    sagemaker = boto3.client("sagemaker")
    assert len(sagemaker.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"]) == 1


def test_uploads_outside_the_training_prefix_reach_no_function(stack, router):
    ensure_pipeline(stack)
    upload(stack.ref("DataBucket"), "elsewhere/nyc_taxi.csv")
    assert router.drain() == []


def test_redelivered_event_starts_nothing_new(stack, router):
    # GIVEN an upload that was delivered once
    name = ensure_pipeline(stack)
    upload(stack.ref("DataBucket"), "training/nyc_taxi.csv")
    first = router.drain()
    # WHEN EventBridge delivers the same event again
    again = router.deliver(first[0].event)
    # THEN the function answers with the first execution and no second one exists
    assert again[0].result["pipeline_execution_arn"] == first[0].result["pipeline_execution_arn"]
    sagemaker = boto3.client("sagemaker")
    assert len(sagemaker.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"]) == 1


def test_failing_delivery_is_retried_then_dead_lettered_with_the_error(stack):
    # GIVEN the function points at a pipeline that does not exist, so it fails
    router = Router(stack, overrides={"StartPipelineFunction": {"PIPELINE_NAME": "no-such-pipeline"}})
    router.install()
    upload(stack.ref("DataBucket"), "training/nyc_taxi.csv")
    # WHEN the router delivers the upload event
    deliveries = router.drain()
    # THEN it tried 1 + MaximumRetryAttempts (2) times and the event is in the DLQ with the error
    assert deliveries[0].attempts == 3
    assert "PipelineStartError" in deliveries[0].error
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=stack.ref("DeadLetterQueue"), MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    assert len(messages) == 1
    assert json.loads(messages[0]["Body"])["detail"]["object"]["key"] == "training/nyc_taxi.csv"
    assert "no-such-pipeline" in messages[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]
