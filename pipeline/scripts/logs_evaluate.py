"""The log route's Evaluate step: choose RCF or PCA, then judge the choice against the log model in service.

Both candidates are tuned on the validation channel; here each is measured on the **evaluation**
channel (the newest sessions, never seen by a search) and the higher F1 wins (ties: fewer false
alerts, then PCA, which needs no endpoint) — the rule ``sentinel.logfit`` applies offline.

The model in service (the newest *Approved* package of the log model package group) has its own
template table and vector spec, so it cannot read the candidate's vectors: both are scored on the
same **real** evaluation sessions by reading the raw log lines again through each model's own
table, grouping and vectors (injected anomalies exist only as the candidate's vectors, so they are
left out of this comparison). The candidate is approved when there is no model in service, or when
its F1 on those sessions beats the incumbent's by more than ``--min-improvement``; with no real
anomaly among them the two cannot be told apart and the package waits for a person
(PendingManualApproval).

The same functions serve the local executor (``sentinel.pipeline_executor``). Standard library,
the runtime package ``anomaly_sentinel.logs`` and, on SageMaker, boto3.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import statistics
import sys
import tarfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
for _folder in (_HERE, Path("/opt/ml/processing/input/lib"), _HERE.parents[1] / "layers" / "common"):
    if _folder.is_dir() and str(_folder) not in sys.path:
        sys.path.append(str(_folder))

from anomaly_sentinel.logs import (  # noqa: E402
    DetectorChoice,
    Grouper,
    Matcher,
    PcaScorer,
    Tally,
    TemplateTable,
    VectorSpec,
    group_events,
    read_events,
)
from anomaly_sentinel.logs.artefacts import (  # noqa: E402
    DETECTOR_FILE,
    PCA_FILE,
    RCF_MODEL_FILE,
    TEMPLATES_FILE,
    VECTOR_SPEC_FILE,
)

try:  # a package (tests)
    from . import evaluate, score_stats
except ImportError:  # a file: the container (its "lib" input: every script), the local import by path
    import evaluate  # type: ignore[no-redef]
    import score_stats  # type: ignore[no-redef]

INJECTED = "#injected-"
APPROVED = "Approved"
PENDING = "PendingManualApproval"
EVALUATION_FILE = "evaluation.json"
LOG_BASELINE_FILE = "log_baseline.json"  # anomaly_sentinel.drift.logs.LOG_BASELINE_FILE
METADATA_LOG_MODEL = "log_model_uri"  # anomaly_sentinel.contracts.METADATA_LOG_MODEL
#: RCF cutoff candidates: quantiles of the training scores (finer near the top, where the few
#: percent of anomalous sessions sit), and mean + k std.
RCF_QUANTILES = (0.95, 0.96, 0.97, 0.98, 0.985, 0.99, 0.9925, 0.995, 0.9975, 0.999, 0.9995, 1.0)
RCF_STD_MULTIPLES = (2.0, 3.0, 3.5, 4.0, 4.5, 5.0)
INPUT = Path("/opt/ml/processing/input")
OUTPUT = Path("/opt/ml/processing/output")

Rows = Sequence[Sequence[float]]
ScoreRows = Callable[[Rows], list[float]]


class LogEvaluationError(Exception):
    """The step cannot judge (a channel is missing or disagrees with its sessions)."""


# ---------------------------------------------------------------------------- sessions and models


def real_sessions(sessions_csv: Path) -> list[tuple[int, str, int]]:
    """(row, key, label) of the evaluation rows that are sessions of the log itself (not injected)."""
    with sessions_csv.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return [(n, r["key"], int(r["label"])) for n, r in enumerate(reader) if INJECTED not in r["key"]]


@dataclass(frozen=True)
class LogModelFiles:
    """What a log model directory holds for scoring raw lines again (no AWS, no pydantic)."""

    table: TemplateTable
    spec: VectorSpec
    choice: DetectorChoice
    pca: PcaScorer | None

    @classmethod
    def read(cls, read: Callable[[str], bytes]) -> LogModelFiles:
        choice = DetectorChoice.load(read(DETECTOR_FILE))
        return cls(
            TemplateTable.load(read(TEMPLATES_FILE)),
            VectorSpec.load(read(VECTOR_SPEC_FILE)),
            choice,
            PcaScorer.load(read(PCA_FILE)) if choice.detector == "pca" else None,
        )

    def scorer(self, endpoint: ScoreRows | None) -> ScoreRows:
        """PCA here; RCF through ``endpoint`` (the endpoint that serves it, or a local forest)."""
        pca = self.pca
        if pca is not None:
            return lambda rows: [pca.score(list(row)) for row in rows]
        if endpoint is None:
            raise LogEvaluationError("an RCF log model needs its endpoint to be scored")
        return endpoint


def _events(paths: Iterable[Path], matcher: Matcher) -> Iterator[Any]:
    """Every file's line events as one stream (numbered per file, as the grouper only needs order)."""
    for path in paths:
        with path.open("rb") as handle:
            yield from read_events(handle, matcher)


def session_scores(
    model: LogModelFiles, paths: Sequence[Path], keys: set[str], score: ScoreRows
) -> dict[str, float]:
    """Scores of the sessions named by ``keys``, read from the raw log through the model's own table."""
    log_format = model.table.format
    normal = log_format.normal_label if log_format.label_field else None
    grouper = Grouper(model.spec)
    wanted = [
        g
        for g in group_events(_events(paths, Matcher(model.table)), grouper, normal, Tally())
        if g.key in keys
    ]
    scores = score([model.spec.vector(g) for g in wanted]) if wanted else []
    return {g.key: s for g, s in zip(wanted, scores, strict=True)}


# ---------------------------------------------------------------------------- the judgement


def measured(labels: Sequence[int], scores: Sequence[float], cutoff: float) -> dict[str, Any]:
    found = evaluate.metrics(labels, scores, cutoff, "log-model")
    normals = found.fp + found.tn
    return {
        "precision": found.precision,
        "recall": found.recall,
        "f1": found.f1,
        "cutoff": cutoff,
        "tp": found.tp,
        "fp": found.fp,
        "fn": found.fn,
        "tn": found.tn,
        "false_alerts_per_10k": round(10_000 * found.fp / normals, 3) if normals else 0.0,
    }


def compare(
    sessions: Sequence[tuple[int, str, int]],
    candidate: dict[str, float],
    candidate_cutoff: float,
    incumbent: dict[str, float] | None,
    incumbent_cutoff: float | None,
    *,
    min_improvement: float = 0.0,
) -> dict[str, Any]:
    """Candidate vs the model in service on the same real sessions → the approval verdict."""
    if incumbent is None or incumbent_cutoff is None:
        return {"approval": APPROVED, "reason": "no log model in service", "sessions": len(sessions)}
    both = [(key, label) for _, key, label in sessions if key in candidate and key in incumbent]
    labels = [label for _, label in both]
    result: dict[str, Any] = {
        "sessions": len(both),
        "positives": sum(labels),
        "candidate": measured(labels, [candidate[k] for k, _ in both], candidate_cutoff),
        "incumbent": measured(labels, [incumbent[k] for k, _ in both], incumbent_cutoff),
    }
    if not sum(labels):
        return {
            **result,
            "approval": PENDING,
            "reason": "no real anomaly among the evaluation sessions: candidate and model in service "
            "cannot be told apart (give labels); a person decides",
        }
    gain = result["candidate"]["f1"] - result["incumbent"]["f1"]
    better = gain > min_improvement
    return {
        **result,
        "approval": APPROVED if better else PENDING,
        "reason": f"F1 {result['candidate']['f1']:.3f} vs {result['incumbent']['f1']:.3f} in service "
        f"({'beats' if better else 'does not beat'} it by more than {min_improvement:g})",
    }


def registration(winner: str, verdict: dict[str, Any]) -> dict[str, Any]:
    """How the candidate is registered, given the verdict: ``approval`` (what Register reads),
    ``verdict`` (the judgement) and ``reason``.

    A PCA model is scored inside ScoreLogsFunction: the verdict is its approval. An RCF model is
    scored on the log endpoint, and the scoring function takes the newest Approved package: a
    winning RCF model therefore waits PendingManualApproval until the retraining state machine
    has deployed it to the endpoint, and approves it then.
    """
    judged = str(verdict["approval"])
    waits = winner == "rcf" and judged == APPROVED
    reason = str(verdict["reason"])
    if waits:
        reason += "; approved once it serves on the log endpoint (retraining state machine)"
    return {"approval": PENDING if waits else judged, "verdict": judged, "reason": reason}


def choose(rcf: dict[str, Any], pca: dict[str, Any]) -> str:
    """Higher evaluation F1; ties: fewer false alerts, then PCA (no endpoint). The one rule: the
    pipeline's Evaluate step and ``sentinel.logfit`` both call it."""
    return "pca" if (pca["f1"], -pca["fp"], 1) > (rcf["f1"], -rcf["fp"], 0) else "rcf"


def rcf_cutoff(train: Sequence[float], labels: Sequence[int], validation: Sequence[float]) -> dict[str, Any]:
    """The RCF cutoff: the candidate (quantiles and mean + k std of the training scores) with the best
    validation F1, then fewer false alerts, then the higher cutoff; returns its validation figures
    (``measured``). The one rule: the Evaluate step and ``sentinel.logfit`` both call it."""
    ordered = sorted(train)
    mean, std = statistics.fmean(ordered), statistics.pstdev(ordered)
    quantiles = [score_stats.quantile(ordered, q) for q in RCF_QUANTILES]
    candidates = quantiles + [mean + k * std for k in RCF_STD_MULTIPLES]
    trials = [measured(labels, validation, c) for c in candidates if math.isfinite(c)]
    return max(trials, key=lambda m: (m["f1"], -m["fp"], m["cutoff"]))


def oov_baseline(report: dict[str, Any]) -> dict[str, Any]:
    """``log_baseline.json``: the share of the training log's lines no template matched."""
    placed, unseen = int(report.get("placed", 0)), int(report.get("unseen_lines", 0))
    return {"oov_share": min(1.0, unseen / placed) if placed else 0.0, "lines": placed}


# ---------------------------------------------------------------------------- the model in service


def registry_incumbent(
    sagemaker: Any, s3: Any, runtime: Any, group: str, endpoint: str
) -> tuple[str, LogModelFiles, ScoreRows] | None:
    """The newest Approved package of ``group``: (arn, its files, how to score its vectors); None if none."""
    found = sagemaker.list_model_packages(
        ModelPackageGroupName=group,
        ModelApprovalStatus=APPROVED,
        SortBy="CreationTime",
        SortOrder="Descending",
        MaxResults=1,
    ).get("ModelPackageSummaryList", [])
    if not found:
        return None
    arn = str(found[0]["ModelPackageArn"])
    package = sagemaker.describe_model_package(ModelPackageName=arn)
    uri = str((package.get("CustomerMetadataProperties") or {}).get(METADATA_LOG_MODEL, "")).rstrip("/")
    if not uri.startswith("s3://"):
        raise LogEvaluationError(f"log model package {arn} names no {METADATA_LOG_MODEL}")
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")

    def read(name: str) -> bytes:
        return bytes(s3.get_object(Bucket=bucket, Key=f"{prefix}/{name}")["Body"].read())

    files = LogModelFiles.read(read)
    served = evaluate.endpoint_incumbent(endpoint, sagemaker, runtime, s3) if files.pca is None else None
    return arn, files, files.scorer(served.score if served else None)


# ---------------------------------------------------------------------------- SageMaker Processing entry


def _scores(directory: Path) -> list[float]:
    """Batch transform output (``{"score": x}`` per line, one ``.out`` file per input file)."""
    found: list[float] = []
    for path in sorted(directory.rglob("*.out")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                found.append(float(json.loads(line)["score"]))
    return found


def _labels(path: Path) -> list[int]:
    with path.open(encoding="utf-8") as handle:
        return [int(float(line.split(",", 1)[0])) for line in handle if line.strip()]


def _untar(archive: Path, name: str) -> bytes:
    with tarfile.open(archive) as tar:
        member = tar.extractfile(name)
        if member is None:
            raise LogEvaluationError(f"{archive} holds no {name}")
        return member.read()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--group", required=True, help="the log model package group")
    parser.add_argument("--endpoint", required=True, help="the log endpoint (serves an RCF incumbent)")
    parser.add_argument("--min-improvement", type=float, default=0.0)
    parser.add_argument("--model-uri", required=True, help="where this step's model output is uploaded")
    parser.add_argument("--rcf-image", required=True, help="the image an RCF winner is registered with")
    parser.add_argument("--pca-image", required=True, help="the image a PCA winner is registered with")
    args = parser.parse_args(argv)
    import boto3

    prepared, out = INPUT / "prepared", OUTPUT / "model"
    out.mkdir(parents=True, exist_ok=True)
    rcf_scores = {name: _scores(INPUT / f"rcf-{name}") for name in ("train", "validation", "evaluation")}
    validation_labels = _labels(prepared / "validation" / "validation.csv")
    evaluation_labels = _labels(prepared / "evaluation" / "evaluation.csv")
    cutoff = rcf_cutoff(rcf_scores["train"], validation_labels, rcf_scores["validation"])["cutoff"]
    pca = PcaScorer.load(_untar(next((INPUT / "pca").rglob("model.tar.gz")), PCA_FILE))
    _, evaluation_rows = evaluate.read_set(prepared / "evaluation" / "evaluation.csv")
    pca_scores = [pca.score(row) for row in evaluation_rows]
    results = {
        "rcf": measured(evaluation_labels, rcf_scores["evaluation"], cutoff),
        "pca": measured(evaluation_labels, pca_scores, pca.threshold),
    }
    winner = choose(results["rcf"], results["pca"])
    for name in (TEMPLATES_FILE, VECTOR_SPEC_FILE):
        shutil.copyfile(prepared / name, out / name)
    (out / PCA_FILE).write_bytes(pca.dump())
    shutil.copyfile(next((INPUT / "rcf-model").rglob("model.tar.gz")), out / RCF_MODEL_FILE)
    choice = results[winner]
    detector = DetectorChoice(winner, choice["cutoff"], choice["f1"], choice["precision"], choice["recall"])
    (out / DETECTOR_FILE).write_bytes(detector.dump())
    report = json.loads((prepared / "report.json").read_text(encoding="utf-8"))
    (out / LOG_BASELINE_FILE).write_text(json.dumps(oov_baseline(report)), encoding="utf-8")
    candidate_scores = rcf_scores["evaluation"] if winner == "rcf" else pca_scores
    sessions = real_sessions(prepared / "sessions" / "evaluation.csv")
    candidate = {key: candidate_scores[row] for row, key, _ in sessions}
    clients = {name: boto3.client(name) for name in ("sagemaker", "s3", "sagemaker-runtime")}
    found = registry_incumbent(
        clients["sagemaker"], clients["s3"], clients["sagemaker-runtime"], args.group, args.endpoint
    )
    incumbent = cutoff_in_service = None
    if found is not None:
        inputs = sorted(p for p in (INPUT / "logs").rglob("*") if p.is_file())
        incumbent = session_scores(found[1], inputs, {k for _, k, _ in sessions}, found[2])
        cutoff_in_service = found[1].choice.cutoff
    verdict = compare(
        sessions,
        candidate,
        detector.cutoff,
        incumbent,
        cutoff_in_service,
        min_improvement=args.min_improvement,
    )
    model_uri = args.model_uri.rstrip("/") + "/"
    document = {
        "detector": winner,
        "f1": choice["f1"],
        "detectors": results,
        "incumbent_package": found[0] if found else None,
        # What the Register step reads (JsonGet): the winner's artefact and image, and the verdict.
        "model_data_url": model_uri + (RCF_MODEL_FILE if winner == "rcf" else PCA_FILE),
        "image": args.rcf_image if winner == "rcf" else args.pca_image,
        **verdict,
        **registration(winner, verdict),
    }
    (out / EVALUATION_FILE).write_text(json.dumps(document, indent=2), encoding="utf-8")
    print(json.dumps({"detector": winner, "approval": verdict["approval"], "reason": verdict["reason"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
