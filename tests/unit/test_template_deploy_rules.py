"""template.yaml against the AWS rules a first real deployment meets, which no emulator enforces.

Each test names the rule and where AWS documents it. IAM is read statically: the statements of a
role or function are resolved with stand-in physical names and matched the way IAM matches
(``*``/``?`` wildcards, actions case-insensitive; conditions are not evaluated).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from pipeline import build
from sentinel.template import PROJECT_ROOT, PhysicalResource, Template

ACCOUNT, REGION = "123456789012", "us-east-1"
DATA_BUCKET = "stack-databucket-1a2b3c"
REFERENCE = (PROJECT_ROOT / "docs" / "REFERENCE.md").read_text(encoding="utf-8")
PIPELINE_DOC = (PROJECT_ROOT / "docs" / "PIPELINE.md").read_text(encoding="utf-8")


class _Arns(Mapping[str, str]):
    """Every attribute of a resource, as a plausible value (Arn for most)."""

    def __init__(self, logical_id: str) -> None:
        self.logical_id = logical_id

    def __getitem__(self, attribute: str) -> str:
        if self.logical_id == "DataBucket" and attribute == "Arn":
            return f"arn:aws:s3:::{DATA_BUCKET}"
        return f"arn:aws:service:{REGION}:{ACCOUNT}:{self.logical_id}/{attribute}"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __contains__(self, attribute: object) -> bool:
        return True


def template(**parameters: str) -> Template:
    document = Template().document
    physical = {
        lid: PhysicalResource(ref=DATA_BUCKET if lid == "DataBucket" else lid.lower(), attributes=_Arns(lid))
        for lid in document["Resources"]
    }
    return Template(document, physical=physical, parameters=parameters, region=REGION, account=ACCOUNT)


def statements(t: Template, logical_id: str) -> list[dict[str, Any]]:
    """The resolved policy statements granted to a role (inline + AWS::IAM::Policy) or a SAM function."""
    resource = t.resource(logical_id)
    found: list[dict[str, Any]] = []
    if resource["Type"] == "AWS::IAM::Role":
        for policy in resource["Properties"].get("Policies", []):
            found += policy["PolicyDocument"]["Statement"]
        for policy in t.resources_of_type("AWS::IAM::Policy").values():
            if {"Ref": logical_id} in policy["Properties"]["Roles"]:
                found += policy["Properties"]["PolicyDocument"]["Statement"]
    else:
        for policy in resource["Properties"].get("Policies", []):
            if isinstance(policy, dict) and "Statement" in policy:
                found += policy["Statement"]
    return [t.resolve(s) for s in found]


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def allows(found: list[dict[str, Any]], action: str, resource: str) -> bool:
    return any(
        s["Effect"] == "Allow"
        and any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in _listed(s["Action"]))
        and any(fnmatch.fnmatchcase(resource, r) for r in _listed(s["Resource"]))
        for s in found
    )


def arn(kind: str, name: str) -> str:
    return f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{kind}/{name}"


# ---------------------------------------------------------------------------- the Spark committer


def test_the_sagemaker_role_can_commit_spark_output_under_the_run_prefix_only():
    # Rule: Hadoop's FileOutputCommitter (algorithm 2, the SageMaker Spark image's committer over s3a)
    # renames task output = copy + DeleteObject under _temporary/, and s3a writes large files as
    # multipart uploads (abort on failure). S3 needs s3:DeleteObject, s3:AbortMultipartUpload,
    # s3:ListMultipartUploadParts on the objects and s3:ListBucketMultipartUploads on the bucket
    # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html).
    found = statements(template(), "SageMakerExecutionRole")
    run_object = f"arn:aws:s3:::{DATA_BUCKET}/pipeline/runs/exec-1/Spark/rows/_temporary/0/part-0"
    for action in ("s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"):
        assert allows(found, action, run_object), action
    assert allows(found, "s3:ListBucketMultipartUploads", f"arn:aws:s3:::{DATA_BUCKET}")
    # and nothing else of the bucket can be deleted by the jobs (training data, models, code)
    for key in ("training/x.csv", "pipeline/code/abc/preprocess.py", "models/m/model.tar.gz", "scores/a"):
        assert not allows(found, "s3:DeleteObject", f"arn:aws:s3:::{DATA_BUCKET}/{key}"), key


def test_every_spark_output_the_definition_writes_is_under_the_prefix_the_role_may_clean():
    definition = json.loads(build.DEFINITION_PATH.read_text(encoding="utf-8"))
    found = statements(template(), "SageMakerExecutionRole")
    spark_steps = [
        s
        for route in definition["Steps"]
        for s in route["Arguments"]["IfSteps"]
        if s["Name"] == "Preprocess-Spark"
    ]
    assert spark_steps
    for step in spark_steps:
        args = step["Arguments"]["AppSpecification"]["ContainerArguments"]
        for flag in ("--train-output", "--test-output"):
            if flag not in args:
                continue
            parts = args[args.index(flag) + 1]["Std:Join"]["Values"]
            uri = "/".join(p if isinstance(p, str) else "exec-1" for p in parts)
            key = uri.replace("s3://${DataBucket}/", "")
            assert allows(found, "s3:DeleteObject", f"arn:aws:s3:::{DATA_BUCKET}/{key}/part-00000"), uri


def test_job_logs_have_what_aws_documents_for_a_sagemaker_job_role():
    # Rule: SageMaker's execution-role policy for jobs grants logs:CreateLogGroup, CreateLogStream,
    # PutLogEvents and DescribeLogStreams on /aws/sagemaker/*
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html)
    found = statements(template(), "SageMakerExecutionRole")
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/ProcessingJobs"
    stream = f"{group}:log-stream:sentinel-preprocess-abc/algo-1"
    for action in ("CreateLogGroup", "CreateLogStream", "PutLogEvents", "DescribeLogStreams"):
        assert allows(found, f"logs:{action}", stream), action


# ---------------------------------------------------------------------------- concurrency


def reservations(t: Template) -> dict[str, int]:
    found = {}
    for lid in t.function_ids():
        value = t.resolve(t.resource(lid)["Properties"].get("ReservedConcurrentExecutions", ""))
        if value != "":
            found[lid] = int(value)
    return found


def test_no_function_reserves_concurrency_with_the_defaults():
    # Rule: Lambda keeps 100 of the account's concurrency unreserved; a reservation that would take
    # the unreserved pool below 100 fails the function's creation, and new accounts' quotas can be
    # 10 or 50 (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
    assert reservations(template()) == {}


def test_reserving_is_one_switch_and_the_docs_state_the_quota_it_needs():
    reserved = reservations(template(ReserveConcurrency="true"))
    assert len(reserved) == len(template().function_ids())  # every function, none forgotten
    needed = 100 + sum(reserved.values())
    description = Template().document["Parameters"]["ReserveConcurrency"]["Description"]
    for text in (description, REFERENCE):
        assert f"{sum(reserved.values())} in total" in text
        assert f"at least {needed}" in text


# ---------------------------------------------------------------------------- deletion and rollback


def test_data_and_registry_survive_deletion_and_a_failed_first_deploy_does_not_strand_the_stack():
    # Rule: CloudFormation cannot delete a non-empty bucket, so deleting or rolling back a stack whose
    # bucket has objects ends DELETE_FAILED / ROLLBACK_FAILED unless the bucket is retained
    # (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html).
    # The publisher writes to DataBucket before the pipeline exists: Retain. The model package group
    # is empty on a failed create (RetainExceptOnCreate deletes it then, so a retry can recreate the
    # fixed name) and holds every registered model afterwards (kept).
    resources = Template().document["Resources"]
    assert resources["DataBucket"]["DeletionPolicy"] == "Retain"
    assert resources["DataBucket"]["UpdateReplacePolicy"] == "Retain"
    assert resources["ModelPackageGroup"]["DeletionPolicy"] == "RetainExceptOnCreate"
    assert resources["ModelPackageGroup"]["UpdateReplacePolicy"] == "Retain"
    # every bucket of the stack is versioned data: none may be left to the default Delete
    for lid, resource in resources.items():
        if resource["Type"] == "AWS::S3::Bucket":
            assert resource.get("DeletionPolicy") == "Retain", lid


def test_the_reference_says_how_to_delete_the_stack_and_what_stays():
    section = REFERENCE.split("## Delete the stack", 1)[1].split("\n## ", 1)[0]
    needles = ("sam delete", "DataBucket", "object versions", "delete-model-package-group", "delete-endpoint")
    for needle in needles:
        assert needle in section, needle


# ---------------------------------------------------------------------------- scoring reads


def test_the_scorer_can_read_a_hand_made_serving_config_and_model_but_change_nothing():
    # The cutoff needs DescribeEndpoint -> DescribeEndpointConfig -> DescribeModel; a config made by
    # hand has any name. Describes only: no create, update or delete.
    found = statements(template(), "ScoreCaptureFunction")
    assert allows(found, "sagemaker:DescribeEndpointConfig", arn("endpoint-config", "hand-made-config"))
    assert allows(found, "sagemaker:DescribeModel", arn("model", "hand-made-model"))
    actions = [a for s in found for a in _listed(s["Action"])]
    writes = [a for a in actions if re.match(r"sagemaker:(Create|Update|Delete)", a)]
    assert writes == []


# ---------------------------------------------------------------------------- names IAM compares


def sagemaker_arn_parameters() -> set[str]:
    """Parameters that end up in a SageMaker ARN of some IAM policy or rule of the template."""
    names: set[str] = set()
    parameters = set(Template().document["Parameters"])

    def walk(value: Any, in_arn: bool) -> None:
        if isinstance(value, dict):
            if "Fn::Sub" in value:
                arg = value["Fn::Sub"]
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                if ":sagemaker:" in text:
                    names.update(p for p in re.findall(r"\$\{([A-Za-z]+)\}", text) if p in parameters)
                    for nested in variables.values():
                        walk(nested, True)
                return
            if "Ref" in value and in_arn and value["Ref"] in parameters:
                names.add(value["Ref"])
            for item in value.values():
                walk(item, in_arn)
        elif isinstance(value, list):
            for item in value:
                walk(item, in_arn)

    walk(Template().document["Resources"], False)
    return names


def test_every_name_iam_compares_in_a_sagemaker_arn_is_lower_case_only():
    # Rule: SageMaker lower-cases resource names in ARNs, and IAM compares ARNs case-sensitively, so
    # a parameter with upper case would name an ARN that never matches
    # (https://docs.aws.amazon.com/sagemaker/latest/dg/security_iam_service-with-iam.html).
    spec = Template().document["Parameters"]
    named = sagemaker_arn_parameters()
    assert {"MonitoringJobNamePrefixes", "EndpointName", "PipelineName", "ModelPackageGroupName"} <= named
    for name in sorted(named):
        pattern = spec[name]["AllowedPattern"]
        default = str(spec[name]["Default"])
        assert re.fullmatch(pattern, default), name
        assert not re.fullmatch(pattern, default.upper()), f"{name} accepts upper case"


# ---------------------------------------------------------------------------- dead-letter queue


def test_the_dead_letter_queue_accepts_exactly_the_rules_that_send_to_it():
    # Rule: EventBridge sends to a DLQ only if the queue policy lets events.amazonaws.com
    # sqs:SendMessage with aws:SourceArn = the rule's ARN
    # (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html). SAM names the rule
    # it generates for an EventBridgeRule event {owner}{event} (logical ID), so the policy can name
    # each rule by reference instead of guessing generated names.
    document = Template().document
    dlq = {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    senders = {
        f"{lid}{event}"
        for lid, resource in document["Resources"].items()
        for event, spec in (resource.get("Properties", {}).get("Events") or {}).items()
        if spec["Type"] in ("EventBridgeRule", "Schedule")  # SAM makes an EventBridge rule of both
        and spec["Properties"].get("DeadLetterConfig", {}).get("Arn") == dlq
    }
    senders |= {
        lid
        for lid, resource in document["Resources"].items()
        if resource["Type"] == "AWS::Events::Rule"
        and any(
            t.get("DeadLetterConfig", {}).get("Arn") == dlq for t in resource["Properties"].get("Targets", [])
        )
    }
    policy = document["Resources"]["DeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    (statement,) = [s for s in policy["Statement"] if s["Sid"] == "RulesSendUndeliverableEvents"]
    # An optional rule is listed under its Condition: !If [Cond, !GetAtt Rule.Arn, !Ref AWS::NoValue].
    listed = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
    refs = [r["Fn::If"][1] if "Fn::If" in r else r for r in listed]
    named = {ref["Fn::GetAtt"][0] for ref in refs}
    assert senders
    assert named == senders
    assert "StackName" not in json.dumps(statement)


def test_the_retraining_steps_function_has_room_for_its_worst_case():
    # evaluate may describe 2 x PACKAGE_SCAN_LIMIT (50) packages plus about ten other reads, each
    # with standard-mode retries (5 attempts, back-off up to 20 s) and a 35 s connect + read budget:
    # the Globals' 30 s is not enough even for one throttled burst. (The state machine retries a
    # timeout beyond this: tests/unit/test_asl_error_names.py.)
    calls = 2 * 50 + 10
    timeout = int(Template().resource("RetrainStepsFunction")["Properties"]["Timeout"])
    # every call at 100 ms, two stalled reads, one storm of throttles at the longest back-off
    assert timeout >= calls * 0.1 + 2 * 35 + 20 * 5


# ---------------------------------------------------------------------------- a serving config made by hand


def test_the_pipeline_and_the_drift_monitor_can_describe_a_hand_made_serving_config_and_model():
    # The template lets the endpoint serve a config made by hand (any name); the Evaluate step asks
    # the model in service and the drift monitor reads its baseline through the same chain:
    # DescribeEndpoint -> DescribeEndpointConfig -> DescribeModel. Describes only.
    t = template()
    for owner, reads_model in (("SageMakerExecutionRole", False), ("DriftMonitorFunction", True)):
        found = statements(t, owner)
        config = arn("endpoint-config", "hand-made-config")
        assert allows(found, "sagemaker:DescribeEndpointConfig", config), owner
        if reads_model:
            assert allows(found, "sagemaker:DescribeModel", arn("model", "hand-made-model")), owner
        assert not allows(found, "sagemaker:UpdateEndpoint", arn("endpoint", "anomaly-sentinel-rcf")), owner
        assert not allows(found, "sagemaker:DeleteEndpointConfig", config), owner


# ---------------------------------------------------------------------------- key policies


def key_statements(document: dict[str, Any], logical_id: str) -> list[dict[str, Any]]:
    return list(document["Resources"][logical_id]["Properties"]["KeyPolicy"]["Statement"])


def granted_to(found: list[dict[str, Any]], service: str, action: str) -> list[dict[str, Any]]:
    return [
        s
        for s in found
        if s["Effect"] == "Allow"
        and service in _listed(s.get("Principal", {}).get("Service", []))
        and any(fnmatch.fnmatchcase(action, a) for a in _listed(s["Action"]))
    ]


def test_aws_event_sources_may_use_the_alerts_keys_as_aws_documents_it():
    # AWS's example for EventBridge and CloudWatch publishing to an encrypted topic grants the service
    # principal kms:Decrypt and kms:GenerateDataKey* with no condition (SNS developer guide, "Enable
    # compatibility between event sources from AWS services and encrypted topics"); a condition the
    # KMS call made on their behalf may not carry would refuse every alert.
    from sentinel.template import load_template

    keys = (
        (Template().document, "AlertsKey", ("cloudwatch.amazonaws.com", "events.amazonaws.com")),
        (
            load_template(PROJECT_ROOT / "observability" / "monitoring-account.yaml"),
            "CentralAlertsKey",
            ("events.amazonaws.com", "cloudwatch.amazonaws.com"),
        ),
    )
    for document, key, services in keys:
        for service in services:
            for action in ("kms:Decrypt", "kms:GenerateDataKey"):
                grants = granted_to(key_statements(document, key), service, action)
                assert grants, (key, service, action)
                assert all("Condition" not in s for s in grants), (key, service, action)


def test_the_trail_may_describe_its_key_without_an_encryption_context():
    # DescribeKey carries no encryption context, so a statement conditioned on
    # kms:EncryptionContext:aws:cloudtrail:arn never allows it; CloudTrail's guide gives "describe
    # the key" its own statement ("Enable CloudTrail to describe KMS key properties").
    found = key_statements(Template().document, "AuditTrailKey")
    (describe,) = granted_to(found, "cloudtrail.amazonaws.com", "kms:DescribeKey")
    assert "kms:EncryptionContext" not in json.dumps(describe.get("Condition", {}))
    (encrypt,) = granted_to(found, "cloudtrail.amazonaws.com", "kms:GenerateDataKey")
    assert "kms:EncryptionContext:aws:cloudtrail:arn" in json.dumps(encrypt["Condition"])
    # AND both name the stack's trail, as the trail itself is named
    t = template(EnableAuditTrail="true")
    trail = t.resolve(t.resource("AuditTrail")["Properties"]["TrailName"])
    for statement in (describe, encrypt):
        source = t.resolve(statement["Condition"]["StringEquals"]["aws:SourceArn"])
        assert source == f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{trail}"
