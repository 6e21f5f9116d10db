"""Settings fail at start, naming the variable; lists parse from comma-separated text."""

import pytest

from anomaly_sentinel.exceptions import SettingsError
from anomaly_sentinel.settings import (
    DriftMonitorSettings,
    RetrainStepsSettings,
    ScoreCaptureSettings,
    StartPipelineSettings,
)

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


# ---------------------------------------------------------------------------- every function's rules

SCORE_CAPTURE = {
    "ENDPOINT_NAME": "anomaly-sentinel-rcf",
    "CAPTURE_BUCKET": "data-bucket",
    "CAPTURE_PREFIX": "capture/",
    "OUTPUT_BUCKET": "data-bucket",
    "ALERTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts",
    "IDEMPOTENCY_TABLE": "idempotency",
}
RETRAIN_STEPS = {
    "ENDPOINT_NAME": "anomaly-sentinel-rcf",
    "MODEL_PACKAGE_GROUP_NAME": "anomaly-sentinel-rcf",
    "PIPELINE_NAME": "anomaly-sentinel-rcf",
    "SERVERLESS_MEMORY_SIZE_MB": "2048",
    "SERVERLESS_MAX_CONCURRENCY": "5",
    "PIPELINE_POLL_SECONDS": "60",
    "PIPELINE_MAX_POLLS": "100",
    "ENDPOINT_POLL_SECONDS": "30",
    "ENDPOINT_MAX_POLLS": "20",
}
DRIFT_MONITOR = {"ENDPOINT_NAME": "ep", "DATA_BUCKET": "bucket", "IDEMPOTENCY_TABLE": "table"}


def test_settings_are_read_from_the_process_environment_by_default(monkeypatch):
    # GIVEN the variables in the process environment (as Lambda sets them)
    for name, value in VALID.items():
        monkeypatch.setenv(name, value)
    # WHEN settings are built without an explicit mapping THEN they come from os.environ
    assert StartPipelineSettings.from_env().pipeline_name == "anomaly-sentinel-rcf"
    # AND an explicit mapping is read instead of the process environment
    explicit = StartPipelineSettings.from_env({**VALID, "PIPELINE_NAME": "other-pipeline"})
    assert explicit.pipeline_name == "other-pipeline"


def test_every_invalid_variable_is_named_in_one_error():
    # GIVEN two variables missing WHEN settings are built THEN one error names both
    env = {k: v for k, v in VALID.items() if k not in ("PIPELINE_NAME", "TRAINING_BUCKET")}
    with pytest.raises(SettingsError) as raised:
        StartPipelineSettings.from_env(env)
    assert "PIPELINE_NAME" in str(raised.value)
    assert "TRAINING_BUCKET" in str(raised.value)


def test_comma_lists_drop_blanks_and_spaces():
    settings = StartPipelineSettings.from_env({**VALID, "ACCEPTED_SUFFIXES": " .csv ,, .jsonl, "})
    assert settings.accepted_suffixes == (".csv", ".jsonl")


def test_suffixes_match_whatever_the_case_of_key_or_suffix():
    settings = StartPipelineSettings.from_env({**VALID, "ACCEPTED_SUFFIXES": ".CSV"})
    assert settings.accepts("training/A.csv")
    assert settings.accepts("training/b.CSV")
    assert not settings.accepts("training/b.csv.gz")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", None), ("  ", None), ("0", None), ("12", 12)],
)
def test_an_empty_or_zero_feature_dimension_means_unset(value, expected):
    settings = ScoreCaptureSettings.from_env({**SCORE_CAPTURE, "FEATURE_DIM": value})
    assert settings.feature_dim == expected


@pytest.mark.parametrize(("value", "expected"), [("", None), (" ", None), ("2.5", 2.5), ("0", 0.0)])
def test_an_empty_anomaly_threshold_means_unset_and_any_number_is_kept(value, expected):
    settings = ScoreCaptureSettings.from_env({**SCORE_CAPTURE, "ANOMALY_THRESHOLD": value})
    assert settings.anomaly_threshold == expected


def test_the_cutoff_rule_defaults_to_the_models_quantile_and_accepts_only_the_two_rules():
    assert ScoreCaptureSettings.from_env(SCORE_CAPTURE).cutoff_rule == "quantile"
    assert (
        ScoreCaptureSettings.from_env({**SCORE_CAPTURE, "CUTOFF_RULE": "mean-std"}).cutoff_rule == "mean-std"
    )
    with pytest.raises(SettingsError, match="CUTOFF_RULE"):
        ScoreCaptureSettings.from_env({**SCORE_CAPTURE, "CUTOFF_RULE": "median"})


@pytest.mark.parametrize(("value", "ok"), [("0", True), ("1", True), ("1.01", False), ("-0.1", False)])
def test_min_improvement_is_a_share_of_false_alerts_between_0_and_1(value, ok):
    env = {**RETRAIN_STEPS, "MIN_IMPROVEMENT": value}
    if ok:
        assert RetrainStepsSettings.from_env(env).min_improvement == float(value)
    else:
        with pytest.raises(SettingsError, match="MIN_IMPROVEMENT"):
            RetrainStepsSettings.from_env(env)


def test_scoring_concurrency_may_equal_the_endpoints_but_not_exceed_it():
    equal = {"SCORING_CONCURRENCY": "20", "ENDPOINT_MAX_CONCURRENCY": "20"}
    assert ScoreCaptureSettings.from_env({**SCORE_CAPTURE, **equal}).scoring_concurrency == 20
    with pytest.raises(SettingsError, match="SCORING_CONCURRENCY"):
        ScoreCaptureSettings.from_env({**SCORE_CAPTURE, **equal, "SCORING_CONCURRENCY": "21"})


@pytest.mark.parametrize(
    ("variable", "prefix", "capture"),
    [
        ("SCORES_PREFIX", "capture/scores/", "capture/"),
        ("REJECTS_PREFIX", "capture/rejects/", "capture/"),
        ("STATISTICS_PREFIX", "capture/statistics/", "capture/"),
        ("DATASET_PREFIX", "capture/dataset/", "capture/"),
        ("SCORES_PREFIX", "data/", "data/capture/"),
    ],
)
def test_an_output_prefix_overlapping_the_capture_prefix_in_the_same_bucket_fails_naming_it(
    variable, prefix, capture
):
    # GIVEN an output prefix inside the capture prefix (or containing it) in the capture bucket
    # WHEN settings load THEN they fail naming that variable and its value: the function would
    # trigger itself
    with pytest.raises(SettingsError, match=rf"(?<![A-Z_]){variable} \({prefix}\)"):
        ScoreCaptureSettings.from_env({**SCORE_CAPTURE, "CAPTURE_PREFIX": capture, variable: prefix})
    # AND in another bucket the same prefix is fine
    other = ScoreCaptureSettings.from_env(
        {**SCORE_CAPTURE, "CAPTURE_PREFIX": capture, variable: prefix, "OUTPUT_BUCKET": "out-bucket"}
    )
    assert prefix in other.output_prefixes()


def test_default_output_prefixes_sit_beside_the_capture_prefix():
    settings = ScoreCaptureSettings.from_env(SCORE_CAPTURE)
    assert settings.output_prefixes() == ("scores/", "rejects/", "statistics/", "dataset/")


def test_a_lock_as_long_as_the_longest_bounded_wait_is_enough():
    # GIVEN polls bounding the pipeline wait to 60 x 100 s and the endpoint wait to 30 x 20 s
    longest = 60 * 100 + 30 * 20
    # WHEN the lock lasts exactly that long THEN the settings load; a second less fails naming the lock
    exact = RetrainStepsSettings.from_env({**RETRAIN_STEPS, "RETRAIN_LOCK_TTL_SECONDS": str(longest)})
    assert exact.lock_ttl_seconds == longest
    with pytest.raises(SettingsError, match="RETRAIN_LOCK_TTL_SECONDS"):
        RetrainStepsSettings.from_env({**RETRAIN_STEPS, "RETRAIN_LOCK_TTL_SECONDS": str(longest - 1)})


@pytest.mark.parametrize("hours", [1, 2, 3, 4, 6, 8, 12, 24])
def test_window_lengths_that_divide_the_day_are_accepted(hours):
    settings = DriftMonitorSettings.from_env({**DRIFT_MONITOR, "WINDOW_HOURS": str(hours)})
    assert settings.window_hours == hours


@pytest.mark.parametrize("hours", [5, 7, 9, 10, 23])
def test_window_lengths_that_do_not_divide_the_day_fail(hours):
    with pytest.raises(SettingsError, match="WINDOW_HOURS"):
        DriftMonitorSettings.from_env({**DRIFT_MONITOR, "WINDOW_HOURS": str(hours)})


@pytest.mark.parametrize(
    ("cls", "env", "problems"),
    [
        (
            StartPipelineSettings,
            {
                "PIPELINE_NAME": "p",
                "TRAINING_BUCKET": "b",
                "TRAINING_PREFIX": "t/",
                "ACCEPTED_SUFFIXES": ".csv",
            },
            "IDEMPOTENCY_TABLE: Field required; TRAINING_BUCKET: String should have at least 3 characters",
        ),
        (
            DriftMonitorSettings,
            {**DRIFT_MONITOR, "WINDOW_HOURS": "5"},
            "WINDOW_HOURS (5) must divide 24",
        ),
        (
            RetrainStepsSettings,
            {**RETRAIN_STEPS, "RETRAIN_LOCK_TTL_SECONDS": "6599"},
            "RETRAIN_LOCK_TTL_SECONDS (6599) is shorter than the longest bounded wait (6600 s)",
        ),
        (
            ScoreCaptureSettings,
            {**SCORE_CAPTURE, "SCORES_PREFIX": "capture/s/", "REJECTS_PREFIX": "capture/r/"},
            "SCORES_PREFIX (capture/s/) overlaps CAPTURE_PREFIX (capture/) in the same bucket: the function"
            " would trigger itself; REJECTS_PREFIX (capture/r/) overlaps CAPTURE_PREFIX (capture/) in the"
            " same bucket: the function would trigger itself",
        ),
    ],
)
def test_a_settings_error_names_the_function_settings_and_lists_each_problem(cls, env, problems):
    # GIVEN an environment a function cannot start with
    # WHEN its settings load THEN the one error says whose settings they are and every problem,
    # separated by "; ", so the cold-start log line alone tells the operator what to fix
    with pytest.raises(SettingsError) as raised:
        cls.from_env(env)
    assert str(raised.value) == f"invalid settings for {cls.__name__}: {problems}"
