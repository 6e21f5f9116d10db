"""pipeline/scripts/logs_evaluate.py: the log route's judgement — which detector, and whether it beats
the log model in service on the same real sessions."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.scripts import logs_evaluate as judge
from pipeline.scripts import logs_job


def sessions(labels: list[int]) -> list[tuple[int, str, int]]:
    return [(i, f"blk_{i}", label) for i, label in enumerate(labels)]


def test_without_a_model_in_service_the_candidate_is_approved():
    verdict = judge.compare(sessions([0, 1]), {"blk_0": 0.1, "blk_1": 0.9}, 0.5, None, None)
    assert (verdict["approval"], verdict["reason"]) == ("Approved", "no log model in service")


def test_a_candidate_that_beats_the_model_in_service_on_the_same_sessions_is_approved():
    labelled = sessions([0, 0, 1, 1])
    candidate = {"blk_0": 0.1, "blk_1": 0.2, "blk_2": 0.9, "blk_3": 0.8}  # both faults caught
    incumbent = {"blk_0": 0.1, "blk_1": 0.2, "blk_2": 0.9, "blk_3": 0.3}  # one missed
    verdict = judge.compare(labelled, candidate, 0.5, incumbent, 0.5)
    assert verdict["approval"] == "Approved"
    assert (verdict["candidate"]["f1"], verdict["incumbent"]["f1"]) == (1.0, pytest.approx(2 / 3))
    # AND not when it must beat it by more than it does
    strict = judge.compare(labelled, candidate, 0.5, incumbent, 0.5, min_improvement=0.5)
    assert strict["approval"] == "PendingManualApproval"


def test_an_equal_candidate_or_one_without_real_anomalies_to_judge_on_waits_for_a_person():
    scores = {"blk_0": 0.1, "blk_1": 0.9}
    assert judge.compare(sessions([0, 1]), scores, 0.5, scores, 0.5)["approval"] == "PendingManualApproval"
    unjudgeable = judge.compare(sessions([0, 0]), scores, 0.5, {"blk_0": 0.0, "blk_1": 0.0}, 0.5)
    assert unjudgeable["approval"] == "PendingManualApproval"
    assert unjudgeable["reason"].startswith("no real anomaly among the evaluation sessions")


def test_only_sessions_both_models_scored_are_compared():
    verdict = judge.compare(sessions([0, 1, 1]), {"blk_0": 0.1, "blk_1": 0.9}, 0.5, {"blk_1": 0.1}, 0.5)
    assert (verdict["sessions"], verdict["positives"]) == (1, 1)


def test_injected_sessions_are_not_real_sessions_of_the_log(tmp_path):
    path = tmp_path / "evaluation.csv"
    path.write_text("key,label,kind,first_line\nblk_1,0,,3\nblk_1#injected-0,1,drop,3\nblk_2,1,real,9\n")
    assert judge.real_sessions(path) == [(0, "blk_1", 0), (2, "blk_2", 1)]


def test_the_detector_with_the_higher_f1_wins_then_fewer_false_alerts_then_pca():
    assert judge.choose({"f1": 0.9, "fp": 5}, {"f1": 0.8, "fp": 0}) == "rcf"
    assert judge.choose({"f1": 0.8, "fp": 5}, {"f1": 0.8, "fp": 1}) == "pca"
    assert judge.choose({"f1": 0.8, "fp": 1}, {"f1": 0.8, "fp": 1}) == "pca"
    assert judge.choose({"f1": 0.8, "fp": 0}, {"f1": 0.8, "fp": 1}) == "rcf"


def test_an_rcf_winner_waits_for_its_endpoint_before_it_is_approved():
    better = {"approval": judge.APPROVED, "reason": "F1 0.9 vs 0.8 in service"}
    worse = {"approval": judge.PENDING, "reason": "F1 0.7 vs 0.8 in service"}
    # a PCA model is scored in the function: registered as judged
    assert judge.registration("pca", better) == {**better, "verdict": judge.APPROVED}
    assert judge.registration("pca", worse)["approval"] == judge.PENDING
    # an RCF model judged better is registered pending; the retraining state machine approves it
    # once the log endpoint serves it (the scoring function takes the newest Approved package)
    registered = judge.registration("rcf", better)
    assert (registered["approval"], registered["verdict"]) == (judge.PENDING, judge.APPROVED)
    assert "once it serves on the log endpoint" in registered["reason"]
    assert judge.registration("rcf", worse)["verdict"] == judge.PENDING


@pytest.mark.parametrize("q", judge.RCF_QUANTILES)
def test_each_quantile_candidate_is_numpys_linear_quantile_of_the_training_scores(q):
    # GIVEN training scores, normal validation scores below every candidate and anomalies a hair
    # above numpy's q-quantile of the training scores
    rng = np.random.default_rng(0)
    train = list(rng.normal(1.0, 0.1, 500))
    expected = float(np.quantile(train, q))
    labels = [0] * 95 + [1] * 5
    validation = [0.0] * 95 + [expected + 1e-9] * 5
    # WHEN the cutoff is chosen
    chosen = judge.rcf_cutoff(train, labels, validation)
    # THEN the highest candidate that still flags every anomaly is that quantile, as numpy computes it
    assert chosen["cutoff"] == pytest.approx(expected, rel=0, abs=1e-12)
    assert (chosen["f1"], chosen["fp"]) == (1.0, 0)


def test_the_rcf_cutoff_is_the_candidate_with_the_best_validation_f1():
    rng = np.random.default_rng(0)
    train = list(rng.normal(1.0, 0.1, 500))
    labels = [0] * 95 + [1] * 5
    validation = list(rng.normal(1.0, 0.1, 95)) + [3.0] * 5
    chosen = judge.rcf_cutoff(train, labels, validation)
    assert max(validation[:95]) < chosen["cutoff"] < 3.0
    assert (chosen["f1"], chosen["fp"]) == (1.0, 0)


def test_the_labels_uri_becomes_a_downloaded_file_or_nothing():
    assert logs_job.labels_argument(["--format", "hdfs", "--labels-uri", "none"]) == ["--format", "hdfs"]
    assert logs_job.labels_argument(["--format", "hdfs"]) == ["--format", "hdfs"]
    assert logs_job.main(["not-a-script"]) == 2
