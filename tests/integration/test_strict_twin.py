"""The strict twin: inside ``local_world()`` every AWS call is refused where AWS would refuse it.

moto stores what it is sent; AWS validates each request against the service's model (botocore's
``service-2.json``). These tests call through real boto3 clients, the way handlers, the local
pipeline executor and moto's Step Functions engine do, and check the answer a caller observes.
"""

from __future__ import annotations

import json

import boto3
import botocore.client
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

from sentinel.stepfunctions import run_execution
from sentinel.world import local_world

ROLE = "arn:aws:iam::123456789012:role/sentinel-states"
GROUP = "strict-twin-group"
IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/randomcutforest:1"


def sagemaker(**config: bool) -> object:
    return boto3.client("sagemaker", config=Config(**config)) if config else boto3.client("sagemaker")


def refused(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = error.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], str(error.value)


def package(metadata: dict[str, str], approval: str = "PendingManualApproval") -> dict[str, object]:
    return {
        "ModelPackageGroupName": GROUP,
        "InferenceSpecification": {
            "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://b/models/run-1/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
        "ModelApprovalStatus": approval,
        "CustomerMetadataProperties": metadata,
    }


def test_a_valid_call_reaches_the_emulator(aws):
    # GIVEN / WHEN a request within every constraint
    client = sagemaker()
    client.create_model_package_group(ModelPackageGroupName=GROUP)
    client.create_model_package(**package({"training_data": "upload s3://b/training/data _1_.csv"}))
    # THEN moto holds what was sent
    (found,) = client.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    described = client.describe_model_package(ModelPackageName=found["ModelPackageArn"])
    assert described["CustomerMetadataProperties"]["training_data"] == "upload s3://b/training/data _1_.csv"


@pytest.mark.parametrize(
    "label",
    [
        # what describe_source wrote for a retraining run before: "(" and ")" are refused
        "production window 2026-11-03T23:00:00Z..2026-11-10T23:00:00Z (7 days) of s3://b/dataset/endpoint=e/",
        "upload s3://b/training/data (1).csv",
    ],
)
def test_model_package_metadata_outside_sagemakers_alphabet_is_refused(aws, label):
    client = sagemaker()
    client.create_model_package_group(ModelPackageGroupName=GROUP)
    with pytest.raises(ClientError) as error:
        client.create_model_package(**package({"training_data": label}))
    code, status, message = refused(error)
    assert (code, status) == ("ValidationException", 400)
    assert "at 'customerMetadataProperties.training_data'" in message
    assert "regular expression pattern: ([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)${1,256}" in message
    assert client.list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"] == []


@pytest.mark.parametrize(
    ("call", "constraint"),
    [
        # pattern: SageMaker names are letters, digits and single hyphens (no "_")
        (lambda c: c.create_model_package_group(ModelPackageGroupName="strict_twin"), "regular expression"),
        # max length: 63 characters
        (
            lambda c: c.create_model_package_group(ModelPackageGroupName="a" * 64),
            "length less than or equal to 63",
        ),
        # max value: MaxResults 1-100
        (lambda c: c.list_model_packages(MaxResults=101), "value less than or equal to 100"),
        # enum
        (lambda c: c.create_model_package(**package({"k": "v"}, approval="Approve")), "enum value set"),
    ],
    ids=["pattern", "max-length", "max-value", "enum"],
)
def test_each_constraint_the_service_checks_is_refused_with_a_validation_exception(aws, call, constraint):
    client = sagemaker()
    client.create_model_package_group(ModelPackageGroupName=GROUP)
    with pytest.raises(ClientError) as error:
        call(client)
    code, status, message = refused(error)
    assert (code, status) == ("ValidationException", 400)
    assert constraint in message


def test_what_boto3_checks_itself_is_still_boto3s_error(aws):
    # A missing member, a wrong type or a too-short value never leaves the SDK: ParamValidationError,
    # exactly as against AWS (botocore's client-side checks run first).
    with pytest.raises(ParamValidationError, match="Missing required parameter"):
        sagemaker().create_model_package_group()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "Value null at 'modelPackageGroupName' failed to satisfy constraint: Member must not be null"),
        ({"ModelPackageGroupName": 7}, "Member must be of type string"),
        ({"ModelPackageGroupName": ""}, "Member must have length greater than or equal to 1"),
        ({"ModelPackageGroupName": GROUP, "GroupName": "x"}, "Member is not in the"),
    ],
    ids=["required", "type", "min-length", "unknown-member"],
)
def test_a_client_without_sdk_checks_gets_the_services_answer_for_everything(aws, params, expected):
    # GIVEN a client built as moto's Step Functions engine builds its clients (no client-side checks)
    client = sagemaker(parameter_validation=False)
    # WHEN it sends what the SDK would have stopped THEN the service refuses it
    with pytest.raises(ClientError) as error:
        client.create_model_package_group(**params)
    code, _, message = refused(error)
    assert code == "ValidationException"
    assert expected in message


def test_a_step_functions_sdk_task_with_an_invalid_value_fails_as_on_aws(world):
    # GIVEN a state machine whose aws-sdk task sends a name SageMaker refuses, with a Catch
    sfn = boto3.client("stepfunctions")
    definition = {
        "StartAt": "CreateGroup",
        "States": {
            "CreateGroup": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sagemaker:createModelPackageGroup",
                "Parameters": {"ModelPackageGroupName.$": "$.group"},
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Refused", "ResultPath": "$.error"}],
                "End": True,
            },
            "Refused": {"Type": "Pass", "End": True},
        },
    }
    arn = sfn.create_state_machine(name="strict", definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]
    # WHEN it runs with an invalid and then with a valid name
    refused_run = run_execution(sfn, arn, "invalid-name", {"group": "strict_twin"})
    accepted_run = run_execution(sfn, arn, "valid-name", {"group": GROUP})
    # THEN the task failed with the service's validation error (caught), and nothing was created
    error = refused_run["output"]["error"]
    assert error["Error"].endswith("Exception")
    assert "failed to satisfy constraint: Member must satisfy regular expression pattern" in error["Cause"]
    assert "error" not in accepted_run["output"]
    groups = boto3.client("sagemaker").list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in groups] == [GROUP]


def test_a_pipeline_definition_with_an_invalid_fixed_value_is_refused(aws):
    # GIVEN a definition whose RegisterModel step writes a fixed metadata value SageMaker refuses
    definition = {
        "Version": "2020-12-01",
        "Parameters": [{"Name": "InputDataUri", "Type": "String", "DefaultValue": "s3://b/x.csv"}],
        "Steps": [
            {
                "Name": "Register",
                "Type": "RegisterModel",
                "Arguments": {
                    "ModelPackageGroupName": GROUP,
                    "CustomerMetadataProperties": {
                        "source": "window (7 days)",
                        "execution": {"Get": "Execution.PipelineExecutionArn"},  # run time: not checked
                    },
                },
            }
        ],
    }
    # WHEN it is created THEN SageMaker's answer names the step and the value
    with pytest.raises(ClientError) as error:
        sagemaker().create_pipeline(
            PipelineName="strict", PipelineDefinition=json.dumps(definition), RoleArn=ROLE
        )
    code, _, message = refused(error)
    assert code == "ValidationException"
    assert "'window (7 days)' at 'steps.Register.arguments.customerMetadataProperties.source'" in message
    assert "execution" not in message


def test_clients_made_before_the_world_are_checked_too_and_nothing_stays_patched():
    # GIVEN a client created at import time, before the twin exists (as handlers' module clients)
    original = botocore.client.BaseClient._convert_to_request_dict
    client = boto3.client("sagemaker", region_name="us-east-1")
    # WHEN the world is entered THEN that client is checked as well
    with local_world(deploy=False), pytest.raises(ClientError, match="regular expression pattern"):
        client.create_model_package_group(ModelPackageGroupName="strict_twin")
    # AND once the world ends botocore is as it was
    assert botocore.client.BaseClient._convert_to_request_dict is original
