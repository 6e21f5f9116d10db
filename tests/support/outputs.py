"""What a caller of a deployed function observes: SNS messages through SQS subscribers, JSONL written
to S3, metrics printed as CloudWatch EMF documents."""

from __future__ import annotations

import json
from typing import Any

import boto3

from sentinel.template import Template


def subscribe(stack: Template, name: str, policy: dict[str, Any]) -> str:
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(
        TopicArn=stack.ref("AlertsTopic"),
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"FilterPolicy": json.dumps(policy)},
    )
    return url


def messages(url: str) -> list[dict[str, Any]]:
    found = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in found.get("Messages", [])]


def read_jsonl(uri: str) -> list[dict[str, Any]]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return [json.loads(line) for line in body.splitlines()]


def emf_documents(output: str) -> list[dict[str, Any]]:
    docs = []
    for line in output.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            docs.append(json.loads(line))
    return docs
