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

from anomaly_sentinel.exceptions import SettingsError


def _split_csv(value: object) -> object:
    """Environment variables carry lists as comma-separated text."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


CommaList = Annotated[tuple[str, ...], BeforeValidator(_split_csv)]

#: SageMaker resource names: alphanumerics and hyphens, no leading hyphen.
SAGEMAKER_NAME = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$"


class EnvSettings(BaseModel):
    """Base: fields are declared with ``alias=<ENV_VAR>``; unknown variables are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

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


class StartPipelineSettings(EnvSettings):
    """Settings of StartPipelineFunction."""

    pipeline_name: str = Field(alias="PIPELINE_NAME", pattern=SAGEMAKER_NAME)
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE", min_length=3, max_length=255)
    training_prefix: str = Field(alias="TRAINING_PREFIX", pattern=r"^[^/].*/$|^$")
    accepted_suffixes: CommaList = Field(alias="ACCEPTED_SUFFIXES", min_length=1)
    idempotency_ttl_seconds: int = Field(default=86_400, alias="IDEMPOTENCY_TTL_SECONDS", ge=60)

    def accepts(self, key: str) -> bool:
        lowered = key.lower()
        return any(lowered.endswith(suffix.lower()) for suffix in self.accepted_suffixes)


# --- ScoreCaptureSettings (issue 3) ---


# --- MonitoringAlertSettings (issue 4) ---
