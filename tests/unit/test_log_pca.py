"""The PCA detector: training script conventions, the pure-Python scorer, bounded loading."""

from __future__ import annotations

import json

import numpy as np
import pytest

from anomaly_sentinel.logs import PcaModelError, PcaScorer
from pipeline.scripts import logs_pca

PLANE = np.random.default_rng(0).normal(size=(2, 6))


def _normal_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    """Rows on one 2-D plane in 6-D (plus a little noise): a normal subspace to learn."""
    return rng.normal(size=(n, 2)) @ PLANE + rng.normal(scale=0.01, size=(n, 6)) + 3.0


def test_the_pure_python_score_is_the_squared_residual_off_the_normal_subspace():
    rng = np.random.default_rng(1)
    subspace = logs_pca.Subspace(_normal_rows(rng, 400))
    scorer = subspace.scorer(2, 1.0, {})
    probe = _normal_rows(rng, 5)
    probe[0, 3] += 2.0  # off the plane
    expected = subspace.spe(probe, 2)
    got = [scorer.score(row) for row in probe.tolist()]
    assert got == pytest.approx(expected.tolist(), rel=1e-9, abs=1e-12)
    assert got[0] > 1.0 > max(got[1:])


def test_the_search_finds_vectors_off_the_subspace_and_reports_every_trial():
    rng = np.random.default_rng(2)
    train = _normal_rows(rng, 500)
    held = _normal_rows(rng, 200)
    labels = [0] * 200 + [1] * 10
    anomalies = _normal_rows(rng, 10) + np.eye(6)[rng.integers(0, 6, 10)] * 1.5
    best, scorer, trials = logs_pca.search(train, labels, np.vstack([held, anomalies]))
    assert best.f1 == 1.0
    assert best.max_components == 2
    assert len(trials) > 10
    assert scorer.threshold == best.threshold
    assert scorer.params == {"max_components": 2, "threshold_quantile": best.threshold_quantile}


def test_a_threshold_never_sits_below_rounding_noise():
    # GIVEN training rows that k components explain exactly (SPE ~ 1e-30)
    rng = np.random.default_rng(3)
    train = rng.normal(size=(50, 2)) @ rng.normal(size=(2, 4))
    subspace = logs_pca.Subspace(train)
    # THEN the threshold is above float noise, so normal rows are not flagged by rounding
    threshold = subspace.threshold(2, 1.0)
    assert threshold >= subspace.noise_floor > 0
    scorer = subspace.scorer(2, threshold, {})
    assert not any(scorer.is_anomaly(scorer.score(row)) for row in train.tolist())


def test_no_model_explains_every_training_vector_exactly():
    # GIVEN training rows of rank 3 (a fault type the training log already held spans one direction)
    rng = np.random.default_rng(4)
    plane = rng.normal(size=(2, 8))
    train = rng.normal(size=(300, 2)) @ plane
    train[:6] += 5.0 * np.eye(8)[7]  # six rows with a rare event
    subspace = logs_pca.Subspace(train)
    assert subspace.rank == 3
    # WHEN the search may try up to 30 components
    labels = [0] * 50 + [1] * 5
    held = rng.normal(size=(55, 2)) @ plane
    held[50:] += 5.0 * np.eye(8)[7]  # the same rare event again, in held-out sessions
    _, scorer, trials = logs_pca.search(train, labels, held)
    # THEN k stays below the rank: the rare direction stays in the residual and is caught
    assert max(t.max_components for t in trials) == 2
    assert all(t.threshold > subspace.noise_floor for t in trials)
    assert [scorer.is_anomaly(scorer.score(row)) for row in held[50:].tolist()] == [True] * 5


def test_the_training_script_reads_sagemaker_channels_and_prints_the_tuners_metric(
    tmp_path, monkeypatch, capsys
):
    rng = np.random.default_rng(4)
    (tmp_path / "train").mkdir()
    (tmp_path / "validation").mkdir()
    np.savetxt(tmp_path / "train" / "train.csv", _normal_rows(rng, 300), delimiter=",")
    held = np.vstack([_normal_rows(rng, 60), _normal_rows(rng, 4) + np.eye(6)[:4] * 2])
    labels = np.array([0] * 60 + [1] * 4, dtype=float)[:, None]
    np.savetxt(tmp_path / "validation" / "validation.csv", np.hstack([labels, held]), delimiter=",")
    config = tmp_path / "hyperparameters.json"
    config.write_text(json.dumps({"max_components": "2", "threshold_quantile": "0.999"}))
    monkeypatch.setattr(logs_pca, "HYPERPARAMETERS", config)
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(tmp_path / "train"))
    monkeypatch.setenv("SM_CHANNEL_VALIDATION", str(tmp_path / "validation"))
    monkeypatch.setenv("SM_MODEL_DIR", str(tmp_path / "model"))
    assert logs_pca.main() == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("custom_metric_value: ")
    assert float(last.split(": ")[1]) > 0.8
    model = PcaScorer.load((tmp_path / "model" / "pca.json").read_bytes())
    assert len(model.components) == 2
    assert model.dimension == 6


@pytest.mark.parametrize(
    "given", [{"max_components": "0"}, {"max_components": "31"}, {"threshold_quantile": "0.2"}]
)
def test_hyperparameters_outside_the_tuning_ranges_are_refused(tmp_path, given):
    config = tmp_path / "hyperparameters.json"
    config.write_text(json.dumps(given))
    with pytest.raises(logs_pca.PcaTrainingError):
        logs_pca.hyperparameters(config)


def _pca_json(**changes) -> bytes:
    document = json.loads(PcaScorer((0.0, 0.0), ((1.0, 0.0),), 0.5).dump())
    document.update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_pca_json(components=[[1.0, 1.0]]), "orthonormal"),
        (_pca_json(components=[[1.0, 0.0, 0.0]]), "every component"),
        (_pca_json(mean=[]), "mean has 0"),
        (_pca_json(threshold="high"), "threshold"),
        (_pca_json(mean=[0.0, 1e400]), "Infinity, which is not a finite number"),
        (_pca_json(mean=[0.0, 10**400]), "beyond a 64-bit count"),
        (_pca_json(format_version="pickle"), "format_version"),
    ],
)
def test_a_damaged_pca_model_is_refused_with_a_named_error(raw, message):
    with pytest.raises(PcaModelError, match=message):
        PcaScorer.load(raw)


def test_a_vector_of_the_wrong_width_is_refused():
    with pytest.raises(PcaModelError, match="expects 2"):
        PcaScorer.load(_pca_json()).score([1.0, 2.0, 3.0])
