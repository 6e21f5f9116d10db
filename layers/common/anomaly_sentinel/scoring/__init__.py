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

Modules: :mod:`~anomaly_sentinel.scoring.packing` (rows → request bodies),
:mod:`~anomaly_sentinel.scoring.faults` (errors and answers sorted, the failure tracker; no AWS
calls), :mod:`~anomaly_sentinel.scoring.client` (the calls: one batch, then many with bounded
concurrency), :mod:`~anomaly_sentinel.scoring.files` (what the capture and log file flows share
around these: the scorer's collaborators, the calls' counts, the reason codes, the file's alert;
imported from its module, so that a flow's import of the package stays as light as it was).
Import the rest from the package: its names are the API the scoring flows use.
"""

from anomaly_sentinel.exceptions import EndpointError, EndpointUnavailableError
from anomaly_sentinel.scoring.client import (
    ACCEPT,
    CONTENT_TYPE,
    BatchOutcome,
    EndpointClient,
    runtime_config,
    score_batches,
)
from anomaly_sentinel.scoring.faults import (
    HTTP_CLIENT_ERROR_MAX,
    SYSTEMATIC_EXTRA_FAILURES,
    TRANSIENT_CODES,
    EndpointFault,
    FailureTracker,
    RequestSpecific,
    Streak,
    classify,
    parse_scores,
)
from anomaly_sentinel.scoring.packing import Batch, RequestPacker

__all__ = [
    "ACCEPT",
    "CONTENT_TYPE",
    "HTTP_CLIENT_ERROR_MAX",
    "SYSTEMATIC_EXTRA_FAILURES",
    "TRANSIENT_CODES",
    "Batch",
    "BatchOutcome",
    "EndpointClient",
    "EndpointError",
    "EndpointFault",
    "EndpointUnavailableError",
    "FailureTracker",
    "RequestPacker",
    "RequestSpecific",
    "Streak",
    "classify",
    "parse_scores",
    "runtime_config",
    "score_batches",
]
