"""The one guard for JSON we did not write: bounded size and depth, finite numbers, a named error."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from anomaly_sentinel.contracts import DOCUMENT_MAX_DEPTH, ScoreStats, read_document
from anomaly_sentinel.exceptions import DocumentError


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (nested(100_000), "nested too deeply"),
        (nested(DOCUMENT_MAX_DEPTH + 1), "nested too deeply"),
        (b'{"mean": NaN}', "NaN, which is not a finite number"),
        (b'{"count": -Infinity}', "-Infinity, which is not a finite number"),
        (b'{"item_count": 1e999}', "1e999, which overflows a float"),
        (b'{"rows": ' + b"9" * 40 + b"}", "beyond a 64-bit count"),
        (b'{"rows": ' + b"9" * 5_000 + b"}", "not JSON"),
        (b"\xff{}", "not UTF-8"),
        (b"{", "not JSON"),
        (b"[" + b" " * 100 + b"]", "larger than 100 bytes"),
    ],
    ids=[
        "recursion",
        "depth",
        "nan",
        "infinity",
        "overflow",
        "huge-int",
        "int-digits",
        "utf8",
        "json",
        "size",
    ],
)
def test_a_document_beyond_a_bound_is_a_named_error(raw, reason):
    # GIVEN a document breaking one bound WHEN read THEN a DocumentError names the bound, nothing else escapes
    with pytest.raises(DocumentError, match=reason.replace("(", r"\(")):
        read_document(raw, max_bytes=100 if reason.startswith("larger") else 10**7)


def test_a_document_within_every_bound_is_read_as_json():
    document = {
        "features": [{"counts": [1, 2.5, -3e300]}],
        "deep": json.loads(nested(DOCUMENT_MAX_DEPTH - 3)),
    }
    raw = json.dumps(document).encode()
    assert read_document(raw, max_bytes=len(raw)) == document


def test_score_statistics_quantiles_must_be_probabilities():
    base = {"count": 10, "mean": 1.0, "std": 0.1, "min": 0.0, "max": 2.0}
    assert ScoreStats.model_validate({**base, "quantiles": {"0.99": 1.8}}).quantiles == {"0.99": 1.8}
    for quantiles in ({"p99": 1.8}, {"1.5": 1.8}, {"nan": 1.8}):
        with pytest.raises(ValidationError, match="quantile"):
            ScoreStats.model_validate({**base, "quantiles": quantiles})
