"""Candidate and incumbent judged on one labelled set: the figures (pipeline/scripts/evaluate.py) and
the approval rule (anomaly_sentinel.evaluation)."""

from __future__ import annotations

import json

import pytest

from anomaly_sentinel.evaluation import EvaluationFileError, judge, judge_in_service, parse_report
from pipeline.scripts import evaluate as ev
from pipeline.scripts import score_stats as ss

#: A realistic set: 100 genuine rows (label 0) and 5 labelled anomalies (4.8 %), 48 rows a day.
GENUINE, POSITIVES = 100, 5
LABELS = [0] * GENUINE + [1] * POSITIVES
ROWS = [[10.0, 10.0]] * GENUINE + [[10.0, 30.0]] * POSITIVES
BASELINE = {"mean": [10.0, 10.0], "std": [1.0, 1.0]}
SET_INFO = {"injected": {"spike": 2, "level_shift": 2, "variance": 1}, "rows_per_day": 48.0}
#: Statistics with a quantile cutoff of 1.5, and older ones (mean + 3 std = 1.3).
STATS = {
    "count": 1000,
    "mean": 1.0,
    "std": 0.1,
    "min": 0.5,
    "max": 2.0,
    "cutoff": {"rule": "quantile", "quantile": 0.999, "alert_budget": 0.001, "value": 1.5},
}
OLD_STATS = {"count": 1000, "mean": 1.0, "std": 0.1, "min": 0.5, "max": 2.0}


def scores(false_alerts: int, found: int = POSITIVES, high: float = 2.0) -> list[float]:
    """Scores that flag ``false_alerts`` genuine rows and ``found`` anomalies above a cutoff of 1.5."""
    genuine = [high] * false_alerts + [1.0] * (GENUINE - false_alerts)
    return genuine + [high] * found + [1.0] * (POSITIVES - found)


def report(candidate: list[float], incumbent: list[float] | None, **kwargs) -> dict:
    return ev.evaluate(
        LABELS,
        ROWS,
        candidate_scores=candidate,
        candidate_stats=kwargs.get("candidate_stats", STATS),
        baseline=BASELINE,
        incumbent_scores=incumbent,
        incumbent_stats=kwargs.get("incumbent_stats", STATS) if incumbent is not None else None,
        incumbent_model="s3://b/models/old/model.tar.gz" if incumbent is not None else None,
        set_info=SET_INFO,
    )


def verdict(document: dict, min_improvement: float = 0.0):
    return judge(parse_report(json.dumps(document).encode()), min_improvement)


# ---------------------------------------------------------------------------- the figures


def test_precision_recall_f1_and_false_alerts_per_day_count_flags_above_the_cutoff():
    m = ev.metrics(
        LABELS, scores(false_alerts=2, found=3), cutoff=1.5, cutoff_source="given", rows_per_day=48
    )
    assert (m.tp, m.fp, m.fn, m.tn) == (3, 2, 2, 98)
    assert (m.precision, m.recall) == (0.6, 0.6)
    assert m.f1 == pytest.approx(0.6)
    # 2 of 100 genuine rows flagged, at 48 rows a day: 0.96 false alerts a day
    assert (m.false_alerts, m.flag_rate) == (2, 0.02)
    assert m.false_alerts_per_day == pytest.approx(0.96)


def test_nothing_flagged_scores_zero_not_an_error_and_an_unknown_rate_stays_unknown():
    m = ev.metrics(LABELS, [0.0] * len(LABELS), cutoff=1.0, cutoff_source="given")
    assert (m.precision, m.recall, m.f1, m.false_alerts) == (0.0, 0.0, 0.0, 0)
    assert m.false_alerts_per_day is None


def test_mismatched_or_non_finite_scores_are_refused():
    with pytest.raises(ev.EvaluationError, match="9 scores for 105"):
        ev.metrics(LABELS, [1.0] * 9, 1.0, "given")
    with pytest.raises(ev.EvaluationError, match="finite"):
        ev.metrics(LABELS, [float("nan")] * len(LABELS), 1.0, "given")


def test_each_model_is_cut_with_its_own_statistics():
    # GIVEN a candidate with quantile statistics (cutoff 1.5) and an incumbent whose older statistics
    # say mean + 3 std = 1.3; both score the genuine rows 1.4
    both = [1.4] * GENUINE + [2.0] * POSITIVES
    document = report(both, both, incumbent_stats=OLD_STATS)
    # THEN the incumbent is cut at its own 1.3 (every genuine row a false alert), the candidate at 1.5
    assert document["incumbent"]["cutoff"] == pytest.approx(1.3)
    assert document["incumbent"]["cutoff_source"] == "score-stats: mean + 3 std of the training scores"
    assert document["incumbent"]["false_alerts"] == GENUINE
    assert document["candidate"]["cutoff"] == 1.5
    assert document["candidate"]["cutoff_source"] == "score-stats: quantile 0.999 of the training scores"
    assert document["candidate"]["false_alerts"] == 0


def test_a_model_without_statistics_is_cut_at_the_set_normals():
    fallback = ev.judge_model(LABELS, [1.0] * GENUINE + [1.4] * POSITIVES, None)
    assert fallback.cutoff_source == "evaluation-set-normals"
    assert fallback.cutoff == pytest.approx(1.0)  # normals all score 1.0: std 0


def test_the_report_states_the_set_the_references_and_the_comparison():
    document = report(scores(0), scores(30))
    assert document["set"]["rows"] == 105
    assert document["set"]["positives"] == 5
    assert document["set"]["positive_share"] == pytest.approx(5 / 105)
    assert document["set"]["genuine_rows"] == 100
    assert document["reference"] == "incumbent"
    assert document["incumbent"]["model"] == "s3://b/models/old/model.tar.gz"
    assert document["incumbent"]["false_alerts_per_day"] == pytest.approx(14.4)
    # a flag-everything detector is on the same set, and at a 5 % share its F1 is below 0.1
    assert document["flag_all"]["recall"] == 1.0
    assert document["flag_all"]["f1"] == pytest.approx(2 * (5 / 105) / (1 + 5 / 105))
    assert document["flag_all"]["f1"] < 0.1 < document["candidate"]["f1"]
    # the z-score baseline flags the rows 20 std away
    assert document["baseline"]["f1"] == 1.0
    comparison = document["comparison"]
    assert comparison["false_alerts"] == {"candidate": 0, "incumbent": 30}
    assert comparison["gain"] == 1.0
    assert comparison["low"] <= comparison["gain"] <= comparison["high"]
    assert json.loads(json.dumps(document)) == document


def test_the_bootstrap_is_reproducible_and_its_interval_narrows_with_a_clear_difference():
    clear = ev.compare(LABELS, [False] * 105, [True] * 50 + [False] * 55)
    assert clear == ev.compare(LABELS, [False] * 105, [True] * 50 + [False] * 55)
    assert clear["low"] == clear["high"] == 1.0
    # GIVEN one false alert against two THEN the interval reaches below 0: no difference beyond noise
    noisy = ev.compare(LABELS, [False, False, True] + [False] * 102, [True, True] + [False] * 103)
    assert noisy["gain"] == 0.5
    assert noisy["low"] < 0 < noisy["high"]


# ---------------------------------------------------------------------------- the rule


def test_a_candidate_that_removes_false_alerts_beyond_the_noise_is_approved():
    judged = verdict(report(scores(1), scores(30)))
    assert judged.approve
    assert "removes +97% of the model in service's false alerts on 100 genuine rows" in judged.reason
    assert "0.48 vs 14.4 false alerts a day" in judged.reason
    assert judged.summary["comparison"]["gain"] == pytest.approx(29 / 30)
    assert judged.summary["margin"] == pytest.approx(judged.summary["comparison"]["low"])
    assert judged.summary["set"] == {
        "rows": 105,
        "positives": 5,
        "positive_share": 5 / 105,
        "genuine_rows": 100,
    }
    assert judged.summary["approved"] is True


@pytest.mark.parametrize(("candidate", "incumbent"), [(1, 2), (3, 3), (0, 0), (5, 1)])
def test_a_difference_within_the_noise_or_none_or_worse_is_not_approved(candidate, incumbent):
    judged = verdict(report(scores(candidate), scores(incumbent)))
    assert not judged.approve
    assert "not approved" in judged.reason


def test_a_candidate_flagging_everything_loses_to_the_model_in_service():
    judged = verdict(report([2.0] * len(LABELS), scores(2)))
    assert not judged.approve
    assert "removes -98%" in judged.reason


def test_a_candidate_that_misses_anomalies_more_than_genuine_rows_is_not_approved():
    # GIVEN fewer false alerts than the incumbent but none of the anomalies found
    judged = verdict(report(scores(10, found=0), scores(40)))
    assert not judged.approve
    assert "flags injected anomalies less often (0%) than genuine rows (10%)" in judged.reason


def test_min_improvement_is_read_at_the_lower_end_and_equal_is_enough():
    document = report(scores(1), scores(10))
    low = document["comparison"]["low"]
    assert verdict(document, min_improvement=low).approve  # equal: accepted
    assert not verdict(document, min_improvement=min(1.0, low + 0.01)).approve
    assert "below MinImprovement" in verdict(document, min_improvement=min(1.0, low + 0.01)).reason


def test_a_gain_equal_to_min_improvement_up_to_float_rounding_is_accepted():
    # GIVEN a lower end of 1 - 9/10 = 0.09999999999999998 and MinImprovement 0.1
    document = report(scores(1), scores(10))
    document["comparison"]["low"] = 1 - 9 / 10
    assert verdict(document, min_improvement=0.1).approve


def test_an_older_report_without_a_comparison_approves_nothing():
    document = report(scores(0), scores(30))
    document["comparison"] = None
    judged = verdict(document)
    assert not judged.approve
    assert "older pipeline" in judged.reason


def test_the_first_model_is_deployed_when_it_beats_flagging_everything_and_says_what_it_was_compared_with():
    # GIVEN nothing in service and a candidate worse than the z-score baseline but better than flag-all
    judged = verdict(report(scores(5, found=2), None))
    assert judged.approve
    assert judged.reason.startswith(
        "first model: candidate F1 0.333 passes the sanity floor; nothing serves yet"
    )
    assert "flagging every row (F1 0.091)" in judged.reason
    assert "z-score baseline (F1 1.000)" in judged.reason
    assert judged.summary["incumbent"] is None
    assert judged.summary["margin"] == pytest.approx(1 / 3 - 2 * (5 / 105) / (1 + 5 / 105))
    assert "(nothing in service)" in judged.table


def test_a_first_model_no_better_than_flagging_everything_is_held_back_with_how_to_deploy_by_hand():
    judged = verdict(report([2.0] * len(LABELS), None))
    assert not judged.approve
    assert "does not beat flagging every row" in judged.reason
    assert "Nothing serves on the endpoint" in judged.reason
    assert "create-endpoint" in judged.reason


def test_a_report_about_a_model_that_no_longer_serves_approves_nothing():
    parsed = parse_report(json.dumps(report(scores(0), scores(30))).encode())
    stale = judge_in_service(parsed, "s3://b/models/newer/model.tar.gz", 0.0)
    assert not stale.approve
    assert "compared with s3://b/models/old/model.tar.gz" in stale.reason


def test_a_first_model_report_approves_nothing_once_a_model_serves():
    # GIVEN a candidate that would pass as a first model (nothing served when the pipeline ran)
    parsed = parse_report(json.dumps(report(scores(5, found=2), None)).encode())
    # WHEN it is judged after another model was deployed meanwhile
    stale = judge_in_service(parsed, "s3://b/models/deployed-meanwhile/model.tar.gz", 0.0)
    # THEN it is not approved: it was never compared with the model that serves now
    assert not stale.approve
    assert stale.reason.startswith(
        "the evaluation had no incumbent, but s3://b/models/deployed-meanwhile/model.tar.gz serves now"
    )
    assert stale.summary["approved"] is False
    # AND judged with nothing serving, the same report is approved as a first model
    assert judge_in_service(parsed, None, 0.0).approve


def test_the_table_lists_every_model_with_false_alerts_a_day_and_the_interval():
    table = verdict(report(scores(1), scores(30))).table.splitlines()
    assert table[0].split() == ["model", "F1", "precision", "recall", "FA/day", "cutoff"]
    assert table[1].split()[:5] == ["candidate", "0.909", "0.833", "1.000", "0.48"]
    assert table[2].split()[:5] == ["incumbent", "0.250", "0.143", "1.000", "14.4"]
    assert table[4].split()[:2] == ["flag-all", "0.091"]
    assert table[5] == "evaluation set: 105 rows, 5 labelled anomalies (4.8%)"
    assert table[6].startswith("false alerts removed: +97% (90% interval ")


@pytest.mark.parametrize("raw", [b"not json", b"{}", json.dumps({"candidate": {"f1": 2}}).encode()])
def test_a_malformed_evaluation_file_is_refused(raw):
    with pytest.raises(EvaluationFileError):
        parse_report(raw)


def test_the_layer_and_the_job_script_cut_a_model_the_same_way():
    from anomaly_sentinel.contracts import ScoreStats

    for stats in (STATS, OLD_STATS, ss.score_stats([0.1 * i for i in range(50)])):
        for rule in ("quantile", "mean-std"):
            assert ScoreStats.model_validate(stats).production_cutoff(3.0, rule) == ss.model_cutoff(
                stats, 3.0, rule
            )
