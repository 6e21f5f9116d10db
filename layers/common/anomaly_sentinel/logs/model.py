"""The log model in service: its artefacts read by name, checked against each other (no AWS calls).

The adapter (:class:`anomaly_sentinel.logs.adapters.LogModelSource`) finds the package and reads
the bytes; this module only parses and cross-checks them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from anomaly_sentinel.exceptions import LogModelNotFoundError
from anomaly_sentinel.logs.artefacts import (
    DETECTOR_FILE,
    PCA_FILE,
    RCF_MODEL_FILE,
    TEMPLATES_FILE,
    VECTOR_SPEC_FILE,
    DetectorChoice,
)
from anomaly_sentinel.logs.grouping import Grouper
from anomaly_sentinel.logs.pca import PcaScorer
from anomaly_sentinel.logs.table import Matcher, TemplateTable
from anomaly_sentinel.logs.vectors import VectorSpec


@dataclass(frozen=True)
class LogModel:
    """The log model in service, loaded once per model package (a warm container keeps it)."""

    package_arn: str
    uri: str  # the model directory, s3://bucket/prefix/ (ends with /)
    table: TemplateTable
    spec: VectorSpec
    choice: DetectorChoice
    pca: PcaScorer | None = None
    matcher: Matcher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "matcher", Matcher(self.table))
        if self.choice.detector == "pca":
            if self.pca is None:
                raise LogModelNotFoundError(f"{self.uri}: detector.json says pca but there is no {PCA_FILE}")
            if self.pca.dimension != self.spec.dimension:
                raise LogModelNotFoundError(
                    f"{self.uri}: {PCA_FILE} expects {self.pca.dimension} features, "
                    f"{VECTOR_SPEC_FILE} makes {self.spec.dimension}"
                )

    @classmethod
    def load(cls, package_arn: str, uri: str, read: Callable[[str], bytes]) -> LogModel:
        """Read the artefacts by file name (``read(name)`` returns the bytes of ``uri + name``)."""
        choice = DetectorChoice.load(read(DETECTOR_FILE))
        return cls(
            package_arn=package_arn,
            uri=uri,
            table=TemplateTable.load(read(TEMPLATES_FILE)),
            spec=VectorSpec.load(read(VECTOR_SPEC_FILE)),
            choice=choice,
            pca=PcaScorer.load(read(PCA_FILE)) if choice.detector == "pca" else None,
        )

    @property
    def detector(self) -> str:
        return self.choice.detector

    @property
    def cutoff(self) -> float:
        return self.choice.cutoff

    @property
    def rcf_model_url(self) -> str:
        """Where an RCF model's artefact sits: the endpoint must serve exactly this one."""
        return self.uri + RCF_MODEL_FILE

    def grouper(self) -> Grouper:
        return Grouper(self.spec)
