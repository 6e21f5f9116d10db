"""Candidate and incumbent judged on one labelled set: the figures (pipeline/scripts/evaluate.py) and
the approval rule (anomaly_sentinel.evaluation)."""

from __future__ import annotations

import json

import pytest

from anomaly_sentinel.evaluation import EvaluationFileError, judge, parse_report
from pipeline.scripts import evaluate as ev

LABELS = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
ROWS = [[10.0, 10.0]] * 6 + [[10.0, 30.0]] * 4
BASELINE = {"mean": [10.0, 10.0], "std": [1.0, 1.0]}
#: A model whose training scores have mean 1 and std 0.1: cutoff 1.3.
STATS = {"mean": 1.0, "std": 0.1}


def test_precision_recall_and_f1_count_flags_above_the_cutoff():
    scores = [1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 1.0]  # 3 of 4 found, 1 false alarm
    m = ev.metrics(LABELS, scores, cutoff=1.5, cutoff_source="given")
    assert (m.tp, m.fp, m.fn, m.tn) == (3, 1, 1, 5)
    assert (m.precision, m.recall) == (0.75, 0.75)
    assert m.f1 == pytest.approx(0.75)


def test_nothing_flagged_scores_zero_not_an_error():
    m = ev.metrics(LABELS, [0.0] * 10, cutoff=1.0, cutoff_source="given")
    assert (m.precision, m.recall, m.f1) == (0.0, 0.0, 0.0)


def test_each_model_is_cut_at_its_own_production_cutoff_else_at_the_set_normals():
    scores = [1.0] * 6 + [1.4] * 4
    assert ev.judge_model(LABELS, scores, STATS).cutoff == pytest.approx(1.3)
    assert ev.judge_model(LABELS, scores, STATS).cutoff_source == "score-stats"
    fallback = ev.judge_model(LABELS, scores, None)
    assert fallback.cutoff_source == "evaluation-set-normals"
    assert fallback.cutoff == pytest.approx(1.0)  # normals all score 1.0: std 0


def test_mismatched_scores_are_refused():
    with pytest.raises(ev.EvaluationError, match="9 scores for 10"):
        ev.metrics(LABELS, [1.0] * 9, 1.0, "given")


def report(candidate: list[float], incumbent: list[float] | None) -> dict:
    return ev.evaluate(
        LABELS,
        ROWS,
        candidate_scores=candidate,
        candidate_stats=STATS,
        baseline=BASELINE,
        incumbent_scores=incumbent,
        incumbent_stats=STATS if incumbent is not None else None,
        incumbent_model="s3://b/models/old/model.tar.gz" if incumbent is not None else None,
    )


GOOD = [1.0] * 6 + [2.0] * 4  # finds all 4, no false alarm: F1 1.0
HALF = [1.0] * 6 + [2.0, 2.0, 1.0, 1.0]  # finds 2 of 4: F1 0.667
NOISY = [2.0] * 10  # flags everything: precision 0.4, F1 0.571


def test_the_report_holds_both_models_and_the_baseline_on_the_same_set():
    document = report(GOOD, NOISY)
    assert document["set"] == {"rows": 10, "positives": 4}
    assert document["reference"] == "incumbent"
    assert document["candidate"]["f1"] == 1.0
    assert document["incumbent"]["f1"] == pytest.approx(0.571, abs=1e-3)
    assert document["incumbent"]["model"] == "s3://b/models/old/model.tar.gz"
    # the z-score baseline flags the rows 20 std away
    assert document["baseline"]["f1"] == 1.0
    assert json.loads(json.dumps(document)) == document


def test_a_better_candidate_is_approved():
    verdict = judge(parse_report(json.dumps(report(GOOD, HALF)).encode()), min_improvement=0.05)
    assert verdict.approve
    assert "beats the incumbent's 0.667" in verdict.reason
    assert verdict.summary["candidate"] == {"f1": 1.0, "precision": 1.0, "recall": 1.0}
    assert verdict.summary["approved"] is True


def test_a_worse_or_equal_candidate_is_not_approved_and_the_reason_says_by_how_much():
    worse = judge(parse_report(json.dumps(report(HALF, GOOD)).encode()), min_improvement=0.0)
    assert not worse.approve
    assert "does not beat the incumbent's 1.000" in worse.reason
    assert "gain -0.333" in worse.reason
    same = judge(parse_report(json.dumps(report(GOOD, GOOD)).encode()), min_improvement=0.0)
    assert not same.approve


def test_a_gain_below_min_improvement_is_not_enough():
    verdict = judge(parse_report(json.dumps(report(GOOD, NOISY)).encode()), min_improvement=0.5)
    assert not verdict.approve  # gain 0.429 < 0.5


def test_the_first_model_is_judged_against_the_z_score_baseline():
    # GIVEN nothing in service: the baseline (F1 1.0 here) is the reference
    verdict = judge(parse_report(json.dumps(report(HALF, None)).encode()), min_improvement=0.0)
    assert not verdict.approve
    assert "the baseline's 1.000" in verdict.reason
    assert verdict.summary["incumbent"] is None
    assert "(nothing in service)" in verdict.table


def test_the_table_lists_every_model_with_its_cutoff():
    table = judge(parse_report(json.dumps(report(GOOD, HALF)).encode()), 0.0).table.splitlines()
    assert table[0].split() == ["model", "F1", "precision", "recall", "cutoff"]
    assert table[1].split()[:2] == ["candidate", "1.000"]
    assert table[2].split()[:2] == ["incumbent", "0.667"]
    assert table[-1] == "evaluation set: 10 rows, 4 labelled anomalies"


@pytest.mark.parametrize("raw", [b"not json", b"{}", json.dumps({"candidate": {"f1": 2}}).encode()])
def test_a_malformed_evaluation_file_is_refused(raw):
    with pytest.raises(EvaluationFileError):
        parse_report(raw)
