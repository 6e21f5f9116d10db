"""A SageMaker pipeline run on moto as PipelineRunsFunction reads it: jobs, steps and status events."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from sentinel.moto_patches import backend, record_pipeline_steps
from tests.support import ensure_pipeline, load_event

ROLE = "arn:aws:iam::123456789012:role/sentinel-pipeline"
T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


def start_execution(stack) -> str:
    name = ensure_pipeline(stack)
    started = boto3.client("sagemaker").start_pipeline_execution(
        PipelineName=name, PipelineExecutionDisplayName="upload-nyc-taxi-1"
    )
    return str(started["PipelineExecutionArn"])


def training_job(name: str, instance_type: str, billable: int) -> str:
    arn = boto3.client("sagemaker").create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={
            "TrainingImage": "382416733822.dkr.ecr.us-east-1.amazonaws.com/randomcutforest:1",
            "TrainingInputMode": "File",
        },
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": "s3://bucket/models/"},
        ResourceConfig={"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )["TrainingJobArn"]
    backend().training_jobs[name].billable_time_in_seconds = billable  # moto reports none
    return str(arn)


def processing_job(name: str, instance_type: str, seconds: int) -> str:
    arn = boto3.client("sagemaker").create_processing_job(
        ProcessingJobName=name,
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": instance_type, "VolumeSizeInGB": 20}
        },
        AppSpecification={
            "ImageUri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1"
        },
        RoleArn=ROLE,
    )["ProcessingJobArn"]
    job = backend().processing_jobs[name]
    # moto drops ProcessingResources and sets no start time: give the job what SageMaker reports
    vars(job).update(
        processing_resources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": instance_type, "VolumeSizeInGB": 20}
        },
        processing_start_time=T0,
        processing_end_time=T0 + timedelta(seconds=seconds),
    )
    return str(arn)


def step(name: str, status: str, start: int, end: int, metadata: dict[str, Any], reason: str | None = None):
    item: dict[str, Any] = {
        "StepName": name,
        "StepStatus": status,
        "StartTime": T0 + timedelta(seconds=start),
        "EndTime": T0 + timedelta(seconds=end),
        "Metadata": metadata,
        "AttemptCount": 1,
    }
    if reason:
        item["FailureReason"] = reason
    return item


def status_event(execution_arn: str, status: str, seconds: int = 400) -> dict[str, Any]:
    """The real fixture, pointed at our execution."""
    event = copy.deepcopy(load_event("SageMakerModelBuildingPipelineExecutionStatusChange"))
    pipeline_arn = execution_arn.split("/execution/", 1)[0]
    event["resources"] = [pipeline_arn, execution_arn]
    event["detail"].update(
        pipelineArn=pipeline_arn,
        pipelineExecutionArn=execution_arn,
        currentPipelineExecutionStatus=status,
        executionStartTime=T0.strftime("%Y-%m-%dT%H:%M:%SZ"),
        executionEndTime=(T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    if status == "Executing":
        del event["detail"]["executionEndTime"]
    return event


def failed_run(stack, extras) -> str:
    """Preprocess (processing, 120 s on ml.m5.xlarge) then Tune (two training jobs) failed."""
    execution = start_execution(stack)
    preprocess = processing_job("pipelines-x1-Preprocess-Pytho-a1", "ml.m5.xlarge", 120)
    training_job("pipelines-x1-tune-001-aaaa", "ml.m5.large", 300)
    training_job("pipelines-x1-tune-002-bbbb", "ml.m5.large", 360)
    training_job("unrelated-job", "ml.m5.large", 9999)
    tuning = "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/pipelines-x1-tune"
    record_pipeline_steps(  # in the order they ran; SageMaker lists the newest first
        execution,
        [
            step("Preprocess-Python-Labelled", "Succeeded", 0, 125, {"ProcessingJob": {"Arn": preprocess}}),
            step(
                "Tune-Python-Labelled",
                "Failed",
                130,
                400,
                {"TuningJob": {"Arn": tuning}},
                reason="ClientError: No training job succeeded after 5 attempts",
            ),
        ],
    )
    backend_execution(execution).pipeline_execution_status = "Failed"
    return execution


def backend_execution(arn: str) -> Any:
    for pipeline in backend().pipelines.values():
        if arn in pipeline.pipeline_executions:
            return pipeline.pipeline_executions[arn]
    raise KeyError(arn)
