"""The window's report files, as Model Monitor writes them: ``statistics.json`` and
``constraint_violations.json`` (and the one figure read back from a previous report)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from anomaly_sentinel.contracts.messages import Violation
from anomaly_sentinel.drift.baseline import Baseline
from anomaly_sentinel.drift.formats import FRACTIONAL, INTEGRAL, SCORE_DRIFT_CHECK, feature_name
from anomaly_sentinel.drift.window import WindowFeature, WindowStatistics


def persisting_windows(document: Any) -> int:
    """How many consecutive windows a report's score-drift violation counted (0: none, or unreadable)."""
    entries = document.get("violations") if isinstance(document, dict) else None
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, dict) and entry.get("constraint_check_type") == SCORE_DRIFT_CHECK:
            try:
                return Violation.model_validate(entry).consecutive_windows or 1
            except ValidationError:
                return 1
    return 0


# ---------------------------------------------------------------------------- documents


def statistics_document(window: WindowStatistics, baseline: Baseline | None = None) -> dict[str, Any]:
    """Model Monitor's ``statistics.json`` for the window.

    The distribution is given as buckets on the baseline's quantile edges (the same bucket schema
    as Model Monitor's ``kll.buckets``), with counts scaled to the window's rows.
    """
    edges = baseline.edges if baseline is not None else []
    features = []
    for index, current in enumerate(window.features):
        moments = current.moments
        numeric: dict[str, Any] = {
            "common": {"num_present": round(current.present), "num_missing": round(current.missing)},
            "mean": moments.mean,
            "sum": moments.mean * current.present,
            "std_dev": moments.std,
            "min": current.min if math.isfinite(current.min) else 0.0,
            "max": current.max if math.isfinite(current.max) else 0.0,
        }
        if current.counts is not None and index < len(edges):
            numeric["distribution"] = {"kll": {"buckets": _buckets(edges[index], current, numeric)}}
        integral = current.present and current.integral >= current.present
        features.append(
            {
                "name": feature_name(index),
                "inferred_type": INTEGRAL if integral else FRACTIONAL,
                "numerical_statistics": numeric,
            }
        )
    return {"version": 0.0, "dataset": {"item_count": window.rows}, "features": features}


def _buckets(
    edges: Sequence[float], current: WindowFeature, numeric: Mapping[str, Any]
) -> list[dict[str, Any]]:
    assert current.counts is not None
    bounds = [min(numeric["min"], edges[0]), *edges, max(numeric["max"], edges[-1])]
    return [
        {"lower_bound": bounds[i], "upper_bound": bounds[i + 1], "count": count}
        for i, count in enumerate(current.counts)
    ]


def violations_document(violations: Iterable[Violation]) -> dict[str, Any]:
    """Model Monitor's ``constraint_violations.json``."""
    return {"violations": [v.to_json() for v in violations]}
