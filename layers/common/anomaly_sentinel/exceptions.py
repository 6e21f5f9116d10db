"""Named domain errors. Handlers let these propagate so a failed event reaches its DLQ or alarm."""


class SentinelError(Exception):
    """Base of every error this package raises on purpose."""


class DocumentError(SentinelError, ValueError):
    """A JSON document we did not write is too large, too deep, not JSON or holds a non-finite number."""


class SettingsError(SentinelError):
    """An environment variable is missing or malformed; raised at start, naming the variable."""


class EventParseError(SentinelError):
    """An incoming event does not have the shape the function was deployed for."""


class MessageError(EventParseError):
    """A message from another of our functions (drift event, violations report, retraining input)
    does not validate against :mod:`anomaly_sentinel.contracts.messages`; names the message and the field."""


class PipelineStartError(SentinelError):
    """The SageMaker pipeline could not be started (missing, denied, invalid); names the pipeline."""


# --- capture scoring errors ---


class CaptureReadError(SentinelError):
    """The capture object cannot be read (missing, denied, not a file); names the object."""


class EndpointError(SentinelError):
    """The scoring endpoint refused the work as a whole (unknown endpoint, access denied...)."""


class EndpointUnavailableError(EndpointError):
    """Throttling, ModelNotReady or 5xx persisted after every retry: fail so the event is retried."""


class ScoringInvariantError(SentinelError):
    """A record would leave without a trace (scored + rejected != records): a bug, never swallowed."""


# --- monitoring and retraining errors ---


class ViolationsFileError(SentinelError):
    """A monitoring run's violations file is missing, empty or malformed (reported, never fatal)."""


class RetrainStartError(SentinelError):
    """The retraining state machine could not be started; names the state machine and execution."""


class CandidateNotFoundError(SentinelError):
    """No model package in the group was registered by the pipeline execution under evaluation."""


# --- drift monitoring errors ---


class BaselineError(SentinelError):
    """A data-quality baseline (statistics.json / constraints.json) is missing or malformed."""


class DriftReportError(SentinelError):
    """A window's statistics file cannot be read, or its drift event cannot be put on the bus."""


class BaselineAccessError(SentinelError):
    """The function may not read the model in service or its baseline (IAM): the window fails, so
    the schedule's retries and then the dead-letter queue's alarm say so, instead of every window
    passing as "no baseline"."""


# --- log scoring errors (issue 21) ---


class LogReadError(SentinelError):
    """A log object cannot be read (missing, denied, not a file); names the object."""


class LogModelNotFoundError(SentinelError):
    """No log model is in service (no approved package, or its artefacts are missing or disagree)."""
