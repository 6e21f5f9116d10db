"""Offline fit of a log model: prepare → tune RCF and PCA → judge both on one set → model directory.

What the pipeline's log route does on SageMaker, on one machine, with the very job scripts
(``logs_prepare.py``, ``logs_pca.py``, ``evaluate.py``) and the local RCF. ``sentinel logs fit``
and the local pipeline executor both call :func:`fit`.

* **RCF** (local, numpy; the built-in algorithm) on the ``log1p`` vectors: ``sentinel.tuning``'s
  grid over trees x samples, best validation F1; then its cutoff is chosen on the validation
  channel among quantiles and mean + k·std of its training scores (the built-in tuner tunes the
  forest only; the cutoff is ours, stored in ``detector.json``).
* **PCA** (``logs_pca.search``): ``max_components`` x threshold on the same validation channel.
* Both are then scored on the **evaluation** channel (never seen by either search); the higher
  F1 wins (ties: fewer false alerts, then PCA, which needs no endpoint).

The model directory (``anomaly_sentinel.logs.artefacts``): ``templates.json``,
``vector_spec.json``, ``detector.json`` (winner, cutoff, both detectors' measurements),
``pca.json``, ``model.tar.gz`` + ``score_stats.json`` (RCF), ``report.json`` (the preparation).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anomaly_sentinel.logs.artefacts import (
    DETECTOR_FILE,
    PCA_FILE,
    RCF_MODEL_FILE,
    SCORE_STATS_FILE,
    TEMPLATES_FILE,
    VECTOR_SPEC_FILE,
    DetectorChoice,
)
from sentinel.errors import LocalError

DEFAULT_SEED = 20_240_601
DEFAULT_BUDGET = 4
#: RCF cutoff candidates: quantiles of its training scores, and mean + k std.
RCF_QUANTILES = (0.95, 0.97, 0.98, 0.99, 0.995, 0.999, 1.0)
RCF_STD_MULTIPLES = (2.0, 3.0, 4.0, 5.0)
REPORT_FILE = "report.json"
PER_SESSIONS = 10_000


class LogFitError(LocalError):
    """The log cannot be fitted (bad input, too few sessions); the message says why."""


@dataclass(frozen=True)
class Measured:
    """One detector on one labelled set."""

    precision: float
    recall: float
    f1: float
    cutoff: float
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def false_alerts_per_10k(self) -> float:
        normals = self.fp + self.tn
        return PER_SESSIONS * self.fp / normals if normals else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "cutoff": self.cutoff,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "false_alerts_per_10k": round(self.false_alerts_per_10k, 3),
        }


@dataclass
class FitResult:
    detector: str
    measured: Measured
    sessions: int
    templates: int
    model_dir: Path
    rcf: dict[str, Any] = field(default_factory=dict)
    pca: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def f1(self) -> float:
        return self.measured.f1


def measure(labels: list[int], scores: list[float], cutoff: float) -> Measured:
    from sentinel.pipeline_executor import load_script

    result = load_script("evaluate").metrics(labels, scores, cutoff, "log-fit")
    return Measured(
        result.precision, result.recall, result.f1, cutoff, result.tp, result.fp, result.fn, result.tn
    )


def _channel(path: Path, labelled: bool) -> tuple[list[int], NDArray[np.float64]]:
    table = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    if not labelled:
        return [], table
    return [int(x) for x in table[:, 0]], table[:, 1:]


def _best_cutoff(train_scores: NDArray[np.float64], labels: list[int], scores: list[float]) -> Measured:
    mean, std = float(train_scores.mean()), float(train_scores.std())
    candidates = [float(np.quantile(train_scores, q)) for q in RCF_QUANTILES]
    candidates += [mean + k * std for k in RCF_STD_MULTIPLES]
    trials = [measure(labels, scores, c) for c in candidates if math.isfinite(c)]
    return max(trials, key=lambda m: (m.f1, -m.fp, m.cutoff))


def tune_rcf(work: Path, budget: int, seed: int) -> tuple[Any, dict[str, Any], Measured, dict[str, Any]]:
    """Best forest on validation F1 (trees x samples), then its cutoff on validation."""
    from sentinel.tuning import search

    _, train = _channel(work / "train" / "train.csv", labelled=False)
    labels, rows = _channel(work / "validation" / "validation.csv", labelled=True)
    result = search(train, labels, rows, budget=budget, seed=seed)
    forest = result.forest
    train_scores = forest.score_array(train)
    chosen = _best_cutoff(train_scores, labels, [float(s) for s in forest.score_array(rows)])
    params = {
        "num_trees": result.best.num_trees,
        "num_samples_per_tree": result.best.num_samples_per_tree,
        "trials": [t.as_dict() for t in result.trials],
    }
    return forest, result.stats, chosen, params


def tune_pca(work: Path) -> tuple[Any, Any, list[Any]]:
    from sentinel.pipeline_executor import load_script

    pca = load_script("logs_pca")
    _, train = _channel(work / "train" / "train.csv", labelled=False)
    labels, rows = _channel(work / "validation" / "validation.csv", labelled=True)
    best, scorer, trials = pca.search(train, labels, rows)
    return best, scorer, trials


def fit(  # noqa: PLR0917 - the contract (LOGS-CONTRACT.md) names these positionally
    input_path: Path,
    log_format: str,
    labels: Path | None,
    out_dir: Path,
    seed: int = DEFAULT_SEED,
    budget: int = DEFAULT_BUDGET,
    *,
    work_dir: Path | None = None,
    grouping: dict[str, Any] | None = None,
    weighting: str = "log1p",
) -> FitResult:
    """Prepare, tune both detectors, judge both on the evaluation channel, write the model dir."""
    from sentinel.pipeline_executor import load_script

    prepare = load_script("logs_prepare")
    scratch = Path(tempfile.mkdtemp(prefix="logfit-")) if work_dir is None else work_dir
    try:
        try:
            from anomaly_sentinel.logs import GroupingSpec, resolve_format

            report = prepare.prepare(
                prepare.input_files(input_path),
                resolve_format(log_format),
                scratch,
                labels_path=labels,
                grouping=GroupingSpec.from_json(grouping) if grouping else None,
                weighting=weighting,
                seed=seed,
            )
        except (prepare.PrepareError, prepare.LogError) as exc:
            raise LogFitError(str(exc)) from None
        return _fit_prepared(scratch, out_dir, report, seed=seed, budget=budget)
    finally:
        if work_dir is None:
            shutil.rmtree(scratch, ignore_errors=True)


def _fit_prepared(work: Path, out_dir: Path, report: dict[str, Any], *, seed: int, budget: int) -> FitResult:
    forest, stats, rcf_validation, rcf_params = tune_rcf(work, budget, seed)
    pca_best, pca_scorer, pca_trials = tune_pca(work)
    labels, rows = _channel(work / "evaluation" / "evaluation.csv", labelled=True)
    rcf_eval = measure(labels, [float(s) for s in forest.score_array(rows)], rcf_validation.cutoff)
    pca_scores = [pca_scorer.score(list(row)) for row in rows.tolist()]
    pca_eval = measure(labels, pca_scores, pca_scorer.threshold)
    rcf_key = (rcf_eval.f1, -rcf_eval.fp, 0)
    pca_key = (pca_eval.f1, -pca_eval.fp, 1)
    winner, measured = ("pca", pca_eval) if pca_key > rcf_key else ("rcf", rcf_eval)
    rcf = {**rcf_params, "validation": rcf_validation.as_dict(), "evaluation": rcf_eval.as_dict()}
    pca = {
        **dict(pca_scorer.params),
        "validation": pca_best.as_dict(),
        "evaluation": pca_eval.as_dict(),
        "trials": len(pca_trials),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (TEMPLATES_FILE, VECTOR_SPEC_FILE):
        shutil.copyfile(work / name, out_dir / name)
    (out_dir / PCA_FILE).write_bytes(pca_scorer.dump())
    forest.save(out_dir / RCF_MODEL_FILE)
    (out_dir / SCORE_STATS_FILE).write_text(_json(stats), encoding="utf-8")
    (out_dir / REPORT_FILE).write_text(_json(report), encoding="utf-8")
    evaluation_set = {"rows": len(labels), "positives": sum(labels), "labels": report.get("labels", {})}
    choice = DetectorChoice(
        detector=winner,
        cutoff=measured.cutoff,
        f1=measured.f1,
        precision=measured.precision,
        recall=measured.recall,
        details={
            "false_alerts_per_10k": round(measured.false_alerts_per_10k, 3),
            "evaluation_set": evaluation_set,
            "rcf": rcf,
            "pca": pca,
            "chosen_by": "evaluation F1, then fewer false alerts, then PCA",
        },
    )
    (out_dir / DETECTOR_FILE).write_bytes(choice.dump())
    sessions = int(report["train_rows"]) + _real_rows(work)
    return FitResult(winner, measured, sessions, int(report["templates"]), out_dir, rcf, pca, report)


def _real_rows(work: Path) -> int:
    """Held-out groups of the log itself (injected copies are not sessions of the log)."""
    count = 0
    for name in ("validation", "evaluation"):
        with (work / "sessions" / f"{name}.csv").open(encoding="utf-8") as handle:
            next(handle, None)
            count += sum(1 for line in handle if "#injected-" not in line.split(",", 1)[0])
    return count


def _json(document: Any) -> str:
    import json

    return json.dumps(document, indent=2, sort_keys=True)
