"""What the CDF comparison could not see, on Model Monitor's file shapes: NaN as missing, a new code between
existing codes, a change of spread; and the score drift that persists (the model is wrong)."""

from __future__ import annotations

import json
import random

import pytest

from anomaly_sentinel import drift, monitoring
from anomaly_sentinel.capture import CaptureDecoder
from pipeline.scripts import baseline as baseline_script
from tests.support.drift import gaussian_rows, make_baseline, real_documents, window_of


def capture_lines(rows: list[str]) -> list[bytes]:
    return [
        json.dumps({"captureData": {"endpointInput": {"data": r, "encoding": "CSV"}}}).encode() for r in rows
    ]


def decoded_window(baseline: drift.Baseline, rows: list[str]) -> drift.WindowStatistics:
    """The scoring function's path: decode capture records, summarise accepted and rejected ones."""
    builder = drift.FileStatisticsBuilder(baseline, seed=1)
    for item in CaptureDecoder().decode(capture_lines(rows)):
        builder.observe(item)
    return drift.merge_window([builder.finish()], baseline.identity)


def checks(result: drift.Comparison) -> list[tuple[str, str]]:
    return [(v.feature_name, v.check_type) for v in result.violations]


# ---------------------------------------------------------------------------- NaN


@pytest.mark.parametrize("token", ["nan", "NaN", "inf", "-Infinity"])
def test_a_nan_or_infinite_value_counts_as_missing_in_its_column_and_breaks_completeness(token):
    # GIVEN a baseline of complete rows, and traffic where 20 of 1,020 records carry a NaN in column 3
    rng = random.Random(3)
    baseline = make_baseline(gaussian_rows(5_000, 4, rng))
    rows = gaussian_rows(1_000, 4, rng) + [f"0.1,0.2,{token},0.4"] * 20
    # WHEN the records are decoded and summarised as the scoring function does, and compared
    result = drift.compare(decoded_window(baseline, rows), baseline, min_records=1_000)
    # THEN _c2's completeness is 1000/1020, below the baseline's 1.0: Model Monitor's violation
    assert checks(result) == [("_c2", "completeness_check")]
    assert (
        result.violations[0].description == f"Value: {1000 / 1020} does not meet the constraint requirement! "
    )


def test_the_decoder_names_the_column_of_a_non_finite_value_in_csv_json_and_quoted_csv():
    lines = [
        *capture_lines(["1,nan,3"]),
        json.dumps(
            {"captureData": {"endpointInput": {"data": '{"features": [1, 2, NaN]}', "encoding": "JSON"}}}
        ).encode(),
        json.dumps({"captureData": {"endpointInput": {"data": '"1","inf"', "encoding": "CSV"}}}).encode(),
    ]
    details = [item.detail for item in CaptureDecoder().decode(lines)]
    assert details == [
        "row 0 column 2 is NaN or infinite",
        "row 0 column 3 is NaN or infinite",
        "row 0 column 2 is NaN or infinite",
    ]


# ---------------------------------------------------------------------------- codes


def code_rows(codes: list[int], count: int, rng: random.Random) -> list[str]:
    return [f"{rng.choice(codes)},{rng.gauss(0, 1):.6f}" for _ in range(count)]


def test_a_new_code_between_existing_codes_is_a_categorical_values_violation():
    # GIVEN a code feature learned with the values 1, 2 and 4 (Integral, as baseline.py infers it)
    rng = random.Random(5)
    baseline = make_baseline(code_rows([1, 2, 4], 5_000, rng))
    assert baseline.features[0].inferred_type == "Integral"
    assert baseline.features[0].codes == {1.0, 2.0, 4.0}
    # WHEN traffic brings the code 3 in 5 % of the rows (every CDF at the edges 1, 2, 4 barely moves)
    rows = code_rows([1, 2, 4], 950, rng) + [f"3,{rng.gauss(0, 1):.6f}" for _ in range(50)]
    result = drift.compare(window_of(baseline, rows), baseline, min_records=1_000)
    # THEN Model Monitor's check on a feature's domain fires on _c0, its value the share in the domain
    assert checks(result) == [("_c0", "categorical_values_check")]
    assert result.violations[0].description == "Value: 0.95 does not meet the constraint requirement! "
    # AND traffic with the known codes only raises nothing
    clean = drift.compare(window_of(baseline, code_rows([1, 2, 4], 1_000, rng)), baseline, min_records=1_000)
    assert clean.violations == ()


def test_the_domain_threshold_is_read_from_the_constraints_as_model_monitor_writes_it():
    rng = random.Random(6)
    statistics, constraints = baseline_script.baseline(code_rows([1, 2, 4], 2_000, rng))
    constraints["monitoring_config"]["domain_content_threshold"] = 0.9
    baseline = drift.Baseline.from_documents(statistics, constraints)
    rows = code_rows([1, 2, 4], 950, rng) + ["3,0.0"] * 50  # 95 % in the domain: enough at 0.9
    assert drift.compare(window_of(baseline, rows), baseline, min_records=1_000).violations == ()


def test_a_continuous_integral_feature_is_not_taken_for_codes():
    # GIVEN whole numbers with many values (taxi passenger counts): no domain, new values are normal
    rng = random.Random(7)
    baseline = make_baseline([f"{rng.randrange(10_000, 30_000)}" for _ in range(5_000)])
    assert baseline.features[0].codes is None
    rows = [f"{rng.randrange(10_000, 30_000)}" for _ in range(1_000)]
    assert drift.compare(window_of(baseline, rows), baseline, min_records=1_000).violations == ()


# ---------------------------------------------------------------------------- spread


@pytest.mark.parametrize(("scale", "fires"), [(1.0, False), (1.1, False), (1.4, True), (0.7, True)])
def test_a_change_of_spread_beyond_a_fifth_is_a_baseline_drift_on_that_feature(scale, fires):
    # GIVEN a normal baseline and a window of 5,000 rows whose _c1 has its spread scaled
    rng = random.Random(11)
    baseline = make_baseline(gaussian_rows(10_000, 3, rng))
    rows = [",".join(f"{rng.gauss(0, scale if j == 1 else 1.0):.6f}" for j in range(3)) for _ in range(5_000)]
    result = drift.compare(window_of(baseline, rows), baseline, min_records=1_000)
    # THEN the spread check names _c1 (the CDF distance stays under 0.1 at 1.4x)
    spread = [v for v in result.violations if v.description.startswith("Standard deviation distance")]
    assert [(v.feature_name, v.check_type) for v in spread] == (
        [("_c1", "baseline_drift_check")] if fires else []
    )
    if scale == 1.4:
        assert result.distances["_c1"] < drift.COMPARISON_THRESHOLD


def test_the_real_model_monitor_baseline_gives_each_features_spread():
    statistics, constraints = real_documents()
    baseline = drift.Baseline.from_documents(statistics, constraints)
    stds = [f["numerical_statistics"]["std_dev"] for f in statistics["features"]]
    assert [f.std for f in baseline.features] == stds


# ---------------------------------------------------------------------------- score drift that persists


def scored_window(scored: int, anomalies: int) -> drift.WindowStatistics:
    window = drift.WindowStatistics(baseline_id="b1")
    window.scored, window.anomalies, window.cutoffs = scored, anomalies, {2.0}
    return window


STATS = {"count": 1000, "mean": 1.0, "std": 0.2, "min": 0.5, "max": 2.5, "quantiles": {"0.999": 2.0}}


def test_an_anomaly_rate_beyond_the_budget_counts_the_windows_it_has_persisted():
    violation = drift.score_drift(scored_window(1_000, 300), STATS, previous_windows=2)
    assert violation is not None
    assert violation.consecutive_windows == 3
    assert violation.description.endswith("for 3 consecutive window(s)")
    document = drift.violations_document([violation])
    assert drift.persisting_windows(json.loads(drift.dumps(document))) == 3
    # AND a rate within the budget is no violation, whatever came before
    assert drift.score_drift(scored_window(1_000, 1), STATS, previous_windows=5) is None


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"violations": []},
        {"violations": "x"},
        [],
        {"violations": [{"constraint_check_type": "baseline_drift_check"}]},
    ],
)
def test_a_previous_report_without_a_score_drift_counts_no_window(document):
    assert drift.persisting_windows(document) == 0


def test_a_score_drift_from_before_the_count_existed_counts_one_window():
    entry = {"feature_name": "anomaly_rate", "constraint_check_type": "score_drift_check", "description": "x"}
    assert drift.persisting_windows({"violations": [entry]}) == 1


def violation(check: str, windows: int | None = None) -> monitoring.Violation:
    return monitoring.Violation(feature_name="f", check_type=check, consecutive_windows=windows)


def outcome(*violations: monitoring.Violation) -> monitoring.MonitoringOutcome:
    return monitoring.MonitoringOutcome(
        source="drift-monitor",
        endpoint="e",
        job_arn="w",
        status="CompletedWithViolations",
        violations=violations,
    )


DEFAULT_POLICY = monitoring.RetrainingPolicy(
    check_types=("score_drift_check",), on_alarm=False, min_windows=3
)


@pytest.mark.parametrize(
    ("violations", "retrain", "why"),
    [
        ((violation("baseline_drift_check"), violation("categorical_values_check")), False, "the data moved"),
        ((violation("score_drift_check", 2),), False, "for 2 consecutive window(s), 3 required"),
        ((violation("score_drift_check", 3), violation("baseline_drift_check")), True, "for 3 consecutive"),
        ((violation("score_drift_check", 9),), True, "1 counted violations >= 1 required"),
    ],
)
def test_the_default_policy_retrains_when_the_model_is_wrong_not_when_the_data_moved(
    violations, retrain, why
):
    decision = monitoring.decide(outcome(*violations), DEFAULT_POLICY)
    assert decision.retrain is retrain
    assert why in decision.reason


def test_a_policy_counting_feature_drift_retrains_on_it_at_once():
    policy = monitoring.RetrainingPolicy(check_types=("baseline_drift_check",), min_windows=3)
    assert monitoring.decide(outcome(violation("baseline_drift_check")), policy).retrain


def test_the_violations_file_carries_the_count_to_the_policy():
    document = drift.violations_document(
        [drift.score_drift(scored_window(1_000, 300), STATS, previous_windows=2)]
    )
    (parsed,) = monitoring.parse_violations(drift.dumps(document), model_monitor=False)
    assert parsed.consecutive_windows == 3
    assert monitoring.decide(outcome(parsed), DEFAULT_POLICY).retrain
