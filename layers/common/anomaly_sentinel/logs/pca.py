"""The PCA detector's scorer in pure Python: squared prediction error (SPE) off the normal subspace.

Training (``pipeline/scripts/logs_pca.py``, numpy) keeps the training mean and the top ``k``
principal directions of the training vectors (Xu et al., SOSP'09). A vector's score is
``|(I - P^T P)(x - mean)|^2``: how much of it the normal subspace cannot explain. Scoring needs only
dot products, so the scoring function runs it without numpy or an endpoint.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from anomaly_sentinel.logs.exceptions import PcaModelError
from anomaly_sentinel.logs.jsonio import (
    dump_json,
    is_finite_number,
    load_json,
    member,
    number_list,
)

PCA_FORMAT: Final = "sentinel-log-pca/1"
MAX_DIMENSION: Final = 100_000
MAX_COMPONENTS: Final = 64
#: Loaded components must be orthonormal to this tolerance (a damaged file gives wrong scores).
ORTHONORMAL_TOLERANCE: Final = 1e-6


@dataclass(frozen=True)
class PcaScorer:
    """Mean, orthonormal components (rows) and the threshold above which a score is an anomaly."""

    mean: tuple[float, ...]
    components: tuple[tuple[float, ...], ...]
    threshold: float
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        width = len(self.mean)
        if not 1 <= width <= MAX_DIMENSION:
            raise PcaModelError(f"pca.json: the mean has {width} values; expected 1..{MAX_DIMENSION}")
        if len(self.components) > min(MAX_COMPONENTS, width):
            raise PcaModelError(f"pca.json: {len(self.components)} components for {width} features")
        if any(len(row) != width for row in self.components):
            raise PcaModelError(f"pca.json: every component must have {width} values")
        if not is_finite_number(self.threshold):
            raise PcaModelError("pca.json: the threshold must be a finite number")
        for i, row in enumerate(self.components):
            for j in range(i + 1):
                dot = math.fsum(a * b for a, b in zip(row, self.components[j], strict=True))
                if abs(dot - (1.0 if i == j else 0.0)) > ORTHONORMAL_TOLERANCE:
                    raise PcaModelError("pca.json: the components are not orthonormal")

    @property
    def dimension(self) -> int:
        return len(self.mean)

    def score(self, vector: Sequence[float]) -> float:
        """SPE of one vector (>= 0)."""
        if len(vector) != len(self.mean):
            raise PcaModelError(f"a vector of {len(vector)} features; the model expects {len(self.mean)}")
        centred = [x - m for x, m in zip(vector, self.mean, strict=True)]
        residual = list(centred)
        for row in self.components:
            weight = math.fsum(c * x for c, x in zip(row, centred, strict=True))
            if weight:
                residual = [r - weight * c for r, c in zip(residual, row, strict=True)]
        return math.fsum(r * r for r in residual)

    def is_anomaly(self, score: float) -> bool:
        return score > self.threshold

    def dump(self) -> bytes:
        return dump_json(
            {
                "format_version": PCA_FORMAT,
                "mean": list(self.mean),
                "components": [list(row) for row in self.components],
                "threshold": self.threshold,
                "params": dict(self.params),
            }
        )

    @classmethod
    def load(cls, raw: bytes) -> PcaScorer:
        """Read ``pca.json`` within bounds; :class:`PcaModelError` names what is wrong."""
        what = "pca.json"
        document = load_json(raw, what, PcaModelError)
        version = member(document, "format_version", str, what, PcaModelError)
        if version != PCA_FORMAT:
            raise PcaModelError(f"{what}: format_version {version!r} is not {PCA_FORMAT!r}")
        mean_values = member(document, "mean", list, what, PcaModelError)
        mean = number_list(mean_values, "mean", what, PcaModelError)
        rows = member(document, "components", list, what, PcaModelError)
        components = tuple(tuple(number_list(row, "components", what, PcaModelError)) for row in rows)
        threshold = member(document, "threshold", (int, float), what, PcaModelError)
        params = document.get("params", {})
        if not isinstance(params, dict):
            raise PcaModelError(f"{what}: params must be an object")
        return cls(tuple(mean), components, float(threshold), params)
