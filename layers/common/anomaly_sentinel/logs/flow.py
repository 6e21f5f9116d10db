"""Groups → scores: the PCA model in the function, or the RCF endpoint through an injected client.

Lines are read, matched and grouped by :mod:`anomaly_sentinel.logs.stream` (every line placed or
rejected with a reason); each closed group becomes a vector (the model's ``vector_spec.json``) and
is scored here — by the PCA model in the function, or on the RCF endpoint through the capture
path's batching, retries and bisection (:mod:`anomaly_sentinel.scoring`, whose
:class:`~anomaly_sentinel.scoring.EndpointClient` the adapter builds and hands in: this module
makes no AWS call itself) — then :class:`~anomaly_sentinel.logs.ledger.Ledger` classifies each
score against the cutoff of ``detector.json`` and writes what a caller keeps.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import Final

from anomaly_sentinel.exceptions import ScoringInvariantError
from anomaly_sentinel.logs.grouping import Group
from anomaly_sentinel.logs.model import LogModel
from anomaly_sentinel.scoring import EndpointClient, RequestPacker, score_batches
from anomaly_sentinel.scoring.files import Calls, endpoint_reason

#: Reason of a session that was grouped but not scored for a row over the request limit (the
#: endpoint's are :mod:`anomaly_sentinel.scoring.files`'; lines carry the stream's own reasons).
SESSION_TOO_LARGE: Final = "session-too-large"


Scored = tuple[Group, float | None, str | None]  # the group, its score (None: rejected), why not


def score_in_function(groups: Iterable[Group], model: LogModel) -> Iterator[Scored]:
    """PCA: the squared prediction error of each session's vector, computed here (no endpoint)."""
    pca, vector = model.pca, model.spec.vector
    assert pca is not None  # LogModel refuses a pca detector without its model
    for group in groups:
        yield group, pca.score(vector(group)), None


def score_on_endpoint(
    groups: Iterable[Group],
    model: LogModel,
    client: EndpointClient,
    calls: Calls,
    *,
    max_request_bytes: int,
    max_request_rows: int,
    concurrency: int,
    max_inflight_bytes: int,
) -> Iterator[Scored]:
    """RCF: one CSV row per session, packed, sent with bounded concurrency; results in session order.

    Sessions wait in a queue until their batch's scores come back (memory is bounded by the requests
    in flight); a row over the request limit is rejected alone, a row the endpoint refuses after
    bisection carries the endpoint's reason.
    """
    packer = RequestPacker(max_request_bytes, max_request_rows)
    waiting: deque[tuple[Group, bool]] = deque()  # (group, packed); unpacked ones are too large
    vector = model.spec.vector

    def rows() -> Iterator[str]:
        for group in groups:
            row = ",".join(f"{x:.9g}" for x in vector(group))
            if not packer.fits_alone(row):
                waiting.append((group, False))
                continue
            waiting.append((group, True))
            yield row

    done = 0
    for outcome in score_batches(
        packer.pack(rows()), client, concurrency=concurrency, max_inflight_bytes=max_inflight_bytes
    ):
        if outcome.first_seq != done:
            raise ScoringInvariantError("batch outcomes arrived out of order")
        calls.add(outcome)
        for offset, score in enumerate(outcome.scores):
            while not waiting[0][1]:
                yield waiting.popleft()[0], None, SESSION_TOO_LARGE
            group, _ = waiting.popleft()
            if score is None:
                code = endpoint_reason(client.tracker.systematic)
                yield group, None, f"{code}: {outcome.reasons.get(offset, 'not scored')}"
            else:
                yield group, score, None
        done += len(outcome.scores)
    while waiting:
        group, packed = waiting.popleft()
        if packed:
            raise ScoringInvariantError(f"session {group.key} was sent but never answered")
        yield group, None, SESSION_TOO_LARGE
