"""A log upload's pipeline run, adopted by the retraining state machine (statemachine/retrain.asl.json).

The TrainedLogModel rule (template.yaml) starts the machine with ``kind: logs`` for succeeded
``logs-`` runs. The pipeline's Evaluate-Logs step has judged the candidate already (its verdict is
in the model directory's ``evaluation.json``): an RCF model it judged better was registered
PendingManualApproval and the machine deploys it to LogsEndpointName, then approves it; a PCA model
needs no endpoint. The real ASL runs on moto's Step Functions engine with the real
RetrainStepsFunction handler (UpdateEndpoint added to moto by sentinel.moto_patches).
"""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from moto.events.models import EventPattern

from anomaly_sentinel.contracts import LOCK_PREFIX, METADATA_EXECUTION, METADATA_LOG_MODEL
from anomaly_sentinel.retraining import RetrainRequest
from sentinel.emulator import nominal
from sentinel.moto_patches import record_pipeline_steps, registered_step
from sentinel.stepfunctions import apply_input_transformer
from sentinel.template import Template, load_template
from tests.support.retrain import (
    RCF_IMAGE,
    create_pipeline,
    pipeline_event,
    register_package,
    retraining,
    serve_as,
    start_pipeline_execution,
)

DOCUMENT = load_template()
TEMPLATE = Template(
    DOCUMENT, physical={lid: nominal(lid, r["Type"], {}) for lid, r in DOCUMENT["Resources"].items()}
)
RULE = "RetrainStateMachineTrainedLogModel"


def rule_pattern(rule_id: str) -> EventPattern:
    return EventPattern.load(json.dumps(TEMPLATE.rule(rule_id).pattern))


# ---------------------------------------------------------------------------- the rule


def test_a_succeeded_log_run_starts_the_machine_with_kind_logs_and_an_upload_run_does_not():
    pipeline = TEMPLATE.parameters["PipelineName"]
    logs_run = pipeline_event(pipeline, display_name="logs-hdfs-2008-11-09-00e07871")
    upload_run = pipeline_event(pipeline)
    assert TEMPLATE.rule(RULE).target == "RetrainStateMachine"
    assert rule_pattern(RULE).matches_event(logs_run)
    assert not rule_pattern(RULE).matches_event(upload_run)
    assert not rule_pattern(RULE).matches_event(
        pipeline_event(pipeline, display_name="logs-x", status="Failed")
    )
    # one run, one rule: the numeric rule leaves log runs alone
    assert not rule_pattern("RetrainStateMachineTrainedFromUpload").matches_event(logs_run)
    props = TEMPLATE.resource("RetrainStateMachine")["Properties"]["Events"]["TrainedLogModel"]["Properties"]
    payload = json.loads(apply_input_transformer(TEMPLATE.resolve(props["InputTransformer"]), logs_run))
    request = RetrainRequest.model_validate(payload)
    assert (request.kind, request.pipeline_execution_arn) == (
        "logs",
        logs_run["detail"]["pipelineExecutionArn"],
    )


# ---------------------------------------------------------------------------- the machine


@pytest.fixture
def machine(stack):
    create_pipeline(stack)
    with retraining(stack) as machine:
        yield machine


def register_log_model(stack, execution, *, detector, verdict, approval):
    """What Register-Logs registers (pipeline/log_route.py), with the directory's evaluation.json."""
    group = stack.parameters["LogsModelPackageGroupName"]
    sagemaker = boto3.client("sagemaker")
    try:
        sagemaker.create_model_package_group(ModelPackageGroupName=group)
    except sagemaker.exceptions.ClientError as error:
        if "already exists" not in str(error):
            raise
    bucket, token = stack.ref("DataBucket"), uuid.uuid4().hex[:12]
    directory = f"s3://{bucket}/pipeline/runs/{token}/Logs/model/"
    evaluation = {
        "detector": detector,
        "approval": approval,
        "verdict": verdict,
        "reason": f"judged {verdict}",
        "detectors": {"rcf": {"f1": 0.8, "precision": 0.9, "recall": 0.7}},
    }
    boto3.client("s3").put_object(
        Bucket=bucket, Key=f"pipeline/runs/{token}/Logs/model/evaluation.json", Body=json.dumps(evaluation)
    )
    artefact = directory + ("model.tar.gz" if detector == "rcf" else "pca.json")
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification={
            "Containers": [{"Image": RCF_IMAGE, "ModelDataUrl": artefact}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelApprovalStatus=approval,
        CustomerMetadataProperties={
            METADATA_EXECUTION: execution,
            METADATA_LOG_MODEL: directory,
            "detector": detector,
        },
    )["ModelPackageArn"]
    record_pipeline_steps(execution, [registered_step(str(arn), "Register-Logs")])
    return str(arn), artefact


def approval(arn):
    return boto3.client("sagemaker").describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]


def served_url(endpoint):
    sagemaker = boto3.client("sagemaker")
    config = sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    model = sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0][
        "ModelName"
    ]
    return sagemaker.describe_model(ModelName=model)["PrimaryContainer"]["ModelDataUrl"]


def no_endpoint(endpoint):
    sagemaker = boto3.client("sagemaker")
    with pytest.raises(sagemaker.exceptions.ClientError):
        sagemaker.describe_endpoint(EndpointName=endpoint)
    return True


def adopt(machine, execution):
    return machine.run({"pipelineExecutionArn": execution, "kind": "logs", "trigger": "log-training-upload"})


def test_an_rcf_log_model_judged_better_is_deployed_to_the_log_endpoint_then_approved(machine, stack):
    # GIVEN a log run whose RCF model the pipeline judged better, registered pending (not served yet)
    logs_endpoint = stack.parameters["LogsEndpointName"]
    execution = start_pipeline_execution(stack, "logs-hdfs-1a2b3c4d")
    arn, artefact = register_log_model(
        stack, execution, detector="rcf", verdict="Approved", approval="PendingManualApproval"
    )
    # WHEN the machine adopts the run as a log run
    run = adopt(machine, execution)
    # THEN the log endpoint serves the model, and only then is the package approved
    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert run["output"]["outcome"]["status"] == "deployed"
    assert served_url(logs_endpoint) == artefact
    assert approval(arn) == "Approved"
    config = boto3.client("sagemaker").describe_endpoint_config(
        EndpointConfigName=run["output"]["request"]["deployment"]["endpointConfigName"]
    )
    assert config["EndpointConfigName"].startswith(f"{logs_endpoint}-c-")
    assert config["ProductionVariants"][0]["ServerlessConfig"]["MaxConcurrency"] == int(
        stack.parameters["ServerlessMaxConcurrency"]
    )
    # AND the numeric endpoint was not touched; subscribers hear it about the log endpoint
    assert no_endpoint(stack.parameters["EndpointName"])
    (alert,) = machine.alerts.messages()
    assert alert["subject"] == f"Retraining deployed: {logs_endpoint}"
    assert alert["attributes"]["endpoint"] == logs_endpoint
    assert "RCF log model" in alert["message"]
    # AND the lock taken was the log endpoint's, and it is released
    key = {"id": {"S": f"{LOCK_PREFIX}{logs_endpoint}"}}
    table = stack.ref("IdempotencyTable")
    assert run["output"]["request"]["lock"]["id"] == key["id"]["S"]
    assert "Item" not in boto3.client("dynamodb").get_item(TableName=table, Key=key)


def test_a_better_rcf_log_model_replaces_the_one_the_log_endpoint_serves(machine, stack):
    # GIVEN the log endpoint serving an earlier RCF log model
    logs_endpoint = stack.parameters["LogsEndpointName"]
    old = serve_as(
        logs_endpoint, f"{logs_endpoint}-m-old", f"{logs_endpoint}-c-old", "s3://b/old/model.tar.gz"
    )
    execution = start_pipeline_execution(stack, "logs-hdfs-2b3c4d5e")
    _, artefact = register_log_model(
        stack, execution, detector="rcf", verdict="Approved", approval="PendingManualApproval"
    )
    # WHEN the machine adopts the newer run
    run = adopt(machine, execution)
    # THEN the endpoint was updated in place to the new model
    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert machine.extras.updates[-1]["EndpointName"] == logs_endpoint
    assert served_url(logs_endpoint) == artefact
    assert f"previous config: {old}" in machine.alerts.messages()[0]["message"]


def test_a_pca_log_model_needs_no_endpoint_and_is_reported_in_service(machine, stack):
    # GIVEN a log run whose PCA model the pipeline approved (scored inside ScoreLogsFunction)
    execution = start_pipeline_execution(stack, "logs-hdfs-3c4d5e6f")
    arn, _ = register_log_model(stack, execution, detector="pca", verdict="Approved", approval="Approved")
    # WHEN the machine adopts it
    run = adopt(machine, execution)
    # THEN nothing was deployed anywhere, and subscribers hear that the model is in service
    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert run["output"]["outcome"]["status"] == "in-service"
    assert no_endpoint(stack.parameters["LogsEndpointName"])
    assert machine.extras.updates == []
    (alert,) = machine.alerts.messages()
    assert alert["subject"] == f"Log model in service: {stack.parameters['LogsEndpointName']}"
    assert arn in alert["message"]
    assert "scored inside ScoreLogsFunction" in alert["message"]


def test_an_rcf_log_model_the_pipeline_did_not_approve_stays_pending(machine, stack):
    pending = "PendingManualApproval"
    execution = start_pipeline_execution(stack, "logs-hdfs-4d5e6f70")
    arn, _ = register_log_model(stack, execution, detector="rcf", verdict=pending, approval=pending)
    run = adopt(machine, execution)
    assert run["status"] == "SUCCEEDED", run.get("cause")
    assert run["output"]["outcome"]["status"] == "rejected"
    assert no_endpoint(stack.parameters["LogsEndpointName"])
    assert approval(arn) == "PendingManualApproval"


def test_a_log_run_adopted_as_numeric_is_refused_never_served_on_the_numeric_endpoint(machine, stack):
    # GIVEN a log run, adopted without kind (as a numeric run would be)
    execution = start_pipeline_execution(stack, "logs-hdfs-5e6f7081")
    register_log_model(stack, execution, detector="rcf", verdict="Approved", approval="PendingManualApproval")
    run = machine.run({"pipelineExecutionArn": execution, "trigger": "manual"})
    # THEN the machine fails with the reason, and no endpoint serves the log model
    assert run["status"] == "FAILED"
    assert no_endpoint(stack.parameters["EndpointName"])
    (alert,) = machine.alerts.messages()
    assert "not in the model package group" in alert["message"]


def test_a_numeric_run_adopted_as_a_log_run_is_refused(machine, stack):
    execution = start_pipeline_execution(stack)
    register_package(stack, execution, objective=0.7)
    run = adopt(machine, execution)
    assert run["status"] == "FAILED"
    assert no_endpoint(stack.parameters["LogsEndpointName"])
    assert "log model package group" in machine.alerts.messages()[0]["message"]


def test_kind_logs_cannot_start_a_pipeline(machine, stack):
    run = machine.run({"inputDataUri": f"s3://{stack.ref('DataBucket')}/logs/training/h.log", "kind": "logs"})
    assert run["status"] == "FAILED"
    assert "adopts a log route run" in machine.alerts.messages()[0]["message"]
