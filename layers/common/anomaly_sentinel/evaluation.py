"""The approval rule: a candidate is deployed only when it beat the reference on the same labelled set.

The pipeline's Evaluate step scores the candidate and the model in service (the incumbent) on one
evaluation set — held-out recent traffic plus injected anomalies, plus real labels when given — and
writes ``evaluation.json`` (``pipeline/scripts/evaluate.py``), registered as the model package's
model-quality metrics and named by its ``evaluation_uri`` metadata. The reference is the incumbent,
or, for the first model, the z-score baseline on the same set. The candidate is approved when its F1
is higher than the reference's by at least ``MinImprovement``; otherwise the package stays
``PendingManualApproval`` and the reason says by how much it fell short.
"""

from __future__ import annotations

from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from anomaly_sentinel.contracts import S3UriError, parse_s3_uri, read_at_most, read_document

EVALUATION_MAX_BYTES = 1024 * 1024


class EvaluationFileError(ValueError):
    """evaluation.json is missing, too large or not the evaluation report's shape."""


class ModelScore(BaseModel):
    """One model's figures on the evaluation set."""

    model_config = ConfigDict(extra="ignore")

    precision: float = Field(ge=0, le=1)
    recall: float = Field(ge=0, le=1)
    f1: float = Field(ge=0, le=1)
    cutoff: float | None = None
    cutoff_source: str = ""
    model: str | None = None

    def figures(self) -> dict[str, float]:
        return {"f1": self.f1, "precision": self.precision, "recall": self.recall}


class EvaluationReport(BaseModel):
    """The part of evaluation.json the rule and the reports read."""

    model_config = ConfigDict(extra="ignore")

    candidate: ModelScore
    incumbent: ModelScore | None = None
    baseline: ModelScore
    set: dict[str, Any] = Field(default_factory=dict)

    @property
    def reference_name(self) -> Literal["incumbent", "baseline"]:
        return "incumbent" if self.incumbent is not None else "baseline"

    @property
    def reference(self) -> ModelScore:
        return self.incumbent if self.incumbent is not None else self.baseline


class Judgement(BaseModel):
    approve: bool
    reason: str
    table: str
    summary: dict[str, Any]


def parse_report(raw: bytes) -> EvaluationReport:
    if len(raw) > EVALUATION_MAX_BYTES:
        raise EvaluationFileError(f"evaluation.json is over {EVALUATION_MAX_BYTES} bytes")
    try:
        return EvaluationReport.model_validate(read_document(raw, max_bytes=EVALUATION_MAX_BYTES))
    except (ValueError, ValidationError) as exc:
        raise EvaluationFileError(f"evaluation.json is not an evaluation report: {exc}") from None


def comparison_table(report: EvaluationReport) -> str:
    """A fixed-width table for alerts and execution reports (no payload values, figures only)."""
    lines = [f"{'model':<10} {'F1':>6} {'precision':>9} {'recall':>6}  cutoff"]
    named = [("candidate", report.candidate), ("incumbent", report.incumbent), ("baseline", report.baseline)]
    for name, score in named:
        if score is None:
            lines.append(f"{name:<10} {'-':>6} {'-':>9} {'-':>6}  (nothing in service)")
            continue
        cutoff = f"{score.cutoff:.4g} ({score.cutoff_source})" if score.cutoff is not None else "-"
        lines.append(f"{name:<10} {score.f1:>6.3f} {score.precision:>9.3f} {score.recall:>6.3f}  {cutoff}")
    rows = report.set.get("rows")
    if rows is not None:
        lines.append(f"evaluation set: {rows} rows, {report.set.get('positives', '?')} labelled anomalies")
    return "\n".join(lines)


def read_report(s3: Any, uri: str) -> EvaluationReport:
    """evaluation.json from S3 (``s3://bucket/key``); any problem is an EvaluationFileError."""
    try:
        bucket, key = parse_s3_uri(uri)
    except S3UriError as exc:
        raise EvaluationFileError(f"evaluation URI: {exc}") from None
    try:
        raw = read_at_most(s3.get_object(Bucket=bucket, Key=key)["Body"], EVALUATION_MAX_BYTES)
    except ClientError as exc:
        raise EvaluationFileError(f"cannot read {uri}: {exc.response.get('Error', {}).get('Code')}") from exc
    return parse_report(raw)


def judge_in_service(report: EvaluationReport, serving: str | None, min_improvement: float) -> Judgement:
    """:func:`judge`, refusing a report whose incumbent is not what serves now.

    The pipeline scored the model that served when it ran; if another model was deployed since (or
    the endpoint was emptied), the comparison is about the wrong model and approves nothing.
    """
    evaluated = report.incumbent.model if report.incumbent is not None else None
    if report.incumbent is not None and evaluated and evaluated != serving:
        stale = f"the evaluation compared with {evaluated}, but {serving or 'nothing'} serves now"
    elif report.incumbent is None and serving is not None:
        stale = f"the evaluation had no incumbent, but {serving} serves now"
    else:
        return judge(report, min_improvement)
    verdict = judge(report, min_improvement)
    return verdict.model_copy(
        update={
            "approve": False,
            "reason": f"{stale}: re-run the pipeline to compare with it",
            "summary": {**verdict.summary, "approved": False},
        }
    )


def judge(report: EvaluationReport, min_improvement: float) -> Judgement:
    """Approve when ``candidate F1 - reference F1 >= min_improvement`` and the gain is positive."""
    reference = report.reference
    gain = report.candidate.f1 - reference.f1
    approve = gain > 0 and gain >= min_improvement
    verb = "beats" if approve else "does not beat"
    reason = (
        f"candidate F1 {report.candidate.f1:.3f} {verb} the {report.reference_name}'s "
        f"{reference.f1:.3f} by the required {min_improvement:g} (gain {gain:+.3f}) on the same "
        "labelled evaluation set"
    )
    summary = {
        "candidate": report.candidate.figures(),
        "incumbent": report.incumbent.figures() if report.incumbent is not None else None,
        "baseline": report.baseline.figures(),
        "reference": report.reference_name,
        "approved": approve,
    }
    return Judgement(approve=approve, reason=reason, table=comparison_table(report), summary=summary)
