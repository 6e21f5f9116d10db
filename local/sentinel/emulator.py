"""The embedded default: deploy what template.yaml declares onto moto (in-process or server mode).

``LocalStack.deploy()`` names every resource, creates the ones moto can hold (buckets with
EventBridge notifications, tables, queues, topics, keys, and whatever later sections register in
``CREATORS``) and returns a :class:`~sentinel.template.Template` whose Refs and GetAtts resolve to
those local resources. Functions are not created in moto: the router runs their handlers in-process.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from sentinel.template import PhysicalResource, Template, load_template

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "sentinel"

#: The credentials and region every local client and handler uses (never real ones).
LOCAL_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}

Creator = Callable[["LocalStack", str, dict[str, Any]], PhysicalResource | None]
#: Resource type → function creating it on the emulator (returns updated physical names, or None).
CREATORS: dict[str, Creator] = {}


def creates(resource_type: str) -> Callable[[Creator], Creator]:
    def register(function: Creator) -> Creator:
        CREATORS[resource_type] = function
        return function

    return register


def _arn(service: str, resource: str, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


def local_client(service: str) -> Any:
    """A boto3 client for the emulator (mock_aws in-process, or the server via AWS_ENDPOINT_URL)."""
    return boto3.client(service, region_name=REGION)


def local_name(logical_id: str) -> str:
    """Deterministic, S3-safe physical name for a logical ID."""
    return f"{STACK}-{logical_id.lower()}"[:63]


def nominal(logical_id: str, resource_type: str, props: dict[str, Any]) -> PhysicalResource:
    """What Ref/GetAtt return before (or without) creating the resource."""
    name = local_name(logical_id)
    arns: dict[str, Callable[[], PhysicalResource]] = {
        "AWS::S3::Bucket": lambda: PhysicalResource(
            name, {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}
        ),
        "AWS::SNS::Topic": lambda: PhysicalResource(
            _arn("sns", name), {"TopicName": name, "TopicArn": _arn("sns", name)}
        ),
        "AWS::SQS::Queue": lambda: PhysicalResource(
            f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}",
            {"Arn": _arn("sqs", name), "QueueName": name},
        ),
        "AWS::DynamoDB::Table": lambda: PhysicalResource(name, {"Arn": _arn("dynamodb", f"table/{name}")}),
        "AWS::Serverless::Function": lambda: PhysicalResource(
            name, {"Arn": _arn("lambda", f"function:{name}")}
        ),
        "AWS::Serverless::StateMachine": lambda: PhysicalResource(
            _arn("states", f"stateMachine:{name}"),
            {"Name": name, "Arn": _arn("states", f"stateMachine:{name}")},
        ),
        "AWS::IAM::Role": lambda: PhysicalResource(name, {"Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}"}),
        "AWS::Logs::LogGroup": lambda: PhysicalResource(
            f"/sentinel/{logical_id}", {"Arn": _arn("logs", f"log-group:/sentinel/{logical_id}")}
        ),
    }
    if resource_type in arns:
        return arns[resource_type]()
    return PhysicalResource(name, {"Arn": _arn("local", name), "Name": name})


@dataclass
class LocalStack:
    """A local deployment of template.yaml."""

    parameters: dict[str, str] | None = None

    def __post_init__(self) -> None:
        self.document = load_template()
        self.physical: dict[str, PhysicalResource] = {}
        self.created: list[str] = []
        self.not_emulated: list[str] = []

    def template(self) -> Template:
        return Template(
            self.document,
            physical=self.physical,
            parameters=self.parameters,
            region=REGION,
            account=ACCOUNT,
            stack_name=STACK,
        )

    def client(self, service: str) -> Any:
        return local_client(service)

    def deploy(self) -> Template:
        _load_creator_modules()
        resources = self.document.get("Resources", {})
        for logical_id, resource in resources.items():
            self.physical[logical_id] = nominal(logical_id, resource["Type"], resource.get("Properties", {}))
        template = self.template()
        for logical_id, resource in _creation_order(resources):
            if "Condition" in resource and not template.condition(resource["Condition"]):
                continue
            creator = CREATORS.get(resource["Type"])
            if creator is None:
                self.not_emulated.append(logical_id)
                continue
            props = template.resolve(resource.get("Properties", {}))
            updated = creator(self, logical_id, props)
            if updated is not None:
                # Later resources must see what this one really is (ids, ARNs, URLs).
                self.physical[logical_id] = updated
                template = self.template()
            self.created.append(logical_id)
        return self.template()


def _load_creator_modules() -> None:
    import importlib
    import pkgutil

    from sentinel import resources

    for module in pkgutil.iter_modules(resources.__path__):
        importlib.import_module(f"sentinel.resources.{module.name}")


_ORDER = ["AWS::KMS::Key", "AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SNS::Topic"]


def _creation_order(resources: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    def rank(item: tuple[str, dict[str, Any]]) -> int:
        kind = item[1]["Type"]
        return _ORDER.index(kind) if kind in _ORDER else len(_ORDER)

    return sorted(resources.items(), key=rank)


# ---------------------------------------------------------------------------- creators


@creates("AWS::KMS::Key")
def _kms_key(stack: LocalStack, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
    key = stack.client("kms").create_key(Description=props.get("Description", logical_id))["KeyMetadata"]
    return PhysicalResource(key["KeyId"], {"Arn": key["Arn"], "KeyId": key["KeyId"]})


@creates("AWS::S3::Bucket")
def _bucket(stack: LocalStack, logical_id: str, props: dict[str, Any]) -> None:
    s3 = stack.client("s3")
    name = stack.physical[logical_id].ref
    s3.create_bucket(Bucket=name)
    if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if "BucketEncryption" in props:
        rules = [
            {
                "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                "BucketKeyEnabled": bool(rule.get("BucketKeyEnabled", False)),
            }
            for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
        )
    notifications = props.get("NotificationConfiguration", {})
    if notifications.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
        s3.put_bucket_notification_configuration(
            Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )


@creates("AWS::DynamoDB::Table")
def _table(stack: LocalStack, logical_id: str, props: dict[str, Any]) -> None:
    ddb = stack.client("dynamodb")
    name = stack.physical[logical_id].ref
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode=props.get("BillingMode", "PAY_PER_REQUEST"),
    )
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        ddb.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": ttl["Enabled"]},
        )


@creates("AWS::SQS::Queue")
def _queue(stack: LocalStack, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
    sqs = stack.client("sqs")
    name = stack.physical[logical_id].attributes["QueueName"]
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return PhysicalResource(url, {"Arn": arn, "QueueName": name})


@creates("AWS::SNS::Topic")
def _topic(stack: LocalStack, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
    name = stack.physical[logical_id].attributes["TopicName"]
    attributes = {"KmsMasterKeyId": props["KmsMasterKeyId"]} if "KmsMasterKeyId" in props else {}
    arn = stack.client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
    return PhysicalResource(arn, {"TopicName": name, "TopicArn": arn})


@creates("AWS::SNS::Subscription")
def _subscription(stack: LocalStack, logical_id: str, props: dict[str, Any]) -> None:
    # E-mail cannot be delivered offline; the subscription is recorded, unconfirmed, as on AWS.
    stack.client("sns").subscribe(
        TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"]
    )


@creates("AWS::SageMaker::ModelPackageGroup")
def _model_package_group(stack: LocalStack, logical_id: str, props: dict[str, Any]) -> PhysicalResource:
    name = props["ModelPackageGroupName"]
    arn = stack.client("sagemaker").create_model_package_group(
        ModelPackageGroupName=name,
        ModelPackageGroupDescription=props.get("ModelPackageGroupDescription", ""),
    )["ModelPackageGroupArn"]
    return PhysicalResource(arn, {"ModelPackageGroupArn": arn, "ModelPackageGroupName": name})


# ---------------------------------------------------------------------------- server mode


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_server(step_functions: bool = True) -> Iterator[str]:
    """Moto in server mode on a free loopback port; every boto3 client in-process points at it.

    Sets ``AWS_ENDPOINT_URL`` (all services) and ``MOTO_PORT`` (moto's Step Functions engine calls
    back to itself there), with Step Functions really executing ASL.
    """
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    saved = dict(os.environ)
    os.environ.update({**LOCAL_ENV, "AWS_ENDPOINT_URL": url, "MOTO_PORT": str(port)})
    try:
        if step_functions:
            import requests

            requests.post(
                f"{url}/moto-api/config",
                json={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}},
                timeout=10,
            ).raise_for_status()
        yield url
    finally:
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
