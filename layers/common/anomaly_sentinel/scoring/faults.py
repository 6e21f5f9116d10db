"""Failures of endpoint calls, sorted: transient, crash, request-specific or fatal (no AWS calls).

:func:`classify` sorts a runtime error by its code and status codes alone (a container's message
may quote the request); :func:`parse_scores` checks an answer holds one finite score per row;
:class:`FailureTracker` decides when failures are the endpoint's fault rather than rows'.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from math import isfinite
from typing import Any, Final

from botocore.exceptions import ClientError

from anomaly_sentinel.exceptions import EndpointUnavailableError

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
#: The signature prefix of a model crash (a ModelError with a 5xx original status).
CRASH: Final = "crash:"


class RequestSpecific(Exception):
    """A failure of this request's rows (not of the endpoint): the request is bisected."""

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
            return EndpointFault("crash", reason, f"{CRASH}{original}")
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
        raise RequestSpecific("endpoint returned a malformed response") from None
    if len(scores) != count:
        raise RequestSpecific(f"endpoint returned {len(scores)} scores for {count} rows")
    if not all(isfinite(s) for s in scores if s is not None):
        raise RequestSpecific("endpoint returned a non-finite score")
    return scores
