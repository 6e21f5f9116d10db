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


def test_shape_is_the_contract_the_scorer_and_the_evaluation_read():
    stats = ss.score_stats([1.0, 2.0, 3.0, 4.0])
    assert set(stats) == {"count", "mean", "std", "min", "max", "quantiles"}
    assert list(stats["quantiles"]) == ["0.5", "0.9", "0.95", "0.99", "0.999"]
    assert stats["quantiles"]["0.5"] == 2.5
    assert json.loads(json.dumps(stats)) == stats


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
