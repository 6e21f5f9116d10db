"""statemachine/retrain.asl.json executed by moto's Step Functions engine, as template.yaml deploys it.

The machine is the committed ASL with its DefinitionSubstitutions resolved by the emulator; its
``lambda:invoke`` tasks run the real RetrainStepsFunction handler (sentinel.stepfunctions), Wait
states and Retry back-off are recorded instead of slept. moto lacks UpdateEndpoint, and a botocore
Stubber cannot reach calls made by moto's own engine: it is added to moto's SageMaker response and
backend by the world's ``sentinel.moto_patches.sagemaker_extras`` (failure injected there too).
"""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import boto3
import pytest

from anomaly_sentinel import storms
from sentinel.moto_patches import set_pipeline_execution_status
from sentinel.stepfunctions import fast_waits
from tests.support.retrain import (
    create_pipeline,
    endpoint_config,
    hold_lock,
    lock_item,
    register_package,
    retraining,
    serve,
    start_pipeline_execution,
)

#: The pipeline run that registered the model in service (any ARN: only its metadata is read).
OLD_RUN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/anomaly-sentinel-rcf/execution/old"
#: A fixed clock for the lock's boundary (an hour from now, so moto's own times stay in the past).
NOW = int(time.time()) + 3600


@pytest.fixture
def pipeline(stack):
    return create_pipeline(stack)


@pytest.fixture
def machine(stack, pipeline):
    with retraining(stack) as machine:
        yield machine


def describe_package(arn):
    return boto3.client("sagemaker").describe_model_package(ModelPackageName=arn)


def register_on_evaluate(machine, **package):
    """Stand-in for the pipeline: register the candidate of the execution the machine started."""
    registered = {}

    def before(logical_id, payload):
        if payload.get("step") == "evaluate" and "arn" not in registered:
            registered.update(register_package(machine.stack, payload["pipelineExecutionArn"], **package))

    machine.lambdas.before.append(before)
    return registered


def test_first_run_starts_the_pipeline_and_creates_the_serverless_endpoint(machine, stack, pipeline):
    # GIVEN no endpoint yet, and a pipeline that registers a candidate for the run the machine starts
    registered = register_on_evaluate(machine, objective=0.61, stats={"mean": 1.0, "std": 0.2})
    # WHEN the machine is started by hand with training data
    run = machine.run(
        {"inputDataUri": f"s3://{stack.ref('DataBucket')}/training/nyc_taxi.csv", "trigger": "manual"}
    )
    # THEN it succeeds, having started one pipeline run named retrain-… with that data
    assert run["status"] == "SUCCEEDED", run.get("cause")
    sagemaker = boto3.client("sagemaker")
    (execution,) = sagemaker.list_pipeline_executions(PipelineName=pipeline)["PipelineExecutionSummaries"]
    assert execution["PipelineExecutionDisplayName"].startswith("retrain-manual-")
    parameters = sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=execution["PipelineExecutionArn"]
    )["PipelineParameters"]
    assert parameters == [
        {"Name": "InputDataUri", "Value": f"s3://{stack.ref('DataBucket')}/training/nyc_taxi.csv"}
    ]
    # AND the candidate is approved, its metadata kept, and it serves on a new serverless config
    package = describe_package(registered["arn"])
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["CustomerMetadataProperties"]["objective_value"] == "0.61"
    config_name = endpoint_config(stack)
    assert config_name == run["output"]["request"]["deployment"]["endpointConfigName"]
    config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
    variant = config["ProductionVariants"][0]
    assert variant["ServerlessConfig"] == {
        "MemorySizeInMB": int(stack.parameters["ServerlessMemorySizeInMB"]),
        "MaxConcurrency": int(stack.parameters["ServerlessMaxConcurrency"]),
    }
    model = sagemaker.describe_model(ModelName=variant["ModelName"])
    assert model["PrimaryContainer"]["ModelDataUrl"] == registered["model_data_url"]
    assert model["ExecutionRoleArn"] == stack.get_att("SageMakerExecutionRole", "Arn")
    # AND subscribers hear it, with the attributes they filter on; the lock is released
    (alert,) = machine.alerts.messages()
    assert alert["attributes"] == {
        "kind": "retraining",
        "severity": "info",
        "endpoint": stack.parameters["EndpointName"],
    }
    assert config_name in alert["message"]
    assert "nothing in service" in alert["message"]
    assert run["output"]["outcome"]["status"] == "deployed"
    assert lock_item(stack) is None
    # AND the endpoint was polled once, at the configured interval (the wait itself was skipped)
    assert machine.waits.waits == [30]


def test_better_candidate_updates_the_endpoint_in_place(machine, stack):
    # GIVEN a model in service with test:f1 0.50, and an upload's pipeline run registering 0.70
    old = register_package(stack, OLD_RUN, objective=0.5)
    previous = serve(stack, old)
    execution = start_pipeline_execution(stack)
    new = register_package(stack, execution, objective=0.7)
    # WHEN the machine adopts that execution
    run = machine.run({"pipelineExecutionArn": execution, "trigger": "training-upload"})
    # THEN the endpoint was updated (UpdateEndpoint added to moto, see module docstring) to a new config
    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert machine.extras.updates == [
        {"EndpointName": stack.parameters["EndpointName"], "EndpointConfigName": endpoint_config(stack)}
    ]
    assert endpoint_config(stack) != previous
    assert describe_package(new["arn"])["ModelApprovalStatus"] == "Approved"
    (alert,) = machine.alerts.messages()
    assert "0.7 beats 0.5" in alert["message"]
    assert f"previous config: {previous}" in alert["message"]
    # AND no pipeline was started: the adopted run was the only one
    assert (
        len(
            boto3.client("sagemaker").list_pipeline_executions(PipelineName=stack.parameters["PipelineName"])[
                "PipelineExecutionSummaries"
            ]
        )
        == 1
    )


def test_worse_candidate_is_reported_and_left_pending(machine, stack):
    # GIVEN a model in service with test:f1 0.80 and a candidate at 0.60
    old = register_package(stack, OLD_RUN, objective=0.8)
    previous = serve(stack, old)
    execution = start_pipeline_execution(stack)
    candidate = register_package(stack, execution, objective=0.6)
    # WHEN the machine evaluates it
    run = machine.run({"pipelineExecutionArn": execution, "trigger": "training-upload"})
    # THEN nothing is deployed: same config, candidate still PendingManualApproval, lock released
    assert run["status"] == "SUCCEEDED"
    assert run["output"]["outcome"]["status"] == "rejected"
    assert endpoint_config(stack) == previous
    assert machine.extras.updates == []
    assert describe_package(candidate["arn"])["ModelApprovalStatus"] == "PendingManualApproval"
    (alert,) = machine.alerts.messages()
    assert alert["subject"].startswith("Retraining rejected")
    assert "0.6 does not beat 0.8" in alert["message"]
    assert previous in alert["message"]
    assert lock_item(stack) is None


def test_lock_held_by_another_run_skips_and_reports(machine, stack):
    # GIVEN another retraining holds the endpoint's lock
    hold_lock(stack, holder="monitor-earlier-run")
    # WHEN a second retraining starts
    run = machine.run(
        {"inputDataUri": f"s3://{stack.ref('DataBucket')}/training/a.csv", "trigger": "monitoring"}
    )
    # THEN it ends without starting a pipeline, says so, and leaves the other run's lock alone
    assert run["status"] == "SUCCEEDED"
    assert run["output"]["outcome"]["status"] == "skipped"
    assert (
        boto3.client("sagemaker").list_pipeline_executions(PipelineName=stack.parameters["PipelineName"])[
            "PipelineExecutionSummaries"
        ]
        == []
    )
    (alert,) = machine.alerts.messages()
    assert "already retraining" in alert["message"]
    assert lock_item(stack)["holder"]["S"] == "monitor-earlier-run"


def test_expired_lock_of_a_dead_run_is_taken_over(machine, stack):
    # GIVEN a lock whose run died long ago (expired, not yet swept by TTL)
    hold_lock(stack, holder="dead-run", expires_in=-60)
    execution = start_pipeline_execution(stack)
    register_package(stack, execution, objective=0.7)
    # WHEN a retraining starts THEN it proceeds and deploys
    run = machine.run({"pipelineExecutionArn": execution})
    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert run["output"]["outcome"]["status"] == "deployed"
    assert lock_item(stack) is None


@pytest.mark.parametrize(("expires_in", "taken_over"), [(0, False), (-1, True)])
def test_a_lock_holds_through_its_expiry_second_and_is_taken_over_the_second_after(
    machine, stack, monkeypatch, expires_in, taken_over
):
    # GIVEN a retraining whose Prepare step reads the clock at NOW, and a lock expiring at
    # NOW (held for this whole second, as DynamoDB's TTL counts it) or at NOW - 1 (expired)
    step = machine.lambdas.function("RetrainStepsFunction").module
    monkeypatch.setattr(step, "time", SimpleNamespace(time=lambda: NOW))
    hold_lock(stack, holder="earlier-run", expires_at=NOW + expires_in)
    # AND the monitoring side, which folds signals into the holder's run, reads the lock alike
    table, endpoint = stack.ref("IdempotencyTable"), stack.parameters["EndpointName"]
    holder = storms.retraining_holder(boto3.client("dynamodb"), table, endpoint, NOW)
    assert holder == (None if taken_over else "earlier-run")
    execution = start_pipeline_execution(stack)
    register_package(stack, execution, objective=0.7)
    # WHEN a retraining adopts a pipeline run
    run = machine.run({"pipelineExecutionArn": execution})
    # THEN it deploys only once the lock has expired; before that it skips and leaves the lock alone
    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert run["output"]["outcome"]["status"] == ("deployed" if taken_over else "skipped")
    assert (lock_item(stack) is None) == taken_over


def test_failed_pipeline_alerts_and_releases_the_lock(machine, stack):
    # GIVEN the pipeline execution failed (moto only knows Succeeded: status set in its backend)
    execution = start_pipeline_execution(stack)
    set_pipeline_execution_status(execution, "Failed", "AlgorithmError: no numeric column")
    # WHEN the machine runs
    run = machine.run({"pipelineExecutionArn": execution, "trigger": "training-upload"})
    # THEN the execution fails, subscribers get a warning naming the pipeline run, the lock is free
    assert run["status"] == "FAILED"
    assert run["error"] == "RetrainingFailed"
    (alert,) = machine.alerts.messages()
    assert alert["attributes"]["severity"] == "warning"
    assert "PipelineNotSucceeded" in alert["message"]
    assert execution in alert["message"]
    assert lock_item(stack) is None
    assert endpoint_config(stack) is None


def test_pipeline_still_running_after_the_bounded_polls_times_out(stack, pipeline):
    # GIVEN a pipeline execution that never finishes and a limit of 3 polls of 7 s
    with retraining(stack, overrides={"PIPELINE_MAX_POLLS": "3", "PIPELINE_POLL_SECONDS": "7"}) as machine:
        execution = start_pipeline_execution(stack)
        set_pipeline_execution_status(execution, "Executing")
        # WHEN the machine runs
        run = machine.run({"pipelineExecutionArn": execution})
        # THEN it waited exactly 3 times 7 s, then failed with a timeout alert and released the lock
        assert machine.waits.waits == [7, 7, 7]
        assert run["status"] == "FAILED"
        (alert,) = machine.alerts.messages()
        assert "PipelineTimeout" in alert["message"]
        assert lock_item(stack) is None


def test_pipeline_that_finishes_while_polled_is_evaluated(machine, stack):
    # GIVEN a pipeline execution still Executing, that succeeds during the machine's second wait
    execution = start_pipeline_execution(stack)
    set_pipeline_execution_status(execution, "Executing")
    register_package(stack, execution, objective=0.7)
    polls = []

    def progress(seconds):
        polls.append(seconds)
        if len(polls) == 2:
            set_pipeline_execution_status(execution, "Succeeded")

    # WHEN the machine runs, the waits letting the "pipeline" progress
    with fast_waits(on_wait=progress):
        run = machine.run({"pipelineExecutionArn": execution})
    # THEN it polled twice at the pipeline interval, then evaluated and deployed
    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert polls == [60, 60, 30]  # two pipeline polls, then one endpoint poll
    assert run["output"]["outcome"]["status"] == "deployed"


def test_endpoint_update_that_fails_alerts_that_the_previous_config_still_serves(stack, pipeline):
    # GIVEN a model in service and an update that SageMaker fails (injected in the UpdateEndpoint
    # added to moto, see the module docstring)
    with retraining(stack, update_outcome="Failed") as machine:
        old = register_package(stack, OLD_RUN, objective=0.5)
        previous = serve(stack, old)
        execution = start_pipeline_execution(stack)
        candidate = register_package(stack, execution, objective=0.9)
        # WHEN the machine deploys the better candidate
        run = machine.run({"pipelineExecutionArn": execution})
        # THEN the execution fails, the alert names the config still serving, and the lock is free
        assert run["status"] == "FAILED"
        (alert,) = machine.alerts.messages()
        assert alert["subject"].startswith("Retraining failed to deploy")
        assert f"previous endpoint config ({previous}) still serves" in alert["message"]
        assert "EndpointNotUpdated" in alert["message"]
        assert lock_item(stack) is None
        # AND the registry agrees with the endpoint: the candidate that does not serve is not approved
        assert describe_package(candidate["arn"])["ModelApprovalStatus"] == "PendingManualApproval"
        assert "stays PendingManualApproval" in alert["message"]


def test_update_rolled_back_by_sagemaker_is_a_failed_deployment(stack, pipeline):
    with retraining(stack, update_outcome="RolledBack") as machine:
        old = register_package(stack, OLD_RUN, objective=0.5)
        previous = serve(stack, old)
        execution = start_pipeline_execution(stack)
        register_package(stack, execution, objective=0.9)
        run = machine.run({"pipelineExecutionArn": execution})
        assert run["status"] == "FAILED"
        assert endpoint_config(stack) == previous
        assert "EndpointNotUpdated" in machine.alerts.messages()[0]["message"]


def test_no_registered_candidate_fails_with_the_reason(machine, stack):
    # GIVEN a succeeded pipeline run that registered nothing
    execution = start_pipeline_execution(stack)
    # WHEN / THEN the evaluate step's named error reaches the alert and the lock is released
    run = machine.run({"pipelineExecutionArn": execution})
    assert run["status"] == "FAILED"
    (alert,) = machine.alerts.messages()
    assert "CandidateNotFoundError" in alert["message"]
    assert lock_item(stack) is None


def test_input_naming_another_pipeline_is_refused_before_taking_the_lock(machine, stack):
    run = machine.run(
        {"pipelineExecutionArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/other/execution/abc"}
    )
    assert run["status"] == "FAILED"
    (alert,) = machine.alerts.messages()
    assert "does not belong to pipeline" in alert["message"]
    assert lock_item(stack) is None


def test_candidate_already_in_service_is_not_redeployed(machine, stack):
    # GIVEN the upload's candidate was deployed by an earlier delivery of the same event
    execution = start_pipeline_execution(stack)
    package = register_package(stack, execution, objective=0.7)
    serve(stack, package)
    # WHEN a duplicate event starts the machine again THEN it rejects, nothing changes
    run = machine.run({"pipelineExecutionArn": execution})
    assert run["output"]["outcome"]["status"] == "rejected"
    assert "already serves" in machine.alerts.messages()[0]["message"]


def test_execution_output_is_small_and_serialisable(machine, stack):
    execution = start_pipeline_execution(stack)
    register_package(stack, execution, objective=0.7)
    run = machine.run({"pipelineExecutionArn": execution})
    # describe_execution would fail on timestamps: ResultSelectors keep only fields needed
    assert set(run["output"]["endpoint"]) == {"status", "config"}
    assert len(json.dumps(run["output"])) < 8_000
