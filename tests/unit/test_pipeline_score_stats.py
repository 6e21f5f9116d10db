"""pipeline/scripts/score_stats.py: the statistics behind the scoring cutoff, as score_stats.json."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.scripts import score_stats as ss

FINITE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(st.lists(FINITE, min_size=1, max_size=300))
def test_statistics_agree_with_numpy(scores):
    # GIVEN any non-empty list of scores WHEN summarised
    stats = ss.score_stats(scores)
    # THEN count/mean/std (population)/min/max and linear quantiles agree with numpy
    array = np.asarray(scores)
    assert stats["count"] == len(scores)
    assert stats["mean"] == pytest.approx(array.mean(), rel=1e-9, abs=1e-6)
    assert stats["std"] == pytest.approx(array.std(), rel=1e-6, abs=1e-6)
    assert (stats["min"], stats["max"]) == (array.min(), array.max())
    for q, value in stats["quantiles"].items():
        assert value == pytest.approx(np.quantile(array, float(q)), rel=1e-9, abs=1e-6)


@pytest.mark.parametrize(
    ("scores", "q"),
    [
        ([5.0], 0.0),  # one score: every quantile is it
        ([5.0], 0.999),
        ([5.0], 1.0),
        ([1.0, 2.0, 3.0], 0.0),  # the ends are the min and the max
        ([1.0, 2.0, 3.0], 1.0),
        ([1.0, 1.0, 1.0, 2.0], 0.5),  # ties
        ([1.0, 1.0, 1.0, 2.0], 0.9),
        ([0.0, 10.0], 0.25),  # interpolated between neighbours, not the nearest or the lower
        ([0.0, 1.0, 2.0, 3.0, 100.0], 0.999),
    ],
)
def test_the_quantile_of_both_job_scripts_is_numpys_linear_rule_on_edge_cases(scores, q):
    # GIVEN sorted scores (score_stats.json and the log route's RCF cutoff candidates both use it)
    # THEN the quantile is numpy's default one
    assert ss.quantile(scores, q) == pytest.approx(float(np.quantile(scores, q)), rel=1e-12, abs=0)


def test_shape_is_the_contract_the_scorer_and_the_evaluation_read():
    stats = ss.score_stats([1.0, 2.0, 3.0, 4.0])
    assert set(stats) == {"count", "mean", "std", "min", "max", "quantiles", "cutoff"}
    assert list(stats["quantiles"]) == ["0.5", "0.9", "0.95", "0.99", "0.995", "0.999"]
    assert stats["quantiles"]["0.5"] == 2.5
    assert json.loads(json.dumps(stats)) == stats


def test_the_production_cutoff_is_the_training_quantile_of_the_alert_budget():
    # GIVEN 1,000 training scores 0..999 WHEN summarised with the default budget (one row in 1,000)
    stats = ss.score_stats([float(i) for i in range(1000)])
    # THEN the cutoff is their 0.999 quantile, and it flags one training row in a thousand
    assert stats["cutoff"] == {"rule": "quantile", "quantile": 0.999, "alert_budget": 0.001, "value": 998.001}
    assert ss.model_cutoff(stats) == (998.001, "quantile 0.999 of the training scores")
    assert sum(score > stats["cutoff"]["value"] for score in range(1000)) == 1
    # and another budget moves it
    assert ss.score_stats([float(i) for i in range(1000)], alert_budget=0.01)["cutoff"]["value"] == 989.01


def test_mean_plus_k_std_stays_available_and_old_statistics_keep_working():
    stats = ss.score_stats([1.0, 2.0, 3.0, 4.0])
    # GIVEN the mean-std rule THEN the cutoff is mean + 3 std, whatever the quantile says
    assert ss.model_cutoff(stats, rule="mean-std") == (
        pytest.approx(2.5 + 3 * 1.118033988749895),
        "mean + 3 std of the training scores",
    )
    # GIVEN statistics written before the cutoff block existed THEN mean + k std, named as such
    old = {"count": 4, "mean": 1.0, "std": 0.1, "min": 0.9, "max": 1.2}
    assert ss.model_cutoff(old) == (pytest.approx(1.3), "mean + 3 std of the training scores")
    assert ss.model_cutoff(old, k=2.0)[0] == pytest.approx(1.2)
    # and unusable statistics give no cutoff at all
    assert ss.model_cutoff(None) is None
    assert ss.model_cutoff({"mean": "x", "std": 1}) is None


@pytest.mark.parametrize("budget", [0.0, 1.0, -0.1])
def test_an_alert_budget_outside_0_1_is_refused(budget):
    with pytest.raises(ss.ScoreStatsError, match="alert budget"):
        ss.score_stats([1.0, 2.0], alert_budget=budget)


@pytest.mark.parametrize(
    ("scores", "message"), [([], "no scores"), ([1.0, float("nan")], "finite"), ([float("inf")], "finite")]
)
def test_no_scores_or_non_finite_scores_are_refused(scores, message):
    with pytest.raises(ss.ScoreStatsError, match=message):
        ss.score_stats(scores)


def test_batch_transform_outputs_in_every_rcf_response_format_are_read():
    # GIVEN RCF output as JSON Lines, as application/json batches and as bare numbers (blank lines too)
    lines = ['{"score": 0.5}', "", '{"scores": [{"score": 1.0}, {"score": 1.5}]}', "2.0", " 2.5 "]
    # WHEN parsed THEN every score is found in order
    assert list(ss.parse_scores(lines)) == [0.5, 1.0, 1.5, 2.0, 2.5]


@pytest.mark.parametrize("line", ["not json", '{"label": 1}', "[1, 2]", "true"])
def test_a_line_without_a_score_fails_naming_its_number(line):
    with pytest.raises(ss.ScoreStatsError, match="line 2"):
        list(ss.parse_scores(['{"score": 1}', line]))


def test_main_summarises_every_transform_output_file_into_score_stats_json(tmp_path, capsys):
    # GIVEN a transform output directory with one .out file per input part
    scores = tmp_path / "scores"
    scores.mkdir()
    (scores / "part-00000.out").write_text('{"score": 1.0}\n{"score": 2.0}\n')
    (scores / "part-00001.out").write_text('{"score": 3.0}\n')
    # WHEN the processing job runs
    code = ss.main(["--scores", str(scores), "--output", str(tmp_path / "stats")])
    # THEN score_stats.json holds the statistics of all three scores
    assert code == 0
    written = json.loads((tmp_path / "stats" / "score_stats.json").read_text())
    assert written == ss.score_stats([1.0, 2.0, 3.0])
    assert json.loads(capsys.readouterr().out)["count"] == 3


def test_the_model_feature_dim_is_recorded_when_given(tmp_path):
    # GIVEN transform output and the model's feature_dim WHEN summarised
    scores = tmp_path / "scores"
    scores.mkdir()
    (scores / "part-00000.out").write_text('{"score": 1.0}\n')
    assert ss.main(["--scores", str(scores), "--output", str(tmp_path / "stats"), "--feature-dim", "48"]) == 0
    # THEN score_stats.json says how many features the model takes (scoring checks files against it)
    assert json.loads((tmp_path / "stats" / "score_stats.json").read_text())["feature_dim"] == 48
    assert "feature_dim" not in ss.score_stats([1.0])


def test_main_fails_with_exit_code_2_when_the_transform_wrote_nothing(tmp_path, capsys):
    (tmp_path / "scores").mkdir()
    assert ss.main(["--scores", str(tmp_path / "scores"), "--output", str(tmp_path / "stats")]) == 2
    assert "no score files" in capsys.readouterr().err
