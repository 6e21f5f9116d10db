"""Log-shaped injected anomalies: labelled faults for tuning and judging when a log has no labels.

A log's detector must be tuned (its F1 on a labelled validation set) and judged (on a labelled
evaluation set), yet an uploaded log rarely comes with labels. The anomalies are then made from
held-out sessions, in the ways real faults show in logs (docs/LOGS.md) — each a **copy** of a
held-out session's event sequence, changed in one of four ways, the original staying as a normal
example:

================  ==================================================================================
kind              change to the copied sequence
================  ==================================================================================
``drop``          every occurrence of one *always-present* event (in >= 99 % of training sessions,
                  e.g. ``allocateBlock``) removed: a step of the lifecycle never happened
``unseen``        1-3 lines of a template never seen in training inserted at random places (OOV)
``repeat``        one of the session's events repeated 2-5 more times in a row (a retry storm)
``truncate``      only the first 20-60 % of the events kept: the session stopped early
``rare``          1-3 lines of a *rare* event inserted (a template seen in training, but in at most
                  ``RARE_SHARE`` = 1 % of its sessions): most real HDFS faults show as an unusual
                  event type (Landauer et al., FSE 2024) — an exception, an interrupted responder —
                  and an unlabelled training log holds such faults, so their templates are known
                  but rare, never unseen
================  ==================================================================================

The kinds take turns, so each is about a fifth of the anomalies; together they are ``share``
(default 3 %, the real HDFS anomaly share) of the labelled set. A kind that cannot change a copy
(no always-present event, no rare event) is drawn again, and ``unseen`` after 20 tries. Everything
is drawn from one ``random.Random(seed)``: the same sequences and seed give the same anomalies.
Standard library only.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

KINDS = ("drop", "unseen", "repeat", "truncate", "rare")
DEFAULT_SHARE = 0.03
#: An event present in at least this share of training sessions is "always present".
ALWAYS_PRESENT = 0.99
#: An event present in at most this share of training sessions is "rare" (and so is an unseen line).
RARE_SHARE = 0.01
MIN_ANOMALIES = 4


class LogInjectionError(ValueError):
    """Nothing to inject into (no held-out sequences), or a share outside (0, 0.5]."""


@dataclass(frozen=True)
class Injected:
    kind: str
    source: int  # index of the held-out sequence that was copied
    sequence: list[int | None]


def presence(training: Sequence[Counter[int | None]]) -> Counter[int]:
    """In how many training groups each template occurs (unseen lines, ``None``, left out)."""
    present: Counter[int] = Counter()
    for counts in training:
        present.update(t for t, c in counts.items() if t is not None and c > 0)
    return present


def always_present(training: Sequence[Counter[int | None]], threshold: float = ALWAYS_PRESENT) -> list[int]:
    """Templates present in at least ``threshold`` of the training groups, most common first."""
    if not training:
        return []
    needed = threshold * len(training)
    return [t for t, n in presence(training).most_common() if n >= needed]


def rare(training: Sequence[Counter[int | None]], threshold: float = RARE_SHARE) -> list[int]:
    """Templates present in some training groups, but in at most ``threshold`` of them (id order)."""
    limit = threshold * len(training)
    return sorted(t for t, n in presence(training).items() if n <= limit)


def count(held_out: int, share: float = DEFAULT_SHARE) -> int:
    """Anomalies to add so that they are ``share`` of the labelled set (at least MIN_ANOMALIES)."""
    if not 0 < share <= 0.5:
        raise LogInjectionError(f"the injected share must be in (0, 0.5], got {share}")
    return max(MIN_ANOMALIES, round(share * held_out / (1 - share)))


def inject(
    sequences: Sequence[Sequence[int | None]],
    always: Sequence[int],
    *,
    seed: int,
    share: float = DEFAULT_SHARE,
    rare_events: Sequence[int] = (),
) -> list[Injected]:
    """Anomalous copies of held-out ``sequences`` (module doc), reproducible from ``seed``."""
    candidates = [i for i, s in enumerate(sequences) if len(s) >= 2]
    if not candidates:
        raise LogInjectionError("no held-out session with at least 2 events to inject anomalies into")
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    made: list[Injected] = []
    for n in range(count(len(sequences), share)):
        kind = KINDS[n % len(KINDS)]
        changed: list[int | None] | None = None
        for _ in range(20):  # a copy that the kind cannot change (no always-present event) is redrawn
            source = rng.choice(candidates)
            changed = _change(kind, list(sequences[source]), always, rare_events, rng)
            if changed is not None:
                break
        if changed is None:
            kind, changed = "unseen", _change("unseen", list(sequences[source]), always, (), rng)
        assert changed is not None  # "unseen" always applies
        made.append(Injected(kind, source, changed))
    return made


def _change(
    kind: str,
    events: list[int | None],
    always: Sequence[int],
    rare_events: Sequence[int],
    rng: random.Random,
) -> list[int | None] | None:
    if kind == "drop":
        present = [t for t in always if t in events]
        if not present:
            return None
        gone = rng.choice(present)
        kept = [t for t in events if t != gone]
        return kept or None
    if kind in ("unseen", "rare"):
        if kind == "rare" and not rare_events:
            return None
        inserted = None if kind == "unseen" else rng.choice(list(rare_events))
        for _ in range(rng.randint(1, 3)):
            events.insert(rng.randrange(len(events) + 1), inserted)
        return events
    if kind == "repeat":
        at = rng.randrange(len(events))
        return events[: at + 1] + [events[at]] * rng.randint(2, 5) + events[at + 1 :]
    keep = max(1, int(len(events) * rng.uniform(0.2, 0.6)))
    return events[:keep] if keep < len(events) else None
