"""Model Monitor's data-quality checks of a window against its baseline, and the score-drift check.

Each check yields :class:`~anomaly_sentinel.contracts.messages.Violation` entries with their figures typed
(value / distance / threshold) beside Model Monitor's prose.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from anomaly_sentinel.contracts.messages import Violation
from anomaly_sentinel.drift.baseline import Baseline, BaselineFeature
from anomaly_sentinel.drift.formats import (
    BASELINE_DRIFT_CHECK,
    CATEGORICAL_VALUES_CHECK,
    COMPARISON_METHOD,
    COMPLETENESS_CHECK,
    DATA_TYPE_CHECK,
    EXTRA_COLUMN_CHECK,
    FRACTIONAL,
    INTEGRAL,
    MISSING_COLUMN_CHECK,
    ROBUST_C_ALPHA,
    SCORE_DRIFT_ALPHA,
    SCORE_DRIFT_CHECK,
    SCORE_FEATURE,
    SPREAD_RATIO_THRESHOLD,
    feature_name,
)
from anomaly_sentinel.drift.stats import binomial_upper_tail, predicted_rate, robust_distance, window_cdf
from anomaly_sentinel.drift.window import WindowFeature, WindowStatistics


@dataclass(frozen=True)
class Comparison:
    """What the monitor found: violations, per-feature drift distances, and why nothing was checked."""

    violations: tuple[Violation, ...]
    distances: dict[str, float]
    records: int
    skipped: str | None = None


def linf_distance(feature: BaselineFeature, edges: Sequence[float], counts: Sequence[float]) -> float:
    """L∞ between the baseline's and the window's CDFs, taken at the edges."""
    cdf = window_cdf(counts)
    return max((abs(feature.cdf(edge) - value) for edge, value in zip(edges, cdf, strict=True)), default=0.0)


def compare(
    window: WindowStatistics,
    baseline: Baseline,
    *,
    min_records: int,
    score_stats: Mapping[str, Any] | None = None,
    c_alpha: float = ROBUST_C_ALPHA,
    previous_windows: int = 0,
) -> Comparison:
    """Model Monitor's data-quality checks of a window against a baseline (and score drift).

    A window with fewer than ``min_records`` rows raises nothing: its figures are too noisy.
    ``previous_windows``: how many windows just before this one had their anomaly rate beyond the
    model's budget (the score-drift violation says for how many windows it persists).
    """
    seen = window.rows + window.other_width_rows
    if seen < min_records or seen == 0:
        reason = f"{seen} rows in the window, fewer than the minimum of {max(min_records, 1)}"
        return Comparison((), {}, window.rows, skipped=reason)
    violations: list[Violation] = []
    distances: dict[str, float] = {}
    width, expected = window.width, len(baseline.features)
    if width < expected:
        detail = f"Number of columns in current dataset: {width}, in baseline constraints: {expected}"
        violations.extend(
            Violation(
                feature_name=f.name,
                check_type=MISSING_COLUMN_CHECK,
                description=f"There are missing columns. {detail}",
                value=width,
                threshold=expected,
            )
            for f in baseline.features[width:]
        )
    elif width > expected:
        detail = f"Number of columns in current dataset: {width}, in baseline constraints: {expected}"
        violations.extend(
            Violation(
                feature_name=feature_name(i),
                check_type=EXTRA_COLUMN_CHECK,
                description=f"There are extra columns. {detail}",
                value=width,
                threshold=expected,
            )
            for i in range(expected, width)
        )
    edges = baseline.edges
    n = window.effective_rows
    for index, feature in enumerate(baseline.features[: min(width, expected, len(window.features))]):
        current = window.features[index]
        total = current.present + current.missing
        completeness = current.present / total if total else 1.0
        if completeness < feature.completeness:
            violations.append(
                _requirement(feature.name, COMPLETENESS_CHECK, completeness, feature.completeness)
            )
        conforming = _conforming(feature.inferred_type, current)
        if conforming is not None and conforming < baseline.datatype_check_threshold:
            violations.append(
                _requirement(feature.name, DATA_TYPE_CHECK, conforming, baseline.datatype_check_threshold)
            )
        if feature.codes is not None and current.counts is not None and current.present:
            in_domain = max(0.0, 1.0 - current.off_domain / current.present)
            if in_domain < baseline.domain_content_threshold:
                violations.append(
                    _requirement(
                        feature.name, CATEGORICAL_VALUES_CHECK, in_domain, baseline.domain_content_threshold
                    )
                )
        if not baseline.perform_comparison or current.counts is None or n <= 0:
            continue
        distance, moved = _distribution_violations(
            feature, current, edges[index], n=n, baseline=baseline, c_alpha=c_alpha
        )
        distances[feature.name] = distance
        violations.extend(moved)
    if score_stats is not None:
        found = score_drift(window, score_stats, previous_windows=previous_windows)
        if found is not None:
            violations.append(found)
    return Comparison(tuple(violations), distances, window.rows)


def _distribution_violations(
    feature: BaselineFeature,
    current: WindowFeature,
    edges: Sequence[float],
    *,
    n: float,
    baseline: Baseline,
    c_alpha: float,
) -> tuple[float, list[Violation]]:
    """The CDF distance (Deequ's), and the baseline-drift violations of the CDF and of the spread."""
    assert current.counts is not None
    found = []
    linf = linf_distance(feature, edges, current.counts)
    distance = (
        robust_distance(linf, n, feature.count, c_alpha) if baseline.comparison_method == "Robust" else linf
    )
    if distance > baseline.comparison_threshold:
        found.append(
            Violation(
                feature_name=feature.name,
                check_type=BASELINE_DRIFT_CHECK,
                description=f"Numerical distance: {distance} exceeds numerical threshold: "
                f"{baseline.comparison_threshold}",
                distance=distance,
                threshold=baseline.comparison_threshold,
            )
        )
    spread = spread_distance(feature, current.moments.std, n, baseline.comparison_method, c_alpha)
    limit = math.log(SPREAD_RATIO_THRESHOLD)
    if spread is not None and spread > limit:
        found.append(
            Violation(
                feature_name=feature.name,
                check_type=BASELINE_DRIFT_CHECK,
                description=f"Standard deviation distance: {spread} exceeds numerical threshold: "
                f"{limit} (standard deviation {current.moments.std:.6g}, baseline {feature.std:.6g})",
                distance=spread,
                threshold=limit,
            )
        )
    return distance, found


def spread_distance(
    feature: BaselineFeature,
    std: float,
    n: float,
    method: str = COMPARISON_METHOD,
    c_alpha: float = ROBUST_C_ALPHA,
) -> float | None:
    """``|ln(std / baseline std)|``, less the sampling noise when Robust; None when not comparable.

    The log ratio of two sample standard deviations has a standard error of about
    ``sqrt(1/(2n) + 1/(2m))`` (normal data); Robust subtracts ``c_alpha`` of them, as Deequ does for
    the CDF distance. The result is compared with ``ln(SPREAD_RATIO_THRESHOLD)``: a 20 % wider or
    narrower spread beyond the noise.
    """
    base = feature.std
    if base is None or base <= 0 or std <= 0 or n <= 1 or feature.count <= 1:
        return None
    distance = abs(math.log(std / base))
    if method == "Robust":
        distance = max(0.0, distance - c_alpha * math.sqrt(1 / (2 * n) + 1 / (2 * feature.count)))
    return distance


def _conforming(inferred_type: str, current: WindowFeature) -> float | None:
    """Share of the window's values that have the baseline's type (accepted values are numbers).

    Integral: whole numbers; Fractional: every number; any other type (String…): none of them.
    """
    if not current.present:
        return None
    if inferred_type == INTEGRAL:
        return min(1.0, current.integral / current.present)
    if inferred_type == FRACTIONAL:
        return 1.0
    return 0.0


def _requirement(name: str, check: str, value: float, required: float) -> Violation:
    """A share below the baseline's requirement, said as Model Monitor says it."""
    return Violation(
        feature_name=name,
        check_type=check,
        description=f"Value: {value} does not meet the constraint requirement! ",
        value=value,
        threshold=required,
    )


def score_drift(
    window: WindowStatistics,
    score_stats: Mapping[str, Any],
    alpha: float = SCORE_DRIFT_ALPHA,
    previous_windows: int = 0,
) -> Violation | None:
    """A violation when the window's anomaly rate is above what the model's scores predict (p < alpha).

    The predicted rate is the model's alert budget when it is cut at its own quantile cutoff: this
    is "the model is now wrong" — it flags more of the traffic than it was built to. Only rows
    classified against the model's own cutoff are counted, and only when one cutoff was used across
    the window. The violation carries how many consecutive windows (``previous_windows`` + this
    one) have been beyond the budget: the retraining policy asks for it to persist.
    """
    if window.scored == 0 or len(window.cutoffs) != 1:
        return None
    expected = predicted_rate(score_stats, next(iter(window.cutoffs)))
    p_value = binomial_upper_tail(window.anomalies, window.scored, expected)
    if p_value >= alpha:
        return None
    observed = window.anomalies / window.scored
    consecutive = previous_windows + 1
    return Violation(
        feature_name=SCORE_FEATURE,
        check_type=SCORE_DRIFT_CHECK,
        description=f"Anomaly rate: {observed} exceeds the rate the model's score statistics predict: "
        f"{expected} (one-sided binomial p-value {p_value:.3g} < {alpha}), for {consecutive} "
        "consecutive window(s)",
        value=observed,
        threshold=expected,
        p_value=p_value,
        consecutive_windows=consecutive,
    )
