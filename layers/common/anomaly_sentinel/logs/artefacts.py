"""The log model directory: file names, and the detector choice (``detector.json``).

What the pipeline registers and the scoring function reads, one place::

    templates.json     TemplateTable (format, masks, Drain settings, templates)
    vector_spec.json   VectorSpec (grouping, vocabulary, weighting)
    detector.json      DetectorChoice (which detector won, its cutoff and measured quality)
    pca.json           PcaScorer, when PCA won (also written when it lost, for comparison)
    model.tar.gz       the RCF model artefact, when RCF won (as the numeric route has it)
    score_stats.json   statistics of the RCF model's training scores (as the numeric route)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from anomaly_sentinel.logs.exceptions import DetectorFileError
from anomaly_sentinel.logs.jsonio import dump_json, is_finite_number, load_json, member

TEMPLATES_FILE: Final = "templates.json"
VECTOR_SPEC_FILE: Final = "vector_spec.json"
DETECTOR_FILE: Final = "detector.json"
PCA_FILE: Final = "pca.json"
RCF_MODEL_FILE: Final = "model.tar.gz"
SCORE_STATS_FILE: Final = "score_stats.json"
DETECTORS: Final = ("rcf", "pca")
MAX_DETECTOR_BYTES: Final = 1024 * 1024


@dataclass(frozen=True)
class DetectorChoice:
    """The detector in a model directory: a score above ``cutoff`` is an anomaly."""

    detector: str
    cutoff: float
    f1: float = 0.0
    precision: float = 0.0
    recall: float = 0.0
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise DetectorFileError(f"detector.json: detector must be one of {DETECTORS}: {self.detector!r}")
        for name in ("cutoff", "f1", "precision", "recall"):
            if not is_finite_number(getattr(self, name)):
                raise DetectorFileError(f"detector.json: {name} must be a finite number")

    def dump(self) -> bytes:
        return dump_json(
            {
                **dict(self.details),
                "detector": self.detector,
                "cutoff": self.cutoff,
                "f1": self.f1,
                "precision": self.precision,
                "recall": self.recall,
            }
        )

    @classmethod
    def load(cls, raw: bytes) -> DetectorChoice:
        what = "detector.json"
        document = load_json(raw, what, DetectorFileError, max_bytes=MAX_DETECTOR_BYTES)
        detector = member(document, "detector", str, what, DetectorFileError)
        numbers = {
            name: float(member(document, name, (int, float), what, DetectorFileError))
            for name in ("cutoff", "f1", "precision", "recall")
        }
        details = {k: v for k, v in document.items() if k not in ("detector", *numbers)}
        return cls(detector=detector, details=details, **numbers)
