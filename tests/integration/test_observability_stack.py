"""Cross-account link, event forwarding, audit trail and the monitoring-account template, as written.

Patterns are checked with moto's real EventBridge matcher (FACTS.md); what the trail and the Athena
query must cover is read from the stack itself (its buckets, the SageMaker actions the retraining
state machine calls), so neither can drift from what the stack does.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from moto.events.models import EventPattern

from sentinel.emulator import LocalStack, nominal
from sentinel.template import PROJECT_ROOT, Template, load_template

MONITORING = PROJECT_ROOT / "observability" / "monitoring-account.yaml"
ACCOUNT, REGION = "123456789012", "us-east-1"
BUS = "arn:aws:events:us-east-1:210987654321:event-bus/anomaly-sentinel-central"
SINK = "arn:aws:oam:us-east-1:210987654321:sink/8a3b1c2d-1111-2222-3333-444455556666"
OPTIONAL = {
    "MonitoringLink": "HasMonitoringSink",
    "CentralEventsRole": "HasCentralEventBus",
    "ForwardToCentralBusRule": "HasCentralEventBus",
    "AuditTrailKey": "HasAuditTrail",
    "AuditTrailBucket": "HasAuditTrail",
    "AuditTrailBucketPolicy": "HasAuditTrail",
    "AuditTrail": "HasAuditTrail",
    "AuditTableQuery": "HasAuditTrail",
    "AuditWhoChangedQuery": "HasAuditTrail",
}


def nominal_template(**parameters: str) -> Template:
    stack = LocalStack(parameters=parameters or None)
    for logical_id, resource in stack.document["Resources"].items():
        stack.physical[logical_id] = nominal(logical_id, resource["Type"], {})
    return stack.template()


def event(source: str, detail_type: str, resources: list[str], detail: dict[str, Any] | None = None):
    return {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "source": source,
        "detail-type": detail_type,
        "account": ACCOUNT,
        "region": REGION,
        "time": "2026-11-30T01:00:00Z",
        "resources": resources,
        "detail": detail or {},
    }


def test_the_optional_resources_are_off_with_the_default_parameters(aws):
    # GIVEN the template's defaults (empty sink, empty bus, no audit trail)
    template = nominal_template()
    for logical_id, condition in OPTIONAL.items():
        assert template.resource(logical_id)["Condition"] == condition
        assert not template.condition(condition)
    # WHEN the stack is deployed on the emulator THEN none of them exists, and no forwarding rule
    deployed = LocalStack()
    deployed.deploy()
    assert not set(OPTIONAL) & set(deployed.created + deployed.not_emulated)
    assert "ForwardToCentralBusRule" not in {rule.logical_id for rule in deployed.template().rules()}


def test_setting_the_parameters_turns_them_on():
    template = nominal_template(MonitoringSinkArn=SINK, CentralEventBusArn=BUS, EnableAuditTrail="true")
    for condition in set(OPTIONAL.values()):
        assert template.condition(condition)
    link = template.resolve(template.resource("MonitoringLink")["Properties"])
    assert link["SinkIdentifier"] == SINK
    assert sorted(link["ResourceTypes"]) == [
        "AWS::CloudWatch::Metric",
        "AWS::Logs::LogGroup",
        "AWS::XRay::Trace",
    ]


def test_the_link_shares_every_namespace_the_dashboard_shows():
    template = nominal_template(MonitoringSinkArn=SINK)
    link = template.resolve(template.resource("MonitoringLink")["Properties"])
    shared = set(re.findall(r"'([^']+)'", link["LinkConfiguration"]["MetricConfiguration"]["Filter"]))
    body = template.resolve(template.resource("SentinelDashboard")["Properties"]["DashboardBody"])
    lines = [line for w in json.loads(body)["widgets"] for line in w.get("properties", {}).get("metrics", [])]
    shown = {line[0] for line in lines if isinstance(line[0], str)}
    shown |= set(re.findall(r"SEARCH\('\{([^,}]+)", body))
    assert shown <= shared, f"dashboard namespaces not shared with the monitoring account: {shown - shared}"


def forwarding_pattern(template: Template) -> EventPattern:
    rule = template.rule("ForwardToCentralBusRule")
    return EventPattern.load(json.dumps(rule.pattern))


def test_forwarding_takes_this_stacks_events_and_nothing_else():
    template = nominal_template(CentralEventBusArn=BUS)
    pattern = forwarding_pattern(template)
    pipeline = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{template.parameters['PipelineName']}"
    endpoint = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{template.parameters['EndpointName']}"
    group = template.parameters["ModelPackageGroupName"]
    machine = template.get_att("RetrainStateMachine", "Name")
    ours = [
        event(
            "aws.sagemaker",
            "SageMaker Model Building Pipeline Execution Status Change",
            [pipeline, f"{pipeline}/execution/e1"],
        ),
        event("aws.sagemaker", "SageMaker Endpoint State Change", [endpoint]),
        event(
            "aws.sagemaker",
            "SageMaker Model Package State Change",
            [f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/{group}/3"],
        ),
        event(
            "aws.cloudwatch",
            "CloudWatch Alarm State Change",
            [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{template.stack_name}-EndpointErrorsAlarm-AB12"],
        ),
        event(
            "aws.states",
            "Step Functions Execution Status Change",
            [f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:run-1"],
        ),
    ]
    theirs = [
        event(
            "aws.sagemaker",
            "SageMaker Model Building Pipeline Execution Status Change",
            [f"{pipeline}-other"],
        ),
        event("aws.sagemaker", "SageMaker Endpoint State Change", [f"{endpoint}-canary"]),
        event(
            "aws.cloudwatch",
            "CloudWatch Alarm State Change",
            [f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:other-stack-Errors"],
        ),
        event(
            "aws.states",
            "Step Functions Execution Status Change",
            [f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}-2:run-1"],
        ),
        event("aws.s3", "Object Created", [pipeline]),
    ]
    assert all(pattern.matches_event(e) for e in ours)
    assert not any(pattern.matches_event(e) for e in theirs)
    target = template.resolve(template.resource("ForwardToCentralBusRule")["Properties"]["Targets"][0])
    assert target["Arn"] == BUS
    assert "DeadLetterConfig" in target
    role = template.resolve(
        template.resource("CentralEventsRole")["Properties"]["Policies"][0]["PolicyDocument"]
    )
    assert role["Statement"] == [
        {"Sid": "TheCentralBusOnly", "Effect": "Allow", "Action": "events:PutEvents", "Resource": BUS}
    ]


def test_the_trail_records_the_stacks_buckets_into_an_encrypted_tls_only_bucket():
    template = nominal_template(EnableAuditTrail="true", CaptureBucketName="prod-capture")
    trail = template.resolve(template.resource("AuditTrail")["Properties"])
    (data,) = [
        s
        for s in trail["AdvancedEventSelectors"]
        if {"Field": "eventCategory", "Equals": ["Data"]} in s["FieldSelectors"]
    ]
    arns = next(f["StartsWith"] for f in data["FieldSelectors"] if f["Field"] == "resources.ARN")
    assert f"{template.get_att('DataBucket', 'Arn')}/" in arns
    assert "arn:aws:s3:::prod-capture/" in arns
    assert trail["EnableLogFileValidation"] is True
    assert trail["KMSKeyId"] == template.get_att("AuditTrailKey", "Arn")
    bucket = template.resolve(template.resource("AuditTrailBucket")["Properties"])
    assert (
        bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
            "SSEAlgorithm"
        ]
        == "aws:kms"
    )
    policy = template.resolve(template.resource("AuditTrailBucketPolicy")["Properties"]["PolicyDocument"])
    deny = next(s for s in policy["Statement"] if s["Sid"] == "DenyInsecureTransport")
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{trail['TrailName']}"
    writes = next(s for s in policy["Statement"] if s["Sid"] == "TheTrailWrites")
    assert writes["Condition"]["StringEquals"]["aws:SourceArn"] == trail_arn


def test_the_who_changed_query_covers_every_change_the_retraining_machine_makes():
    # GIVEN the SageMaker actions the state machine calls that change the endpoint or a model
    asl = (PROJECT_ROOT / "statemachine" / "retrain.asl.json").read_text(encoding="utf-8")
    actions = set(re.findall(r"aws-sdk:sagemaker:([a-zA-Z]+)", asl))
    changes = {a[0].upper() + a[1:] for a in actions if not a.startswith(("describe", "list", "start"))}
    assert {"UpdateEndpoint", "CreateEndpoint", "UpdateModelPackage"} <= changes
    # THEN the documented query lists each of them, for this stack's endpoint and group
    template = nominal_template(EnableAuditTrail="true")
    query = template.resolve(template.resource("AuditWhoChangedQuery")["Properties"]["QueryString"])
    listed = set(re.findall(r"'([A-Z][A-Za-z]+)'", query))
    assert changes <= listed
    assert f"= '{template.parameters['EndpointName']}'" in query
    assert "useridentity.arn" in query
    assert "eventtime" in query
    table = template.resolve(template.resource("AuditTableQuery")["Properties"]["QueryString"])
    assert "CREATE EXTERNAL TABLE IF NOT EXISTS sentinel_audit" in table
    assert "FROM sentinel_audit" in query


# ---------------------------------------------------------------------------- monitoring account


@pytest.fixture(scope="module")
def monitoring() -> Template:
    return Template(load_template(MONITORING), parameters={"SourceAccountIds": "123456789012"})


def test_the_monitoring_sink_admits_the_three_resource_types_the_link_shares(monitoring):
    statements = monitoring.document["Resources"]["Sink"]["Properties"]["Policy"]["Statement"]
    for statement in statements:
        _condition, allowed, _off = statement["Fn::If"]
        types = allowed["Condition"]["ForAllValues:StringEquals"]["oam:ResourceTypes"]
        link = load_template()["Resources"]["MonitoringLink"]["Properties"]["ResourceTypes"]
        assert sorted(types) == sorted(link)
    org = statements[1]["Fn::If"][1]
    assert org["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": {"Ref": "OrganizationId"}}


def test_the_central_rule_alerts_on_what_needs_a_human(monitoring):
    pattern = EventPattern.load(
        json.dumps(monitoring.document["Resources"]["CentralAlertRule"]["Properties"]["EventPattern"])
    )
    alarm = event(
        "aws.cloudwatch",
        "CloudWatch Alarm State Change",
        ["arn:aws:cloudwatch:us-east-1:1:alarm:x"],
        {"state": {"value": "ALARM"}},
    )
    ok = event(
        "aws.cloudwatch",
        "CloudWatch Alarm State Change",
        ["arn:aws:cloudwatch:us-east-1:1:alarm:x"],
        {"state": {"value": "OK"}},
    )
    failed = event(
        "aws.sagemaker",
        "SageMaker Model Building Pipeline Execution Status Change",
        ["p"],
        {"currentPipelineExecutionStatus": "Failed"},
    )
    succeeded = event(
        "aws.sagemaker",
        "SageMaker Model Building Pipeline Execution Status Change",
        ["p"],
        {"currentPipelineExecutionStatus": "Succeeded"},
    )
    timed_out = event("aws.states", "Step Functions Execution Status Change", ["e"], {"status": "TIMED_OUT"})
    assert pattern.matches_event(alarm)
    assert pattern.matches_event(failed)
    assert pattern.matches_event(timed_out)
    assert not pattern.matches_event(ok)
    assert not pattern.matches_event(succeeded)
    topic = monitoring.document["Resources"]["CentralAlertsTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "CentralAlertsKey"}


def test_the_cross_account_dashboard_searches_metrics_the_stack_emits(monitoring):
    from tests.support.dashboard import code_sources, emitted_metrics

    emitted, _ = emitted_metrics(code_sources())
    body = monitoring.document["Resources"]["CrossAccountDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    searches = re.findall(r"SEARCH\('\{AnomalySentinel,([^}]*)\} MetricName=\\\"(\w+)\\\"", body)
    assert len(searches) >= 4
    for dims, metric in searches:
        assert frozenset([*dims.split(","), *()]) in emitted[metric], metric
