"""Log anomaly detection at run time, in pure Python (standard library only: no drain3, no numpy).

Formats split lines; the template table (mined by Drain in the processing job, exported as plain
JSON) and its matcher turn contents into template ids; the grouper forms sessions or windows; the
vector spec turns them into the detectors' input; the PCA scorer scores them without an endpoint.
docs/LOGS.md explains the route; the contract between its parts is in the module docstrings.
"""

from anomaly_sentinel.logs.artefacts import DetectorChoice
from anomaly_sentinel.logs.exceptions import (
    DetectorFileError,
    LogArtefactError,
    LogError,
    LogFormatError,
    PcaModelError,
    TemplateTableError,
    VectorSpecError,
)
from anomaly_sentinel.logs.formats import LogFormat, Mask, ParsedLine, Rejected, decode_lines, resolve_format
from anomaly_sentinel.logs.pca import PcaScorer
from anomaly_sentinel.logs.stream import LineEvent, Tally, group_events, groups_of, read_events
from anomaly_sentinel.logs.table import Matcher, Template, TemplateTable
from anomaly_sentinel.logs.vectors import Group, Grouper, GroupingSpec, VectorSpec

__all__ = [
    "DetectorChoice",
    "DetectorFileError",
    "Group",
    "Grouper",
    "GroupingSpec",
    "LineEvent",
    "LogArtefactError",
    "LogError",
    "LogFormat",
    "LogFormatError",
    "Mask",
    "Matcher",
    "ParsedLine",
    "PcaModelError",
    "PcaScorer",
    "Rejected",
    "Tally",
    "Template",
    "TemplateTable",
    "TemplateTableError",
    "VectorSpec",
    "VectorSpecError",
    "decode_lines",
    "group_events",
    "groups_of",
    "read_events",
    "resolve_format",
]
