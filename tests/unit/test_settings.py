"""Settings fail at start, naming the variable; lists parse from comma-separated text."""

import pytest

from anomaly_sentinel.exceptions import SettingsError
from anomaly_sentinel.settings import StartPipelineSettings

VALID = {
    "PIPELINE_NAME": "anomaly-sentinel-rcf",
    "IDEMPOTENCY_TABLE": "sentinel-idempotencytable",
    "TRAINING_BUCKET": "data-bucket",
    "TRAINING_PREFIX": "training/",
    "ACCEPTED_SUFFIXES": ".csv, .CSV.GZ",
}


def test_valid_environment_builds_settings_with_parsed_suffixes():
    # GIVEN a complete environment WHEN settings are built
    settings = StartPipelineSettings.from_env(VALID)
    # THEN lists are split and defaults filled
    assert settings.accepted_suffixes == (".csv", ".CSV.GZ")
    assert settings.idempotency_ttl_seconds == 86_400
    assert settings.accepts("training/a.csv.gz")
    assert not settings.accepts("training/a.parquet")


@pytest.mark.parametrize("missing", sorted(VALID))
def test_missing_variable_fails_naming_it(missing):
    # GIVEN an environment without one required variable
    env = {k: v for k, v in VALID.items() if k != missing}
    # WHEN / THEN building settings fails and the message names the variable
    with pytest.raises(SettingsError, match=missing):
        StartPipelineSettings.from_env(env)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PIPELINE_NAME", "-starts-with-hyphen"),
        ("PIPELINE_NAME", "has space"),
        ("TRAINING_PREFIX", "no-trailing-slash"),
        ("ACCEPTED_SUFFIXES", " , "),
        ("IDEMPOTENCY_TTL_SECONDS", "soon"),
    ],
)
def test_malformed_variable_fails_naming_it(variable, value):
    with pytest.raises(SettingsError, match=variable):
        StartPipelineSettings.from_env({**VALID, variable: value})
