"""The PCA log detector's training script (SageMaker training-script conventions; numpy).

Xu et al. (SOSP'09), as loglizer runs it: centre the training vectors, keep the top
``max_components`` principal directions (the *normal* subspace), score a vector by its squared
prediction error (SPE), the squared length of what that subspace cannot explain. The threshold is
the ``threshold_quantile`` quantile of the training SPE, or — ``threshold_quantile`` 0 — the
Q-statistic of Jackson & Mudholkar at ``alpha`` (0.001), loglizer's default. Both hyperparameters
are tuned: PCA ranks anomalies well, but the Q-statistic alone caught only half of them on HDFS
(docs/LOGS.md).

Conventions (so a SageMaker HyperparameterTuner runs it in the scikit-learn image unchanged):

* hyperparameters from ``/opt/ml/input/config/hyperparameters.json`` (values are strings there);
* channels ``/opt/ml/input/data/{train,validation}`` (``SM_CHANNEL_TRAIN``/``SM_CHANNEL_VALIDATION``
  override): ``train.csv`` without labels, ``validation.csv`` with the label first;
* the model as ``pca.json`` (``anomaly_sentinel.logs.pca``) in ``/opt/ml/model`` (``SM_MODEL_DIR``);
* prints ``custom_metric_value: <F1 on validation>``, which the tuner reads with the regex
  ``custom_metric_value: ([0-9\\.]+)``.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

_HERE = Path(__file__).resolve().parent
for _folder in (_HERE, Path("/opt/ml/code"), _HERE.parents[1] / "layers" / "common"):
    if _folder.is_dir() and str(_folder) not in sys.path:
        sys.path.append(str(_folder))

from anomaly_sentinel.logs.artefacts import PCA_FILE  # noqa: E402
from anomaly_sentinel.logs.pca import PcaScorer  # noqa: E402

try:  # a package (tests)
    from . import evaluate
except ImportError:  # a file: the training container, the local fit's import by path
    import evaluate  # type: ignore[no-redef]

HYPERPARAMETERS = Path("/opt/ml/input/config/hyperparameters.json")
CHANNELS = Path("/opt/ml/input/data")
MODEL_DIR = Path("/opt/ml/model")
MAX_COMPONENTS_RANGE = (1, 30)
DEFAULT_ALPHA = 0.001
#: Smallest threshold, relative to the training vectors' total variance (rounding noise is ~1e-16).
NOISE_FLOOR = 1e-9
#: Local search grid (the tuner samples the same ranges).
COMPONENT_GRID = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30)
QUANTILE_GRID = (0.0, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 1.0)


class PcaTrainingError(ValueError):
    """Channels or hyperparameters the detector cannot train on (the message names which)."""


@dataclass(frozen=True)
class Trial:
    max_components: int
    threshold_quantile: float
    threshold: float
    f1: float
    precision: float
    recall: float
    false_positives: int

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


class Subspace:
    """The SVD of the centred training vectors, computed once for every k tried."""

    def __init__(self, train: NDArray[np.float64]) -> None:
        if train.ndim != 2 or train.shape[0] < 2 or train.shape[1] < 1:
            raise PcaTrainingError("the train channel needs at least 2 rows of at least 1 feature")
        if not np.isfinite(train).all():
            raise PcaTrainingError("the train channel holds a value that is not a finite number")
        self.mean = train.mean(axis=0)
        centred = train - self.mean
        _, singular, vt = np.linalg.svd(centred, full_matrices=False)
        self.components = vt
        self.eigenvalues = singular**2 / (train.shape[0] - 1)
        self.train = train

    @property
    def rank(self) -> int:
        """Directions the training vectors really vary in (eigenvalues above rounding noise)."""
        return int(np.sum(self.eigenvalues > self.noise_floor))

    def max_k(self) -> int:
        """Fewer components than the rank: k >= rank explains every training vector exactly, so its
        threshold is rounding noise and it flags only directions training never took — any fault
        type the (unlabelled) training log already held would pass as normal."""
        return max(1, min(MAX_COMPONENTS_RANGE[1], self.rank - 1, self.train.shape[1] - 1))

    def spe(self, rows: NDArray[np.float64], k: int) -> NDArray[np.float64]:
        centred = rows - self.mean
        basis = self.components[:k]
        residual = centred - (centred @ basis.T) @ basis
        return np.einsum("ij,ij->i", residual, residual)

    def q_statistic(self, k: int, alpha: float = DEFAULT_ALPHA) -> float:
        """Jackson & Mudholkar's SPE limit at significance ``alpha`` for a k-component model."""
        rest = self.eigenvalues[k:]
        theta = [float(np.sum(rest**i)) for i in (1, 2, 3)]
        if theta[0] <= 0 or theta[1] <= 0:
            return 0.0
        h0 = 1.0 - 2.0 * theta[0] * theta[2] / (3.0 * theta[1] ** 2)
        c_alpha = statistics.NormalDist().inv_cdf(1.0 - alpha)
        if h0 <= 0:
            return float(np.quantile(self.spe(self.train, k), 1.0 - alpha))
        inner = (
            c_alpha * math.sqrt(2.0 * theta[1] * h0**2) / theta[0]
            + 1.0
            + theta[1] * h0 * (h0 - 1.0) / theta[0] ** 2
        )
        return float(theta[0] * max(inner, 0.0) ** (1.0 / h0))

    def threshold(self, k: int, quantile: float, alpha: float = DEFAULT_ALPHA) -> float:
        """The SPE limit, never below rounding noise: when k components explain the training data
        exactly, its SPE is ~1e-30 and float noise alone would flag normal vectors."""
        if quantile == 0.0:
            limit = self.q_statistic(k, alpha)
        else:
            limit = float(np.quantile(self.spe(self.train, k), quantile))
        return max(limit, self.noise_floor)

    @property
    def noise_floor(self) -> float:
        return NOISE_FLOOR * max(float(np.sum(self.eigenvalues)), np.finfo(np.float64).tiny)

    def scorer(self, k: int, threshold: float, params: dict[str, Any]) -> PcaScorer:
        rows = tuple(tuple(float(x) for x in row) for row in self.components[:k])
        return PcaScorer(tuple(float(x) for x in self.mean), rows, threshold, params)


def check_hyperparameters(max_components: int, threshold_quantile: float) -> None:
    low, high = MAX_COMPONENTS_RANGE
    if not low <= max_components <= high:
        raise PcaTrainingError(f"max_components must be in {low}..{high}, got {max_components}")
    if not (threshold_quantile == 0.0 or 0.5 <= threshold_quantile <= 1.0):
        raise PcaTrainingError(
            f"threshold_quantile must be 0 (Q-statistic) or in [0.5, 1], got {threshold_quantile}"
        )


def judge(scores: Sequence[float], labels: Sequence[int], threshold: float) -> Any:
    """The pipeline's own metrics (``evaluate.metrics``): flagged = score > threshold."""
    return evaluate.metrics(list(labels), [float(s) for s in scores], threshold, "pca-threshold")


def trial(
    subspace: Subspace,
    labels: Sequence[int],
    rows: NDArray[np.float64],
    max_components: int,
    threshold_quantile: float,
) -> Trial:
    k = min(max_components, subspace.max_k())
    threshold = subspace.threshold(k, threshold_quantile)
    measured = judge(subspace.spe(rows, k).tolist(), labels, threshold)
    return Trial(
        k, threshold_quantile, threshold, measured.f1, measured.precision, measured.recall, measured.fp
    )


def search(
    train: NDArray[np.float64],
    labels: Sequence[int],
    rows: NDArray[np.float64],
    *,
    components: Sequence[int] = COMPONENT_GRID,
    quantiles: Sequence[float] = QUANTILE_GRID,
) -> tuple[Trial, PcaScorer, list[Trial]]:
    """Every (k, quantile) of the grid on one SVD; the best validation F1 wins.

    Ties go to fewer false alerts, then fewer components, then the higher quantile.
    """
    subspace = Subspace(train)
    trials: list[Trial] = []
    for k in sorted({min(c, subspace.max_k()) for c in components}):
        for quantile in quantiles:
            trials.append(trial(subspace, labels, rows, k, quantile))
    best = max(trials, key=lambda t: (t.f1, -t.false_positives, -t.max_components, t.threshold_quantile))
    params = {"max_components": best.max_components, "threshold_quantile": best.threshold_quantile}
    return best, subspace.scorer(best.max_components, best.threshold, params), trials


# ---------------------------------------------------------------------------- SageMaker entry


def read_rows(path: Path, labelled: bool) -> tuple[list[int], NDArray[np.float64]]:
    """A channel file (or the one ``.csv`` in a channel folder): labels (if any) and rows."""
    if path.is_dir():
        files = sorted(path.glob("*.csv"))
        if len(files) != 1:
            raise PcaTrainingError(f"{path}: expected one .csv file, found {len(files)}")
        path = files[0]
    try:
        table = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    except (OSError, ValueError) as exc:
        raise PcaTrainingError(f"{path}: not a numeric CSV ({exc})") from None
    if not labelled:
        return [], table
    labels = table[:, 0]
    if not np.isin(labels, (0.0, 1.0)).all():
        raise PcaTrainingError(f"{path}: the first column must be a 0/1 label")
    return [int(x) for x in labels], table[:, 1:]


def hyperparameters(path: Path = HYPERPARAMETERS) -> tuple[int, float]:
    given: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    try:
        max_components = int(float(given.get("max_components", 5)))
        quantile = float(given.get("threshold_quantile", 0.999))
    except (TypeError, ValueError) as exc:
        raise PcaTrainingError(f"hyperparameters: {exc}") from None
    check_hyperparameters(max_components, quantile)
    return max_components, quantile


def main() -> int:
    try:
        max_components, quantile = hyperparameters(HYPERPARAMETERS)
        channels = Path(os.environ.get("SM_CHANNEL_TRAIN", CHANNELS / "train"))
        validation = Path(os.environ.get("SM_CHANNEL_VALIDATION", CHANNELS / "validation"))
        _, train = read_rows(channels, labelled=False)
        labels, rows = read_rows(validation, labelled=True)
        if rows.shape[1] != train.shape[1]:
            raise PcaTrainingError(
                f"validation rows have {rows.shape[1]} features; train rows {train.shape[1]}"
            )
        subspace = Subspace(train)
        result = trial(subspace, labels, rows, max_components, quantile)
        params = {"max_components": result.max_components, "threshold_quantile": quantile}
        model = subspace.scorer(result.max_components, result.threshold, params)
    except PcaTrainingError as exc:
        print(f"PcaTrainingError: {exc}", file=sys.stderr)
        return 2
    model_dir = Path(os.environ.get("SM_MODEL_DIR", MODEL_DIR))
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / PCA_FILE).write_bytes(model.dump())
    print(json.dumps(result.as_dict()))
    print(f"custom_metric_value: {result.f1:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
