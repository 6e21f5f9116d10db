"""Which score counts as an anomaly: the cutoff's sources, its k·std rule and its boundary."""

from __future__ import annotations

import statistics

import pytest

from anomaly_sentinel.cutoff import Cutoff, RunningStats, ScoreStats, StatsLookup, resolve_cutoff

MODEL = StatsLookup(
    ScoreStats(count=1000, mean=1.0, std=0.2, min=0.5, max=2.5), "s3://b/m/score_stats.json", "read"
)
MISSING = StatsLookup(None, "s3://b/m/score_stats.json", "s3://b/m/score_stats.json unreadable (NoSuchKey)")


def file_stats(values: list[float]) -> RunningStats:
    stats = RunningStats()
    for value in values:
        stats.add(value)
    return stats


def test_a_score_exactly_at_the_cutoff_is_not_an_anomaly():
    # GIVEN a cutoff of 2.0 THEN a score above it is flagged, one equal to it or below is not
    cutoff = Cutoff(value=2.0, source="threshold", detail="explicit threshold 2")
    assert cutoff.flags(2.0000001)
    assert not cutoff.flags(2.0)
    assert not cutoff.flags(1.9)


def test_without_a_cutoff_nothing_is_flagged():
    assert not Cutoff(value=None, source="none", detail="no cutoff").flags(1e300)


@pytest.mark.parametrize("k", [0.5, 1.0, 3.0])
def test_the_files_own_cutoff_is_its_mean_plus_k_standard_deviations(k):
    # GIVEN no threshold, no model and 100 scores of mean 3 and (population) std 2
    scores = [1.0, 5.0] * 50
    # WHEN the cutoff is resolved with k
    cutoff = resolve_cutoff(threshold=None, model=None, file=file_stats(scores), k=k, min_records=100)
    # THEN it is the file's mean + k·std, and the detail carries no note (nothing was missing)
    assert cutoff.source == "file-stats"
    assert cutoff.value == pytest.approx(statistics.fmean(scores) + k * statistics.pstdev(scores))
    assert "(" not in cutoff.detail


@pytest.mark.parametrize("k", [0.5, 2.0])
def test_statistics_without_an_alert_budget_cutoff_fall_back_to_mean_plus_k_std(k):
    # GIVEN score_stats.json written before the quantile cutoff existed
    cutoff = resolve_cutoff(threshold=None, model=MODEL, file=file_stats([]), k=k, min_records=100)
    assert (cutoff.source, cutoff.value) == ("model-stats", pytest.approx(1.0 + k * 0.2))
    assert f"mean + {k:g} std of the training scores" in cutoff.detail


BUDGETED = StatsLookup(
    ScoreStats.model_validate(
        {
            "count": 1000,
            "mean": 1.0,
            "std": 0.2,
            "min": 0.5,
            "max": 2.5,
            "cutoff": {"rule": "quantile", "quantile": 0.999, "alert_budget": 0.001, "value": 2.1},
        }
    ),
    "s3://b/m/score_stats.json",
    "read",
)


def test_the_models_cutoff_is_its_alert_budget_quantile_by_default():
    cutoff = resolve_cutoff(threshold=None, model=BUDGETED, file=file_stats([]), k=3, min_records=100)
    assert (cutoff.source, cutoff.value) == ("model-stats", 2.1)
    assert cutoff.detail.startswith("s3://b/m/score_stats.json: quantile 0.999 of the training scores")


def test_the_mean_std_rule_ignores_the_quantile():
    cutoff = resolve_cutoff(
        threshold=None, model=BUDGETED, file=file_stats([]), k=3, min_records=100, rule="mean-std"
    )
    assert (cutoff.source, cutoff.value) == ("model-stats", pytest.approx(1.6))


def test_an_explicit_threshold_still_wins_over_the_models_quantile():
    cutoff = resolve_cutoff(threshold=5.0, model=BUDGETED, file=file_stats([]), k=3, min_records=100)
    assert (cutoff.source, cutoff.value) == ("threshold", 5.0)


def test_why_the_model_statistics_were_missing_is_added_to_the_files_own_cutoff():
    # GIVEN the same file scores with no model lookup, and with one whose statistics were unreadable
    scores = file_stats([1.0, 5.0] * 50)
    alone = resolve_cutoff(threshold=None, model=None, file=scores, k=3, min_records=100)
    noted = resolve_cutoff(threshold=None, model=MISSING, file=scores, k=3, min_records=100)
    # THEN both use the file's own cutoff, and the second says, after it, why the model's was not used
    assert alone.value == noted.value
    assert noted.detail == f"{alone.detail} ({MISSING.note})"


def test_without_any_cutoff_the_detail_lists_every_reason():
    # GIVEN unreadable model statistics and 99 file scores where 100 are needed
    few = resolve_cutoff(threshold=None, model=MISSING, file=file_stats([1.0] * 99), k=3, min_records=100)
    # THEN there is no cutoff, and the detail says so, then gives each reason in turn
    assert (few.source, few.value) == ("none", None)
    assert few.detail.startswith("no cutoff: ")
    reasons = few.detail.removeprefix("no cutoff: ").split("; ")
    assert reasons[0] == MISSING.note
    assert "99 scores" in reasons[1]
    assert "100 needed" in reasons[1]
    assert len(reasons) == 2


def test_without_a_model_lookup_too_few_scores_is_the_only_reason():
    few = resolve_cutoff(threshold=None, model=None, file=file_stats([1.0] * 5), k=3, min_records=6)
    assert (few.source, few.value) == ("none", None)
    assert len(few.detail.removeprefix("no cutoff: ").split("; ")) == 1


def test_an_explicit_threshold_is_named_in_the_detail():
    cutoff = resolve_cutoff(threshold=2.5, model=None, file=file_stats([]), k=3, min_records=100)
    assert (cutoff.value, cutoff.source) == (2.5, "threshold")
    assert "2.5" in cutoff.detail
