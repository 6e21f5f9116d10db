"""Pure parts of capture scoring: request packing, error classification, response checks, cutoff."""

from __future__ import annotations

import io
import json
import math
import statistics

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from anomaly_sentinel.cutoff import (
    ModelStatsSource,
    RunningStats,
    ScoreStats,
    StatsLookup,
    resolve_cutoff,
    stats_uri,
)
from anomaly_sentinel.scoring import EndpointClient, RequestPacker, _RequestSpecific, classify, parse_scores

# ---------------------------------------------------------------------------- packing

row_text = st.lists(st.integers(0, 10**6), min_size=1, max_size=6).map(lambda vs: ",".join(map(str, vs)))


def pack(rows: list[str], max_bytes: int, max_rows: int):
    packer = RequestPacker(max_bytes, max_rows)
    batches = [b for b in (packer.add(r) for r in rows) if b is not None]
    last = packer.flush()
    return batches + ([last] if last else [])


@settings(max_examples=200, deadline=None)
@given(st.lists(row_text, max_size=200), st.integers(50, 400), st.integers(1, 30))
def test_packing_keeps_every_row_in_order_within_both_limits(rows, max_bytes, max_rows):
    # GIVEN any rows that each fit one request WHEN packed
    rows = [r for r in rows if len(r) <= max_bytes]
    batches = pack(rows, max_bytes, max_rows)
    # THEN every row is sent once, in order, with consecutive sequence numbers
    assert [line for b in batches for line in b.body.decode().split("\n")] == rows
    assert [b.first_seq for b in batches] == [sum(x.count for x in batches[:i]) for i in range(len(batches))]
    # AND no request is over either limit
    assert all(len(b.body) <= max_bytes and b.count <= max_rows for b in batches)


def test_packing_fills_requests_up_to_the_byte_limit():
    # GIVEN 1,000 rows of 9 bytes (+1 separator) and a 1,000-byte limit
    rows = [f"{i:04d},{i:04d}" for i in range(1000)]
    # WHEN packed
    batches = pack(rows, max_bytes=1000, max_rows=10_000)
    # THEN calls equal total bytes / limit, rounded up: 100 rows per request
    total = sum(len(r) + 1 for r in rows) - 1
    assert len(batches) == math.ceil(total / 1000) == 10
    assert {b.count for b in batches} == {100}


def test_row_limit_seals_requests_before_the_byte_limit():
    # GIVEN 25 tiny rows and a 10-row limit WHEN packed THEN the row limit seals each request
    batches = pack(["1,2"] * 25, max_bytes=10_000, max_rows=10)
    assert [b.count for b in batches] == [10, 10, 5]


# ---------------------------------------------------------------------------- errors


def client_error(code: str, status: int, message: str = "m", **extra) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
            **extra,
        },
        "InvokeEndpoint",
    )


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (client_error("ThrottlingException", 400), "transient"),
        (client_error("ModelNotReadyException", 429), "transient"),
        (client_error("ServiceUnavailable", 503), "transient"),
        (client_error("InternalFailure", 500), "transient"),
        (client_error("SomethingNew", 502), "transient"),
        (client_error("ModelError", 424, OriginalStatusCode=500), "crash"),
        (client_error("ModelError", 424, OriginalStatusCode=400), "request"),
        (client_error("ValidationError", 400, "payload too large"), "request"),
        (client_error("ValidationError", 400, "Endpoint x of account 1 not found."), "fatal"),
        (client_error("AccessDeniedException", 400), "fatal"),
    ],
)
def test_errors_are_classified(error, kind):
    # GIVEN an endpoint error WHEN classified THEN it is retried, bisected, or ends the file
    assert classify(error, "x").kind == kind


def test_fatal_reasons_name_the_endpoint():
    # GIVEN a denied call WHEN classified THEN the reason names the endpoint a person must fix
    assert "'rcf'" in classify(client_error("AccessDeniedException", 400), "rcf").reason


@pytest.mark.parametrize(
    "code", ["ModelError", "ValidationError", "AccessDeniedException", "InternalFailure"]
)
def test_reasons_hold_status_and_error_code_never_the_message(code):
    # GIVEN a container that echoes the refused row in its error message
    status = 424 if code == "ModelError" else 400
    error = client_error(code, status, "bad row 4242.5,99", OriginalStatusCode=400)
    # WHEN classified THEN the reason names the code and status, and no payload value
    reason = classify(error, "x").reason
    assert code in reason
    assert "400" in reason or "424" in reason
    assert "4242.5" not in reason


@pytest.mark.parametrize(
    ("payload", "count"),
    [
        (b'{"scores":[{"score":1}]}', 2),
        (b'{"scores":[{"score":1},{"score":2}]}', 1),
        (b"not json", 1),
        (b'{"predictions":[1]}', 1),
        (b'{"scores":[{"score":"NaN"}]}', 1),
        (b'{"scores":[{"value":1}]}', 1),
    ],
)
def test_bad_responses_ask_for_a_bisection(payload, count):
    # GIVEN a response that does not hold one finite score per row WHEN parsed THEN the batch is split
    with pytest.raises(_RequestSpecific):
        parse_scores(payload, count)


def test_good_response_parses_in_order():
    # GIVEN a well-formed response WHEN parsed THEN the scores come back in the rows' order
    assert parse_scores(b'{"scores":[{"score":1.5},{"score":0}]}', 2) == [1.5, 0.0]


def test_backoff_grows_and_is_capped():
    # GIVEN a 0.25 s base, a 2 s cap and full jitter WHEN attempts repeat THEN waits double, then cap
    client = EndpointClient(None, "x", backoff_base_s=0.25, backoff_cap_s=2.0, jitter=lambda: 1.0)
    assert [client.backoff(a) for a in range(1, 6)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    # AND with no jitter a wait is still half its step
    client.jitter = lambda: 0.0
    assert client.backoff(3) == 0.5  # equal jitter: at least half the step


# ---------------------------------------------------------------------------- cutoff

STATS = ScoreStats(count=1000, mean=1.0, std=0.2, min=0.5, max=2.5, quantiles={"0.99": 1.6})


def file_stats(values: list[float]) -> RunningStats:
    stats = RunningStats()
    for v in values:
        stats.add(v)
    return stats


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=200))
def test_running_stats_match_the_population_formulas(values):
    # GIVEN any scores WHEN accumulated one by one THEN mean, std and max are the population figures
    stats = file_stats(values)
    assert stats.mean == pytest.approx(statistics.fmean(values), rel=1e-9, abs=1e-6)
    assert stats.std == pytest.approx(statistics.pstdev(values), rel=1e-6, abs=1e-6)
    assert stats.max == max(values)


def test_explicit_threshold_wins():
    # GIVEN a threshold, the model's statistics and enough file scores WHEN the cutoff is resolved
    cutoff = resolve_cutoff(
        threshold=2.0,
        model=StatsLookup(STATS, "s3://b/m/score_stats.json", "read"),
        file=file_stats([1] * 500),
        k=3,
        min_records=10,
    )
    # THEN the operator's threshold is used
    assert (cutoff.value, cutoff.source) == (2.0, "threshold")


def test_model_stats_come_next_and_are_named():
    # GIVEN no threshold but the model's statistics WHEN the cutoff is resolved
    cutoff = resolve_cutoff(
        threshold=None,
        model=StatsLookup(STATS, "s3://b/m/score_stats.json", "read"),
        file=file_stats([1] * 500),
        k=3,
        min_records=10,
    )
    # THEN mean + 3 std of the model's training scores is used, and its file is named
    assert cutoff.source == "model-stats"
    assert cutoff.value == pytest.approx(1.6)
    assert "s3://b/m/score_stats.json" in cutoff.detail


def test_file_stats_only_with_enough_records_and_say_why_model_stats_were_missing():
    # GIVEN no threshold and unreadable model statistics
    missing = StatsLookup(
        None, "s3://b/m/score_stats.json", "s3://b/m/score_stats.json unreadable (NoSuchKey)"
    )
    # WHEN the file has enough scores THEN its own mean + k std is used, saying why
    enough = resolve_cutoff(
        threshold=None, model=missing, file=file_stats([1.0, 3.0] * 50), k=3, min_records=100
    )
    assert (enough.source, enough.value) == ("file-stats", pytest.approx(2.0 + 3 * 1.0))
    assert "NoSuchKey" in enough.detail
    # AND WHEN it has too few THEN nothing is flagged and the reason says so
    few = resolve_cutoff(threshold=None, model=missing, file=file_stats([1.0] * 99), k=3, min_records=100)
    assert (few.source, few.value) == ("none", None)
    assert "99 scores" in few.detail
    assert not few.flags(1e9)


def test_stats_live_next_to_the_model_artifact():
    # GIVEN a model artefact's address THEN its score statistics are in the same folder
    assert stats_uri("s3://b/p/q/model.tar.gz") == "s3://b/p/q/score_stats.json"


class FakeSageMaker:
    """Records calls; answers the three describes in the shapes AWS returns."""

    def __init__(self, url: str = "s3://b/models/1/model.tar.gz") -> None:
        self.url = url
        self.calls = 0

    def describe_endpoint(self, EndpointName):
        self.calls += 1
        return {"EndpointConfigName": f"{EndpointName}-config"}

    def describe_endpoint_config(self, EndpointConfigName):
        return {"ProductionVariants": [{"ModelName": "m1"}]}

    def describe_model(self, ModelName):
        return {"PrimaryContainer": {"ModelDataUrl": self.url}}


class FakeS3:
    def __init__(self, body: bytes | None) -> None:
        self.body = body
        self.gets = 0

    def get_object(self, Bucket, Key):
        self.gets += 1
        if self.body is None:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "x"}}, "GetObject")
        return {"Body": io.BytesIO(self.body)}


def test_model_stats_are_cached_per_model_url_but_the_endpoint_is_asked_every_time():
    # GIVEN a model in service with readable statistics
    sagemaker, s3 = FakeSageMaker(), FakeS3(json.dumps(STATS.model_dump()).encode())
    source = ModelStatsSource(sagemaker, s3)
    # WHEN two files are scored THEN the endpoint is asked both times, the file read once
    first, second = source.lookup("rcf"), source.lookup("rcf")
    assert first.stats == second.stats == STATS
    assert first.uri == "s3://b/models/1/score_stats.json"
    assert (sagemaker.calls, s3.gets) == (2, 1)
    # AND WHEN a new model is deployed THEN its own statistics are read
    sagemaker.url = "s3://b/models/2/model.tar.gz"
    assert source.lookup("rcf").uri == "s3://b/models/2/score_stats.json"
    assert s3.gets == 2


@pytest.mark.parametrize(
    "body", [None, b"not json", b'{"count": 0, "mean": 1}'], ids=["missing", "garbage", "invalid"]
)
def test_unreadable_model_stats_fall_through_with_a_note(body):
    # GIVEN missing, garbled or invalid statistics WHEN looked up THEN none are used and a note says why
    found = ModelStatsSource(FakeSageMaker(), FakeS3(body)).lookup("rcf")
    assert found.stats is None
    assert "score_stats.json" in found.note
