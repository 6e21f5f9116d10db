"""Retraining decisions against the next week: does the approval rule pick the model that does better?

Method (NAB NYC taxi, the project's data: 30-minute points, shingle 48, NAB's five labelled windows).
Three scenarios, each a **model in service** and weekly **retraining points**:

- *as recorded*: the model in service learned the 16 weeks up to 2014-10-20 (a healthy model), or
  only the first 8 weeks (July - August 2014: a model that grows stale as autumn comes); retraining
  points every 7 days from 15 days after that on;
- *level +50 %* and *level -25 %*: from 2014-10-01 every value moves by that share of the series
  mean (demand grew / fell, a documented synthetic change); the model in service learned the 8
  weeks before the change; points every 7 days once a whole window lies after it.

At each point *t* a **candidate** is trained on the production window before *t* exactly as a
retraining run does: ``channels.py`` splits it (oldest 70 % train, 15 % validation, newest 15 %
evaluation, injected anomalies), the local search (``sentinel.tuning``, 2 trials) picks the forest.
Both models are then judged:

- **old rule** (main before this change): the evaluation set with the tuner's injection rates (5 %
  spikes, 5 % level shifts, 3 % variance, at least 5 each: 23-64 % positives), each model cut at
  mean + 3 std of its training scores, approve when the candidate's F1 is higher;
- **new rule** (``pipeline/scripts/evaluate.py`` + ``anomaly_sentinel.evaluation``, the shipped
  code): the evaluation set at a realistic share (at most 5 % labelled), each model cut at its
  alert-budget quantile (0.999 of its training scores), approve when the false-alert reduction's
  90 % paired-bootstrap interval lies above 0 and the candidate passes the detection floor.

**Reality** is the next 7 days of traffic (*t*, *t* + 7 d], each model cut as its rule cuts it,
scored like NAB's standard profile: +1 per labelled window found (at least one flagged row in it),
-0.11 per false alert (a flagged row outside every window). The better model is the one with the
higher score; a difference below 0.77 (one false alert a day over the week) is a **tie**, and ties
are left out (exact ties, equal windows and equal false alerts, are counted as well). A decision
**agrees** when it approved a better candidate or kept a better model in service. "Never approve"
agrees whenever the model in service was better. The last columns are what counts in the end: the
next week of the model each decision leaves serving.

Windows: 7 days (the default before this change) and 14 days (the new default), same points.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

import sentinel  # noqa: F401 - puts the layer's packages on sys.path as the build lays them out
from anomaly_sentinel.evaluation import judge, parse_report
from pipeline.scripts import channels as ch
from pipeline.scripts import evaluate as ev
from pipeline.scripts import inject
from pipeline.scripts import score_stats as ss
from sentinel.rcf import RandomCutForest, shingle
from sentinel.series import NYC_TAXI, load_series, load_windows, shingle_timestamps
from sentinel.tuning import search

SHINGLE = 48
STEP = np.timedelta64(30, "m")
DAY = np.timedelta64(1, "D")
ROWS_PER_DAY = 48
#: NAB standard profile: a window found is worth 1, a false alert costs 0.11.
FALSE_ALERT_COST = 0.11
#: A difference in reality smaller than one false alert a day over the week is a tie.
TIE = FALSE_ALERT_COST * 7
INCUMBENT_WEEKS = 8
WINDOWS = (7, 14)
TUNING_BUDGET = 2
SEED = 1


@dataclass(frozen=True)
class Scenario:
    name: str
    change: np.datetime64 | None
    shift_of_mean: float
    start: np.datetime64  # the model in service learned the `weeks` before this
    weeks: int = INCUMBENT_WEEKS


_OCTOBER = np.datetime64(datetime(2014, 10, 1))
SCENARIOS = (
    Scenario("as recorded, in service 16 weeks", None, 0.0, np.datetime64(datetime(2014, 10, 21)), 16),
    Scenario("as recorded, in service 8 weeks", None, 0.0, np.datetime64(datetime(2014, 8, 26))),
    Scenario("level +50 %", _OCTOBER, 0.5, _OCTOBER),
    Scenario("level -25 %", _OCTOBER, -0.25, _OCTOBER),
)


@dataclass
class Model:
    """A forest, its score statistics and its scores on the rows the replay needs."""

    forest: RandomCutForest
    stats: dict[str, Any]

    def cutoff(self, rule: str) -> float:
        found = ss.model_cutoff(self.stats, rule=rule)
        assert found is not None
        return found[0]


@dataclass
class Point:
    scenario: str
    window_days: int
    when: str
    #: rule -> (decision, reality: +1 candidate better, -1 incumbent better, 0 tie; exact tie)
    outcomes: dict[str, tuple[bool, int, bool]] = field(default_factory=dict)
    #: rule -> next-week false alerts a day (incumbent, candidate)
    next_week: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: rule -> (false alerts a day, windows found) next week of the model the decision leaves serving
    served: dict[str, tuple[float, int]] = field(default_factory=dict)
    windows_next_week: int = 0
    evidence: dict[str, Any] = field(default_factory=dict)


def _labels(
    stamps: np.ndarray, windows: Sequence[tuple[datetime, datetime]]
) -> tuple[np.ndarray, np.ndarray]:
    """Per shingle: 1 when its span meets a NAB window, and which window (-1: none)."""
    first = stamps - STEP * (SHINGLE - 1)
    labels = np.zeros(stamps.size, dtype=int)
    window_id = np.full(stamps.size, -1)
    for index, (start, end) in enumerate(windows):
        meets = (first <= np.datetime64(end)) & (stamps >= np.datetime64(start))
        labels |= meets
        window_id[meets & (window_id < 0)] = index
    return labels, window_id


def _fit(rows: np.ndarray, trees: int, samples: int, seed: int) -> Model:
    forest = RandomCutForest(SHINGLE, trees, min(samples, len(rows)), seed=seed).fit(rows)
    return Model(forest, ss.score_stats(forest.score_array(rows), SHINGLE))


def _reality(scores: np.ndarray, cutoff: float, labels: np.ndarray, window_id: np.ndarray) -> tuple[int, int]:
    """Windows found and false alerts of one model on the next week."""
    flagged = scores > cutoff
    found = len({int(w) for w in window_id[flagged & (labels == 1)]})
    return found, int((flagged & (labels == 0)).sum())


def _better(incumbent: tuple[int, int], candidate: tuple[int, int]) -> tuple[int, bool]:
    value = (candidate[0] - incumbent[0]) - FALSE_ALERT_COST * (candidate[1] - incumbent[1])
    exact_tie = candidate == incumbent
    if abs(value) < TIE:
        return 0, exact_tie
    return (1 if value > 0 else -1), exact_tie


def _old_set(window: ch.Channels, rows: list[list[float]], labels: list[int]) -> tuple[list[int], np.ndarray]:
    """The evaluation set as main built it: the held-out newest rows plus the tuner's injection rates."""
    n_train, n_validation, _ = ch.split_counts(len(rows))
    part = rows[n_train + n_validation :]
    _, scale = ch.feature_stats(window.train)
    anomalies = inject.inject(part, scale, seed=ch.DEFAULT_SEED + 1)
    set_labels = list(labels[n_train + n_validation :]) + [1] * len(anomalies)
    return set_labels, np.array(part + [a.row for a in anomalies])


def _old_decision(incumbent: Model, candidate: Model, set_labels: list[int], set_rows: np.ndarray) -> bool:
    f1 = {
        name: ev.judge_model(set_labels, list(model.forest.score_array(set_rows)), _mean_std(model.stats)).f1
        for name, model in (("incumbent", incumbent), ("candidate", candidate))
    }
    return f1["candidate"] > f1["incumbent"]


def _mean_std(stats: dict[str, Any]) -> dict[str, Any]:
    """The statistics as main wrote them (no cutoff block: mean + 3 std)."""
    return {k: v for k, v in stats.items() if k != "cutoff"}


def _new_decision(incumbent: Model, candidate: Model, window: ch.Channels) -> tuple[bool, dict[str, Any]]:
    set_labels = [label for label, _ in window.evaluation]
    set_rows = np.array([row for _, row in window.evaluation])
    mean, std = ch.feature_stats(window.train)
    report = ev.evaluate(
        set_labels,
        set_rows.tolist(),
        candidate_scores=[float(s) for s in candidate.forest.score_array(set_rows)],
        candidate_stats=candidate.stats,
        baseline={"mean": mean, "std": std},
        incumbent_scores=[float(s) for s in incumbent.forest.score_array(set_rows)],
        incumbent_stats=incumbent.stats,
        incumbent_model="incumbent",
        set_info={"injected": window.injected["evaluation"], "rows_per_day": ROWS_PER_DAY},
    )
    verdict = judge(parse_report(json.dumps(report).encode()), min_improvement=0.0)
    return verdict.approve, report


def _replay(scenario: Scenario, points_every: int) -> list[Point]:
    series = load_series(NYC_TAXI)
    values = series.values.copy()
    if scenario.change is not None:
        values[series.timestamps >= scenario.change] += scenario.shift_of_mean * float(series.values.mean())
    rows = shingle(values, SHINGLE)
    stamps = shingle_timestamps(series.timestamps, SHINGLE)
    labels, window_id = _labels(stamps, load_windows())
    first = stamps - STEP * (SHINGLE - 1)
    learned = (first >= scenario.start - scenario.weeks * 7 * DAY) & (stamps < scenario.start)
    incumbent = _fit(np.array(ch.build_channels(rows[learned].tolist(), seed=0).train), 50, 512, 0)
    found: list[Point] = []
    when = scenario.start + (max(WINDOWS) + 1) * DAY
    index = 0
    while when + 7 * DAY <= stamps[-1]:
        index += 1
        if (index - 1) % points_every:
            when += 7 * DAY
            continue
        following = (stamps > when) & (stamps <= when + 7 * DAY)
        for days in WINDOWS:
            inside = (stamps > when - days * DAY) & (stamps <= when)
            window_rows = rows[inside].tolist()
            window_labels = [0] * len(window_rows)  # production traffic comes without labels
            window = ch.build_channels(window_rows, seed=ch.DEFAULT_SEED)
            tuned = search(
                np.array(window.train),
                [label for label, _ in window.validation],
                np.array([row for _, row in window.validation]),
                budget=TUNING_BUDGET,
                seed=SEED,
            )
            candidate = Model(tuned.forest, tuned.stats)
            point = Point(scenario.name, days, str(when)[:10])
            next_scores = {
                "incumbent": incumbent.forest.score_array(rows[following]),
                "candidate": candidate.forest.score_array(rows[following]),
            }
            old_labels, old_rows = _old_set(window, window_rows, window_labels)
            decisions = {
                "old": _old_decision(incumbent, candidate, old_labels, old_rows),
            }
            decisions["new"], report = _new_decision(incumbent, candidate, window)
            for rule, cut in (("old", "mean-std"), ("new", "quantile")):
                reality = {
                    name: _reality(
                        next_scores[name], model.cutoff(cut), labels[following], window_id[following]
                    )
                    for name, model in (("incumbent", incumbent), ("candidate", candidate))
                }
                better, exact = _better(reality["incumbent"], reality["candidate"])
                point.outcomes[rule] = (decisions[rule], better, exact)
                point.next_week[rule] = (reality["incumbent"][1] / 7, reality["candidate"][1] / 7)
                kept = reality["candidate"] if decisions[rule] else reality["incumbent"]
                point.served[rule] = (kept[1] / 7, kept[0])
            point.windows_next_week = len({int(w) for w in window_id[following] if w >= 0})
            point.evidence = {
                "set_rows": report["set"]["rows"],
                "positives": report["set"]["positives"],
                "old_positive_share": sum(old_labels) / len(old_labels),
                "gain": report["comparison"]["gain"],
                "low": report["comparison"]["low"],
            }
            found.append(point)
            print(f"   {scenario.name} {point.when} {days} d: {point.outcomes}", file=sys.stderr)
        when += 7 * DAY
    return found


@dataclass
class Tally:
    agree: int = 0
    decided: int = 0
    never: int = 0
    approvals: int = 0
    wrong_approvals: int = 0
    wrong_rejections: int = 0
    exact_ties: int = 0
    ties: int = 0

    def add(self, decision: bool, better: int, exact_tie: bool) -> None:
        self.exact_ties += exact_tie
        self.approvals += decision
        if better == 0:
            self.ties += 1
            return
        self.decided += 1
        right = (decision and better > 0) or (not decision and better < 0)
        self.agree += right
        self.never += better < 0
        self.wrong_approvals += decision and better < 0
        self.wrong_rejections += (not decision) and better > 0

    def share(self, count: int) -> str:
        return f"{count}/{self.decided} ({count / self.decided:.0%})" if self.decided else "-"


def _table(points: list[Point]) -> list[str]:
    lines = [
        "| window | rule | agrees with next week | never approve | approvals | approved a worse model "
        "| kept a worse model | ties (exact) | next week, model left serving: false alerts/day (mean) "
        "| windows found |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for days in WINDOWS:
        for rule, name in (("old", "old: F1, mean + 3 std"), ("new", "new: false alerts ± noise, quantile")):
            tally = Tally()
            mine = [point for point in points if point.window_days == days]
            for point in mine:
                tally.add(*point.outcomes[rule])
            served = [point.served[rule] for point in mine]
            lines.append(
                f"| {days} d | {name} | **{tally.share(tally.agree)}** | {tally.share(tally.never)} | "
                f"{tally.approvals} | {tally.wrong_approvals} | {tally.wrong_rejections} | "
                f"{tally.ties} ({tally.exact_ties}) | {statistics.fmean(f for f, _ in served):.2f} | "
                f"{sum(w for _, w in served)}/{sum(p.windows_next_week for p in mine)} |"
            )
    return lines


def _by_scenario(points: list[Point], days: int) -> list[str]:
    lines = [
        "| scenario | points | new rule agrees | old rule agrees | never approve | median next-week false "
        "alerts/day, in service / candidate (new cutoffs) | (old cutoffs) |",
        "|---|---|---|---|---|---|---|",
    ]
    for scenario in SCENARIOS:
        mine = [p for p in points if p.scenario == scenario.name and p.window_days == days]
        new, old = Tally(), Tally()
        for point in mine:
            new.add(*point.outcomes["new"])
            old.add(*point.outcomes["old"])

        def medians(rule: str, mine: list[Point] = mine) -> str:
            pairs = [p.next_week[rule] for p in mine]
            return (
                f"{statistics.median(a for a, _ in pairs):.1f} / {statistics.median(b for _, b in pairs):.1f}"
                if pairs
                else "-"
            )

        lines.append(
            f"| {scenario.name} | {len(mine)} | {new.share(new.agree)} | {old.share(old.agree)} | "
            f"{new.share(new.never)} | {medians('new')} | {medians('old')} |"
        )
    return lines


def run(quick: bool) -> str:
    points: list[Point] = []
    for scenario in SCENARIOS:
        points += _replay(scenario, points_every=4 if quick else 1)
    sets = [p.evidence for p in points if p.window_days == max(WINDOWS)]
    old_shares = [p.evidence["old_positive_share"] for p in points]
    rows = statistics.median(s["set_rows"] for s in sets)
    positives = statistics.median(s["positives"] for s in sets)
    share = statistics.median(s["positives"] / s["set_rows"] for s in sets)
    undecided = sum(1 for s in sets if s["low"] <= 0)
    body = [
        "## Retraining decisions against the next week",
        "",
        __doc__.split("\n", 2)[2].strip() if __doc__ else "",
        "",
        f"{len(points) // len(WINDOWS)} retraining points x {len(WINDOWS)} windows"
        + (" (quick run: every 4th point)" if quick else "")
        + ":",
        "",
        *_table(points),
        "",
        f"By scenario ({max(WINDOWS)}-day window):",
        "",
        *_by_scenario(points, max(WINDOWS)),
        "",
        f"Evaluation sets ({max(WINDOWS)}-day window): median {rows:.0f} rows, {positives:.0f} labelled "
        f"anomalies ({share:.1%}); the old sets held {min(old_shares):.0%}-{max(old_shares):.0%} "
        f"positives. The 90 % interval of the false-alert reduction reached 0 (no difference beyond the "
        f"noise) at {undecided} of {len(sets)} points.",
    ]
    return "\n".join(body) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
