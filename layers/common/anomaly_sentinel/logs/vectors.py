"""Groups → count vectors: the detectors' input contract (``vector_spec.json``).

Groups (sessions or windows) are formed by :mod:`anomaly_sentinel.logs.grouping`.

A vector is the group's count per training template (the vocabulary: templates seen in the
training groups, in id order), then the count of lines whose template is unseen or outside the
vocabulary (OOV), then the group's length. The vocabulary and, for ``tfidf``, the idf weights are
fitted on the training groups only; ``log1p`` (the default, what RCF prefers) needs no fit.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from anomaly_sentinel.logs.exceptions import VectorSpecError
from anomaly_sentinel.logs.grouping import (
    KINDS,
    MAX_SEQUENCE,
    MAX_WINDOW_SECONDS,
    NEW_TEMPLATE_SAMPLES,
    Group,
    Grouper,
    GroupingSpec,
)
from anomaly_sentinel.logs.jsonio import dump_json, is_finite_number, load_json, member

# Re-exported: grouping was first defined here.
__all__ = [
    "EXTRAS",
    "KINDS",
    "MAX_COLUMNS",
    "MAX_SEQUENCE",
    "MAX_WINDOW_SECONDS",
    "NEW_TEMPLATE_SAMPLES",
    "SPEC_FORMAT",
    "WEIGHTINGS",
    "Group",
    "Grouper",
    "GroupingSpec",
    "VectorSpec",
]

SPEC_FORMAT: Final = "sentinel-log-vectors/1"
WEIGHTINGS: Final = ("log1p", "tfidf", "counts")
EXTRAS: Final = ("oov", "length")
MAX_COLUMNS: Final = 100_000


@dataclass(frozen=True)
class VectorSpec:
    """Grouping + vocabulary + weighting: the model's input contract (``vector_spec.json``)."""

    grouping: GroupingSpec
    columns: tuple[int, ...]
    weighting: str = "log1p"
    idf: tuple[float, ...] = ()
    extras: tuple[str, ...] = EXTRAS
    trained_groups: int = 0
    _index: dict[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.weighting not in WEIGHTINGS:
            raise VectorSpecError(f"weighting must be one of {', '.join(WEIGHTINGS)}, got {self.weighting!r}")
        if len(set(self.columns)) != len(self.columns) or len(self.columns) > MAX_COLUMNS:
            raise VectorSpecError("columns must be distinct template ids (at most 100000)")
        if set(self.extras) - set(EXTRAS) or len(set(self.extras)) != len(self.extras):
            raise VectorSpecError(f"extras must be distinct names among {', '.join(EXTRAS)}")
        if self.weighting == "tfidf" and len(self.idf) != len(self.columns) + 1:
            raise VectorSpecError("tfidf needs one idf weight per column and one for OOV")
        object.__setattr__(self, "_index", {template: i for i, template in enumerate(self.columns)})

    @property
    def dimension(self) -> int:
        return len(self.columns) + len(self.extras)

    def feature_names(self) -> list[str]:
        return [f"t{template}" for template in self.columns] + list(self.extras)

    def counts(self, group: Group) -> list[int]:
        """Raw counts: one per column, then OOV and length (as the spec's extras say)."""
        row = [0] * len(self.columns)
        oov = 0
        index = self._index
        for template, count in group.counts.items():
            column = index.get(template) if template is not None else None
            if column is None:
                oov += count
            else:
                row[column] += count
        extras = {"oov": oov, "length": group.length}
        return row + [extras[name] for name in self.extras]

    def vector(self, group: Group) -> list[float]:
        """The weighted vector a detector sees (fitted parts come from the training groups)."""
        raw = self.counts(group)
        if self.weighting == "counts":
            return [float(x) for x in raw]
        if self.weighting == "log1p":
            return [math.log1p(x) for x in raw]
        width = len(self.columns)
        weighted = [x * w for x, w in zip(raw[:width], self.idf, strict=False)]
        tail = [
            raw[width + i] * self.idf[-1] if name == "oov" else math.log1p(raw[width + i])
            for i, name in enumerate(self.extras)
        ]
        return weighted + tail

    @classmethod
    def fit(
        cls,
        grouping: GroupingSpec,
        training: Iterable[Group | Mapping[int | None, int]],
        weighting: str = "log1p",
        extras: tuple[str, ...] = EXTRAS,
    ) -> VectorSpec:
        """Vocabulary (and idf) from the training groups only; later groups never change it."""
        seen: Counter[int] = Counter()
        groups = 0
        for item in training:
            counts = item.counts if isinstance(item, Group) else item
            groups += 1
            seen.update(t for t, c in counts.items() if t is not None and c > 0)
        columns = tuple(sorted(seen))
        idf: tuple[float, ...] = ()
        if weighting == "tfidf":
            # smoothed idf (sklearn's): an OOV column, unseen in training, gets the largest weight
            idf = tuple(math.log((1 + groups) / (1 + seen[t])) + 1 for t in columns)
            idf += (math.log(1 + groups) + 1,)
        return cls(grouping, columns, weighting, idf, extras, groups)

    def dump(self) -> bytes:
        return dump_json(
            {
                "format_version": SPEC_FORMAT,
                "grouping": self.grouping.to_json(),
                "columns": list(self.columns),
                "weighting": self.weighting,
                "idf": list(self.idf),
                "extras": list(self.extras),
                "trained_groups": self.trained_groups,
                "feature_names": self.feature_names(),
            }
        )

    @classmethod
    def load(cls, raw: bytes) -> VectorSpec:
        """Read ``vector_spec.json`` within bounds; :class:`VectorSpecError` names what is wrong."""
        what = "vector_spec.json"
        document = load_json(raw, what, VectorSpecError)
        version = member(document, "format_version", str, what, VectorSpecError)
        if version != SPEC_FORMAT:
            raise VectorSpecError(f"{what}: format_version {version!r} is not {SPEC_FORMAT!r}")
        columns = member(document, "columns", list, what, VectorSpecError)
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in columns):
            raise VectorSpecError(f"{what}: columns must be template ids (whole numbers >= 0)")
        idf = document.get("idf", [])
        if not isinstance(idf, list) or not all(is_finite_number(x) for x in idf):
            raise VectorSpecError(f"{what}: idf must be a list of finite numbers")
        extras = member(document, "extras", list, what, VectorSpecError)
        trained = document.get("trained_groups", 0)
        if not isinstance(trained, int) or isinstance(trained, bool):
            raise VectorSpecError(f"{what}: trained_groups must be a whole number")
        return cls(
            grouping=GroupingSpec.from_json(member(document, "grouping", dict, what, VectorSpecError)),
            columns=tuple(columns),
            weighting=member(document, "weighting", str, what, VectorSpecError),
            idf=tuple(float(x) for x in idf),
            extras=tuple(str(x) for x in extras),
            trained_groups=trained,
        )
