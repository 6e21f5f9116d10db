"""One test per moto patch: each fails when its patch stops having its effect (or moto changes).

The patches live in ``sentinel.moto_patches``; these tests call moto through boto3 exactly as the
handlers and the state machine do, so an upgrade of moto that breaks a patch fails here first.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import boto3
import botocore.session
import moto
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import table as moto_table
from moto.kms.models import kms_backends
from moto.sagemaker.models import SageMakerModelBackend
from moto.sagemaker.responses import SageMakerResponse
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

from sentinel.emulator import ACCOUNT, REGION
from sentinel.moto_patches import (
    MotoPatchError,
    instant_waits,
    lambda_invoke,
    record_pipeline_steps,
    registered_step,
    sagemaker_extras,
    shared_parsing,
    start_as_executing,
)
from tests.support.retrain import (
    ROLE,
    create_pipeline,
    register_package,
    serve,
    start_pipeline_execution,
)


def sagemaker():
    return boto3.client("sagemaker")


# ---------------------------------------------------------------------------- the guard


def test_a_patch_whose_moto_target_changed_signature_refuses_to_start_naming_motos_version(monkeypatch):
    # GIVEN a moto whose lambda invoke takes other parameters than the patch replaces
    from moto.awslambda_simple.models import LambdaSimpleBackend

    monkeypatch.setattr(LambdaSimpleBackend, "invoke", lambda self, function_name, payload: b"")
    # WHEN the patch is entered THEN it refuses, naming moto's version, what changed and what it expects
    with (
        pytest.raises(MotoPatchError, match=rf"moto {moto.__version__} changed LambdaSimpleBackend\.invoke"),
        lambda_invoke(lambda name, body, headers: b"{}"),
    ):
        pass


def test_a_patch_whose_moto_target_is_gone_refuses_to_start(monkeypatch):
    # GIVEN a moto without the KMS key generator the speed patches replace
    monkeypatch.delattr(moto.kms.models, "generate_private_key")
    # WHEN the patches are entered THEN they refuse, naming what is gone
    with pytest.raises(MotoPatchError, match=r"has no .*generate_private_key any more"), shared_parsing():
        pass


def test_one_changed_target_applies_none_of_the_sagemaker_patches(monkeypatch):
    # GIVEN a moto whose UpdateModelPackage (the last SageMaker patch) takes other parameters
    monkeypatch.setattr(SageMakerModelBackend, "update_model_package", lambda self, arn: None)
    # WHEN the SageMaker patches are entered THEN they refuse
    with (
        pytest.raises(MotoPatchError, match=r"changed SageMakerModelBackend\.update_model_package"),
        sagemaker_extras(),
    ):
        pass
    # AND moto was left as it was: none of the APIs the other patches add is there
    assert not hasattr(SageMakerResponse, "update_endpoint")
    assert not hasattr(SageMakerModelBackend, "update_endpoint")


def test_an_api_moto_now_implements_refuses_the_patch_that_adds_it(monkeypatch):
    # GIVEN a moto that answers UpdateEndpoint itself
    monkeypatch.setattr(SageMakerResponse, "update_endpoint", lambda self: None, raising=False)
    # WHEN the SageMaker patches are entered THEN they refuse, saying the patch can go
    with (
        pytest.raises(MotoPatchError, match=r"now implements SageMakerResponse\.update_endpoint: drop"),
        sagemaker_extras(),
    ):
        pass


def test_the_sagemaker_patches_cannot_be_applied_twice(world):
    # GIVEN the world's patches active WHEN applied again THEN the guard refuses (moto "has" them)
    with pytest.raises(MotoPatchError, match="now implements"), sagemaker_extras():
        pass


# ---------------------------------------------------------------------------- SageMaker


def test_update_endpoint_puts_the_new_config_in_service(world, stack):
    # GIVEN an endpoint serving a first model, and a second endpoint config
    first = register_package(stack, "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/a")
    old_config = serve(stack, first, tag="old")
    new_config = serve_config(stack, "new")
    endpoint = stack.parameters["EndpointName"]
    # WHEN UpdateEndpoint is called in the world (patched)
    extras = world.extras
    sagemaker().update_endpoint(EndpointName=endpoint, EndpointConfigName=new_config)
    # THEN the endpoint serves the new config, and the call was recorded
    assert sagemaker().describe_endpoint(EndpointName=endpoint)["EndpointConfigName"] == new_config
    assert extras.updates == [{"EndpointName": endpoint, "EndpointConfigName": new_config}]
    assert new_config != old_config


def serve_config(stack, tag):
    model = f"{stack.parameters['EndpointName']}-m-{tag}"
    sagemaker().create_model(
        ModelName=model,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "rcf:1", "ModelDataUrl": "s3://b/m"},
    )
    config = f"{stack.parameters['EndpointName']}-c-{tag}"
    sagemaker().create_endpoint_config(
        EndpointConfigName=config,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 1},
            }
        ],
    )
    return config


def test_list_monitoring_executions_lists_the_shaped_run(world):
    # GIVEN a processing job shaped as a Model Monitor run
    arn = world.extras.monitoring_execution(
        job_name="model-monitoring-1", schedule_name="dq", endpoint_name="ep", report_uri="s3://b/r"
    )
    # WHEN the run's schedule is listed
    listed = sagemaker().list_monitoring_executions(MonitoringScheduleName="dq")
    # THEN it is there with its status, and DescribeProcessingJob carries the schedule
    (summary,) = listed["MonitoringExecutionSummaries"]
    assert (summary["ProcessingJobArn"], summary["MonitoringExecutionStatus"]) == (
        arn,
        "CompletedWithViolations",
    )
    job = sagemaker().describe_processing_job(ProcessingJobName="model-monitoring-1")
    assert job["MonitoringScheduleArn"].endswith("monitoring-schedule/dq")


def test_list_pipeline_execution_steps_answers_the_recorded_register_step(stack):
    # GIVEN an execution whose Register step was recorded
    create_pipeline(stack)
    execution = start_pipeline_execution(stack)
    record_pipeline_steps(
        execution, [registered_step("arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1")]
    )
    # WHEN its steps are listed
    steps = sagemaker().list_pipeline_execution_steps(PipelineExecutionArn=execution)[
        "PipelineExecutionSteps"
    ]
    # THEN the RegisterModel metadata names the package
    assert [s["Metadata"]["RegisterModel"]["Arn"] for s in steps] == [
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/g/1"
    ]


def test_update_model_package_keeps_the_metadata_it_was_not_sent(stack):
    # GIVEN a package registered with its metadata
    package = register_package(
        stack, "arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/a", objective=0.7
    )
    # WHEN it is approved with one new metadata key, as the state machine does
    sagemaker().update_model_package(
        ModelPackageArn=package["arn"],
        ModelApprovalStatus="Approved",
        CustomerMetadataProperties={"approved_by": "run-1"},
    )
    # THEN the earlier keys are kept and the new one added (AWS's behaviour, not moto's)
    metadata = sagemaker().describe_model_package(ModelPackageName=package["arn"])[
        "CustomerMetadataProperties"
    ]
    assert metadata["objective_value"] == "0.7"
    assert metadata["approved_by"] == "run-1"


def test_start_as_executing_hides_motos_instant_success(stack):
    create_pipeline(stack)
    with start_as_executing():
        execution = start_pipeline_execution(stack)
    status = sagemaker().describe_pipeline_execution(PipelineExecutionArn=execution)[
        "PipelineExecutionStatus"
    ]
    assert status == "Executing"


# ---------------------------------------------------------------------------- Lambda and Step Functions


def test_lambda_invoke_runs_the_given_function(aws):
    # GIVEN a function moto's Lambda knows (it would echo the payload without the patch)
    client = boto3.client("lambda")
    role = boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    client.create_function(
        FunctionName="f", Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": b"x"}
    )
    calls = []

    def invoker(name, body, headers):
        calls.append(name)
        return json.dumps({"answered": json.loads(body)["n"] + 1}).encode()

    # WHEN it is invoked inside the patch THEN the invoker answered
    with lambda_invoke(invoker):
        response = client.invoke(FunctionName="f", Payload=json.dumps({"n": 1}))
    assert json.loads(response["Payload"].read()) == {"answered": 2}
    assert len(calls) == 1
    assert calls[0].endswith("f")


def test_instant_waits_replace_wait_states_and_retry_sleeps(aws):
    # GIVEN a machine that waits 3600 s, then fails a task twice with 600 s back-off
    sfn = boto3.client("stepfunctions")
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", "Seconds": 3600, "Next": "Fail"},
            "Fail": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sagemaker:describePipelineExecution",
                "Parameters": {
                    "PipelineExecutionArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/x/execution/y"
                },
                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 600, "MaxAttempts": 1}],
                "End": True,
            },
        },
    }
    arn = sfn.create_state_machine(name="m", definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]
    waits, retries = [], []
    # WHEN it runs inside the patch
    with instant_waits(on_wait=waits.append, on_retry=retries.append):
        from sentinel.stepfunctions import run_execution

        described = run_execution(sfn, arn, "run-1", {}, timeout=30)
    # THEN it ended at once, and what it would have slept was reported
    assert described["status"] == "FAILED"
    assert waits == [3600]
    assert retries == [600]


# ---------------------------------------------------------------------------- speed


def test_every_session_in_a_world_shares_one_data_loader(aws):
    # GIVEN two sessions made in a world (mock_aws makes a new default session per world; a boto3
    # session is made on a botocore one)
    first, second = botocore.session.Session(), botocore.session.Session()
    # THEN they read service models through one loader: each JSON file is parsed once per process
    assert first.get_component("data_loader") is second.get_component("data_loader")
    # AND it is a real loader: the clients it serves work
    assert "Buckets" in boto3.client("s3").list_buckets()


def test_a_valid_definition_is_parsed_once_and_an_invalid_one_every_time(aws):
    # GIVEN a definition no state machine had before, and one that is not valid ASL
    sfn = boto3.client("stepfunctions")
    valid = json.dumps(
        {"Comment": str(uuid.uuid4()), "StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    )
    invalid = json.dumps({"StartAt": "Missing", "States": {"Done": {"Type": "Nope"}}})
    # WHEN each is used for two machines
    with mock.patch.object(
        AmazonStateLanguageParser, "parse", wraps=AmazonStateLanguageParser.parse
    ) as parse:
        for name in ("a", "b"):
            sfn.create_state_machine(name=name, definition=valid, roleArn=ROLE)
        # THEN the valid one was parsed once; the invalid one is refused both times, as AWS does
        assert parse.call_count == 1
        for name in ("c", "d"):
            with pytest.raises(ClientError, match="ASLParserException"):
                sfn.create_state_machine(name=name, definition=invalid, roleArn=ROLE)
        assert parse.call_count == 3


def test_symmetric_keys_share_one_key_pair_and_asymmetric_keys_get_their_own(aws):
    # GIVEN two symmetric keys and one RSA signing key
    kms = boto3.client("kms")
    ids = [kms.create_key()["KeyMetadata"]["KeyId"] for _ in range(2)]
    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    keys = kms_backends[ACCOUNT][REGION].keys
    # THEN the symmetric keys carry one (unused) key pair and the signing key its own
    assert keys[ids[0]].private_key is keys[ids[1]].private_key
    assert keys[rsa].private_key is not keys[ids[0]].private_key
    # AND both kinds still do their job
    blob = kms.encrypt(KeyId=ids[0], Plaintext=b"secret")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"secret"
    signed = kms.sign(KeyId=rsa, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
    verified = kms.verify(KeyId=rsa, Message=b"m", Signature=signed, SigningAlgorithm="RSASSA_PSS_SHA_256")
    assert verified["SignatureValid"]


# ---------------------------------------------------------------------------- DynamoDB


def test_two_conditional_puts_racing_for_one_item_let_exactly_one_win(aws, monkeypatch):
    # GIVEN a table, and moto's condition check slowed so that two writers would both pass it
    # before either writes (what a thread switch at the wrong moment does)
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="locks",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    check = moto_table.get_filter_expression

    def slow_check(*args, **kwargs):
        time.sleep(0.2)
        return check(*args, **kwargs)

    monkeypatch.setattr(moto_table, "get_filter_expression", slow_check)
    start = threading.Barrier(2, timeout=10)

    def claim(owner: str) -> str:
        start.wait()
        try:
            dynamodb.put_item(
                TableName="locks",
                Item={"id": {"S": "episode"}, "owner": {"S": owner}},
                ConditionExpression="attribute_not_exists(id)",
            )
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        return "won"

    # WHEN two writers claim the item at the same moment
    with ThreadPoolExecutor(max_workers=2) as pool:
        won = list(pool.map(claim, ["a", "b"]))
    # THEN exactly one wins, the other is refused as DynamoDB refuses it, and the item is the winner's
    assert sorted(won) == ["ConditionalCheckFailedException", "won"]
    owner = dynamodb.get_item(TableName="locks", Key={"id": {"S": "episode"}})["Item"]["owner"]["S"]
    assert owner == ["a", "b"][won.index("won")]
