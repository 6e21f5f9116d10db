"""The judgement: candidate against the model in service, by evaluation set, objective or score
statistics (pure: what was read from SageMaker and S3 comes in as arguments)."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field

from anomaly_sentinel.contracts import METADATA_METRIC, METADATA_SCORE_STATS, METADATA_VALUE, ScoreStats
from anomaly_sentinel.evaluation import meets
from anomaly_sentinel.settings import RetrainStepsSettings

APPROVAL_DESCRIPTION_MAX = 1024


class PackageInfo(BaseModel):
    arn: str
    model_data_url: str
    image: str
    status: str = ""
    group: str = ""
    metadata: dict[str, str] = Field(default_factory=dict)

    def objective(self, metric: str) -> float | None:
        if self.metadata.get(METADATA_METRIC, metric) != metric:
            return None
        try:
            value = float(self.metadata[METADATA_VALUE])
        except (KeyError, ValueError):
            return None
        return value if math.isfinite(value) else None

    @property
    def score_stats_uri(self) -> str | None:
        return self.metadata.get(METADATA_SCORE_STATS)


class InService(BaseModel):
    """What the endpoint serves now (all None when there is no endpoint)."""

    endpoint_exists: bool = False
    endpoint_config_name: str | None = None
    model_data_url: str | None = None
    package: PackageInfo | None = None


class Verdict(BaseModel):
    approve: bool
    reason: str
    rule: Literal["nothing-in-service", "same-model", "evaluation", "objective", "score-stats", "unmeasured"]


def package_info(description: dict[str, Any]) -> PackageInfo:
    containers = (description.get("InferenceSpecification") or {}).get("Containers") or [{}]
    return PackageInfo(
        arn=str(description["ModelPackageArn"]),
        model_data_url=str(containers[0].get("ModelDataUrl") or ""),
        image=str(containers[0].get("Image") or ""),
        status=str(description.get("ModelApprovalStatus") or ""),
        group=str(description.get("ModelPackageGroupName") or ""),
        metadata={str(k): str(v) for k, v in (description.get("CustomerMetadataProperties") or {}).items()},
    )


def compare(
    candidate: PackageInfo,
    current: InService,
    settings: RetrainStepsSettings,
    candidate_stats: ScoreStats | None,
    current_stats: ScoreStats | None,
) -> Verdict:
    """Approve the candidate only if it is better than what serves (the rule, in order):

    1. nothing in service → approve;
    2. the candidate's model data already serves → reject (a duplicate event or a re-run);
    3. both packages report ``OBJECTIVE_METRIC`` → approve when the candidate is better by at least
       ``MIN_IMPROVEMENT`` in the direction of ``OBJECTIVE_GOAL`` (a gain equal to it passes);
    4. otherwise score statistics (no labels needed): the candidate's must be valid (mean > 0,
       finite); it is approved when the model in service has none to compare, or when its
       coefficient of variation (std/mean of training scores, a tighter normal band so anomalies
       stand out against the mean + 3 sigma cutoff) is not larger than the one in service.
    """
    if not current.endpoint_exists or current.model_data_url is None:
        return Verdict(approve=True, reason="nothing in service on the endpoint", rule="nothing-in-service")
    if current.model_data_url == candidate.model_data_url:
        return Verdict(
            approve=False, reason="the candidate already serves on the endpoint", rule="same-model"
        )
    metric = settings.objective_metric
    new = candidate.objective(metric)
    old = current.package.objective(metric) if current.package else None
    if new is not None and old is not None:
        gain = new - old if settings.objective_goal == "Maximize" else old - new
        better = meets(gain, settings.min_improvement)
        verb = "beats" if better else "does not beat"
        return Verdict(
            approve=better,
            reason=(
                f"{metric} {new:g} {verb} {old:g} in service "
                f"({settings.objective_goal}, min improvement {settings.min_improvement:g})"
            ),
            rule="objective",
        )
    if candidate_stats is None or not candidate_stats.comparable:
        return Verdict(
            approve=False,
            reason=f"no comparable {metric} and the candidate's score statistics are missing or invalid",
            rule="unmeasured",
        )
    if current_stats is None or not current_stats.comparable:
        return Verdict(
            approve=True,
            reason=(
                f"no comparable {metric}; the model in service has no score statistics, the candidate's "
                f"are valid (spread {candidate_stats.spread:.4g})"
            ),
            rule="score-stats",
        )
    better = candidate_stats.spread <= current_stats.spread
    verb = "<=" if better else ">"
    return Verdict(
        approve=better,
        reason=(
            f"no comparable {metric}; score spread (std/mean) {candidate_stats.spread:.4g} {verb} "
            f"{current_stats.spread:.4g} in service"
        ),
        rule="score-stats",
    )
