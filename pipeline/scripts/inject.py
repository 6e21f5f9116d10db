"""Synthetic anomalies for a labelled validation/evaluation set when no labels come with the data.

RCF's only tuning objective is ``test:f1``, which needs a labelled test channel, and candidate and
incumbent need one labelled set to be compared on. Production traffic has no labels, so labelled
anomalies are made from held-out rows: each anomaly is a **copy** of a held-out row (chosen at
random), changed in one of three ways; the original row stays in the set as a normal example.
Magnitudes are multiples of each feature's standard deviation ``sigma_j`` in the train channel, so
they mean the same on any data. For a shingled series a row is a window of consecutive values, so
the kinds below are the familiar time-series anomalies seen through one window:

================  ============  ======================================================================
kind              rate          change to the copied row (sign +/- at random)
================  ============  ======================================================================
``spike``         5 % of rows   one random feature ``j``: ``x_j += 2 sigma_j``
``level_shift``   5 % of rows   every feature from a random position on: ``x_j += sigma_j`` (a step)
``variance``      3 % of rows   a random run of ``max(1, n/4)`` features: ``x_j += N(0, sigma_j^2)``
================  ============  ======================================================================

The sizes are deliberately *within* the normal range of values: an anomaly that leaves it is caught
by any threshold (a z-score detector finds 4-sigma spikes as well as RCF does), while a model is
worth deploying for breaking patterns inside it.

Two plans. The **validation** channel (what the tuner maximises F1 on) gets the rates above and at
least :data:`MIN_PER_KIND` of each kind, so a small window still separates the trials. The
**evaluation** set gets a realistic share (:func:`plan_share`): anomalies are at most
:data:`EVALUATION_SHARE` of its rows, real labelled anomalies included, so a detector that flags
everything cannot win by recall (at a 64 % share it did: F1 0.78, more than either model).
Everything is drawn from one ``random.Random(seed)``: the same rows and seed give the same set, byte
for byte. Standard library only (it runs in any processing image).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

#: Share of the held-out rows that get an anomalous copy of each kind.
RATES = {"spike": 0.05, "level_shift": 0.05, "variance": 0.03}
#: Magnitudes in standard deviations of the feature in the train channel.
SIGMAS = {"spike": 2.0, "level_shift": 1.0, "variance": 1.0}
MIN_PER_KIND = 5
#: Largest share of labelled anomalies (real and injected) in the evaluation set.
EVALUATION_SHARE = 0.05
#: A feature with no spread in training still gets anomalies of a visible size.
MIN_SCALE = 1e-9


class InjectionError(ValueError):
    """The rows or the scale cannot be injected into (empty, ragged, scale of another width)."""


@dataclass(frozen=True)
class Anomaly:
    kind: str
    source: int  # index of the held-out row that was copied
    row: list[float]


def plan(rows: int) -> dict[str, int]:
    """How many anomalies of each kind ``rows`` held-out rows get."""
    return {kind: max(MIN_PER_KIND, round(rate * rows)) for kind, rate in RATES.items()}


def plan_share(rows: int, real_positives: int = 0, share: float = EVALUATION_SHARE) -> dict[str, int]:
    """How many anomalies of each kind keep the labelled share of ``rows`` held-out rows at most ``share``.

    ``k`` injected copies make ``(real + k) / (rows + k) <= share``; they are shared out in the
    proportions of :data:`RATES` (largest remainders first, ties in :data:`RATES` order).
    """
    if not 0.0 <= share < 1.0:
        raise InjectionError(f"the anomaly share must be in [0, 1), got {share}")
    total = max(0, math.floor((share * rows - real_positives) / (1.0 - share) + 1e-9))
    weight = sum(RATES.values())
    exact = {kind: total * rate / weight for kind, rate in RATES.items()}
    found = {kind: math.floor(value) for kind, value in exact.items()}
    for kind in sorted(RATES, key=lambda k: found[k] - exact[k])[: total - sum(found.values())]:
        found[kind] += 1
    return found


def inject(
    rows: Sequence[Sequence[float]],
    scale: Sequence[float],
    *,
    seed: int,
    counts: dict[str, int] | None = None,
) -> list[Anomaly]:
    """Anomalous copies of ``rows`` (kinds in :data:`RATES` order), reproducible from ``seed``.

    ``counts`` says how many of each kind (default :func:`plan`)."""
    if not rows:
        raise InjectionError("no rows to inject anomalies into")
    width = len(rows[0])
    if any(len(r) != width for r in rows) or len(scale) != width:
        raise InjectionError(f"rows and scale must all have {width} features")
    sigma = [max(abs(s), MIN_SCALE) for s in scale]
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not a secret
    made: list[Anomaly] = []
    for kind, count in (plan(len(rows)) if counts is None else counts).items():
        for _ in range(count):
            source = rng.randrange(len(rows))
            row = [float(v) for v in rows[source]]
            sign = rng.choice((-1.0, 1.0))
            if kind == "spike":
                j = rng.randrange(width)
                row[j] += sign * SIGMAS[kind] * sigma[j]
            elif kind == "level_shift":
                for j in range(rng.randrange(width), width):
                    row[j] += sign * SIGMAS[kind] * sigma[j]
            else:
                length = max(1, width // 4)
                start = rng.randrange(width - length + 1)
                for j in range(start, start + length):
                    row[j] += rng.gauss(0.0, SIGMAS[kind] * sigma[j])
            made.append(Anomaly(kind, source, row))
    return made


def counts(anomalies: Sequence[Anomaly]) -> dict[str, int]:
    found = dict.fromkeys(RATES, 0)
    for anomaly in anomalies:
        found[anomaly.kind] += 1
    return found


def describe() -> dict[str, object]:
    """The injection's settings, for the run's summary and the evaluation report."""
    return {
        "rates": RATES,
        "sigmas": SIGMAS,
        "min_per_kind": MIN_PER_KIND,
        "evaluation_share": EVALUATION_SHARE,
    }
