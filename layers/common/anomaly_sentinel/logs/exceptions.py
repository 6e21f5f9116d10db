"""Named errors of the log route; each names the artefact or the setting that is wrong."""

from anomaly_sentinel.exceptions import SentinelError


class LogError(SentinelError):
    """Base of every error the log route raises on purpose."""


class LogFormatError(LogError):
    """A log format cannot be used: unknown preset, a regex that does not compile or lacks ``content``."""


class LogArtefactError(LogError):
    """A JSON artefact of a log model is too large, too deep, not JSON, or not the expected shape."""


class TemplateTableError(LogArtefactError):
    """``templates.json`` is malformed (the message names the field)."""


class VectorSpecError(LogArtefactError):
    """``vector_spec.json`` is malformed, or a grouping setting is out of range."""


class PcaModelError(LogArtefactError):
    """``pca.json`` is malformed: shapes disagree, or a number is not finite."""


class DetectorFileError(LogArtefactError):
    """``detector.json`` is malformed (unknown detector, missing or non-finite cutoff)."""
