"""anomaly_sentinel.storms on the template's idempotency table (moto)."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3

from anomaly_sentinel import storms


def test_the_lock_names_its_holder_until_it_expires(stack):
    dynamodb, table = boto3.client("dynamodb"), stack.ref("IdempotencyTable")
    assert storms.retraining_holder(dynamodb, table, "ep", now=100) is None
    dynamodb.put_item(
        TableName=table,
        Item={"id": {"S": "retrain-lock#ep"}, "holder": {"S": "drift-1"}, "expiration": {"N": "200"}},
    )
    assert storms.retraining_holder(dynamodb, table, "ep", now=150) == "drift-1"
    assert storms.retraining_holder(dynamodb, table, "ep", now=201) is None
    assert storms.retraining_holder(dynamodb, table, "other", now=150) is None


def test_the_first_signal_of_a_window_claims_the_digest_the_rest_are_counted(stack):
    dynamodb, table = boto3.client("dynamodb"), stack.ref("IdempotencyTable")
    counts = [storms.claim_digest(dynamodb, table, "ep", "2026-11-30T01", 999) for _ in range(20)]
    assert counts == list(range(1, 21))
    assert storms.claim_digest(dynamodb, table, "ep", "2026-11-30T02", 999) == 1


def test_window_key_aligns_to_utc_midnight():
    moment = datetime(2026, 11, 30, 7, 42, tzinfo=UTC)
    assert storms.window_key(moment) == "2026-11-30T07"
    assert storms.window_key(moment, 6) == "2026-11-30T06"
