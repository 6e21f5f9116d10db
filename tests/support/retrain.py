"""Shared helpers of the monitoring and retraining tests: moto state built from template.yaml names."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from anomaly_sentinel.contracts import LOCK_PREFIX, METADATA_EXECUTION, METADATA_SCORE_STATS, SCORE_STATS_FILE
from pipeline.build import DEFINITION_PATH
from pipeline.publisher.app import render
from sentinel.emulator import ACCOUNT, REGION
from sentinel.moto_patches import (
    SageMakerExtras,
    UpdateOutcome,
    active_extras,
    record_pipeline_steps,
    registered_step,
)
from sentinel.stepfunctions import TemplateLambdas, Waits, fast_waits, run_execution, template_lambdas
from sentinel.template import Template
from tests.support import load_event

RCF_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/randomcutforest:1"
ROLE = "arn:aws:iam::123456789012:role/sentinel-sagemaker"


def sagemaker() -> Any:
    return boto3.client("sagemaker")


def create_pipeline(stack: Template) -> str:
    """The pipeline the template names, with the committed definition rendered as the publisher
    renders it: a run started with no parameters gets exactly the defaults users deploy."""
    name = stack.parameters["PipelineName"]
    definition = render(
        DEFINITION_PATH.read_text(encoding="utf-8"),
        {
            "DataBucket": stack.ref("DataBucket"),
            "SageMakerExecutionRoleArn": ROLE,
            "ModelPackageGroupName": stack.parameters["ModelPackageGroupName"],
            "EndpointName": stack.parameters["EndpointName"],
            "CodeDigest": "0" * 16,
            "RcfImage": RCF_IMAGE,
            "ProcessingImage": "sklearn-image",
            "SparkImage": "spark-image",
            "LogsModelPackageGroupName": stack.parameters["LogsModelPackageGroupName"],
            "LogsEndpointName": stack.parameters["LogsEndpointName"],
        },
    )
    try:
        sagemaker().create_pipeline(PipelineName=name, PipelineDefinition=definition, RoleArn=ROLE)
    except sagemaker().exceptions.ClientError as error:
        if "already exists" not in str(error):  # the emulator may deploy the pipeline itself
            raise
    return name


def start_pipeline_execution(stack: Template, display_name: str = "upload-nyc-taxi-1a2b3c4d") -> str:
    response = sagemaker().start_pipeline_execution(
        PipelineName=stack.parameters["PipelineName"], PipelineExecutionDisplayName=display_name
    )
    return str(response["PipelineExecutionArn"])


def ensure_group(stack: Template) -> str:
    group = stack.parameters["ModelPackageGroupName"]
    try:
        sagemaker().create_model_package_group(ModelPackageGroupName=group)
    except sagemaker().exceptions.ClientError as error:
        if "already exists" not in str(error):
            raise
    return group


def register_package(
    stack: Template,
    execution_arn: str,
    *,
    objective: float | None = None,
    stats: Mapping[str, float] | None = None,
    approval: str = "PendingManualApproval",
) -> dict[str, str]:
    """What the pipeline registers (the metadata contract), with its score statistics in S3."""
    group = ensure_group(stack)
    bucket = stack.ref("DataBucket")
    token = uuid.uuid4().hex[:12]
    model_data_url = f"s3://{bucket}/models/{token}/model.tar.gz"
    metadata = {METADATA_EXECUTION: execution_arn}
    if stats is not None:
        key = f"models/{token}/{SCORE_STATS_FILE}"
        document = {"count": 1000, "min": 0.0, "max": 10.0, **stats}  # the rest of score_stats.json
        boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode())
        metadata[METADATA_SCORE_STATS] = f"s3://{bucket}/{key}"
    if objective is not None:
        metadata.update(objective_metric="test:f1", objective_value=str(objective))
    arn = sagemaker().create_model_package(
        ModelPackageGroupName=group,
        ModelPackageDescription=f"RCF candidate {token}",
        InferenceSpecification={
            "Containers": [{"Image": RCF_IMAGE, "ModelDataUrl": model_data_url}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        ModelApprovalStatus=approval,
        CustomerMetadataProperties=metadata,
    )["ModelPackageArn"]
    record_pipeline_steps(execution_arn, [registered_step(str(arn))])  # as the pipeline's Register step
    return {"arn": str(arn), "model_data_url": model_data_url}


def serve(stack: Template, package: Mapping[str, str], tag: str = "seed") -> str:
    """Put a package's model in service on the template's endpoint (as an earlier deployment did)."""
    endpoint = stack.parameters["EndpointName"]
    return serve_as(endpoint, f"{endpoint}-m-{tag}", f"{endpoint}-c-{tag}", package["model_data_url"])


def serve_as(endpoint: str, model: str, config: str, model_data_url: str | None) -> str:
    """An endpoint serving ``model_data_url`` through a model and a config of the given names
    (another deployment's, or ones made by hand); ``None``: a model without model data."""
    client = sagemaker()
    container = {"Image": RCF_IMAGE, **({"ModelDataUrl": model_data_url} if model_data_url else {})}
    client.create_model(ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer=container)
    client.create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5},
            }
        ],
    )
    client.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
    return config


def endpoint_config(stack: Template) -> str | None:
    try:
        return str(
            sagemaker().describe_endpoint(EndpointName=stack.parameters["EndpointName"])["EndpointConfigName"]
        )
    except sagemaker().exceptions.ClientError:
        return None


def lock_item(stack: Template) -> dict[str, Any] | None:
    key = {"id": {"S": f"{LOCK_PREFIX}{stack.parameters['EndpointName']}"}}
    item: dict[str, Any] | None = (
        boto3.client("dynamodb").get_item(TableName=stack.ref("IdempotencyTable"), Key=key).get("Item")
    )
    return item


def hold_lock(stack: Template, holder: str, expires_in: int = 3600, expires_at: int | None = None) -> None:
    """The endpoint's lock held by ``holder`` until ``expires_at`` (default: ``expires_in`` from now)."""
    import time

    boto3.client("dynamodb").put_item(
        TableName=stack.ref("IdempotencyTable"),
        Item={
            "id": {"S": f"{LOCK_PREFIX}{stack.parameters['EndpointName']}"},
            "holder": {"S": holder},
            "expiration": {"N": str(expires_at if expires_at is not None else int(time.time()) + expires_in)},
        },
    )


class AlertsInbox:
    """An SQS queue subscribed to the alerts topic: what subscribers receive, attributes included."""

    def __init__(self, stack: Template, kinds: Sequence[str] | None = None) -> None:
        sqs = boto3.client("sqs")
        self.url = sqs.create_queue(QueueName=f"alerts-inbox-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]
        # A filter policy on ``kind``, as subscribers use them (and a test of the attribute itself).
        policy = {"FilterPolicy": json.dumps({"kind": list(kinds)})} if kinds else {}
        boto3.client("sns").subscribe(
            TopicArn=stack.ref("AlertsTopic"),
            Protocol="sqs",
            Endpoint=attributes["QueueArn"],
            Attributes=policy,
        )

    def messages(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        found: list[dict[str, Any]] = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return found
            for message in batch:
                body = json.loads(message["Body"])
                found.append(
                    {
                        "subject": body.get("Subject"),
                        "message": body["Message"],
                        "attributes": {k: v["Value"] for k, v in body.get("MessageAttributes", {}).items()},
                    }
                )
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"])


@dataclass
class Machine:
    """The template's retraining state machine on moto, with its real Lambda and fast waits."""

    stack: Template
    extras: SageMakerExtras
    lambdas: TemplateLambdas
    waits: Waits
    alerts: AlertsInbox

    @property
    def arn(self) -> str:
        return self.stack.ref("RetrainStateMachine")

    def run(self, payload: dict[str, Any], name: str | None = None) -> dict[str, Any]:
        return run_execution(
            boto3.client("stepfunctions"), self.arn, name or f"test-{uuid.uuid4().hex[:12]}", payload
        )


@contextmanager
def retraining(
    stack: Template,
    update_outcome: UpdateOutcome = "InService",
    overrides: Mapping[str, str] | None = None,
) -> Iterator[Machine]:
    """The world's machine (UpdateEndpoint added, waits skipped, lambda:invoke → real handler),
    with an injected rollout outcome and RetrainStepsFunction overrides for this block."""
    extras = active_extras()
    extras.update_outcome = update_outcome
    try:
        with (
            template_lambdas(stack, {"RetrainStepsFunction": dict(overrides or {})}) as lambdas,
            fast_waits() as waits,
        ):
            yield Machine(stack, extras, lambdas, waits, AlertsInbox(stack))
    finally:
        extras.update_outcome = "InService"


# ---------------------------------------------------------------------------- monitoring events


def monitoring_event(job_arn: str, status: str = "Completed") -> dict[str, Any]:
    """The real "SageMaker Processing Job State Change" sample (AWS docs) adapted to one job."""
    event = copy.deepcopy(load_event("SageMakerProcessingJobStateChange"))
    name = job_arn.rsplit("/", 1)[-1]
    event.update(
        account=ACCOUNT, region=REGION, resources=[job_arn], id=str(uuid.uuid5(uuid.NAMESPACE_URL, job_arn))
    )
    detail = event["detail"]
    detail.update(ProcessingJobName=name, ProcessingJobArn=job_arn, ProcessingJobStatus=status)
    if status != "Failed":
        detail.pop("FailureReason", None)
    return event


def drift_alarm_event(
    alarm_name: str,
    *,
    endpoint: str,
    schedule: str = "anomaly-sentinel-data-quality",
    feature: str = "value",
    value: float = 0.34,
    threshold: float = 0.1,
    state: str = "ALARM",
) -> dict[str, Any]:
    """The real single-metric "CloudWatch Alarm State Change" sample, adapted to a drift alarm on
    Model Monitor's ``feature_baseline_drift_<feature>`` metric (namespace and dimensions as AWS names them).
    """
    event = copy.deepcopy(load_event("CloudWatchAlarmStateChange"))
    arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{alarm_name}"
    event.update(account=ACCOUNT, region=REGION, resources=[arn])
    detail = event["detail"]
    detail["alarmName"] = alarm_name
    metric = detail["configuration"]["metrics"][0]["metricStat"]["metric"]
    metric.update(
        name=f"feature_baseline_drift_{feature}",
        namespace="aws/sagemaker/Endpoints/data-metrics",
        dimensions={"Endpoint": endpoint, "MonitoringSchedule": schedule},
    )
    reason_data = json.loads(detail["state"]["reasonData"])
    reason_data.update(recentDatapoints=[value], threshold=threshold)
    detail["state"].update(
        value=state,
        reasonData=json.dumps(reason_data),
        reason=(
            f"Threshold Crossed: 1 out of the last 1 datapoints [{value}] was greater than the "
            f"threshold ({threshold})."
        ),
    )
    return event


def wait_for_all_executions(stack: Template, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Every execution of the retraining machine, each waited for (they must end inside the mock)."""
    from sentinel.stepfunctions import wait_for_execution

    sfn = boto3.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=stack.ref("RetrainStateMachine"))["executions"]
    return [wait_for_execution(sfn, e["executionArn"], timeout=timeout) for e in listed]


def pipeline_event(
    pipeline: str,
    *,
    display_name: str = "upload-nyc-taxi-1a2b3c4d",
    status: str = "Succeeded",
    execution_arn: str | None = None,
) -> dict[str, Any]:
    """The real pipeline status-change sample (AWS docs), adapted to one of our pipeline's runs."""
    event = copy.deepcopy(load_event("SageMakerModelBuildingPipelineExecutionStatusChange"))
    arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{pipeline}"
    execution = execution_arn or f"{arn}/execution/p4jn9xou8a8s"
    event["resources"] = [arn, execution]
    event["detail"].update(
        pipelineArn=arn,
        pipelineExecutionArn=execution,
        pipelineExecutionDisplayName=display_name,
        currentPipelineExecutionStatus=status,
    )
    return event
