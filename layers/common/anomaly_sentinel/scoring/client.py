"""The endpoint client: one batch scored (retries, bisection, systematic faults), many in flight.

The only module of :mod:`anomaly_sentinel.scoring` that calls AWS (``InvokeEndpoint``, on the
runtime client its caller builds with :func:`runtime_config`). The rules are in the package doc.
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from anomaly_sentinel.exceptions import EndpointError, EndpointUnavailableError
from anomaly_sentinel.scoring.faults import (
    CRASH,
    EndpointFault,
    FailureTracker,
    RequestSpecific,
    Streak,
    classify,
    parse_scores,
)
from anomaly_sentinel.scoring.packing import Batch

if TYPE_CHECKING:
    from anomaly_sentinel.settings import EndpointScoringSettings

CONTENT_TYPE: Final = "text/csv"
ACCEPT: Final = "application/json"


def runtime_config(concurrency: int) -> Config:
    """The sagemaker-runtime client's config: no botocore retries, a connection per worker.

    Read timeout 70 s: serverless invocations may take up to 60 s (AWS's advice for InvokeEndpoint).
    """
    return Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        read_timeout=70,
        connect_timeout=5,
        max_pool_connections=max(10, concurrency),
    )


@dataclass(slots=True)
class BatchOutcome:
    """Scores of one batch (None where the endpoint rejected the row) and what it took."""

    first_seq: int
    scores: list[float | None]
    reasons: dict[int, str] = field(default_factory=dict)  # offset in batch -> reason
    calls: int = 0
    retries: int = 0
    bisections: int = 0
    answered: int = 0  # calls the endpoint answered: the latency is theirs
    latency_s: float = 0.0  # summed over answered calls
    latency_max_s: float = 0.0


class EndpointClient:
    """Scores batches on one endpoint; thread-safe (boto3 clients are), one call per worker."""

    def __init__(
        self,
        runtime: Any,
        endpoint_name: str,
        *,
        max_attempts: int = 6,
        crash_attempts: int = 2,
        max_rows: int = 500,
        backoff_base_s: float = 0.25,
        backoff_cap_s: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runtime = runtime
        self.endpoint_name = endpoint_name
        self.max_attempts = max_attempts
        self.crash_attempts = crash_attempts
        self.max_rows = max_rows
        self.tracker = FailureTracker(max_rows)
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.sleep = sleep
        self.jitter = jitter
        self.clock = clock  # times the answered calls (their latency)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.peak_in_flight = 0

    def for_file(self) -> EndpointClient:
        """This client for one file: the same endpoint and limits, its own failure tracker and counts.

        A systematic fault is one file's: two files scored at once in a warm container (the local
        twin's threads, a retry beside a redelivery) must not decide each other's fate.
        """
        client = copy.copy(self)
        client.tracker = FailureTracker(self.max_rows)
        client._lock = threading.Lock()
        client.in_flight = client.peak_in_flight = 0
        return client

    @classmethod
    def for_settings(
        cls, runtime: Any, settings: EndpointScoringSettings, *, sleep: Callable[[float], None] = time.sleep
    ) -> EndpointClient:
        """The client a file-scoring function builds from its settings (endpoint, attempts, rows)."""
        return cls(
            runtime,
            settings.endpoint_name,
            max_attempts=settings.endpoint_max_attempts,
            max_rows=settings.max_request_rows,
            sleep=sleep,
        )

    def score(self, batch: Batch) -> BatchOutcome:
        outcome = BatchOutcome(batch.first_seq, [None] * batch.count)
        self._score_range(batch.body, batch.count, 0, outcome, attempts=self.max_attempts, streak=Streak())
        return outcome

    def _score_range(
        self, body: bytes, count: int, offset: int, outcome: BatchOutcome, *, attempts: int, streak: Streak
    ) -> None:
        tracker = self.tracker
        if tracker.systematic is not None:  # stop: every row left gets the one reason
            if tracker.transient:
                raise EndpointUnavailableError(tracker.systematic)
            for index in range(offset, offset + count):
                outcome.reasons[index] = tracker.systematic
            return
        try:
            scores = self._invoke(body, count, outcome, attempts=attempts, streak=streak)
        except RequestSpecific as fault:
            if count == 1:
                outcome.reasons[offset] = fault.reason
                return
            outcome.bisections += 1
            lines = body.split(b"\n")
            half = count // 2
            sub = min(attempts, self.crash_attempts) if fault.signature.startswith(CRASH) else attempts
            left, right = b"\n".join(lines[:half]), b"\n".join(lines[half:])
            self._score_range(left, half, offset, outcome, attempts=sub, streak=streak)
            self._score_range(right, count - half, offset + half, outcome, attempts=sub, streak=streak)
            return
        outcome.scores[offset : offset + count] = scores

    def _invoke(
        self, body: bytes, count: int, outcome: BatchOutcome, *, attempts: int, streak: Streak
    ) -> list[float | None]:
        """One request, retried while transient; raises RequestSpecific to ask for a bisection."""
        tracker = self.tracker
        crash: EndpointFault | None = None
        for attempt in range(1, attempts + 1):
            outcome.calls += 1
            started = self.clock()
            try:
                payload = self._call(body)
            except ClientError as exc:
                fault = classify(exc, self.endpoint_name)
                if fault.kind == "request":
                    tracker.failure(streak, fault.signature, fault.reason, transient=False)
                    raise RequestSpecific(fault.reason, fault.signature) from None
                if fault.kind == "fatal":
                    raise EndpointError(fault.reason) from None
                crash = fault if fault.kind == "crash" else None
                last = fault.reason
            except BotoCoreError as exc:  # connection reset, read timeout...
                crash, last = None, type(exc).__name__
            else:
                took = self.clock() - started
                outcome.answered += 1
                outcome.latency_s += took
                outcome.latency_max_s = max(outcome.latency_max_s, took)
                try:
                    scores = parse_scores(payload, count)
                except RequestSpecific as fault:
                    tracker.failure(streak, fault.signature, fault.reason, transient=False)
                    raise
                tracker.success(streak)
                return scores
            if attempt < attempts:
                outcome.retries += 1
                self.sleep(self.backoff(attempt))
        if crash is not None:  # the model keeps crashing on this request: find the row(s)
            tracker.failure(streak, crash.signature, crash.reason, transient=True)
            raise RequestSpecific(crash.reason, crash.signature)
        raise EndpointUnavailableError(
            f"endpoint '{self.endpoint_name}' still failing after {attempts} attempts: {last}"
        )

    def _call(self, body: bytes) -> bytes:
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            response = self.runtime.invoke_endpoint(
                EndpointName=self.endpoint_name, ContentType=CONTENT_TYPE, Accept=ACCEPT, Body=body
            )
            return bytes(response["Body"].read())
        finally:
            with self._lock:
                self.in_flight -= 1

    def backoff(self, attempt: int) -> float:
        """Exponential with equal jitter: half the step is fixed, half random."""
        step = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt - 1))
        return step / 2 + self.jitter() * step / 2


# ---------------------------------------------------------------------------- many batches


def score_batches(
    batches: Iterable[Batch],
    client: EndpointClient,
    *,
    concurrency: int,
    max_inflight_bytes: int,
) -> Iterator[BatchOutcome]:
    """Score batches with bounded concurrency and memory; outcomes come back in input order.

    ``batches`` is consumed lazily (decoding happens as requests complete). A batch is admitted
    while fewer than ``concurrency`` are in flight and their bodies fit in ``max_inflight_bytes``
    (one batch is always admitted, whatever its size).
    """
    in_flight: deque[tuple[Future[BatchOutcome], int]] = deque()
    held = 0
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="score")
    try:
        for batch in batches:
            size = len(batch.body)
            while in_flight and (len(in_flight) >= concurrency or held + size > max_inflight_bytes):
                future, done_size = in_flight.popleft()
                held -= done_size
                yield future.result()
            in_flight.append((pool.submit(client.score, batch), size))
            held += size
            del batch  # the future holds the only reference: freed when the call completes
        while in_flight:
            future, _ = in_flight.popleft()
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    client.tracker.settle()
