"""Named domain errors. Handlers let these propagate so a failed event reaches its DLQ or alarm."""


class SentinelError(Exception):
    """Base of every error this package raises on purpose."""


class SettingsError(SentinelError):
    """An environment variable is missing or malformed; raised at start, naming the variable."""


class EventParseError(SentinelError):
    """An incoming event does not have the shape the function was deployed for."""


class PipelineStartError(SentinelError):
    """The SageMaker pipeline could not be started (missing, denied, invalid); names the pipeline."""


# --- capture scoring errors (issue 3) ---


# --- monitoring and retraining errors (issue 4) ---
