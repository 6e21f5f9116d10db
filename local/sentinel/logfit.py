"""Offline fit of a log model: prepare → tune RCF and PCA → judge both on one set → model directory.

What the pipeline's log route does on SageMaker, on one machine, with the very job scripts
(``logs_prepare.py``, ``logs_pca.py``, ``logs_evaluate.py``) and the local RCF. ``sentinel logs fit``
and the local pipeline executor both call :func:`fit`.

* **RCF** (local, numpy; the built-in algorithm) on the ``log1p`` vectors: ``sentinel.tuning``'s
  grid over trees x samples, best validation F1; then its cutoff is chosen on the validation
  channel among quantiles and mean + k·std of its training scores (``logs_evaluate.rcf_cutoff``,
  the pipeline's Evaluate step's rule; the built-in tuner tunes the forest only; the cutoff is
  ours, stored in ``detector.json``).
* **PCA** (``logs_pca.search``): ``max_components`` x threshold on the same validation channel.
* Both are then scored on the **evaluation** channel (never seen by either search); the higher
  F1 wins (ties: fewer false alerts, then PCA, which needs no endpoint): ``logs_evaluate.choose``.

The model directory (``anomaly_sentinel.logs.artefacts``): ``templates.json``,
``vector_spec.json``, ``detector.json`` (winner, cutoff, both detectors' measurements),
``pca.json``, ``model.tar.gz`` + ``score_stats.json`` (RCF), ``report.json`` (the preparation).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict, dataclass, field, fields
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
REPORT_FILE = "report.json"


class LogFitError(LocalError):
    """The log cannot be fitted (bad input, too few sessions); the message says why."""


@dataclass(frozen=True)
class Measured:
    """One detector on one labelled set: ``logs_evaluate.measured``'s figures (the one definition of
    precision, recall, F1 and false alerts per 10k; the Evaluate step writes the same ones)."""

    precision: float
    recall: float
    f1: float
    cutoff: float
    tp: int
    fp: int
    fn: int
    tn: int
    false_alerts_per_10k: float

    @classmethod
    def of(cls, figures: dict[str, Any]) -> Measured:
        """From ``logs_evaluate.measured``'s dict."""
        return cls(**{f.name: figures[f.name] for f in fields(cls)})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def _judge() -> Any:
    """``logs_evaluate.py``: the pipeline's Evaluate step holds the rules (RCF cutoff, the winner)."""
    from sentinel.pipeline_executor import load_script

    return load_script("logs_evaluate")


def measure(labels: list[int], scores: list[float], cutoff: float) -> Measured:
    return Measured.of(_judge().measured(labels, scores, cutoff))


def _channel(path: Path, labelled: bool) -> tuple[list[int], NDArray[np.float64]]:
    table = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    if not labelled:
        return [], table
    return [int(x) for x in table[:, 0]], table[:, 1:]


def tune_rcf(work: Path, budget: int, seed: int) -> tuple[Any, dict[str, Any], Measured, dict[str, Any]]:
    """Best forest on validation F1 (trees x samples), then its cutoff on validation."""
    from sentinel.tuning import search

    _, train = _channel(work / "train" / "train.csv", labelled=False)
    labels, rows = _channel(work / "validation" / "validation.csv", labelled=True)
    result = search(train, labels, rows, budget=budget, seed=seed)
    forest = result.forest
    train_scores = forest.score_array(train)
    validation_scores = [float(s) for s in forest.score_array(rows)]
    chosen = Measured.of(_judge().rcf_cutoff(train_scores.tolist(), labels, validation_scores))
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
    winner = _judge().choose(rcf_eval.as_dict(), pca_eval.as_dict())
    measured = pca_eval if winner == "pca" else rcf_eval
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
            "false_alerts_per_10k": measured.false_alerts_per_10k,
            "evaluation_set": evaluation_set,
            "rcf": rcf,
            "pca": pca,
            "chosen_by": "evaluation F1, then fewer false alerts, then PCA",
        },
    )
    (out_dir / DETECTOR_FILE).write_bytes(choice.dump())
    sessions = int(report["groups"])
    return FitResult(winner, measured, sessions, int(report["templates"]), out_dir, rcf, pca, report)


def _json(document: Any) -> str:
    import json

    return json.dumps(document, indent=2, sort_keys=True)
