"""Emulator creators for the pipeline section of template.yaml.

``Custom::PipelineArtifacts`` runs the real publisher (pipeline/publisher/app.py) against the emulator's
S3, exactly as CloudFormation's custom resource would on AWS; ``AWS::SageMaker::Pipeline`` then creates
the pipeline on moto from the definition the publisher wrote. After ``LocalStack().deploy()`` the
pipeline named by the PipelineName parameter exists with the deployed definition, placeholders filled.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from types import ModuleType
from typing import Any

from sentinel.emulator import REGION, LocalStack, creates
from sentinel.template import PROJECT_ROOT, PhysicalResource, TemplateError

PIPELINE_DIR = PROJECT_ROOT / "pipeline"
PUBLISHER = PIPELINE_DIR / "publisher" / "app.py"


@cache
def publisher() -> ModuleType:
    """The deploy-time publisher, loaded from its file (pipeline/ is not an installed package)."""
    spec = importlib.util.spec_from_file_location("sentinel_pipeline_publisher", PUBLISHER)
    if spec is None or spec.loader is None:
        raise TemplateError(f"cannot load the pipeline publisher from {PUBLISHER}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module while the class is built
    spec.loader.exec_module(module)
    return module


@creates("Custom::PipelineArtifacts")
def _pipeline_artifacts(stack: LocalStack, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
    published = publisher().publish(
        stack.client("s3"),
        root=PIPELINE_DIR,
        bucket=props["Bucket"],
        region=REGION,
        substitutions=props.get("Substitutions", {}),
    )
    return PhysicalResource(published.physical_id, published.attributes)


def definition_body(stack: LocalStack, definition: dict[str, Any]) -> str:
    """The definition text, inline or from its S3 location (as CloudFormation reads it)."""
    if "PipelineDefinitionBody" in definition:
        return str(definition["PipelineDefinitionBody"])
    location = definition["PipelineDefinitionS3Location"]
    request = {"Bucket": location["Bucket"], "Key": location["Key"]}
    if location.get("Version"):
        request["VersionId"] = location["Version"]
    body: bytes = stack.client("s3").get_object(**request)["Body"].read()
    return body.decode("utf-8")


@creates("AWS::SageMaker::Pipeline")
def _pipeline(stack: LocalStack, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
    name = props["PipelineName"]
    request: dict[str, Any] = {
        "PipelineName": name,
        "PipelineDefinition": definition_body(stack, props["PipelineDefinition"]),
        "RoleArn": props["RoleArn"],
    }
    for key in ("PipelineDisplayName", "PipelineDescription", "Tags", "ParallelismConfiguration"):
        if props.get(key):
            request[key] = props[key]
    arn = stack.client("sagemaker").create_pipeline(**request)["PipelineArn"]
    return PhysicalResource(name, {"PipelineName": name, "PipelineArn": arn})
