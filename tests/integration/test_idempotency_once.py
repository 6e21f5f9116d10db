"""anomaly_sentinel.idempotency.Once on the template's idempotency table (moto).

The handlers' own duplicate tests show a repeated event is absorbed; these pin what the record
says: which identity it keys on, how long it lives, and that a run in progress expires with the
invocation that started it.
"""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyKeyError

from anomaly_sentinel.aws import DEFAULT_CONFIG
from anomaly_sentinel.events import S3Object
from anomaly_sentinel.idempotency import Once
from sentinel.invoke import LocalContext
from sentinel.template import Template

TTL = 3_000


@pytest.fixture
def table(stack: Template) -> str:
    return str(stack.ref("IdempotencyTable"))


def items(table: str) -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=table)["Items"]


def counting(once: Once) -> tuple[Any, list[str]]:
    runs: list[str] = []

    @once("obj")
    def handle(obj: S3Object) -> dict[str, Any]:
        runs.append(obj.identity)
        return {"scored": obj.key}

    return handle, runs


def test_the_same_identity_runs_once_whatever_else_the_event_says(table):
    # GIVEN a function guarded on the object's identity (bucket, key, version)
    handle, runs = counting(Once(table, TTL))
    first = S3Object(bucket="b", key="capture/a.jsonl", size=10, version_id="v1")
    # WHEN the same version arrives again with other details (a redelivery by another rule, say)
    results = [handle(obj=first), handle(obj=first.model_copy(update={"size": 99, "etag": "e"}))]
    # THEN it ran once and the duplicate got the first result
    assert runs == [first.identity]
    assert results == [{"scored": "capture/a.jsonl"}] * 2
    # AND a new version of the same key is new work
    handle(obj=first.model_copy(update={"version_id": "v2"}))
    assert len(runs) == 2


def test_the_record_lives_for_the_configured_ttl(table):
    # GIVEN a TTL of 3,000 s WHEN a function runs
    handle, _ = counting(Once(table, TTL))
    before = int(time.time())
    handle(obj=S3Object(bucket="b", key="capture/a.jsonl", version_id="v1"))
    # THEN its record expires 3,000 s later (DynamoDB's TTL attribute)
    (item,) = items(table)
    assert before + TTL <= int(item["expiration"]["N"]) <= int(time.time()) + TTL


def test_a_run_in_progress_expires_with_the_invocation_that_started_it(table):
    # GIVEN an invocation with 20 s left, registered with the guard
    once = Once(table, TTL)
    once.register(LocalContext(function_name="f", timeout_s=20))
    seen: list[dict[str, Any]] = []

    @once("obj")
    def handle(obj: S3Object) -> None:
        (item,) = items(table)
        seen.append(item)

    # WHEN the function runs
    started_ms = int(time.time() * 1000)
    handle(obj=S3Object(bucket="b", key="capture/a.jsonl", version_id="v1"))
    # THEN while it ran, its record was marked to expire when the invocation would time out
    (item,) = seen
    assert item["status"]["S"] == "INPROGRESS"
    expires_ms = int(item["in_progress_expiration"]["N"])
    assert started_ms + 15_000 <= expires_ms <= int(time.time() * 1000) + 20_000


def test_data_without_an_identity_is_refused_not_run_unguarded(table):
    # GIVEN a guard keyed on "identity" and data that has none
    runs: list[dict[str, Any]] = []

    @Once(table, TTL)("data")
    def handle(data: dict[str, Any]) -> None:
        runs.append(data)

    # WHEN / THEN the call fails and the function never runs
    with pytest.raises(IdempotencyKeyError):
        handle(data={"bucket": "b"})
    assert runs == []


def test_the_table_is_reached_with_the_packages_retry_policy(table):
    # GIVEN a guard WHEN built THEN its DynamoDB client retries as every client of the package does
    config = Once(table, TTL).persistence.client.meta.config
    assert config.retries == DEFAULT_CONFIG.retries
    assert config.user_agent_extra.startswith(DEFAULT_CONFIG.user_agent_extra)
