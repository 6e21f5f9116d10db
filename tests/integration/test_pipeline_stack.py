"""The pipeline is part of the stack: template.yaml's pipeline section lints clean, and deploying the
template (on the emulator, as CloudFormation would) publishes the scripts and creates the pipeline
from the built definition with the stack's names filled in."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from cfnlint.api import ManualArgs, lint

from pipeline.publisher import app as publisher
from sentinel.template import TEMPLATE_PATH, Template, load_template
from tests.support import s3_object_created

PIPELINE_RESOURCES = (
    "PipelineArtifactsLayer",
    "PipelineArtifactsFunction",
    "PipelineArtifacts",
    "PipelineExecutionPolicy",
    "ModelBuildingPipeline",
)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def resource(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"][logical_id]
    return found


def test_pipeline_section_passes_cfn_lint():
    # GIVEN the whole template (the section refers to shared resources) WHEN cfn-lint checks it
    matches = lint(TEMPLATE_PATH.read_text(encoding="utf-8"), config=ManualArgs(regions=["us-east-1"]))
    # THEN nothing is reported against the pipeline section's resources
    ours = [f"{m.rule.id} {m.path}: {m.message}" for m in matches if set(m.path) & set(PIPELINE_RESOURCES)]
    assert ours == []


def test_new_artifacts_content_or_a_renamed_substitution_triggers_a_republish_then_a_pipeline_update(
    template,
):
    # CloudFormation updates a resource when a resolved property changes. The publisher's properties
    # hold the layer's version ARN (new pipeline/ content is a new version) and every value it fills
    # into the definition; the pipeline reads the key the publisher returns, which is the digest of
    # the rendered definition (tests/integration/test_pipeline_publisher.py: every substitution
    # changes it). So new content or a renamed endpoint or group re-publishes, then updates the pipeline.
    layer = resource(template, "PipelineArtifactsLayer")["Properties"]
    artifacts = resource(template, "PipelineArtifacts")["Properties"]
    pipeline = resource(template, "ModelBuildingPipeline")
    assert layer["ContentUri"] == "pipeline/"
    assert artifacts["ArtifactsVersion"] == {"Ref": "PipelineArtifactsLayer"}
    assert set(artifacts["Substitutions"]) == set(publisher.REQUIRED_SUBSTITUTIONS)
    assert artifacts["ServiceToken"] == {"Fn::GetAtt": ["PipelineArtifactsFunction", "Arn"]}
    assert {"Ref": "PipelineArtifactsLayer"} in resource(template, "PipelineArtifactsFunction")["Properties"][
        "Layers"
    ]
    assert pipeline["Properties"]["PipelineDefinition"] == {
        "PipelineDefinitionS3Location": {
            "Bucket": {"Ref": "DataBucket"},
            "Key": {"Fn::GetAtt": ["PipelineArtifacts", "DefinitionKey"]},
        }
    }
    assert pipeline["Properties"]["RoleArn"] == {"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]}


def test_publisher_may_write_under_pipeline_only_and_the_role_passes_only_itself(template):
    function = resource(template, "PipelineArtifactsFunction")["Properties"]
    (statement,) = function["Policies"][0]["Statement"]
    assert statement["Action"] == "s3:PutObject"
    assert statement["Resource"] == {"Fn::Sub": "${DataBucket.Arn}/pipeline/*"}
    assert function["DeadLetterQueue"]["TargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    policy = resource(template, "PipelineExecutionPolicy")["Properties"]
    assert policy["Roles"] == [{"Ref": "SageMakerExecutionRole"}]
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert statements["PassItselfToTheJobs"]["Resource"] == {"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]}
    assert statements["PassItselfToTheJobs"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    for sub in statements["RegisterInTheGroupOnly"]["Resource"]:  # the numeric group, or the log group
        assert (
            "${ModelPackageGroupName}" in sub["Fn::Sub"] or "${LogsModelPackageGroupName}" in sub["Fn::Sub"]
        )
    for statement in statements.values():  # no bare "*" but for a List action (no resource-level permission)
        assert statement["Resource"] != "*" or statement["Action"] == "sagemaker:ListModelPackages"


# ---------------------------------------------------------------------------- deployed on the emulator


def deployed_definition(stack: Template) -> tuple[dict[str, Any], str]:
    described = boto3.client("sagemaker").describe_pipeline(PipelineName=stack.parameters["PipelineName"])
    body = described["PipelineDefinition"]
    text = body if isinstance(body, str) else json.dumps(body)
    return described, text


def test_deploying_the_stack_creates_the_named_pipeline_from_the_built_definition(stack):
    # GIVEN template.yaml deployed on the emulator (the `stack` fixture)
    described, text = deployed_definition(stack)
    # THEN the pipeline named by PipelineName runs as the SageMaker role, with every placeholder filled
    assert described["PipelineName"] == stack.parameters["PipelineName"]
    assert described["RoleArn"] == stack.get_att("SageMakerExecutionRole", "Arn")
    assert "${" not in text
    definition = json.loads(text)
    assert [s["Name"] for s in definition["Steps"]] == [
        "Route-Python",
        "Route-Spark",
        "Route-Logs",
        "Route-LogsSpark",
    ]
    # the default InputDataUri names this stack's bucket and endpoint: the production dataset
    (default_input,) = [p["DefaultValue"] for p in definition["Parameters"] if p["Name"] == "InputDataUri"]
    assert default_input == (
        f"s3://{stack.ref('DataBucket')}/dataset/endpoint={stack.parameters['EndpointName']}/"
    )
    assert f'"ModelPackageGroupName": "{stack.parameters["ModelPackageGroupName"]}"' in text
    assert stack.get_att("SageMakerExecutionRole", "Arn") in text


def test_every_script_the_deployed_definition_runs_is_in_the_data_bucket(stack):
    _, text = deployed_definition(stack)
    bucket = stack.ref("DataBucket")
    uris = set(re.findall(r"s3://([^/\"]+)/(pipeline/code/[0-9a-f]{16}/[a-z_]+\.py)", text))
    assert {key.rsplit("/", 1)[1] for _, key in uris} == {
        "channels.py",
        "evaluate.py",
        "preprocess.py",
        "preprocess_spark.py",
        "score_stats.py",
        "baseline.py",
        "logs_job.py",  # the log route's processing steps (logs_prepare, logs_evaluate)
    }
    s3 = boto3.client("s3")
    for found_bucket, key in uris:
        assert found_bucket == bucket
        assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    assert stack.get_att("PipelineArtifacts", "CodePrefix") == uris.pop()[1].rsplit("/", 1)[0] + "/"


def test_a_training_upload_starts_the_deployed_pipeline_with_its_uri(stack, lambda_function):
    # GIVEN the deployed stack (no pipeline created by the test) and an upload event
    bucket = stack.ref("DataBucket")
    event = s3_object_created(bucket, "training/nyc_taxi.csv")
    # WHEN StartPipelineFunction handles it
    result = lambda_function("StartPipelineFunction")(event)
    # THEN the stack's pipeline runs with InputDataUri, the parameter its definition declares
    sagemaker = boto3.client("sagemaker")
    found = sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=result["pipeline_execution_arn"]
    )
    assert found["PipelineParameters"] == [
        {"Name": "InputDataUri", "Value": f"s3://{bucket}/training/nyc_taxi.csv"}
    ]
    _, text = deployed_definition(stack)
    assert json.loads(text)["Parameters"][0]["Name"] == "InputDataUri"
