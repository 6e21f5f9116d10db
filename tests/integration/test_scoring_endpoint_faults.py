"""The endpoint client against the local SageMaker runtime with injected faults.

Real boto3 ``invoke_endpoint`` calls over loopback to ``sentinel.endpoint.EndpointServer``; backoff
sleeps are recorded, not slept. MeanScorer makes every expected score computable (row mean), so a
score attributed to the wrong row would be caught.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from anomaly_sentinel import scoring
from anomaly_sentinel.exceptions import EndpointError, EndpointUnavailableError
from anomaly_sentinel.scoring import Batch, EndpointClient, RequestPacker, score_batches
from sentinel.endpoint import EndpointServer, Faults, FaultyScorer, MeanScorer, static_resolver

NAME = "anomaly-sentinel-rcf"


def rows(count: int, poison_at: tuple[int, ...] = ()) -> list[str]:
    return [("-999,-999" if i in poison_at else f"{i},{i + 1}") for i in range(count)]


def expected(row: str) -> float:
    a, b = (float(v) for v in row.split(","))
    return (a + b) / 2


def batches_of(all_rows: list[str], max_bytes: int = 1_000_000, max_rows: int = 10_000) -> list[Batch]:
    packer = RequestPacker(max_bytes, max_rows)
    out = [b for b in (packer.add(r) for r in all_rows) if b is not None]
    last = packer.flush()
    return out + ([last] if last else [])


@pytest.fixture
def faults() -> Faults:
    return Faults(poison_value=-999.0)


@pytest.fixture
def server(faults: Faults) -> Iterator[EndpointServer]:
    scorer = FaultyScorer(MeanScorer(feature_dim=2), faults)
    with EndpointServer(static_resolver({NAME: scorer})) as srv:
        yield srv


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(server: EndpointServer, sleeps: list[float]) -> EndpointClient:
    runtime = boto3.client(
        "sagemaker-runtime", endpoint_url=server.url, config=scoring.runtime_config(concurrency=4)
    )
    return EndpointClient(runtime, NAME, max_attempts=4, sleep=sleeps.append, jitter=lambda: 1.0)


def test_clean_batch_is_scored_in_one_call(client, server):
    data = rows(100)
    outcome = client.score(batches_of(data)[0])
    assert outcome.scores == [expected(r) for r in data]
    assert (outcome.calls, outcome.retries, server.stats.requests) == (1, 0, 1)


def test_throttled_three_times_then_ok_is_scored_after_three_backoffs(client, faults, sleeps):
    # GIVEN an endpoint that throttles the next 3 calls
    faults.throttle = 3
    data = rows(10)
    # WHEN one batch is scored
    outcome = client.score(batches_of(data)[0])
    # THEN it succeeds on the 4th call, after 3 growing backoffs, every row scored
    assert outcome.scores == [expected(r) for r in data]
    assert (outcome.calls, outcome.retries) == (4, 3)
    assert sleeps == sorted(sleeps)
    assert len(sleeps) == 3


def test_model_not_ready_is_retried(client, faults):
    faults.not_ready = 2
    outcome = client.score(batches_of(rows(5))[0])
    assert outcome.retries == 2
    assert None not in outcome.scores


def test_a_5xx_burst_shorter_than_the_attempts_is_absorbed(client, faults):
    faults.unavailable = 3
    outcome = client.score(batches_of(rows(5))[0])
    assert outcome.retries == 3
    assert None not in outcome.scores


def test_a_5xx_burst_longer_than_the_attempts_fails_the_file(client, faults, server):
    # GIVEN a burst of 503s longer than the client's 4 attempts
    faults.unavailable = 10
    # WHEN / THEN the batch fails as a whole (the event will be retried), after exactly 4 calls
    with pytest.raises(EndpointUnavailableError, match="ServiceUnavailable"):
        client.score(batches_of(rows(5))[0])
    assert server.stats.requests == 4


def test_a_crashing_model_is_transient_not_a_poison_row(client, faults):
    faults.model_crash = 1
    outcome = client.score(batches_of(rows(8))[0])
    assert (outcome.retries, outcome.bisections) == (1, 0)
    assert None not in outcome.scores


def test_one_poison_row_in_a_large_batch_rejects_only_that_row(client, server):
    # GIVEN 1,000 rows in one request, row 537 poison (the model answers 400 for it)
    data = rows(1000, poison_at=(537,))
    # WHEN the batch is scored
    outcome = client.score(batches_of(data)[0])
    # THEN only row 537 is rejected, with the model's reason; every other row has its own score
    assert [i for i, s in enumerate(outcome.scores) if s is None] == [537]
    assert "ModelError" in outcome.reasons[537]
    assert "400" in outcome.reasons[537]
    assert all(outcome.scores[i] == expected(r) for i, r in enumerate(data) if i != 537)
    # and bisection costs O(log n) calls: 2 per level over 10 levels, plus the first
    assert outcome.calls <= 2 * 10 + 1
    assert server.stats.rows == 999


def test_a_response_with_the_wrong_number_of_scores_is_bisected_not_misattributed(client, faults):
    # GIVEN an endpoint whose next answer has one score too few
    faults.wrong_count = 1
    data = rows(10)
    # WHEN the batch is scored
    outcome = client.score(batches_of(data)[0])
    # THEN the batch is split and every row gets its own, correct score
    assert outcome.scores == [expected(r) for r in data]
    assert outcome.bisections == 1
    assert outcome.calls == 3


def test_a_single_row_answered_with_no_score_is_rejected_with_the_reason(client, faults):
    faults.wrong_count = 1
    outcome = client.score(batches_of(rows(1))[0])
    assert outcome.scores == [None]
    assert outcome.reasons[0] == "endpoint returned 0 scores for 1 rows"


def test_unknown_endpoint_fails_at_once_without_bisecting(server, sleeps):
    runtime = boto3.client("sagemaker-runtime", endpoint_url=server.url, config=scoring.runtime_config(4))
    client = EndpointClient(runtime, "no-such-endpoint", max_attempts=4, sleep=sleeps.append)
    with pytest.raises(EndpointError, match=r"no-such-endpoint.*not found"):
        client.score(batches_of(rows(100))[0])
    assert server.stats.requests == 1
    assert sleeps == []


def test_many_batches_keep_order_and_never_exceed_the_concurrency(faults, sleeps):
    # GIVEN an endpoint limited to 3 concurrent requests (like a serverless MaxConcurrency of 3)
    faults.latency_s = 0.01
    scorer = FaultyScorer(MeanScorer(feature_dim=2), faults)
    with EndpointServer(static_resolver({NAME: scorer}), max_concurrency=3) as srv:
        runtime = boto3.client("sagemaker-runtime", endpoint_url=srv.url, config=scoring.runtime_config(3))
        client = EndpointClient(runtime, NAME, sleep=sleeps.append)
        data = rows(600)
        # WHEN 30 batches are scored with concurrency 3
        outcomes = list(
            score_batches(batches_of(data, max_rows=20), client, concurrency=3, max_inflight_bytes=10**6)
        )
    # THEN outcomes come back in order, all rows scored, and the endpoint never throttled
    assert [o.first_seq for o in outcomes] == list(range(0, 600, 20))
    assert [s for o in outcomes for s in o.scores] == [expected(r) for r in data]
    assert srv.stats.peak_concurrency <= 3
    assert client.peak_in_flight <= 3
    assert srv.stats.errors["ThrottlingException"] == 0


def test_in_flight_bytes_bound_limits_concurrency_for_big_batches(server, client):
    # GIVEN 20 batches of 10 fixed-width rows (99 bytes each) and a 250-byte in-flight budget
    data = [f"{i:04d},{i + 1:04d}" for i in range(200)]
    batches = batches_of(data, max_bytes=100)
    assert {len(b.body) for b in batches} == {99}
    # WHEN scored with a concurrency of 4
    outcomes = list(score_batches(batches, client, concurrency=4, max_inflight_bytes=250))
    # THEN at most 2 requests were ever in flight, and all rows were scored in order
    assert client.peak_in_flight <= 2
    assert [s for o in outcomes for s in o.scores] == [expected(r) for r in data]


# ---------------------------------------------------------------------------- systematic faults


def test_a_model_expecting_another_feature_count_stops_early_with_one_reason(server, sleeps):
    # GIVEN a model that expects 48 features and 1,000 rows of 2 (every request is refused, 400)
    wide = FaultyScorer(MeanScorer(feature_dim=48), Faults())
    with EndpointServer(static_resolver({NAME: wide})) as srv:
        runtime = boto3.client("sagemaker-runtime", endpoint_url=srv.url, config=scoring.runtime_config(4))
        client = EndpointClient(runtime, NAME, max_attempts=4, max_rows=1000, sleep=sleeps.append)
        # WHEN the batch is scored
        outcome = client.score(batches_of(rows(1000))[0])
        requests = srv.stats.requests
    # THEN it stops after the run of failures one poison row cannot cause (not 2N-1 = 1,999 calls)
    assert client.tracker.systematic is not None
    assert not client.tracker.transient
    assert requests <= 20
    # and every row carries the one reason, with the status code
    assert outcome.scores == [None] * 1000
    assert set(outcome.reasons.values()) == {client.tracker.systematic}
    assert "400" in client.tracker.systematic


def test_a_row_that_crashes_the_model_is_rejected_alone_after_the_retries(client, faults, server):
    # GIVEN 200 rows, row 77 crashes the model (a persistent 500 on its batch)
    faults.crash_value = -777.0
    data = [("-777,1" if i == 77 else f"{i},{i + 1}") for i in range(200)]
    # WHEN the batch is scored
    outcome = client.score(batches_of(data)[0])
    # THEN after the batch's retries it is bisected: only row 77 is rejected, as a model error
    assert [i for i, s in enumerate(outcome.scores) if s is None] == [77]
    assert outcome.reasons[77] == "model error (status 500, error code ModelError)"
    assert all(outcome.scores[i] == expected(r) for i, r in enumerate(data) if i != 77)
    assert client.tracker.systematic is None


def test_a_model_that_always_crashes_fails_the_file_as_transient_after_bounded_calls(client, faults, server):
    # GIVEN a model that crashes on every request
    faults.model_crash = 100_000
    # WHEN / THEN the file fails (function error → retry → DLQ) after a bounded number of calls
    with pytest.raises(EndpointUnavailableError, match="status 500"):
        client.score(batches_of(rows(1000))[0])
    assert server.stats.requests <= 40  # bisecting down to each row would take thousands


def test_reject_reasons_never_quote_the_model_error_message(client, faults):
    # GIVEN a container that echoes the refused row in its error message
    faults.poison_value, faults.echo_rows = -999.0, True
    outcome = client.score(batches_of(rows(4, poison_at=(2,)))[0])
    # THEN the reason holds the status and error code only
    assert outcome.reasons == {2: "model error (status 400, error code ModelError)"}


def test_poison_rows_in_concurrent_batches_are_not_taken_for_a_systematic_fault(server, sleeps):
    # GIVEN 20 poison rows spread over 4,000 rows, scored 4 batches at a time (failures interleave)
    runtime = boto3.client("sagemaker-runtime", endpoint_url=server.url, config=scoring.runtime_config(4))
    client = EndpointClient(runtime, NAME, max_attempts=4, max_rows=500, sleep=sleeps.append)
    poison = tuple(range(100, 4000, 200))
    data = rows(4000, poison_at=poison)
    # WHEN every batch is scored concurrently
    outcomes = list(
        score_batches(batches_of(data, max_rows=500), client, concurrency=4, max_inflight_bytes=10**9)
    )
    # THEN only the poison rows are rejected: the file is not failed as a whole
    rejected = [o.first_seq + i for o in outcomes for i, s in enumerate(o.scores) if s is None]
    assert rejected == list(poison)
    assert client.tracker.systematic is None


def test_a_small_file_on_a_model_that_always_crashes_fails_for_a_retry(client, faults, server):
    # GIVEN a model that crashes on every request and a file of 3 rows (too few for the failure run)
    faults.model_crash = 100_000
    # WHEN its one batch is scored THEN the file fails as transient (retried, then dead-lettered),
    # instead of its rows being rejected one by one as if each crashed the model
    with pytest.raises(EndpointUnavailableError, match="status 500"):
        list(score_batches(batches_of(rows(3)), client, concurrency=2, max_inflight_bytes=10**9))
    assert client.tracker.transient
