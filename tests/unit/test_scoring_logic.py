"""Pure parts of capture scoring: request packing, error classification, response checks, cutoff."""

from __future__ import annotations

import io
import json
import math
import statistics
import threading
import time
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError
from hypothesis import given, settings
from hypothesis import strategies as st

from anomaly_sentinel.contracts.served import ServedModels
from anomaly_sentinel.cutoff import (
    RunningStats,
    ScoreStats,
    StatsLookup,
    resolve_cutoff,
    stats_uri,
)
from anomaly_sentinel.exceptions import EndpointUnavailableError
from anomaly_sentinel.scoring import (
    Batch,
    BatchOutcome,
    EndpointClient,
    FailureTracker,
    RequestPacker,
    classify,
    parse_scores,
    runtime_config,
    score_batches,
)

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


@pytest.mark.parametrize(
    "error",
    [
        client_error("AccessDeniedException", 400),
        client_error("ValidationError", 400, "Endpoint rcf not found."),
    ],
    ids=["denied", "not-found"],
)
def test_fatal_reasons_name_the_endpoint(error):
    # GIVEN a denied call or an unknown endpoint WHEN classified THEN the reason names the endpoint
    # a person must fix
    assert "'rcf'" in classify(error, "rcf").reason


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
    "payload",
    [
        b'{"scores":[{"score":1}]}',
        b'{"scores":[{"score":1},{"score":2},{"score":3}]}',
        b"not json",
        b'{"predictions":[1]}',
        b'{"scores":[{"score":"NaN"}]}',
        b'{"scores":[{"value":1}]}',
    ],
    ids=["too-few", "too-many", "garbage", "other-shape", "nan", "no-score"],
)
def test_an_unusable_answer_to_a_request_splits_it_and_each_row_is_scored_alone(payload):
    # GIVEN an endpoint that answers a request of two rows with something other than two finite
    # scores, and single rows correctly
    def answer(rows):
        return payload if len(rows) > 1 else mean(rows)

    client = EndpointClient(FakeRuntime(answer), "x", sleep=lambda _: None)
    # WHEN the two rows are scored
    outcome = client.score(one_batch(["1,3", "2,4"]))
    # THEN no score is taken from the unusable answer: the request is split and each row scored alone
    assert (outcome.scores, outcome.reasons, outcome.bisections) == ([2.0, 3.0], {}, 1)


def test_good_response_parses_in_order():
    # GIVEN a well-formed response WHEN parsed THEN the scores come back in the rows' order
    assert parse_scores(b'{"scores":[{"score":1.5},{"score":0}]}', 2) == [1.5, 0.0]


def test_backoff_grows_and_is_capped():
    # GIVEN a 0.25 s base, a 2 s cap and full jitter WHEN attempts repeat THEN waits double, then cap
    client = EndpointClient(None, "x", backoff_base_s=0.25, backoff_cap_s=2.0, jitter=lambda: 1.0)
    assert [client.backoff(a) for a in range(1, 6)] == [0.25, 0.5, 1.0, 2.0, 2.0]
    # AND by default waits start at 0.25 s and are capped at 8 s
    default = EndpointClient(None, "x", jitter=lambda: 1.0)
    assert [default.backoff(a) for a in (1, 6, 7)] == [0.25, 8.0, 8.0]
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
    source = ServedModels(sagemaker, s3)

    def lookup(endpoint: str) -> StatsLookup:
        found = source.resolve(endpoint, baseline=False).stats
        assert found is not None
        return found

    # WHEN two files are scored THEN the endpoint is asked both times, the file read once
    first, second = lookup("rcf"), lookup("rcf")
    assert first.stats == second.stats == STATS
    assert first.uri == "s3://b/models/1/score_stats.json"
    assert (sagemaker.calls, s3.gets) == (2, 1)
    # AND WHEN a new model is deployed THEN its own statistics are read
    sagemaker.url = "s3://b/models/2/model.tar.gz"
    assert lookup("rcf").uri == "s3://b/models/2/score_stats.json"
    assert s3.gets == 2


@pytest.mark.parametrize(
    "body", [None, b"not json", b'{"count": 0, "mean": 1}'], ids=["missing", "garbage", "invalid"]
)
def test_unreadable_model_stats_fall_through_with_a_note(body):
    # GIVEN missing, garbled or invalid statistics WHEN looked up THEN none are used and a note says why
    found = ServedModels(FakeSageMaker(), FakeS3(body)).resolve("rcf", baseline=False).stats
    assert found is not None
    assert found.stats is None
    assert "score_stats.json" in found.note


# ---------------------------------------------------------------------------- boundaries


def test_a_row_that_exactly_fills_the_byte_limit_joins_the_request():
    # GIVEN two 4-byte rows and a 9-byte limit (4 + separator + 4 = 9)
    # WHEN packed THEN they travel together: the limit is inclusive
    assert [b.body for b in pack(["1,23", "4,56"], max_bytes=9, max_rows=10)] == [b"1,23\n4,56"]
    # AND after a sealed request the next one fills up to the limit as well
    rows = ["1,23", "4,56", "7,89", "0,12"]
    assert [b.count for b in pack(rows, max_bytes=9, max_rows=10)] == [2, 2]
    # AND one byte less seals the first request
    assert [b.body for b in pack(["1,23", "4,56"], max_bytes=8, max_rows=10)] == [b"1,23", b"4,56"]


def test_a_row_exactly_as_long_as_the_limit_fits_alone():
    # GIVEN a 9-byte limit THEN a 9-byte row can be sent, a 10-byte row cannot
    packer = RequestPacker(max_bytes=9, max_rows=10)
    assert packer.fits_alone("1,2,3,4,5")
    assert not packer.fits_alone("1,2,3,4,56")


def test_sequence_numbers_start_at_zero_and_count_every_row():
    # GIVEN a fresh packer WHEN rows are added THEN next_seq names the next row and batches start there
    packer = RequestPacker(max_bytes=100, max_rows=2)
    assert packer.next_seq == 0
    sealed = [packer.add(r) for r in ["1", "2", "3"]]
    assert packer.next_seq == 3
    assert sealed[2] is not None
    assert (sealed[2].first_seq, sealed[2].count) == (0, 2)
    last = packer.flush()
    assert last is not None
    assert (last.first_seq, last.count, last.body) == (2, 1, b"3")
    # AND an empty packer has nothing to flush
    assert packer.flush() is None


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (client_error("ModelError", 424, OriginalStatusCode=499), "request"),
        (client_error("ModelError", 424, OriginalStatusCode=500), "crash"),
        (client_error("SomethingNew", 499), "fatal"),
        (client_error("SomethingNew", 500), "transient"),
        (client_error("SlowDown", 429), "transient"),
        (client_error("SlowDown", 428), "fatal"),
        (client_error("ValidationError", 400, "Could not find endpoint x."), "fatal"),
    ],
    ids=[
        "model-4xx-edge",
        "model-5xx-edge",
        "status-499",
        "status-500",
        "status-429",
        "status-428",
        "could-not-find",
    ],
)
def test_status_boundaries_decide_between_retry_bisect_and_stop(error, kind):
    # GIVEN an error on either side of a status boundary WHEN classified THEN 5xx and 429 are retried,
    # a model's 5xx is a crash, a model's 4xx a request-specific refusal, other 4xx end the file
    assert classify(error, "x").kind == kind


def test_an_error_without_code_or_status_is_a_refusal_that_says_so():
    # GIVEN an error response with neither an error code nor response metadata
    bare = ClientError({}, "InvokeEndpoint")
    # WHEN classified THEN it ends the file with a reason that shows both were missing
    fault = classify(bare, "rcf")
    assert (fault.kind, fault.reason) == ("fatal", "endpoint 'rcf' refused the call: Unknown (status 0)")


def test_a_model_error_without_its_original_status_is_a_request_refusal_of_unknown_status():
    # GIVEN a ModelError whose original status is missing
    error = ClientError({"Error": {"Code": "ModelError"}}, "InvokeEndpoint")
    # WHEN classified THEN the rows are bisected, the reason saying the status is unknown
    fault = classify(error, "x")
    assert (fault.kind, fault.reason) == ("request", "model error (status unknown, error code ModelError)")


# ---------------------------------------------------------------------------- admission


class InstantClient:
    """Scores every row 0 at once: the order of pulls and results shows what was admitted."""

    tracker = FailureTracker(1)  # score_batches settles the file on it; nothing ever fails here

    def score(self, batch: Batch) -> BatchOutcome:
        return BatchOutcome(batch.first_seq, [0.0] * batch.count)


def admissions(sizes: list[int], *, concurrency: int, max_inflight_bytes: int) -> list[str]:
    """The sequence of batches pulled (``p<i>``) and outcomes handed back (``y<i>``)."""
    log: list[str] = []

    def batches() -> Iterator[Batch]:
        for index, size in enumerate(sizes):
            log.append(f"p{index}")
            yield Batch(index, 1, b"1" * size)

    for outcome in score_batches(
        batches(), InstantClient(), concurrency=concurrency, max_inflight_bytes=max_inflight_bytes
    ):
        log.append(f"y{outcome.first_seq}")
    return log


def test_no_more_batches_than_the_concurrency_are_in_flight():
    # GIVEN a concurrency of 2 and no byte limit WHEN 4 batches are scored
    log = admissions([10] * 4, concurrency=2, max_inflight_bytes=10**6)
    # THEN a third batch waits for the first result, and so on
    assert log == ["p0", "p1", "p2", "y0", "p3", "y1", "y2", "y3"]


def test_batches_whose_bodies_exactly_fill_the_in_flight_budget_are_admitted_together():
    # GIVEN batches of 100 bytes and a budget of 200 bytes WHEN scored with a concurrency of 10
    log = admissions([100] * 4, concurrency=10, max_inflight_bytes=200)
    # THEN two are in flight (200 ≤ 200), the third waits for a result
    assert log == ["p0", "p1", "p2", "y0", "p3", "y1", "y2", "y3"]


def test_the_budget_is_given_back_as_results_come_in():
    # GIVEN batches of 60, 50, 100 and 40 bytes and a budget of 150 bytes
    log = admissions([60, 50, 100, 40], concurrency=10, max_inflight_bytes=150)
    # THEN 60 + 50 fly together; 100 waits for the 60 to come back (50 + 100 = 150 fits), then 40
    # waits for the 50 (100 + 40 fits)
    assert log == ["p0", "p1", "p2", "y0", "p3", "y1", "y2", "y3"]


def test_a_batch_larger_than_the_budget_is_still_scored_alone():
    # GIVEN a budget smaller than every batch WHEN scored THEN each is sent alone, none is dropped
    log = admissions([500, 500], concurrency=4, max_inflight_bytes=100)
    assert log == ["p0", "p1", "y0", "y1"]


def test_the_full_concurrency_is_used_even_beyond_the_default_thread_count():
    # GIVEN a concurrency of 40 (more than a default thread pool has) and a client that only
    # answers once 40 calls are waiting together
    barrier = threading.Barrier(40)

    class Together:
        tracker = FailureTracker(1)

        def score(self, batch: Batch) -> BatchOutcome:
            barrier.wait(timeout=30)
            return BatchOutcome(batch.first_seq, [0.0])

    batches = [Batch(i, 1, b"1") for i in range(40)]
    # WHEN the 40 batches are scored THEN all of them are answered (40 calls were in flight at once)
    outcomes = list(score_batches(batches, Together(), concurrency=40, max_inflight_bytes=10**6))
    assert [o.first_seq for o in outcomes] == list(range(40))


def test_a_failing_batch_leaves_no_call_running_behind_it():
    # GIVEN two batches in flight: the first fails while the second is still being scored
    second_started, finished = threading.Event(), []

    class FailsFirst:
        def score(self, batch: Batch) -> BatchOutcome:
            if batch.first_seq == 0:
                second_started.wait(timeout=10)
                raise EndpointUnavailableError("down")
            second_started.set()
            time.sleep(1.0)
            finished.append(batch.first_seq)
            return BatchOutcome(1, [0.0])

    batches = [Batch(0, 1, b"1"), Batch(1, 1, b"2")]
    # WHEN scored THEN the failure propagates only once the call in flight has completed
    with pytest.raises(EndpointUnavailableError):
        list(score_batches(batches, FailsFirst(), concurrency=2, max_inflight_bytes=10**6))
    assert finished == [1]


def test_the_runtime_client_leaves_retries_to_the_scorer_and_waits_out_slow_invocations():
    # GIVEN the sagemaker-runtime client's config for 4 and for 40 workers
    small, large = runtime_config(4), runtime_config(40)
    # THEN botocore makes one attempt per call (the scorer's rules decide retries), waits 70 s for
    # an invocation (serverless ones take up to 60 s), 5 s to connect, and keeps a connection per
    # worker (at least botocore's 10)
    assert small.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert (small.read_timeout, small.connect_timeout) == (70, 5)
    assert (small.max_pool_connections, large.max_pool_connections) == (10, 40)


# ---------------------------------------------------------------------------- one endpoint client


class FakeRuntime:
    """``invoke_endpoint`` as boto3 has it; ``answer(rows)`` gives the scores or raises a ClientError."""

    def __init__(self, answer, delay_s: float = 0.0) -> None:
        self.answer = answer
        self.delay_s = delay_s
        self.requests: list[dict] = []
        self._lock = threading.Lock()

    def invoke_endpoint(self, **request):
        with self._lock:
            self.requests.append(request)
        time.sleep(self.delay_s)
        scores = self.answer(request["Body"].decode("ascii").split("\n"))
        if isinstance(scores, bytes):  # a raw answer
            return {"Body": io.BytesIO(scores)}
        return {"Body": io.BytesIO(json.dumps({"scores": [{"score": s} for s in scores]}).encode())}


def model_error(original: int) -> ClientError:
    return client_error("ModelError", 424, OriginalStatusCode=original)


def mean(rows: list[str]) -> list[float]:
    return [statistics.fmean(float(v) for v in row.split(",")) for row in rows]


def one_batch(rows: list[str]) -> Batch:
    return Batch(0, len(rows), "\n".join(rows).encode("ascii"))


def test_a_row_that_crashes_the_model_costs_the_batch_its_attempts_then_each_part_its_crash_attempts():
    # GIVEN 4 rows, the first of which crashes the model (500), 4 attempts and 2 per part once bisected
    def answer(rows):
        if "-7,7" in rows:
            raise model_error(500)
        return mean(rows)

    sleeps: list[float] = []
    client = EndpointClient(FakeRuntime(answer), "x", sleep=sleeps.append, jitter=lambda: 1.0)
    # WHEN the batch is scored (default attempts: 6, then 2 per part once bisected)
    outcome = client.score(one_batch(["-7,7", "1,3", "2,4", "3,5"]))
    # THEN only the crashing row is rejected, after 6 calls for the batch, 2 for its half, 2 for it
    # alone, and 1 for each healthy part, with a growing backoff restarting at each part
    assert outcome.scores == [None, 2.0, 3.0, 4.0]
    assert outcome.reasons == {0: "model error (status 500, error code ModelError)"}
    assert (outcome.calls, outcome.retries, outcome.bisections) == (12, 7, 2)
    assert sleeps == [0.25, 0.5, 1.0, 2.0, 4.0, 0.25, 0.25]
    # AND only the 2 healthy parts' calls were answered (they alone carry a latency)
    assert outcome.answered == 2


@pytest.mark.parametrize("rows", [16, 17, 1000])
def test_a_model_refusing_every_row_is_stopped_after_a_bounded_run_of_calls(rows):
    # GIVEN requests of up to `rows` rows and a model that refuses every request (400)
    def refuse(rows):
        raise model_error(400)

    runtime = FakeRuntime(refuse)
    client = EndpointClient(runtime, "x", max_rows=rows, sleep=lambda _: None)
    # WHEN a full request is scored
    outcome = client.score(one_batch(["1,2"] * rows))
    # THEN calls stop after at most 20 (bisecting down to each row would take 2 x rows - 1), and
    # every row carries the one reason, a systematic fault the file is not retried for
    assert outcome.calls == len(runtime.requests) <= 20
    assert outcome.reasons == dict.fromkeys(range(rows), "model error (status 400, error code ModelError)")
    assert (client.tracker.systematic, client.tracker.transient) == (outcome.reasons[0], False)


@pytest.mark.parametrize("rows", [16, 17, 1000])
@pytest.mark.parametrize("where", ["first", "last"])
def test_one_poison_row_is_rejected_alone_and_never_taken_for_a_systematic_fault(rows, where):
    # GIVEN requests of up to `rows` rows, one of which the model refuses (400), deepest in the split
    poison = 0 if where == "first" else rows - 1

    def answer(batch):
        if f"-{poison},1" in batch:
            raise model_error(400)
        return mean(batch)

    client = EndpointClient(FakeRuntime(answer), "x", max_rows=rows, sleep=lambda _: None)
    data = [f"-{i},1" if i == poison else f"{i},{i}" for i in range(rows)]
    # WHEN the full request is scored
    outcome = client.score(one_batch(data))
    # THEN only that row is rejected, every other row is scored, and the endpoint is not blamed
    assert outcome.reasons == {poison: "model error (status 400, error code ModelError)"}
    assert [i for i, score in enumerate(outcome.scores) if score is None] == [poison]
    assert client.tracker.systematic is None


def garbage(rows: list[str]) -> bytes:
    return b"<html>bad gateway</html>"


def infinite(rows: list[str]) -> bytes:
    return b'{"scores":[{"score":"Infinity"}]}'


def refused_400(rows: list[str]) -> bytes:
    raise model_error(400)


def refused_415(rows: list[str]) -> bytes:
    raise model_error(415)


def invalid_400(rows: list[str]) -> bytes:
    raise client_error("ValidationError", 400, "bad request")


def invalid_413(rows: list[str]) -> bytes:
    raise client_error("ValidationError", 413, "payload too large")


def crash_500(rows: list[str]) -> bytes:
    raise model_error(500)


def crash_503(rows: list[str]) -> bytes:
    raise model_error(503)


@pytest.mark.parametrize(
    ("even", "odd"),
    [(refused_400, refused_415), (invalid_400, invalid_413), (crash_500, crash_503), (garbage, infinite)],
    ids=["model-refusals", "invalid-requests", "crashes", "answers"],
)
def test_failures_of_different_kinds_do_not_add_up_to_a_systematic_fault(even, odd):
    # GIVEN 16 rows, each failing, the kind of failure alternating with the request's first row
    def answer(rows):
        return (even if int(rows[0].split(",")[0]) % 2 == 0 else odd)(rows)

    client = EndpointClient(FakeRuntime(answer), "x", max_rows=16, crash_attempts=1, sleep=lambda _: None)
    # WHEN scored THEN every row is rejected for its own reason: no run of one error was long enough
    outcome = client.score(one_batch([f"{i},1" for i in range(16)]))
    assert client.tracker.systematic is None
    assert outcome.scores == [None] * 16
    assert outcome.reasons[0] != outcome.reasons[1]


def test_an_endpoint_answering_garbage_to_every_request_is_stopped_with_that_reason():
    # GIVEN an endpoint whose every answer is unreadable
    runtime = FakeRuntime(garbage)
    client = EndpointClient(runtime, "x", max_rows=64, sleep=lambda _: None)
    # WHEN 64 rows are scored THEN it stops after a bounded run of calls (not one per row), every
    # row rejected with that reason, and the file is not retried (the endpoint answers)
    outcome = client.score(one_batch(["1,2"] * 64))
    assert len(runtime.requests) <= 20
    assert set(outcome.reasons.values()) == {"endpoint returned a malformed response"}
    assert (client.tracker.systematic, client.tracker.transient) == (outcome.reasons[0], False)


def test_rows_scored_before_a_systematic_fault_keep_their_scores_and_no_reason():
    # GIVEN 64 rows of which the endpoint refuses every request holding one of the last 32
    def answer(rows):
        if any(int(row.split(",")[0]) >= 32 for row in rows):
            raise model_error(400)
        return mean(rows)

    client = EndpointClient(FakeRuntime(answer), "x", max_rows=64, sleep=lambda _: None)
    # WHEN scored THEN the first 32 are scored, and only the others carry the systematic reason
    outcome = client.score(one_batch([f"{i},{i}" for i in range(64)]))
    assert client.tracker.systematic is not None
    assert outcome.scores[:32] == [float(i) for i in range(32)]
    assert set(outcome.reasons) == set(range(32, 64))


def test_calls_carry_csv_rows_ask_for_json_and_are_counted_while_in_flight():
    # GIVEN a runtime that answers only once 3 calls are waiting together
    barrier = threading.Barrier(3)

    def answer(rows):
        barrier.wait(timeout=30)
        return mean(rows)

    runtime = FakeRuntime(answer)
    client = EndpointClient(runtime, "rcf", sleep=lambda _: None)
    assert (client.in_flight, client.peak_in_flight) == (0, 0)
    # WHEN 3 batches are scored with a concurrency of 3
    batches = [Batch(i, 1, f"{i},{i}".encode()) for i in range(3)]
    outcomes = list(score_batches(batches, client, concurrency=3, max_inflight_bytes=10**6))
    # THEN all are scored, 3 were counted in flight at the peak and none is left counted
    assert [o.scores for o in outcomes] == [[0.0], [1.0], [2.0]]
    assert (client.peak_in_flight, client.in_flight) == (3, 0)
    # AND every call named the endpoint, sent text/csv and asked for JSON
    assert {(r["EndpointName"], r["ContentType"], r["Accept"]) for r in runtime.requests} == {
        ("rcf", "text/csv", "application/json")
    }


def test_latency_is_summed_over_every_answered_call_and_its_maximum_kept():
    # GIVEN a runtime taking at least 20 ms per call whose first answer misses a score
    answers = iter([[1.0]])

    def answer(rows):
        return next(answers, None) or mean(rows)

    client = EndpointClient(FakeRuntime(answer, delay_s=0.02), "x", sleep=lambda _: None)
    # WHEN a 2-row batch is scored (the bad answer makes it split: 3 answered calls)
    outcome = client.score(one_batch(["1,3", "2,4"]))
    # THEN the latency is the sum of the three, the maximum one of them
    assert (outcome.scores, outcome.calls, outcome.answered, outcome.bisections) == ([2.0, 3.0], 3, 3, 1)
    assert outcome.latency_s >= 3 * 0.02
    assert 0.02 <= outcome.latency_max_s < outcome.latency_s < 60


def test_a_dropped_connection_is_retried_and_a_lasting_one_fails_the_file_naming_it():
    # GIVEN a runtime whose connection drops once
    drops = [ConnectionClosedError(endpoint_url="http://x")]

    def answer(rows):
        if drops:
            raise drops.pop()
        return mean(rows)

    client = EndpointClient(FakeRuntime(answer), "x", max_attempts=2, sleep=lambda _: None)
    # WHEN scored THEN the second attempt scores it
    outcome = client.score(one_batch(["1,3"]))
    assert (outcome.scores, outcome.retries) == ([2.0], 1)
    # AND WHEN it drops on every attempt THEN the file fails (to be retried) naming the error
    drops.extend([ConnectionClosedError(endpoint_url="http://x")] * 2)
    with pytest.raises(EndpointUnavailableError, match="ConnectionClosedError"):
        client.score(one_batch(["1,3"]))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"<html>bad gateway</html>", "endpoint returned a malformed response"),
        (b'{"scores":[{"score":"Infinity"}]}', "endpoint returned a non-finite score"),
        (b'{"scores":[]}', "endpoint returned 0 scores for 1 rows"),
    ],
    ids=["garbage", "infinite", "missing"],
)
def test_a_row_whose_answer_is_unusable_is_rejected_saying_what_was_wrong(payload, reason):
    # GIVEN a runtime that answers a single row with something that is not one finite score
    client = EndpointClient(FakeRuntime(lambda _: payload), "x", sleep=lambda _: None)
    # WHEN scored THEN the row is rejected with a reason that says what the answer lacked
    outcome = client.score(one_batch(["1,2"]))
    assert (outcome.scores, outcome.reasons) == ([None], {0: reason})


def test_the_parts_of_a_request_split_for_a_poison_row_keep_every_retry():
    # GIVEN a poison row (400) beside a healthy one, and throttling on the healthy part's first 3 calls
    throttles = [client_error("ThrottlingException", 400)] * 3

    def answer(rows):
        if "-1,1" in rows:
            raise model_error(400)
        if throttles:
            raise throttles.pop()
        return mean(rows)

    client = EndpointClient(FakeRuntime(answer), "x", max_attempts=4, sleep=lambda _: None)
    # WHEN scored THEN the healthy row is scored on its 4th attempt (crash attempts are for crashes)
    outcome = client.score(one_batch(["-1,1", "1,3"]))
    assert (outcome.scores, outcome.retries) == ([None, 2.0], 3)
