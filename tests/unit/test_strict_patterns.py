"""botocore's patterns are Java regular expressions: the strict twin must read them as AWS does."""

from __future__ import annotations

import json

import botocore.session
import pytest

from pipeline.publisher.app import region_images, render
from sentinel.strict import java_pattern, pipeline_violations
from sentinel.template import PROJECT_ROOT

PIPELINE = PROJECT_ROOT / "pipeline"

#: Every service the stack, the pipeline executor or the twin calls.
SERVICES = (
    "sagemaker",
    "sagemaker-runtime",
    "s3",
    "sns",
    "sqs",
    "dynamodb",
    "stepfunctions",
    "events",
    "cloudwatch",
    "logs",
    "kms",
    "lambda",
    "cloudtrail",
    "athena",
    "oam",
)


def test_every_pattern_of_the_services_the_stack_calls_is_understood():
    loader = botocore.session.get_session().get_component("data_loader")
    patterns = {
        shape["pattern"]
        for service in SERVICES
        for shape in loader.load_service_model(service, "service-2")["shapes"].values()
        if "pattern" in shape
    }
    assert len(patterns) > 100
    for pattern in patterns:
        java_pattern(pattern)  # raises when the translation is not a valid expression


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        # Java's matches(): the whole value (SageMaker's names carry no ^...$ in botocore)
        ("[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", "strict-twin", True),
        ("[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", "strict_twin", False),
        # Unicode categories: letters, separators and numbers of any script
        ("([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)${1,256}", "Données 7 jours", True),
        ("([\\p{L}\\p{Z}\\p{N}_.:\\/=+\\-@]*)${1,256}", "window (7 days)", False),
        # POSIX classes are ASCII in Java
        ("[\\p{Alnum}]+", "abc123", True),
        ("[\\p{Alnum}]+", "é", False),
        ("\\p{Print}+", "tab\there", False),
        # Java's . stops at every line terminator
        (".*", "one line", True),
        (".*", "two\nlines", False),
        (".*", "carriage\rreturn", False),
        # \d and \w are ASCII in Java
        ("\\d+", "١٢", False),
        ("\\w+", "naïve", False),
        # class intersection
        ("[\\p{Print}&&[^|:/]]+", "a.b", True),
        ("[\\p{Print}&&[^|:/]]+", "a:b", False),
        # a UTF-16 surrogate range is the supplementary planes
        ("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*", "ok \U0001f600", True),
        ("[\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-\\uDBFF\\uDFFF\\t]*", "bell\x07", False),
        # \x{h..h} code points and \z
        ("[\\x{0022}a]+\\z", '"a"', True),
    ],
)
def test_java_patterns_match_as_java_matches_them(pattern, value, matches):
    assert (java_pattern(pattern).fullmatch(value) is not None) is matches


@pytest.mark.parametrize("region", sorted(json.loads((PIPELINE / "images.json").read_text(encoding="utf-8"))))
def test_the_published_pipeline_definition_has_no_fixed_value_sagemaker_refuses(region):
    # GIVEN the committed definition as the publisher renders it in each region, with the longest
    # names the template allows (deploying it on the twin checks the defaults as well)
    values = {
        "DataBucket": "b" * 63,
        "SageMakerExecutionRoleArn": f"arn:aws:iam::123456789012:role/{'r' * 64}",
        "ModelPackageGroupName": "g" * 63,
        "EndpointName": "e" * 48,
        "LogsModelPackageGroupName": "l" * 63,
        "LogsEndpointName": "n" * 48,
        "CodeDigest": "0123456789ab",
        **region_images(PIPELINE, region),
    }
    definition = json.loads(render((PIPELINE / "definition.json").read_text(encoding="utf-8"), values))
    # WHEN its fixed values are checked against the request shapes of the APIs the steps call
    # THEN SageMaker would accept every one of them
    assert [str(v) for v in pipeline_violations(definition)] == []
