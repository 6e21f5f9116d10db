"""The embedded router delivering to the retraining state machine, and the whole monitoring loop.

moto's EventBridge does not deliver to Step Functions targets; the router applies the template
rule's InputTransformer and starts the execution, as EventBridge would (sentinel.router). The
machine then runs on moto's engine with the real Lambda (UpdateEndpoint etc. added to moto by
sentinel.moto_patches; see tests/integration/test_retrain_asl.py).
"""

from __future__ import annotations

import json

import boto3
import pytest

from sentinel.moto_patches import processing_job_event
from sentinel.router import Router
from sentinel.stepfunctions import wait_for_execution
from tests.support import fixture_path
from tests.support.retrain import (
    create_pipeline,
    endpoint_config,
    pipeline_event,
    register_package,
    retraining,
    serve,
    start_pipeline_execution,
)


@pytest.fixture
def machine(stack):
    create_pipeline(stack)
    with retraining(stack) as machine:
        yield machine


@pytest.fixture
def router(stack):
    return Router(stack)


def upload_run_event(stack, execution_arn):
    return pipeline_event(stack.parameters["PipelineName"], execution_arn=execution_arn)


def test_succeeded_upload_run_is_evaluated_and_deployed_through_the_rule(stack, machine, router):
    # GIVEN a training upload's pipeline run that succeeded and registered a candidate
    execution = start_pipeline_execution(stack, "upload-nyc-taxi-1a2b3c4d")
    register_package(stack, execution, objective=0.6)
    # WHEN its status-change event reaches the router
    deliveries = router.deliver(upload_run_event(stack, execution))
    (delivery,) = [d for d in deliveries if d.target == "RetrainStateMachine"]
    # (PipelineRunsFunction accounts the same run's time and cost)
    assert [(d.target, d.error) for d in deliveries if d is not delivery] == [("PipelineRunsFunction", None)]
    # THEN the rule's InputTransformer made the machine adopt that run, and it deployed it
    assert (delivery.target, delivery.error) == ("RetrainStateMachine", None)
    assert delivery.result["input"] == {
        "pipelineExecutionArn": execution,
        "trigger": "training-upload",
        "reason": "the pipeline run of a training upload succeeded",
    }
    sfn = boto3.client("stepfunctions")
    assert wait_for_execution(sfn, delivery.result["executionArn"])["status"] == "SUCCEEDED"
    assert endpoint_config(stack) is not None


def test_redelivered_pipeline_event_starts_one_execution(stack, machine, router):
    execution = start_pipeline_execution(stack, "upload-nyc-taxi-1a2b3c4d")
    register_package(stack, execution, objective=0.6)
    event = upload_run_event(stack, execution)
    first = router.deliver(event)[0]
    router.deliver(event)
    # the execution is named after the event id: the same name and input is the same execution
    sfn = boto3.client("stepfunctions")
    assert len(sfn.list_executions(stateMachineArn=stack.ref("RetrainStateMachine"))["executions"]) == 1
    wait_for_execution(sfn, first.result["executionArn"])


def test_monitoring_violations_end_with_a_new_config_in_service(stack, machine):
    # GIVEN a stack that retrains on Model Monitor's categorical check (the template's default waits
    # for the model's anomaly rate: test_monitoring_alert's *_by_default tests)
    router = Router(stack, {"MonitoringAlertFunction": {"RETRAIN_CHECK_TYPES": "categorical_values_check"}})
    # AND a model in service, and a monitoring run that found the real fixture's violations
    old = register_package(
        stack,
        "arn:aws:sagemaker:us-east-1:123456789012:pipeline/anomaly-sentinel-rcf/execution/old",
        objective=0.5,
    )
    previous = serve(stack, old)
    report = f"s3://{stack.ref('DataBucket')}/monitoring/dq/2026/11/22/01"
    boto3.client("s3").put_object(
        Bucket=stack.ref("DataBucket"),
        Key="monitoring/dq/2026/11/22/01/constraint_violations.json",
        Body=fixture_path("capture/constraint_violations.json").read_bytes(),
    )
    job = machine.extras.monitoring_execution(
        job_name="model-monitoring-202611220100-3b7f0e8c",
        schedule_name="dq",
        endpoint_name=stack.parameters["EndpointName"],
        report_uri=report,
    )

    # AND a pipeline that registers a better candidate for the run the machine starts
    def register(logical_id, payload):
        if payload.get("step") == "evaluate":
            register_package(stack, payload["pipelineExecutionArn"], objective=0.8)

    machine.lambdas.before.append(register)
    # WHEN SageMaker's processing-job event for that run is put on the bus and the router drains it
    router.install()
    event = processing_job_event(job.rsplit("/", 1)[-1])
    boto3.client("events").put_events(
        Entries=[
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Detail": json.dumps(event["detail"]),
            }
        ]
    )
    (delivery,) = [d for d in router.drain() if d.target == "MonitoringAlertFunction"]
    # THEN the alert went out, one retraining ran, and the endpoint serves a new config
    assert delivery.result["alert"]["kind"] == "model-drift"
    run = wait_for_execution(boto3.client("stepfunctions"), delivery.result["execution"]["execution_arn"])
    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert endpoint_config(stack) not in (None, previous)
    kinds = sorted(m["attributes"]["kind"] for m in machine.alerts.messages())
    assert kinds == ["model-drift", "retraining"]
