"""Endpoint client: payload-aware batching, bounded concurrency, retries, bisection, checks.

Rows (validated CSV text from :mod:`anomaly_sentinel.capture`) are packed into ``text/csv``
requests under a byte limit (serverless endpoints refuse payloads over 4 MB) and a row limit,
and sent with at most ``concurrency`` requests in flight — never more than the endpoint's
``MaxConcurrency`` — and at most ``max_inflight_bytes`` of request bodies held in memory.

Failures are sorted three ways:

- *transient* (throttling, ModelNotReady, 5xx, network): retried with exponential backoff; when
  they persist the whole file fails (:class:`EndpointUnavailableError`) so the event is retried
  and finally dead-lettered. A model error with a 5xx original status (the container crashed) is
  retried too, then bisected like a request-specific error, so one crashing row is rejected
  alone;
- *request-specific* (ValidationError, a model error with a 4xx original status, a response
  whose number of scores differs from the rows sent): the request is bisected until only the
  poison rows are left, and those are rejected with a fixed reason while the rest is scored;
- *fatal* (unknown endpoint, access denied...): :class:`EndpointError` at once.

A fault that is not about rows (a model expecting another feature count, a crashed container)
fails every request: :class:`FailureTracker` sees the same error on a run of consecutive calls
with no success between them, longer than one poison row can cause, and stops every further call.
A file too small for such a run (under a dozen rows) is judged when its last batch is done: when
no call of the file succeeded and every failure was the same error, the fault is the endpoint's too.
Reasons never carry the endpoint's error message: a container may echo the row it refused.

botocore's own retries are switched off on the runtime client (:func:`runtime_config`) so that
these rules decide, and a call is never retried twice over.
"""

from __future__ import annotations

import copy
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from math import isfinite
from typing import TYPE_CHECKING, Any, Final

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from anomaly_sentinel.exceptions import EndpointError, EndpointUnavailableError

if TYPE_CHECKING:
    from anomaly_sentinel.settings import EndpointScoringSettings

CONTENT_TYPE: Final = "text/csv"
ACCEPT: Final = "application/json"

#: Error codes retried with backoff (SageMaker runtime's own plus the generic AWS throttles).
TRANSIENT_CODES: Final = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "ModelNotReadyException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalDependencyException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
HTTP_CLIENT_ERROR_MAX: Final = 499


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


# ---------------------------------------------------------------------------- packing


@dataclass(slots=True)
class Batch:
    """Consecutive rows ``first_seq .. first_seq + count - 1`` as one request body."""

    first_seq: int
    count: int
    body: bytes


class RequestPacker:
    """Greedy packer: each request holds as many whole rows as fit under both limits."""

    def __init__(self, max_bytes: int, max_rows: int) -> None:
        self.max_bytes = max_bytes
        self.max_rows = max_rows
        self.next_seq = 0
        self._rows: list[str] = []
        self._size = 0
        self._first = 0

    def fits_alone(self, row: str) -> bool:
        return len(row) <= self.max_bytes

    def add(self, row: str) -> Batch | None:
        """Add one ASCII row (its sequence number is ``next_seq``); returns a sealed batch if any."""
        cost = len(row) + (1 if self._rows else 0)  # rows are joined with "\n"
        sealed = None
        if self._rows and (self._size + cost > self.max_bytes or len(self._rows) >= self.max_rows):
            sealed = self.flush()
            cost = len(row)
        if not self._rows:
            self._first = self.next_seq
        self._rows.append(row)
        self._size += cost
        self.next_seq += 1
        return sealed

    def flush(self) -> Batch | None:
        if not self._rows:
            return None
        batch = Batch(self._first, len(self._rows), "\n".join(self._rows).encode("ascii"))
        self._rows, self._size = [], 0
        return batch


# ---------------------------------------------------------------------------- one batch


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


class _RequestSpecific(Exception):
    def __init__(self, reason: str, signature: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.signature = signature or reason


#: Consecutive failures beyond what one poison row causes (its bisection path) before the fault is
#: taken as systematic: a run of this many poison rows in a row is not told apart from it.
SYSTEMATIC_EXTRA_FAILURES: Final = 8


class FailureTracker:
    """Decides when failures are systematic; once they are, it stays so (for the file being scored).

    Runs are counted per batch (:class:`Streak`): the bisection of one request is depth first, so
    one poison row fails at most ``ceil(log2(max_rows)) + 1`` calls in a row there (the batch and
    each half on its way down) before a sibling succeeds. A run longer than that by
    :data:`SYSTEMATIC_EXTRA_FAILURES`, all with the same error, is a fault of the endpoint, not of
    rows. (Counting across batches would let concurrent bisections add up to a false alarm.)

    A file whose bisections are all shorter than that run (fewer than a dozen rows, or small
    batches) is judged as a whole by :meth:`settle` once it is scored: no call succeeded and every
    failure was the same error. Rows that are each refused the same way, with none accepted, cannot
    be told apart from an endpoint that refuses everything; the endpoint is the likelier, and the
    one an operator must hear about (rows are rejected with the reason either way).
    """

    def __init__(self, max_rows: int) -> None:
        self.limit = max(1, max_rows - 1).bit_length() + 1 + SYSTEMATIC_EXTRA_FAILURES
        self._lock = threading.Lock()
        self.systematic: str | None = None  # the reason, once systematic
        self.transient = False
        self.answered = False  # a call of the file succeeded
        self._failures: dict[str, tuple[str, bool]] = {}  # signature -> (reason, transient)

    def failure(self, streak: Streak, signature: str, reason: str, *, transient: bool) -> None:
        streak.run = streak.run + 1 if signature == streak.last else 1
        streak.last = signature
        with self._lock:
            self._failures.setdefault(signature, (reason, transient))
            if streak.run >= self.limit and self.systematic is None:
                self.systematic = reason
                self.transient = transient

    def success(self, streak: Streak) -> None:
        streak.success()
        self.answered = True

    def settle(self) -> None:
        """The file is scored: every call failed, all the same way, is systematic too (see above).

        A transient one (a model that crashed on every request) fails the file for a retry, as it
        does when found mid-file.
        """
        with self._lock:
            if self.systematic is None and not self.answered and len(self._failures) == 1:
                ((reason, transient),) = self._failures.values()
                self.systematic, self.transient = reason, transient
        if self.systematic is not None and self.transient:
            raise EndpointUnavailableError(self.systematic)


@dataclass(slots=True)
class Streak:
    """Consecutive failed calls with the same error within one batch's bisection."""

    last: str | None = None
    run: int = 0

    def success(self) -> None:
        self.last, self.run = None, 0


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
        except _RequestSpecific as fault:
            if count == 1:
                outcome.reasons[offset] = fault.reason
                return
            outcome.bisections += 1
            lines = body.split(b"\n")
            half = count // 2
            sub = min(attempts, self.crash_attempts) if fault.signature.startswith(_CRASH) else attempts
            left, right = b"\n".join(lines[:half]), b"\n".join(lines[half:])
            self._score_range(left, half, offset, outcome, attempts=sub, streak=streak)
            self._score_range(right, count - half, offset + half, outcome, attempts=sub, streak=streak)
            return
        outcome.scores[offset : offset + count] = scores

    def _invoke(
        self, body: bytes, count: int, outcome: BatchOutcome, *, attempts: int, streak: Streak
    ) -> list[float | None]:
        """One request, retried while transient; raises _RequestSpecific to ask for a bisection."""
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
                    raise _RequestSpecific(fault.reason, fault.signature) from None
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
                except _RequestSpecific as fault:
                    tracker.failure(streak, fault.signature, fault.reason, transient=False)
                    raise
                tracker.success(streak)
                return scores
            if attempt < attempts:
                outcome.retries += 1
                self.sleep(self.backoff(attempt))
        if crash is not None:  # the model keeps crashing on this request: find the row(s)
            tracker.failure(streak, crash.signature, crash.reason, transient=True)
            raise _RequestSpecific(crash.reason, crash.signature)
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


_CRASH: Final = "crash:"


@dataclass(frozen=True, slots=True)
class EndpointFault:
    """A runtime error sorted: kind, a fixed reason (never the error's message) and its signature."""

    kind: str  # "transient" | "crash" | "request" | "fatal"
    reason: str
    signature: str


def classify(exc: ClientError, endpoint_name: str) -> EndpointFault:
    """Sort a SageMaker runtime error by its code and status codes alone.

    The message is left out on purpose: a model container's message may quote the request.
    """
    response: dict[str, Any] = exc.response
    error = response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code == "ModelError":
        original = int(response.get("OriginalStatusCode", 0) or 0)
        reason = f"model error (status {original or 'unknown'}, error code ModelError)"
        if original > HTTP_CLIENT_ERROR_MAX:
            return EndpointFault("crash", reason, f"{_CRASH}{original}")
        return EndpointFault("request", reason, f"ModelError:{original}")
    reason = f"{code} (status {status})"
    if code in TRANSIENT_CODES or status > HTTP_CLIENT_ERROR_MAX or status == 429:
        return EndpointFault("transient", reason, f"{code}:{status}")
    if code == "ValidationError":
        message = str(error.get("Message", "")).lower()
        if "not found" in message or "could not find" in message:
            return EndpointFault("fatal", f"endpoint '{endpoint_name}' not found ({reason})", code)
        return EndpointFault("request", f"request refused: {reason}", f"{code}:{status}")
    return EndpointFault("fatal", f"endpoint '{endpoint_name}' refused the call: {reason}", code)


def parse_scores(payload: bytes, count: int) -> list[float | None]:
    """``{"scores":[{"score":x},...]}`` → floats; a count mismatch or garbage asks for a bisection."""
    try:
        entries = json.loads(payload)["scores"]
        scores: list[float | None] = [float(entry["score"]) for entry in entries]
    except (ValueError, TypeError, KeyError):
        raise _RequestSpecific("endpoint returned a malformed response") from None
    if len(scores) != count:
        raise _RequestSpecific(f"endpoint returned {len(scores)} scores for {count} rows")
    if not all(isfinite(s) for s in scores if s is not None):
        raise _RequestSpecific("endpoint returned a non-finite score")
    return scores


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
