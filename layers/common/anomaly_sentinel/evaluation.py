"""The approval rule: a candidate is deployed only when it is better than what serves, beyond the noise.

The pipeline's Evaluate step scores the candidate and the model in service (the incumbent) on one
evaluation set — the newest held-out traffic (the genuine rows) plus injected anomalies at a
realistic share (at most 5 % of the rows), plus real labels when given — each model cut at its own
production cutoff, and writes ``evaluation.json`` (``pipeline/scripts/evaluate.py``), registered as
the model package's model-quality metrics and named by its ``evaluation_uri`` metadata.

* **A model serves**: the candidate is approved when it removes the model in service's false
  alerts on the genuine rows *beyond the set's noise*: the lower end of the paired-bootstrap 90 %
  interval of the false-alert reduction is above 0 and at least ``MinImprovement`` (compared with
  a tolerance: a gain equal to it is accepted), and it still flags injected anomalies at least as
  often as genuine rows (no worse than alerting at random). docs/BENCHMARKS.md ("Retraining
  decisions against the next week") measures how often this agrees with the next week of real
  traffic.
* **Nothing serves yet** (the first model): the candidate is deployed when it passes a sanity floor
  — its F1 beats the flag-everything detector's on the same set — and the alert says what it was
  compared with (flag-all and the z-score baseline). An operator wants a model watching traffic;
  holding the first one back for not beating a z-score rule left nothing serving and nobody told.

Otherwise the package stays ``PendingManualApproval`` and the reason says why and by how much.
"""

from __future__ import annotations

from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from anomaly_sentinel.contracts import S3UriError, parse_s3_uri, read_at_most, read_document

EVALUATION_MAX_BYTES = 1024 * 1024
#: Gains are differences of floats (0.75 - 0.65 = 0.0999…): one equal to the requirement must pass.
GAIN_TOLERANCE = 1e-9


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
    false_alerts: int | None = Field(default=None, ge=0)
    false_alerts_per_day: float | None = Field(default=None, ge=0)
    flag_rate: float | None = Field(default=None, ge=0, le=1)

    def figures(self) -> dict[str, float | None]:
        return {
            "f1": self.f1,
            "precision": self.precision,
            "recall": self.recall,
            "false_alerts_per_day": self.false_alerts_per_day,
        }


class Comparison(BaseModel):
    """Candidate vs incumbent: the false-alert reduction on the genuine rows and its interval."""

    model_config = ConfigDict(extra="ignore")

    gain: float = Field(ge=-1, le=1)
    low: float = Field(ge=-1, le=1)
    high: float = Field(ge=-1, le=1)
    confidence: float = Field(gt=0, lt=1)
    resamples: int = Field(ge=0)
    genuine_rows: int = Field(default=0, ge=0)


class EvaluationReport(BaseModel):
    """The part of evaluation.json the rule and the reports read."""

    model_config = ConfigDict(extra="ignore")

    candidate: ModelScore
    incumbent: ModelScore | None = None
    baseline: ModelScore
    flag_all: ModelScore | None = None
    comparison: Comparison | None = None
    set: dict[str, Any] = Field(default_factory=dict)

    @property
    def reference_name(self) -> Literal["incumbent", "baseline"]:
        return "incumbent" if self.incumbent is not None else "baseline"

    @property
    def reference(self) -> ModelScore:
        return self.incumbent if self.incumbent is not None else self.baseline

    @property
    def flag_all_f1(self) -> float:
        """Flag-all's F1 on the set (from the set's counts when an older report lacks it)."""
        if self.flag_all is not None:
            return self.flag_all.f1
        rows, positives = self.set.get("rows"), self.set.get("positives")
        if not isinstance(rows, int) or not isinstance(positives, int) or rows <= 0 or positives <= 0:
            return 0.0
        share = positives / rows
        return 2 * share / (1 + share)


class Judgement(BaseModel):
    approve: bool
    reason: str
    table: str
    summary: dict[str, Any]


def meets(gain: float, required: float) -> bool:
    """``gain >= required``, with a float tolerance (a gain equal to the requirement is accepted)."""
    return gain >= required - GAIN_TOLERANCE


def parse_report(raw: bytes) -> EvaluationReport:
    if len(raw) > EVALUATION_MAX_BYTES:
        raise EvaluationFileError(f"evaluation.json is over {EVALUATION_MAX_BYTES} bytes")
    try:
        return EvaluationReport.model_validate(read_document(raw, max_bytes=EVALUATION_MAX_BYTES))
    except (ValueError, ValidationError) as exc:
        raise EvaluationFileError(f"evaluation.json is not an evaluation report: {exc}") from None


def _per_day(score: ModelScore) -> str:
    if score.false_alerts_per_day is not None:
        return f"{score.false_alerts_per_day:.3g}"
    return "-" if score.false_alerts is None else f"{score.false_alerts} rows"


def comparison_table(report: EvaluationReport) -> str:
    """A fixed-width table for alerts and execution reports (no payload values, figures only)."""
    lines = [f"{'model':<10} {'F1':>6} {'precision':>9} {'recall':>6} {'FA/day':>7}  cutoff"]
    named = [
        ("candidate", report.candidate),
        ("incumbent", report.incumbent),
        ("baseline", report.baseline),
        ("flag-all", report.flag_all),
    ]
    for name, score in named:
        if score is None:
            if name == "incumbent":
                lines.append(f"{name:<10} {'-':>6} {'-':>9} {'-':>6} {'-':>7}  (nothing in service)")
            continue
        cutoff = f"{score.cutoff:.4g} ({score.cutoff_source})" if score.cutoff is not None else "-"
        lines.append(
            f"{name:<10} {score.f1:>6.3f} {score.precision:>9.3f} {score.recall:>6.3f} "
            f"{_per_day(score):>7}  {cutoff}"
        )
    rows = report.set.get("rows")
    if rows is not None:
        positives = report.set.get("positives", "?")
        share = report.set.get("positive_share")
        shown = f" ({share:.1%})" if isinstance(share, int | float) else ""
        lines.append(f"evaluation set: {rows} rows, {positives} labelled anomalies{shown}")
    if report.comparison is not None:
        c = report.comparison
        lines.append(
            f"false alerts removed: {c.gain:+.0%} ({c.confidence:.0%} interval {c.low:+.0%}..{c.high:+.0%}, "
            f"paired bootstrap of {c.genuine_rows} genuine rows)"
        )
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


def _set_line(report: EvaluationReport) -> str:
    rows, positives = report.set.get("rows", "?"), report.set.get("positives", "?")
    share = report.set.get("positive_share")
    shown = f", {share:.1%}" if isinstance(share, int | float) else ""
    return f"{rows} rows, {positives} labelled anomalies{shown}"


def judge(report: EvaluationReport, min_improvement: float) -> Judgement:
    """The rule in the module doc; the reason names what the candidate was compared with."""
    margin: float | None
    if report.incumbent is None:
        approve, reason, margin = _first_model(report)
    else:
        approve, reason, margin = _against_incumbent(report, report.incumbent, min_improvement)
    comparison = report.comparison
    summary = {
        "candidate": report.candidate.figures(),
        "incumbent": report.incumbent.figures() if report.incumbent is not None else None,
        "baseline": report.baseline.figures(),
        "flag_all": {"f1": report.flag_all_f1},
        "reference": report.reference_name,
        "set": {
            "rows": report.set.get("rows"),
            "positives": report.set.get("positives"),
            "positive_share": report.set.get("positive_share"),
            "genuine_rows": report.set.get("genuine_rows"),
        },
        "comparison": comparison.model_dump() if comparison is not None else None,
        "min_improvement": min_improvement,
        "margin": margin,
        "approved": approve,
    }
    return Judgement(approve=approve, reason=reason, table=comparison_table(report), summary=summary)


def _first_model(report: EvaluationReport) -> tuple[bool, str, float]:
    """Nothing serves: deploy a candidate that beats flagging everything (the sanity floor)."""
    candidate, floor = report.candidate.f1, report.flag_all_f1
    margin = candidate - floor
    compared = (
        f"nothing serves yet; compared with flagging every row (F1 {floor:.3f}) and the z-score "
        f"baseline (F1 {report.baseline.f1:.3f}) on {_set_line(report)}"
    )
    if candidate > floor + GAIN_TOLERANCE:
        return True, f"first model: candidate F1 {candidate:.3f} passes the sanity floor; {compared}", margin
    return (
        False,
        f"first model held back: candidate F1 {candidate:.3f} does not beat flagging every row; "
        f"{compared}. Nothing serves on the endpoint: re-run the pipeline on more data, or deploy "
        "a model by hand (create-model, create-endpoint-config, create-endpoint)",
        margin,
    )


def _against_incumbent(
    report: EvaluationReport, incumbent: ModelScore, min_improvement: float
) -> tuple[bool, str, float | None]:
    comparison = report.comparison
    if comparison is None:
        return (
            False,
            "evaluation.json states no comparison with its uncertainty (written by an older "
            "pipeline): re-run the pipeline",
            None,
        )
    candidate = report.candidate
    rates = ""
    if candidate.false_alerts_per_day is not None and incumbent.false_alerts_per_day is not None:
        rates = (
            f" ({candidate.false_alerts_per_day:.3g} vs {incumbent.false_alerts_per_day:.3g} false alerts "
            "a day)"
        )
    measured = (
        f"the candidate removes {comparison.gain:+.0%} of the model in service's false alerts on "
        f"{comparison.genuine_rows} genuine rows{rates}, {comparison.confidence:.0%} interval "
        f"{comparison.low:+.0%}..{comparison.high:+.0%} ({_set_line(report)})"
    )
    margin = comparison.low - min_improvement
    flag_rate = candidate.flag_rate if candidate.flag_rate is not None else 0.0
    if not report.set.get("positives"):
        return (
            False,
            f"not approved: the set holds no labelled anomaly to check detection; {measured}",
            margin,
        )
    if candidate.recall < flag_rate - GAIN_TOLERANCE:
        return (
            False,
            f"not approved: the candidate flags injected anomalies less often ({candidate.recall:.0%}) than "
            f"genuine rows ({flag_rate:.0%}); {measured}",
            margin,
        )
    beyond = comparison.low > GAIN_TOLERANCE and meets(comparison.low, min_improvement)
    if beyond:
        return True, f"approved: {measured}: beyond the noise and MinImprovement {min_improvement:g}", margin
    why = (
        "the interval reaches 0: no difference beyond the set's noise"
        if comparison.low <= GAIN_TOLERANCE
        else f"its lower end is below MinImprovement {min_improvement:g}"
    )
    return False, f"not approved: {measured}; {why}", margin
