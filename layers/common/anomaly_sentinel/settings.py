"""Function settings as pydantic models built from environment variables.

Each function validates its settings at import (cold start), so a missing or malformed variable
fails the deployment's first invocation with a message naming the variable, instead of failing
half-way through an event.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from anomaly_sentinel.contracts import SERVERLESS_PAYLOAD_LIMIT
from anomaly_sentinel.exceptions import SettingsError


def _split_csv(value: object) -> object:
    """Environment variables carry lists as comma-separated text."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


CommaList = Annotated[tuple[str, ...], BeforeValidator(_split_csv)]

#: Where ScoreLogsFunction writes (beneath the data bucket's ``logs/``, apart from capture scoring's).
LOG_SCORES_PREFIX = "logs/scores/"
LOG_REJECTS_PREFIX = "logs/rejects/"
LOG_STATISTICS_PREFIX = "logs/statistics/"

#: Key suffixes taken as log files by default (template parameter LogSuffixes).
LOG_SUFFIXES = (".log", ".log.gz", ".txt", ".txt.gz")


def has_suffix(key: str, suffixes: tuple[str, ...]) -> bool:
    """Whether ``key`` ends with one of ``suffixes`` (case-insensitive)."""
    lowered = key.lower()
    return any(lowered.endswith(suffix.lower()) for suffix in suffixes)


#: SageMaker resource names: alphanumerics and hyphens, no leading hyphen.
SAGEMAKER_NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$"


class EnvSettings(BaseModel):
    """Base: fields are declared with ``alias=<ENV_VAR>``; unknown variables are ignored.

    Every handler imports this module but validates one class at import (``from_env``): a class's
    validator is built then, still in the cold start, so the other functions' classes cost nothing.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        try:
            return cls.model_validate(dict(env))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise SettingsError(f"invalid settings for {cls.__name__}: {problems}") from None


_ARN = r"^arn:aws[a-z-]*:{service}:[a-z0-9-]+:[0-9]{{12}}:.+$"


class OnceSettings(EnvSettings):
    """Fields of every function that acts once per event (Powertools idempotency on DynamoDB)."""

    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=3, max_length=255)
    idempotency_ttl_seconds: int = Field(default=86_400, alias="IDEMPOTENCY_TTL_SECONDS", ge=60)


class AlertingSettings(OnceSettings):
    """Fields of every function that watches the endpoint and alerts subscribers."""

    endpoint_name: str = Field(alias="ENDPOINT_NAME", pattern=SAGEMAKER_NAME)
    alerts_topic_arn: str = Field(alias="ALERTS_TOPIC_ARN", pattern=_ARN.format(service="sns"))


class StartPipelineSettings(OnceSettings):
    """Settings of StartPipelineFunction."""

    pipeline_name: str = Field(alias="PIPELINE_NAME", pattern=SAGEMAKER_NAME)
    training_bucket: str = Field(alias="TRAINING_BUCKET", min_length=3, max_length=63)
    training_prefix: str = Field(alias="TRAINING_PREFIX", pattern=r"^[^/].*/$|^$")
    accepted_suffixes: CommaList = Field(alias="ACCEPTED_SUFFIXES", min_length=1)
    #: Raw logs uploaded here start the pipeline's log route (unset: log uploads start nothing).
    logs_training_prefix: str | None = Field(
        default=None, alias="LOGS_TRAINING_PREFIX", pattern=r"^[^/\s*]\S*/$"
    )
    log_suffixes: CommaList = Field(default=LOG_SUFFIXES, alias="LOG_SUFFIXES", min_length=1)
    #: The pipeline's LogFormat: hdfs, bgl or a regex with named groups (the log route parses with it).
    log_format: str = Field(default="hdfs", alias="LOG_FORMAT", min_length=1, max_length=4096)

    def model_post_init(self, context: object, /) -> None:
        """One upload starts one route: the numeric and the log training prefixes must not overlap."""
        logs = self.logs_training_prefix
        if logs is not None and (
            logs.startswith(self.training_prefix) or self.training_prefix.startswith(logs)
        ):
            raise SettingsError(
                f"invalid settings for {type(self).__name__}: LOGS_TRAINING_PREFIX ({logs}) overlaps "
                f"TRAINING_PREFIX ({self.training_prefix})"
            )

    def accepts(self, key: str) -> bool:
        return has_suffix(key, self.accepted_suffixes)

    def is_log_upload(self, key: str) -> bool:
        """Under the log training prefix (the log route), rather than the numeric one."""
        return self.logs_training_prefix is not None and key.startswith(self.logs_training_prefix)


# --- ScoreCaptureSettings ---


def _blank_is_none(value: object) -> object:
    """Optional numbers come from template parameters whose "unset" is an empty string."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _blank_or_zero_is_none(value: object) -> object:
    """Number parameters cannot be empty: 0 means "unset" for them."""
    if isinstance(value, str) and value.strip() in ("", "0"):
        return None
    return value


OptionalPositiveInt = Annotated[Annotated[int, Field(ge=1)] | None, BeforeValidator(_blank_or_zero_is_none)]
OptionalFloat = Annotated[
    Annotated[float, Field(allow_inf_nan=False)] | None, BeforeValidator(_blank_is_none)
]


class EndpointScoringSettings(AlertingSettings):
    """Fields of the functions that score a file's rows on the endpoint (capture files, log files)."""

    output_bucket: str = Field(alias="OUTPUT_BUCKET", min_length=3, max_length=63)
    scoring_concurrency: int = Field(default=10, alias="SCORING_CONCURRENCY", ge=1, le=200)
    endpoint_max_concurrency: int = Field(default=20, alias="ENDPOINT_MAX_CONCURRENCY", ge=1, le=200)
    max_request_bytes: int = Field(
        default=SERVERLESS_PAYLOAD_LIMIT, alias="MAX_REQUEST_BYTES", ge=64, le=SERVERLESS_PAYLOAD_LIMIT
    )
    max_request_rows: int = Field(default=10_000, alias="MAX_REQUEST_ROWS", ge=1)
    #: Request bodies held in memory at once (bounds memory whatever the file size).
    max_inflight_bytes: int = Field(default=16_000_000, alias="MAX_INFLIGHT_BYTES", ge=64)
    endpoint_max_attempts: int = Field(default=6, alias="ENDPOINT_MAX_ATTEMPTS", ge=1, le=20)
    top_anomalies: int = Field(default=10, alias="TOP_ANOMALIES", ge=1, le=100)

    def watched(self) -> tuple[str, str, str]:
        """(bucket, prefix, variable naming the prefix) of the files the function is triggered by."""
        raise NotImplementedError

    def named_outputs(self) -> tuple[tuple[str, str], ...]:
        """(variable, prefix) of every output written to OUTPUT_BUCKET."""
        raise NotImplementedError

    def output_prefixes(self) -> tuple[str, ...]:
        return tuple(prefix for _, prefix in self.named_outputs())

    def model_post_init(self, context: object, /) -> None:
        """Cross-field rules: never exceed the endpoint's concurrency, never trigger ourselves."""
        problems = []
        if self.scoring_concurrency > self.endpoint_max_concurrency:
            problems.append(
                f"SCORING_CONCURRENCY ({self.scoring_concurrency}) exceeds ENDPOINT_MAX_CONCURRENCY "
                f"({self.endpoint_max_concurrency})"
            )
        bucket, watched, variable = self.watched()
        if bucket == self.output_bucket:
            for name, prefix in self.named_outputs():
                if prefix.startswith(watched) or watched.startswith(prefix):
                    problems.append(
                        f"{name} ({prefix}) overlaps {variable} ({watched}) in the same "
                        "bucket: the function would trigger itself"
                    )
        if problems:
            raise SettingsError(f"invalid settings for {type(self).__name__}: {'; '.join(problems)}")


class ScoreCaptureSettings(EndpointScoringSettings):
    """Settings of ScoreCaptureFunction (see template.yaml for what each one means)."""

    capture_bucket: str = Field(alias="CAPTURE_BUCKET", min_length=3, max_length=63)
    capture_prefix: str = Field(alias="CAPTURE_PREFIX", pattern=r"^[^/\s*]\S*/$")
    scores_prefix: str = Field(default="scores/", alias="SCORES_PREFIX", pattern=r"^[^/\s*]\S*/$")
    rejects_prefix: str = Field(default="rejects/", alias="REJECTS_PREFIX", pattern=r"^[^/\s*]\S*/$")
    statistics_prefix: str = Field(default="statistics/", alias="STATISTICS_PREFIX", pattern=r"^[^/\s*]\S*/$")
    #: Accepted records (features, time, score) for retraining: anomaly_sentinel.dataset's layout.
    dataset_prefix: str = Field(default="dataset/", alias="DATASET_PREFIX", pattern=r"^[^/\s*]\S*/$")
    #: Features per row the model expects; unset: the first good row of each file decides.
    feature_dim: OptionalPositiveInt = Field(default=None, alias="FEATURE_DIM")
    #: Explicit cutoff: when set, it wins over the model's score statistics and the file's own.
    anomaly_threshold: OptionalFloat = Field(default=None, alias="ANOMALY_THRESHOLD")
    cutoff_k: float = Field(default=3.0, alias="CUTOFF_K", gt=0, le=100)
    #: ``quantile``: the model's own alert-budget cutoff (score_stats.json); ``mean-std``: mean + k std.
    cutoff_rule: str = Field(default="quantile", alias="CUTOFF_RULE", pattern=r"^(quantile|mean-std)$")
    min_records_for_file_cutoff: int = Field(default=100, alias="MIN_RECORDS_FOR_FILE_CUTOFF", ge=2)
    max_line_bytes: int = Field(default=16 * 1024 * 1024, alias="MAX_LINE_BYTES", ge=1024)
    #: Where the drift monitor reports its windows, and how long they are (the monitor's settings):
    #: a file scored after its window ran is said to be unmonitored.
    reports_prefix: str = Field(default="drift-reports/", alias="REPORTS_PREFIX", pattern=r"^[^/\s*]\S*/$")
    drift_window_hours: int = Field(default=1, alias="WINDOW_HOURS", ge=1, le=24)

    def watched(self) -> tuple[str, str, str]:
        return self.capture_bucket, self.capture_prefix, "CAPTURE_PREFIX"

    def named_outputs(self) -> tuple[tuple[str, str], ...]:
        return (
            ("SCORES_PREFIX", self.scores_prefix),
            ("REJECTS_PREFIX", self.rejects_prefix),
            ("STATISTICS_PREFIX", self.statistics_prefix),
            ("DATASET_PREFIX", self.dataset_prefix),
        )


# --- MonitoringAlertSettings ---


#: ARNs the functions are given: partition-aware, service-specific.
class MonitoringAlertSettings(AlertingSettings):
    """Settings of MonitoringAlertFunction: where to alert, what counts, what to start."""

    state_machine_arn: str = Field(alias="RETRAIN_STATE_MACHINE_ARN", pattern=_ARN.format(service="states"))
    job_prefixes: CommaList = Field(alias="MONITORING_JOB_PREFIXES", min_length=1)
    alarm_prefix: str = Field(alias="DRIFT_ALARM_PREFIX", min_length=1, max_length=255)
    #: Violation check types that count towards retraining; empty means violations never retrain.
    retrain_check_types: CommaList = Field(default=(), alias="RETRAIN_CHECK_TYPES")
    retrain_min_violations: int = Field(default=1, alias="RETRAIN_MIN_VIOLATIONS", ge=1)
    retrain_on_alarm: bool = Field(default=True, alias="RETRAIN_ON_ALARM")
    #: Consecutive drift windows a score drift must persist before it counts towards retraining.
    retrain_min_windows: int = Field(default=1, alias="RETRAIN_MIN_WINDOWS", ge=1, le=1000)
    #: Training data for retraining runs; empty lets the pipeline use its own InputDataUri default:
    #: the recent window of the endpoint's production dataset.
    retrain_input_data_uri: str = Field(
        default="", alias="RETRAIN_INPUT_DATA_URI", pattern=r"^$|^s3://[^/]+/"
    )
    #: The real-time endpoint the optional Model Monitor schedule watches (its runs are ours too).
    model_monitor_endpoint: str = Field(default="", alias="MODEL_MONITOR_ENDPOINT_NAME")
    #: Hours after a retraining ended during which further drift signals are folded into its
    #: episode instead of starting another (docs/DRIFT.md, "One retraining per episode").
    retrain_cooldown_hours: int = Field(default=24, alias="RETRAIN_COOLDOWN_HOURS", ge=0, le=720)


class RetrainStepsSettings(EnvSettings):
    """Settings of RetrainStepsFunction: deployment shape, polling bounds, evaluation rule."""

    #: At most 48 characters: deployment names are ``<endpoint>-m-<12 hex>`` within SageMaker's 63,
    #: and the state machine's IAM policy is scoped to that ``<endpoint>-m-*`` prefix.
    endpoint_name: str = Field(alias="ENDPOINT_NAME", pattern=SAGEMAKER_NAME, max_length=48)
    model_package_group_name: str = Field(alias="MODEL_PACKAGE_GROUP_NAME", pattern=SAGEMAKER_NAME)
    pipeline_name: str = Field(alias="PIPELINE_NAME", pattern=SAGEMAKER_NAME)
    memory_size_mb: int = Field(alias="SERVERLESS_MEMORY_SIZE_MB", ge=1024, le=6144, multiple_of=1024)
    max_concurrency: int = Field(alias="SERVERLESS_MAX_CONCURRENCY", ge=1, le=200)
    pipeline_poll_seconds: int = Field(default=60, alias="PIPELINE_POLL_SECONDS", ge=1, le=3600)
    #: Bounded so that the polls fit a Standard execution's 25,000 history events (template.yaml).
    pipeline_max_polls: int = Field(default=180, alias="PIPELINE_MAX_POLLS", ge=1, le=1500)
    endpoint_poll_seconds: int = Field(default=30, alias="ENDPOINT_POLL_SECONDS", ge=1, le=3600)
    endpoint_max_polls: int = Field(default=60, alias="ENDPOINT_MAX_POLLS", ge=1, le=500)
    lock_ttl_seconds: int = Field(default=21_600, alias="RETRAIN_LOCK_TTL_SECONDS", ge=60)
    objective_metric: str = Field(default="test:f1", alias="OBJECTIVE_METRIC", min_length=1)
    objective_goal: str = Field(default="Maximize", alias="OBJECTIVE_GOAL", pattern=r"^(Maximize|Minimize)$")
    #: Share of the model in service's false alerts a candidate must remove (lower end of the interval).
    min_improvement: float = Field(default=0.0, alias="MIN_IMPROVEMENT", ge=0.0, le=1.0)
    #: How many of the group's newest packages are searched for a candidate or the model in service.
    package_scan_limit: int = Field(default=50, alias="PACKAGE_SCAN_LIMIT", ge=1, le=1000)
    #: The log route (issue 21): log runs are adopted too (``kind: logs``); an RCF log model that the
    #: pipeline judged better is deployed to this endpoint (a PCA one needs none). Unset: refused.
    logs_endpoint_name: str | None = Field(
        default=None, alias="LOGS_ENDPOINT_NAME", pattern=SAGEMAKER_NAME, max_length=48
    )
    logs_model_package_group: str | None = Field(
        default=None, alias="LOGS_MODEL_PACKAGE_GROUP_NAME", pattern=SAGEMAKER_NAME
    )

    def model_post_init(self, context: object, /) -> None:
        """The lock must outlive the longest bounded wait, or a second run could start mid-deploy."""
        longest = (
            self.pipeline_poll_seconds * self.pipeline_max_polls
            + self.endpoint_poll_seconds * self.endpoint_max_polls
        )
        if self.lock_ttl_seconds < longest:
            raise SettingsError(
                f"invalid settings for {type(self).__name__}: RETRAIN_LOCK_TTL_SECONDS "
                f"({self.lock_ttl_seconds}) is shorter than the longest bounded wait ({longest} s)"
            )


class DriftMonitorSettings(OnceSettings):
    """Settings of DriftMonitorFunction: which endpoint, where statistics and reports live, the window."""

    endpoint_name: str = Field(alias="ENDPOINT_NAME", pattern=SAGEMAKER_NAME)
    data_bucket: str = Field(alias="DATA_BUCKET", min_length=3, max_length=63)
    statistics_prefix: str = Field(default="statistics/", alias="STATISTICS_PREFIX", pattern=r"^[^/\s*]\S*/$")
    reports_prefix: str = Field(default="drift-reports/", alias="REPORTS_PREFIX", pattern=r"^[^/\s*]\S*/$")
    #: Window length in hours; windows are aligned to UTC midnight, so it must divide 24.
    window_hours: int = Field(default=1, alias="WINDOW_HOURS", ge=1, le=24)
    #: Fewest rows a window needs before any check may raise a violation.
    min_records: int = Field(default=1000, alias="MIN_RECORDS", ge=1)
    event_bus_name: str = Field(default="default", alias="EVENT_BUS_NAME", min_length=1)
    #: Largest per-file statistics object read (a file's summary is about 12 kB for 30 features).
    max_statistics_bytes: int = Field(default=1_000_000, alias="MAX_STATISTICS_BYTES", ge=1024)
    #: The log route (issue 21): the log detector whose per-file statistics ScoreLogsFunction writes,
    #: and its model package group (the log model in service gives the OOV-share baseline). Unset:
    #: no log window.
    logs_endpoint_name: str | None = Field(default=None, alias="LOGS_ENDPOINT_NAME", pattern=SAGEMAKER_NAME)
    logs_model_package_group: str | None = Field(
        default=None, alias="LOGS_MODEL_PACKAGE_GROUP_NAME", pattern=SAGEMAKER_NAME
    )
    logs_statistics_prefix: str = Field(
        default=LOG_STATISTICS_PREFIX, alias="LOGS_STATISTICS_PREFIX", pattern=r"^[^/\s*]\S*/$"
    )
    #: Fewest matched log lines a window needs before its OOV share is compared.
    logs_min_lines: int = Field(default=1000, alias="LOGS_MIN_LINES", ge=1)

    def model_post_init(self, context: object, /) -> None:
        if 24 % self.window_hours:
            raise SettingsError(
                f"invalid settings for {type(self).__name__}: "
                f"WINDOW_HOURS ({self.window_hours}) must divide 24"
            )


class PipelineRunsSettings(EnvSettings):
    """Settings of PipelineRunsFunction (run time, cost and failure alerts of pipeline executions)."""

    pipeline_name: str = Field(alias="PIPELINE_NAME", pattern=SAGEMAKER_NAME)
    endpoint_name: str = Field(alias="ENDPOINT_NAME", pattern=SAGEMAKER_NAME)
    alerts_topic_arn: str = Field(alias="ALERTS_TOPIC_ARN", pattern=r"^arn:aws[a-z-]*:sns:")
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=3, max_length=255)
    idempotency_ttl_seconds: int = Field(default=86_400, alias="IDEMPOTENCY_TTL_SECONDS", ge=60)


# --- ScoreLogsSettings (issue 21) ---


class ScoreLogsSettings(EndpointScoringSettings):
    """Settings of ScoreLogsFunction (template.yaml says what each one means).

    ``ENDPOINT_NAME`` is the log endpoint (LogsEndpointName): it scores sessions when the log model
    in service is an RCF model, and names the log detector's outputs either way.
    """

    model_package_group: str = Field(alias="MODEL_PACKAGE_GROUP_NAME", pattern=SAGEMAKER_NAME)
    logs_bucket: str = Field(alias="LOGS_BUCKET", min_length=3, max_length=63)
    logs_prefix: str = Field(alias="LOGS_PREFIX", pattern=r"^[^/\s*]\S*/$")
    suffixes: CommaList = Field(default=LOG_SUFFIXES, alias="LOG_SUFFIXES", min_length=1)
    scores_prefix: str = Field(default=LOG_SCORES_PREFIX, alias="SCORES_PREFIX", pattern=r"^[^/\s*]\S*/$")
    rejects_prefix: str = Field(default=LOG_REJECTS_PREFIX, alias="REJECTS_PREFIX", pattern=r"^[^/\s*]\S*/$")
    statistics_prefix: str = Field(
        default=LOG_STATISTICS_PREFIX, alias="STATISTICS_PREFIX", pattern=r"^[^/\s*]\S*/$"
    )
    #: Longer lines are rejected (line-too-long): their bytes are skipped, never held.
    max_line_bytes: int = Field(default=64 * 1024, alias="MAX_LINE_BYTES", ge=1024, le=16 * 1024 * 1024)
    #: Largest artefact of a log model read (template table, vector spec, detector, PCA model).
    max_artefact_bytes: int = Field(default=64 * 1024 * 1024, alias="MAX_ARTEFACT_BYTES", ge=1024)

    def watched(self) -> tuple[str, str, str]:
        return self.logs_bucket, self.logs_prefix, "LOGS_PREFIX"

    def named_outputs(self) -> tuple[tuple[str, str], ...]:
        return (
            ("SCORES_PREFIX", self.scores_prefix),
            ("REJECTS_PREFIX", self.rejects_prefix),
            ("STATISTICS_PREFIX", self.statistics_prefix),
        )

    def is_log_file(self, key: str) -> bool:
        return has_suffix(key, self.suffixes)
