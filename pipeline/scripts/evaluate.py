"""Candidate and incumbent scored on one labelled evaluation set: ``evaluation.json``.

Runs as the pipeline's Evaluate step (SageMaker Processing) and inside the local pipeline executor.
Standard library only; boto3 only to reach the incumbent (the processing images have it).

* The set: ``evaluation/evaluation.csv`` from ``channels.py`` — the newest held-out rows of the run
  (label 0, or a real label) plus injected anomalies (label 1).
* The **candidate**: the model this run trained, its scores from the batch transform of the set.
* The **incumbent**: the model in service on the endpoint, asked through the endpoint itself
  (``InvokeEndpoint``, ``text/csv``) — by definition what serves, whatever registered it. No endpoint
  (the first model): no incumbent, and the reference is the **baseline**, a z-score detector.
* The **cutoff** is each model's own production cutoff, the one ScoreCaptureFunction applies:
  ``mean + 3 std`` of the model's scores on its training data (``score_stats.json`` next to its
  ``model.tar.gz``). A model without score statistics is cut at ``mean + 3 std`` of its scores on
  the set's label-0 rows (named in the report). The baseline flags a row when any feature is more
  than 3 standard deviations from its train-channel mean.
* Precision, recall and F1 of "flagged" against the labels; F1 is 0 when nothing is both flagged
  and labelled.

``evaluation.json``::

    {"set": {"rows", "positives", "injected", "real_positives"},
     "cutoff_rule": "...", "reference": "incumbent" | "baseline",
     "candidate": {"precision", "recall", "f1", "cutoff", "cutoff_source", "tp", "fp", "fn", "tn"},
     "incumbent": {... same, "model": its ModelDataUrl} | null, "baseline": {... same, "detector": "z-score"}}
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

EVALUATION_FILE = "evaluation.json"
CUTOFF_K = 3.0
ZSCORE_CUTOFF = 3.0
CUTOFF_RULE = (
    "each model's production cutoff: mean + 3 std of its training scores (score_stats.json); "
    "baseline: any feature beyond 3 std of its train-channel mean"
)
MIN_STD = 1e-12
#: Rows per InvokeEndpoint request (serverless payload limit 4 MB; 48 features are ~1 KB a row).
INVOKE_ROWS = 500
PROCESSING_INPUT = Path("/opt/ml/processing/input")
PROCESSING_OUTPUT = Path("/opt/ml/processing/output/evaluation")
EXIT_MESSAGE = Path("/opt/ml/output/message")


class EvaluationError(Exception):
    """The set, the scores or a model's statistics do not fit together; the message says how."""


@dataclass(frozen=True)
class Metrics:
    precision: float
    recall: float
    f1: float
    cutoff: float
    cutoff_source: str
    tp: int
    fp: int
    fn: int
    tn: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def metrics(labels: Sequence[int], scores: Sequence[float], cutoff: float, cutoff_source: str) -> Metrics:
    """Precision / recall / F1 of ``score > cutoff`` against the labels."""
    if len(labels) != len(scores):
        raise EvaluationError(f"{len(scores)} scores for {len(labels)} labelled rows")
    if not all(math.isfinite(s) for s in scores):
        raise EvaluationError("a score is not a finite number")
    tp = fp = fn = tn = 0
    for label, score in zip(labels, scores, strict=True):
        flagged = score > cutoff
        if label and flagged:
            tp += 1
        elif flagged:
            fp += 1
        elif label:
            fn += 1
        else:
            tn += 1
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Metrics(precision, recall, f1, cutoff, cutoff_source, tp, fp, fn, tn)


def stats_cutoff(stats: dict[str, Any] | None) -> float | None:
    """``mean + 3 std`` of a ``score_stats.json``; None when absent or not finite."""
    if not stats:
        return None
    try:
        value = float(stats["mean"]) + CUTOFF_K * float(stats["std"])
    except (KeyError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def set_cutoff(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Fallback: ``mean + 3 std`` of the scores of the set's label-0 rows."""
    normal = [s for label, s in zip(labels, scores, strict=True) if not label] or list(scores)
    mean = math.fsum(normal) / len(normal)
    std = math.sqrt(math.fsum((s - mean) ** 2 for s in normal) / len(normal))
    return mean + CUTOFF_K * std


def judge_model(labels: Sequence[int], scores: Sequence[float], stats: dict[str, Any] | None) -> Metrics:
    cutoff = stats_cutoff(stats)
    if cutoff is not None:
        return metrics(labels, scores, cutoff, "score-stats")
    return metrics(labels, scores, set_cutoff(labels, scores), "evaluation-set-normals")


def zscore_scores(
    rows: Iterable[Sequence[float]], mean: Sequence[float], std: Sequence[float]
) -> list[float]:
    """The baseline's score of a row: its largest absolute z-score over the features."""
    spread = [max(s, MIN_STD) for s in std]
    return [max(abs(x - m) / s for x, m, s in zip(row, mean, spread, strict=True)) for row in rows]


def read_set(path: Path) -> tuple[list[int], list[list[float]]]:
    """``label,features…`` lines (the evaluation channel)."""
    labels: list[int] = []
    rows: list[list[float]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                cells = [float(c) for c in line.split(",")]
            except ValueError:
                raise EvaluationError(f"{path.name}:{number}: not a label,features row") from None
            if len(cells) < 2 or cells[0] not in (0.0, 1.0):
                raise EvaluationError(f"{path.name}:{number}: not a label,features row")
            labels.append(int(cells[0]))
            rows.append(cells[1:])
    if not labels:
        raise EvaluationError(f"{path.name} holds no rows")
    return labels, rows


def evaluate(
    labels: Sequence[int],
    rows: Sequence[Sequence[float]],
    *,
    candidate_scores: Sequence[float],
    candidate_stats: dict[str, Any] | None,
    baseline: dict[str, Any],
    incumbent_scores: Sequence[float] | None = None,
    incumbent_stats: dict[str, Any] | None = None,
    incumbent_model: str | None = None,
    set_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The evaluation report (see the module doc)."""
    candidate = judge_model(labels, candidate_scores, candidate_stats)
    incumbent = (
        judge_model(labels, incumbent_scores, incumbent_stats) if incumbent_scores is not None else None
    )
    zscores = zscore_scores(rows, baseline["mean"], baseline["std"])
    reference = metrics(labels, zscores, ZSCORE_CUTOFF, "z-score")
    return {
        "set": {"rows": len(labels), "positives": int(sum(labels)), **(set_info or {})},
        "cutoff_rule": CUTOFF_RULE,
        "reference": "incumbent" if incumbent is not None else "baseline",
        "candidate": candidate.as_dict(),
        "incumbent": {**incumbent.as_dict(), "model": incumbent_model} if incumbent is not None else None,
        "baseline": {"detector": "z-score", **reference.as_dict()},
    }


# ---------------------------------------------------------------------------- the incumbent (AWS)

Scorer = Callable[[Sequence[Sequence[float]]], list[float]]


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@dataclass(frozen=True)
class Incumbent:
    """The model in service: how to score with it, its score statistics, its model data URL."""

    score: Scorer
    stats: dict[str, Any] | None
    model: str | None
    #: Why the model's artefact and statistics are unknown (the cutoff then falls back), if they are.
    note: str | None = None


ACCESS_DENIED = ("AccessDenied", "AccessDeniedException")


def _access_denied(error: Exception) -> bool:
    response = getattr(error, "response", None)  # botocore's ClientError, without importing botocore
    return isinstance(response, dict) and response.get("Error", {}).get("Code") in ACCESS_DENIED


def endpoint_incumbent(endpoint: str, sagemaker: Any, runtime: Any, s3: Any) -> Incumbent | None:
    """The model serving ``endpoint``; None when there is no endpoint.

    The statistics are ``score_stats.json`` next to the serving model's ``model.tar.gz``. When the
    role may not describe the endpoint, nothing can be judged: a named error. When it may not
    describe the config or the model in service (made by hand, outside the role's scope), the
    incumbent is still asked through the endpoint, without its statistics, and ``note`` says why.
    """
    try:
        described = sagemaker.describe_endpoint(EndpointName=endpoint)
    except Exception as error:  # botocore's ClientError, without importing botocore
        if "Could not find" in str(error):
            return None
        if _access_denied(error):
            raise EvaluationError(
                f"access denied describing endpoint {endpoint}: the pipeline role needs "
                f"sagemaker:DescribeEndpoint on it to find the model in service ({error})"
            ) from error
        raise
    note = None
    try:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
        model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    except Exception as error:  # only a denial is an answer; anything else propagates
        if not _access_denied(error):
            raise
        note = (
            f"access denied reading what endpoint {endpoint} serves (config "
            f"{described['EndpointConfigName']}): no score statistics, the set's cutoff applies ({error})"
        )
        print(note, file=sys.stderr)  # the Evaluate step's log
        model = {}
    container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
    stats = None
    url = container.get("ModelDataUrl") or ""
    if url.endswith("model.tar.gz"):
        bucket, key = _split(url.rsplit("/", 1)[0] + "/score_stats.json")
        try:
            stats = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except Exception:  # noqa: BLE001 - no statistics: the documented fallback cutoff applies
            stats = None

    def score(rows: Sequence[Sequence[float]]) -> list[float]:
        found: list[float] = []
        for start in range(0, len(rows), INVOKE_ROWS):
            chunk = rows[start : start + INVOKE_ROWS]
            body = "\n".join(",".join(repr(float(v)) for v in row) for row in chunk)
            response = runtime.invoke_endpoint(
                EndpointName=endpoint, ContentType="text/csv", Accept="application/json", Body=body
            )
            scores = [float(s["score"]) for s in json.loads(response["Body"].read())["scores"]]
            if len(scores) != len(chunk):
                raise EvaluationError(f"endpoint {endpoint} returned {len(scores)} scores for {len(chunk)}")
            found += scores
        return found

    return Incumbent(score, stats, url or None, note)


# ---------------------------------------------------------------------------- SageMaker Processing entry


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _scores(directory: Path) -> list[float]:
    try:
        from . import score_stats
    except ImportError:  # a file: score_stats.py comes as the step's "lib" input
        for folder in (Path(__file__).resolve().parent, PROCESSING_INPUT / "lib"):
            if str(folder) not in sys.path:
                sys.path.append(str(folder))
        import score_stats  # type: ignore[no-redef]
    return list(score_stats.read_scores(directory))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--set", type=Path, default=PROCESSING_INPUT / "evaluation")
    parser.add_argument("--scores", type=Path, default=PROCESSING_INPUT / "scores")
    parser.add_argument("--stats", type=Path, default=PROCESSING_INPUT / "stats")
    parser.add_argument("--summary", type=Path, default=PROCESSING_INPUT / "summary")
    parser.add_argument("--endpoint", default="", help="the endpoint whose model is the incumbent")
    parser.add_argument("--output", type=Path, default=PROCESSING_OUTPUT)
    args = parser.parse_args(argv)
    try:
        labels, rows = read_set(args.set / "evaluation.csv")
        summary = _read_json(args.summary / "summary.json") or {}
        incumbent = None
        if args.endpoint:
            import boto3

            clients = (boto3.client(name) for name in ("sagemaker", "sagemaker-runtime", "s3"))
            incumbent = endpoint_incumbent(args.endpoint, *clients)
        report = evaluate(
            labels,
            rows,
            candidate_scores=_scores(args.scores),
            candidate_stats=_read_json(args.stats / "score_stats.json"),
            baseline=_read_json(args.set / "baseline.json"),
            incumbent_scores=incumbent.score(rows) if incumbent else None,
            incumbent_stats=incumbent.stats if incumbent else None,
            incumbent_model=incumbent.model if incumbent else None,
            set_info={
                "injected": summary.get("injected", {}).get("evaluation"),
                "training_data": summary.get("training_data"),
            },
        )
    except (EvaluationError, OSError, ValueError) as exc:
        message = f"{type(exc).__name__}: {exc}"
        print(message, file=sys.stderr)
        if EXIT_MESSAGE.parent.is_dir():
            EXIT_MESSAGE.write_text(message[:1024], encoding="utf-8")
        return 2
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / EVALUATION_FILE).write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps({k: report[k] and report[k]["f1"] for k in ("candidate", "incumbent")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
