"""A Model Monitor data-quality baseline (``statistics.json`` + ``constraints.json``), read defensively.

Its KLL sketch gives each feature's CDF and the quantile edges file summaries count on.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from anomaly_sentinel.contracts import read_document
from anomaly_sentinel.contracts.layout import CONSTRAINTS_FILE, STATISTICS_FILE
from anomaly_sentinel.drift.formats import (
    BASELINE_MAX_BYTES,
    COMPARISON_METHOD,
    COMPARISON_METHODS,
    COMPARISON_THRESHOLD,
    DATATYPE_CHECK_THRESHOLD,
    DOMAIN_CONTENT_THRESHOLD,
    EDGE_QUANTILES,
    FRACTIONAL,
    INTEGRAL,
    KLL_MAX_LEVELS,
    MAX_CODES,
    _is_number,
)
from anomaly_sentinel.exceptions import BaselineError, DocumentError


def sketch_cdf_points(sketch: Mapping[str, Any]) -> tuple[list[float], list[float]]:
    """Sorted values and cumulative weights of a Model Monitor KLL sketch.

    ``sketch.data`` is the list of compactor levels; an item at level ``h`` stands for ``2**h``
    items (Deequ's KLL), so the CDF at ``x`` is the weight of the items ≤ ``x`` over the total.
    """
    levels = sketch.get("data")
    if not isinstance(levels, list) or not levels:
        raise BaselineError("KLL sketch has no data")
    if len(levels) > KLL_MAX_LEVELS:
        raise BaselineError(f"KLL sketch has {len(levels)} levels, more than {KLL_MAX_LEVELS}")
    pairs: list[tuple[float, float]] = []
    for level, items in enumerate(levels):
        if not isinstance(items, list):
            raise BaselineError(f"KLL sketch level {level} is not a list")
        weight = float(2**level)
        for item in items:
            if not _is_number(item) or not math.isfinite(float(item)):
                raise BaselineError(f"KLL sketch level {level} holds a non-numeric item")
            pairs.append((float(item), weight))
    if not pairs:
        raise BaselineError("KLL sketch is empty")
    pairs.sort()
    values: list[float] = []
    cumulative: list[float] = []
    running = 0.0
    for value, weight in pairs:
        running += weight
        if values and values[-1] == value:
            cumulative[-1] = running
        else:
            values.append(value)
            cumulative.append(running)
    return values, cumulative


@dataclass(frozen=True, slots=True)
class BaselineFeature:
    """One baseline feature: its type, completeness, and CDF (from the KLL sketch)."""

    name: str
    inferred_type: str
    completeness: float
    count: float
    values: tuple[float, ...]
    cumulative: tuple[float, ...]
    #: ``std_dev`` of statistics.json (population); None when the baseline does not give it.
    std: float | None = None

    @property
    def codes(self) -> frozenset[float] | None:
        """The baseline's values when the feature is code-valued (whole numbers, few of them), else None."""
        if self.inferred_type != INTEGRAL or len(self.values) > MAX_CODES:
            return None
        return frozenset(self.values)

    def cdf(self, x: float) -> float:
        """Baseline P(X ≤ x)."""
        at = bisect.bisect_right(self.values, x)
        return self.cumulative[at - 1] / self.cumulative[-1] if at else 0.0

    def edges(self, quantiles: int = EDGE_QUANTILES) -> tuple[float, ...]:
        """Distinct baseline quantiles at ranks 1/q … (q-1)/q, plus the largest value.

        For a discrete feature these are its distinct values, so the CDF comparison is exact.
        """
        total = self.cumulative[-1]
        found: list[float] = []
        for step in range(1, quantiles):
            at = bisect.bisect_left(self.cumulative, total * step / quantiles)
            value = self.values[min(at, len(self.values) - 1)]
            if not found or value > found[-1]:
                found.append(value)
        if not found or self.values[-1] > found[-1]:
            found.append(self.values[-1])
        return tuple(found)


@dataclass(frozen=True)
class Baseline:
    """A Model Monitor data-quality baseline: ``statistics.json`` + ``constraints.json``."""

    features: tuple[BaselineFeature, ...]
    item_count: int
    comparison_method: str = COMPARISON_METHOD
    comparison_threshold: float = COMPARISON_THRESHOLD
    perform_comparison: bool = True
    datatype_check_threshold: float = DATATYPE_CHECK_THRESHOLD
    identity: str = ""
    domain_content_threshold: float = DOMAIN_CONTENT_THRESHOLD

    @classmethod
    def from_documents(cls, statistics: Mapping[str, Any], constraints: Mapping[str, Any]) -> Baseline:
        """Read the two documents; a numeric feature without a sketch is a :class:`BaselineError`."""
        try:
            by_name = {c["name"]: c for c in constraints.get("features", [])}
            features = []
            for entry in statistics["features"]:
                name = str(entry["name"])
                numeric = entry.get("numerical_statistics")
                if not isinstance(numeric, dict):
                    raise BaselineError(f"feature {name} has no numerical_statistics (only numbers are read)")
                sketch = numeric.get("distribution", {}).get("kll", {}).get("sketch")
                if not isinstance(sketch, dict):
                    raise BaselineError(f"feature {name} has no KLL sketch")
                values, cumulative = sketch_cdf_points(sketch)
                common = numeric.get("common", {})
                present = _count(common.get("num_present", cumulative[-1]), f"{name} num_present")
                missing = _count(common.get("num_missing", 0), f"{name} num_missing")
                constraint = by_name.get(name, {})
                default_completeness = present / (present + missing) if present + missing else 1.0
                std: Any = numeric.get("std_dev")
                features.append(
                    BaselineFeature(
                        name=name,
                        inferred_type=str(
                            constraint.get("inferred_type", entry.get("inferred_type", FRACTIONAL))
                        ),
                        completeness=_finite(
                            constraint.get("completeness", default_completeness), f"{name} completeness"
                        ),
                        count=present,
                        values=tuple(values),
                        cumulative=tuple(cumulative),
                        std=float(std) if _is_number(std) and math.isfinite(float(std)) else None,
                    )
                )
            config = constraints.get("monitoring_config", {})
            distribution = config.get("distribution_constraints", {})
            method = str(distribution.get("comparison_method", COMPARISON_METHOD))
            if method not in COMPARISON_METHODS:
                raise BaselineError(f"comparison_method {method!r} is not one of {COMPARISON_METHODS}")
            return cls(
                features=tuple(features),
                item_count=int(_count(statistics.get("dataset", {}).get("item_count", 0), "item_count")),
                comparison_method=method,
                comparison_threshold=_finite(
                    distribution.get("comparison_threshold", COMPARISON_THRESHOLD), "comparison_threshold"
                ),
                perform_comparison=distribution.get("perform_comparison", "Enabled") == "Enabled",
                datatype_check_threshold=_finite(
                    config.get("datatype_check_threshold", DATATYPE_CHECK_THRESHOLD),
                    "datatype_check_threshold",
                ),
                identity=baseline_identity(statistics),
                domain_content_threshold=float(
                    config.get("domain_content_threshold", DOMAIN_CONTENT_THRESHOLD)
                ),
            )
        except BaselineError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
            raise BaselineError(
                f"baseline files are malformed: {type(exc).__name__}: {str(exc)[:200]}"
            ) from exc

    @classmethod
    def from_bytes(cls, statistics: bytes | str, constraints: bytes | str) -> Baseline:
        """The two files as stored: read through the guard for documents we did not write."""
        documents = []
        for name, raw in ((STATISTICS_FILE, statistics), (CONSTRAINTS_FILE, constraints)):
            try:
                documents.append(read_document(raw, max_bytes=BASELINE_MAX_BYTES))
            except DocumentError as exc:
                raise BaselineError(f"{name} is unreadable: {exc}") from None
        if not all(isinstance(document, dict) for document in documents):
            raise BaselineError("baseline files are malformed: a document is not a JSON object")
        return cls.from_documents(*documents)

    @cached_property
    def edges(self) -> list[tuple[float, ...]]:
        """The quantile edges of every feature, in column order (computed once per baseline)."""
        return [feature.edges() for feature in self.features]


def _finite(value: Any, what: str) -> float:
    """A number read from a document we did not write: finite, or a :class:`BaselineError`."""
    number = float(value)
    if not math.isfinite(number):
        raise BaselineError(f"{what} is {value!r}, not a finite number")
    return number


def _count(value: Any, what: str) -> float:
    number = _finite(value, what)
    if number < 0:
        raise BaselineError(f"{what} is {value!r}, a negative count")
    return number


def baseline_identity(statistics: Mapping[str, Any]) -> str:
    """A short stable id of a baseline's statistics (files summarised on its edges carry it)."""
    canonical = json.dumps(statistics, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]
