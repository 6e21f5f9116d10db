"""The local template reader resolves what CloudFormation would, so local runs match the stack."""

import pytest

from sentinel.template import PhysicalResource, Template, TemplateError

DOC = {
    "Parameters": {"Prefix": {"Type": "String", "Default": "training/"}, "Email": {"Default": ""}},
    "Conditions": {"HasEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Email"}, ""]}]}},
    "Globals": {"Function": {"Timeout": 30, "Environment": {"Variables": {"SHARED": "yes"}}}},
    "Resources": {
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Fn": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "CodeUri": "functions/start_pipeline/",
                "Handler": "app.lambda_handler",
                "Environment": {
                    "Variables": {
                        "BUCKET": {"Ref": "Bucket"},
                        "ARN": {"Fn::Sub": "${Bucket.Arn}/${Prefix}*"},
                        "REGION": {"Fn::Sub": "${AWS::Region}"},
                        "MAYBE": {"Fn::If": ["HasEmail", {"Ref": "Email"}, "none"]},
                        "MISSING": {"Ref": "Nope"},
                    }
                },
                "Events": {
                    "Up": {
                        "Type": "EventBridgeRule",
                        "Properties": {"Pattern": {"detail": {"bucket": {"name": [{"Ref": "Bucket"}]}}}},
                    }
                },
            },
        },
    },
}


@pytest.fixture
def template() -> Template:
    return Template(DOC, physical={"Bucket": PhysicalResource("b-1", {"Arn": "arn:aws:s3:::b-1"})})


def test_function_environment_merges_globals_and_resolves_intrinsics(template):
    # WHEN the function spec is read
    spec = template.function("Fn")
    # THEN globals are merged and Ref / Sub / If resolve against parameters and physical names
    assert spec.environment["SHARED"] == "yes"
    assert spec.environment["BUCKET"] == "b-1"
    assert spec.environment["ARN"] == "arn:aws:s3:::b-1/training/*"
    assert spec.environment["REGION"] == "us-east-1"
    assert spec.environment["MAYBE"] == "none"
    assert spec.environment["MISSING"] == "<unresolved:MISSING>"
    assert spec.timeout == 30
    assert spec.module_path.name == "app.py"


def test_parameter_overrides_flow_into_conditions():
    template = Template(DOC, physical={"Bucket": PhysicalResource("b-1")}, parameters={"Email": "a@b.c"})
    assert template.function("Fn").environment["MAYBE"] == "a@b.c"


def test_rules_resolve_their_patterns(template):
    (rule,) = template.rules()
    assert rule.logical_id == "FnUp"
    assert rule.target == "Fn"
    assert rule.pattern == {"detail": {"bucket": {"name": ["b-1"]}}}


def test_unknown_names_fail_clearly(template):
    with pytest.raises(TemplateError, match="no resource 'Nope'"):
        template.resource("Nope")
    with pytest.raises(TemplateError, match="not an AWS::Serverless::Function"):
        template.function("Bucket")
    with pytest.raises(TemplateError, match="no EventBridge rule"):
        template.rule("Missing")


def test_the_real_template_parses_with_its_short_form_tags():
    template = Template()
    assert "StartPipelineFunction" in template.function_ids()
    assert template.resource("DataBucket")["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
