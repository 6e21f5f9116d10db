"""The monitor's checks on a window (Model Monitor's, and score drift) and the documents it writes."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest

from anomaly_sentinel import drift
from anomaly_sentinel.contracts.messages import Violation

#: A baseline feature with the values 1, 2, 3, 4 once each: its CDF is 0.25, 0.5, 0.75, 1 at them.
QUARTERS = (1.0, 2.0, 3.0, 4.0)


def baseline(features: int = 1, **kw) -> drift.Baseline:
    inferred_type = kw.pop("inferred_type", "Fractional")
    completeness = kw.pop("completeness", 1.0)
    count = kw.pop("count", 400)
    return drift.Baseline(
        features=tuple(
            drift.BaselineFeature(
                f"_c{i}", inferred_type, completeness, count, QUARTERS, tuple(v * count / 4 for v in QUARTERS)
            )
            for i in range(features)
        ),
        item_count=count,
        identity="b1",
        **kw,
    )


def window(
    counts: list[int] | None = (50, 50, 0, 0, 0),  # type: ignore[assignment]
    *,
    rows: int = 100,
    sampled: int | None = None,
    columns: int = 1,
    missing: int = 0,
    integral: int | None = None,
    min_records_file: bool = True,
) -> drift.WindowStatistics:
    """A window of one file of ``rows`` rows whose every column has these counts on the edges 1…4."""
    feature = drift.FeatureSummary(
        present=rows,
        missing=missing,
        mean=1.5,
        m2=25.0,
        min=1.0,
        max=2.0,
        integral=rows if integral is None else integral,
        counts=None if counts is None else list(counts),
    )
    stats = drift.FileStatistics(
        rows=rows,
        sampled=rows if sampled is None else sampled,
        missing_rows=missing,
        baseline_id="b1",
        features=[drift.FeatureSummary(**feature.to_json()) for _ in range(columns)],
    )
    return drift.merge_window([stats], "b1")


def checks(result: drift.Comparison) -> list[tuple[str, str]]:
    return [(v.feature_name, v.check_type) for v in result.violations]


# ---------------------------------------------------------------------------- minimum


def test_a_window_of_exactly_the_minimum_is_checked():
    result = drift.compare(window(rows=100), baseline(comparison_method="Simple"), min_records=100)
    assert result.skipped is None
    assert result.records == 100
    assert checks(result) == [("_c0", "baseline_drift_check")]


def test_a_window_below_the_minimum_reports_its_rows_and_nothing_else():
    result = drift.compare(window(rows=99), baseline(comparison_method="Simple"), min_records=100)
    assert (result.violations, result.distances, result.records) == ((), {}, 99)
    assert result.skipped is not None


# ---------------------------------------------------------------------------- distribution


def test_simple_distance_is_the_largest_cdf_gap_at_the_edges():
    # GIVEN half the window at 1 and half at 2: its CDF is 0.5, 1, 1, 1 against 0.25, 0.5, 0.75, 1
    result = drift.compare(window(), baseline(comparison_method="Simple"), min_records=1)
    # THEN the distance is the largest gap, 0.5
    assert result.distances == {"_c0": 0.5}


def test_robust_distance_subtracts_the_noise_of_both_sample_sizes():
    # GIVEN the same window (n = 100 rows) and a baseline of m = 400 values
    result = drift.compare(window(), baseline(count=400), min_records=1)
    # THEN the distance is 0.5 - 1.8 * sqrt((n + m) / (n m))
    assert result.distances["_c0"] == pytest.approx(0.5 - 1.8 * math.sqrt(500 / 40_000))
    # AND the noise constant can be given
    wider = drift.compare(window(), baseline(count=400), min_records=1, c_alpha=3.0)
    assert wider.distances["_c0"] == pytest.approx(0.5 - 3.0 * math.sqrt(500 / 40_000))


def test_robust_noise_uses_the_windows_effective_sample_size():
    # GIVEN 1,000 rows summarised from a sample of 100 (effective n = 100)
    result = drift.compare(window(rows=1_000, sampled=100), baseline(count=400), min_records=1)
    assert result.distances["_c0"] == pytest.approx(0.5 - 1.8 * math.sqrt(500 / 40_000))


def test_a_distance_equal_to_the_threshold_is_not_a_violation():
    at = drift.compare(
        window(), baseline(comparison_method="Simple", comparison_threshold=0.5), min_records=1
    )
    above = drift.compare(
        window(), baseline(comparison_method="Simple", comparison_threshold=0.49), min_records=1
    )
    assert checks(at) == []
    assert checks(above) == [("_c0", "baseline_drift_check")]
    assert above.violations[0].description.startswith("Numerical distance: 0.5 exceeds")


def test_a_window_matching_the_baseline_has_zero_distance():
    result = drift.compare(window([25, 25, 25, 25, 0]), baseline(comparison_method="Simple"), min_records=1)
    assert (result.distances, result.violations) == ({"_c0": 0.0}, ())


def test_disabled_comparison_measures_no_distance():
    result = drift.compare(
        window(), baseline(comparison_method="Simple", perform_comparison=False), min_records=1
    )
    assert (result.distances, result.violations) == ({}, ())


def test_a_window_without_distribution_measures_no_distance():
    result = drift.compare(window(None), baseline(comparison_method="Simple"), min_records=1)
    assert (result.distances, result.violations) == ({}, ())


def test_only_the_columns_both_have_are_compared():
    # GIVEN a window of 3 columns against a baseline of 2, and of 2 against 3
    wide = drift.compare(window(columns=3), baseline(2, comparison_method="Simple"), min_records=1)
    narrow = drift.compare(window(columns=2), baseline(3, comparison_method="Simple"), min_records=1)
    # THEN both measure the two shared columns and report the third
    assert sorted(wide.distances) == sorted(narrow.distances) == ["_c0", "_c1"]
    assert checks(wide)[0] == ("_c2", "extra_column_check")
    assert checks(narrow)[0] == ("_c2", "missing_column_check")
    # AND each says so in Model Monitor's words, with both widths
    assert wide.violations[0].description == (
        "There are extra columns. Number of columns in current dataset: 3, in baseline constraints: 2"
    )
    assert narrow.violations[0].description == (
        "There are missing columns. Number of columns in current dataset: 2, in baseline constraints: 3"
    )


# ---------------------------------------------------------------------------- completeness and type


def test_completeness_below_the_baselines_is_a_violation_and_equal_is_not():
    # GIVEN a window of 90 present and 10 missing values (completeness 0.9)
    lower = drift.compare(
        window(rows=90, missing=10), baseline(completeness=0.95, perform_comparison=False), min_records=1
    )
    equal = drift.compare(
        window(rows=90, missing=10), baseline(completeness=0.9, perform_comparison=False), min_records=1
    )
    assert checks(lower) == [("_c0", "completeness_check")]
    assert lower.violations[0].description == "Value: 0.9 does not meet the constraint requirement! "
    assert checks(equal) == []


def test_with_comparison_disabled_every_column_is_still_checked_for_completeness():
    # GIVEN two columns each 90% complete against a baseline wanting 95%, with no distance measured
    result = drift.compare(
        window(rows=90, missing=10, columns=2),
        baseline(2, completeness=0.95, perform_comparison=False),
        min_records=1,
    )
    # THEN both columns are reported, not only the first
    assert checks(result) == [("_c0", "completeness_check"), ("_c1", "completeness_check")]


def test_a_column_with_no_values_is_neither_incomplete_nor_mistyped():
    # GIVEN a window whose file has rows in the minimum but none in the column's counts
    empty = drift.WindowStatistics(rows=10, features=[drift.WindowFeature()], widths={1: 10})
    result = drift.compare(empty, baseline(completeness=1.0, inferred_type="Integral"), min_records=1)
    assert checks(result) == []


@pytest.mark.parametrize(
    ("inferred_type", "integral", "threshold", "violation"),
    [
        ("Integral", 100, 1.0, None),
        ("Integral", 99, 1.0, 0.99),
        ("Integral", 60, 0.6, None),
        ("Integral", 59, 0.6, 0.59),
        ("Fractional", 0, 1.0, None),
        ("String", 100, 1.0, 0.0),
        # a threshold above 1 (a hand-edited constraints file) cannot be met, as in Deequ
        ("Fractional", 0, 1.5, 1.0),
        ("Integral", 100, 1.5, 1.0),
    ],
)
def test_values_of_another_type_than_the_baselines_are_a_data_type_violation(
    inferred_type, integral, threshold, violation
):
    # GIVEN 100 values of which ``integral`` are whole numbers, against a baseline type and threshold
    result = drift.compare(
        window(integral=integral),
        baseline(inferred_type=inferred_type, datatype_check_threshold=threshold, perform_comparison=False),
        min_records=1,
    )
    # THEN the share of conforming values below the threshold is a violation giving the share
    if violation is None:
        assert checks(result) == []
    else:
        assert checks(result) == [("_c0", "data_type_check")]
        assert (
            result.violations[0].description
            == f"Value: {violation} does not meet the constraint requirement! "
        )


# ---------------------------------------------------------------------------- distances


def test_window_cdf_of_no_values_is_zero_and_the_last_bin_is_left_out():
    assert drift.window_cdf([0, 0, 0]) == [0.0, 0.0]
    assert drift.window_cdf([1, 1, 2]) == [0.25, 0.5]


def test_linf_distance_without_edges_is_zero():
    feature = baseline().features[0]
    assert drift.linf_distance(feature, [], [10]) == 0.0


@pytest.mark.parametrize(("n", "m"), [(0, 100), (100, 0), (-1, 100)])
def test_robust_distance_without_both_samples_is_zero(n, m):
    assert drift.robust_distance(0.9, n, m) == 0.0


@pytest.mark.parametrize(("n", "m"), [(1, 100), (100, 1)])
def test_a_sample_of_one_on_either_side_is_still_compared(n, m):
    # GIVEN a noise allowance small enough for one row to count (c = 0.5)
    # WHEN one side holds a single row THEN the distance is the L-inf less the noise of both sizes
    assert drift.robust_distance(0.9, n, m, c_alpha=0.5) == pytest.approx(0.9 - 0.5 * math.sqrt(101 / 100))


def test_robust_distance_is_never_negative():
    assert drift.robust_distance(0.01, 100, 100) == 0.0
    assert drift.robust_distance(0.5, 100, 100, c_alpha=0.0) == 0.5


# ---------------------------------------------------------------------------- score drift

SCORE_STATS = {
    "count": 99,
    "min": 0.0,
    "max": 10.0,
    "quantiles": {"0.9": 2.0, "0.5": 1.0},
}


@pytest.mark.parametrize(
    ("cutoff", "rate"),
    [
        (-0.1, 1.0),  # below every training score
        (0.0, 1.0),  # at the smallest
        (0.5, 0.75),  # between min (q 0) and the median
        (1.0, 0.5),  # at a quantile
        (1.5, 0.3),  # between two quantiles
        (6.0, 0.05),  # between the last quantile and max (q 1)
        (9.99, 0.01),  # the floor 1 / (count + 1) is a lower bound
        (10.0, 0.01),  # at the largest
        (50.0, 0.01),  # above the largest
    ],
)
def test_predicted_rate_is_the_share_of_training_scores_above_the_cutoff(cutoff, rate):
    assert drift.predicted_rate(SCORE_STATS, cutoff) == pytest.approx(rate)


def test_predicted_rate_without_quantiles_interpolates_between_min_and_max():
    assert drift.predicted_rate({"count": 999, "min": 2.0, "max": 4.0}, 3.5) == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("k", "n", "p"),
    [
        (1, 10, Fraction(1, 20)),
        (3, 10, Fraction(1, 2)),
        (45, 2_000, Fraction(1, 100)),
        (15, 2_000, Fraction(1, 100)),
    ],
)
def test_binomial_tail_matches_the_exact_sum(k, n, p):
    # GIVEN the tail summed exactly in rational arithmetic, below and above the mean n p
    exact = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))
    assert drift.binomial_upper_tail(k, n, float(p)) == pytest.approx(float(exact), rel=1e-9)


def test_binomial_tail_at_the_edges_of_p():
    assert drift.binomial_upper_tail(1, 10, 0.0) == 0.0
    assert drift.binomial_upper_tail(3, 10, 1.0) == 1.0
    assert drift.binomial_upper_tail(0, 10, 0.0) == 1.0


def scored(*files: tuple[int, int, float, str]) -> drift.WindowStatistics:
    window_stats = drift.WindowStatistics()
    for n, anomalies, cutoff, source in files:
        stats = drift.FileStatistics(rows=n, sampled=0, missing_rows=0, baseline_id=None, features=[])
        stats.scores = drift.ScoreSummary(scored=n, anomalies=anomalies, cutoff=cutoff, cutoff_source=source)
        window_stats.add(stats)
    return window_stats


def test_score_drift_is_judged_on_one_cutoff_only():
    # GIVEN 40 anomalies in 1,000 rows where 1% is expected, on one cutoff and on two
    one = scored((1_000, 40, 2.0, "threshold"))
    two = scored((500, 20, 2.0, "threshold"), (500, 20, 2.5, "threshold"))
    stats = {"count": 10_000, "min": 0.0, "max": 3.0, "quantiles": {"0.99": 2.0}}
    # THEN only the window on one cutoff is score drift
    found = drift.score_drift(one, stats)
    assert found is not None
    assert (found.feature_name, found.check_type) == ("anomaly_rate", "score_drift_check")
    assert drift.score_drift(two, stats) is None
    assert drift.score_drift(drift.WindowStatistics(), stats) is None


def test_score_drift_needs_a_p_value_below_alpha():
    # GIVEN 20 anomalies in 1,000 rows where 1% is expected: p ≈ 0.0034
    window_stats = scored((1_000, 20, 2.0, "threshold"))
    stats = {"count": 10_000, "min": 0.0, "max": 3.0, "quantiles": {"0.99": 2.0}}
    p_value = drift.binomial_upper_tail(20, 1_000, drift.predicted_rate(stats, 2.0))
    # THEN it is drift at alpha 0.01, not at the default 0.001, nor at alpha equal to the p-value
    assert drift.score_drift(window_stats, stats, alpha=0.01) is not None
    assert drift.score_drift(window_stats, stats) is None
    assert drift.score_drift(window_stats, stats, alpha=p_value) is None


def test_compare_adds_score_drift_when_given_the_models_score_statistics():
    window_stats = window()
    extra = scored((1_000, 40, 2.0, "threshold"))
    window_stats.scored, window_stats.anomalies, window_stats.cutoffs = (
        extra.scored,
        extra.anomalies,
        extra.cutoffs,
    )
    stats = {"count": 10_000, "min": 0.0, "max": 3.0, "quantiles": {"0.99": 2.0}}
    quiet = baseline(perform_comparison=False)
    assert checks(drift.compare(window_stats, quiet, min_records=1)) == []
    assert checks(drift.compare(window_stats, quiet, min_records=1, score_stats=stats)) == [
        ("anomaly_rate", "score_drift_check")
    ]


# ---------------------------------------------------------------------------- documents


def test_statistics_document_gives_the_windows_figures_and_buckets_on_the_baseline_edges():
    # GIVEN a window of 100 whole-number rows, half at 1 and half at 2, and an empty second column
    window_stats = window()
    window_stats.features.append(drift.WindowFeature())
    # WHEN written
    document = drift.statistics_document(window_stats, baseline())
    c0, c1 = (f["numerical_statistics"] for f in document["features"])
    # THEN the dataset, the names, the types and the figures are the window's
    assert (document["version"], document["dataset"]) == (0.0, {"item_count": 100})
    assert [(f["name"], f["inferred_type"]) for f in document["features"]] == [
        ("_c0", "Integral"),
        ("_c1", "Fractional"),
    ]
    assert c0["common"] == {"num_present": 100, "num_missing": 0}
    assert (c0["mean"], c0["sum"], c0["std_dev"], c0["min"], c0["max"]) == (1.5, 150.0, 0.5, 1.0, 2.0)
    # AND the buckets run from the smaller of min and the first edge to the larger of max and the last
    assert c0["distribution"]["kll"]["buckets"] == [
        {"lower_bound": 1.0, "upper_bound": 1.0, "count": 50.0},
        {"lower_bound": 1.0, "upper_bound": 2.0, "count": 50.0},
        {"lower_bound": 2.0, "upper_bound": 3.0, "count": 0.0},
        {"lower_bound": 3.0, "upper_bound": 4.0, "count": 0.0},
        {"lower_bound": 4.0, "upper_bound": 4.0, "count": 0.0},
    ]
    # AND an empty column reports zeros and no distribution
    assert c1 == {
        "common": {"num_present": 0, "num_missing": 0},
        "mean": 0.0,
        "sum": 0.0,
        "std_dev": 0.0,
        "min": 0.0,
        "max": 0.0,
    }


def test_statistics_document_bounds_reach_values_beyond_the_edges():
    window_stats = window([0, 0, 0, 0, 100])
    feature = window_stats.features[0]
    feature.min, feature.max = -5.0, 9.0
    buckets = drift.statistics_document(window_stats, baseline())["features"][0]["numerical_statistics"][
        "distribution"
    ]["kll"]["buckets"]
    assert (buckets[0]["lower_bound"], buckets[-1]["upper_bound"]) == (-5.0, 9.0)


def test_statistics_document_rounds_scaled_counts_and_has_no_distribution_without_a_baseline():
    # GIVEN a column with scaled (fractional) counts
    window_stats = drift.WindowStatistics(rows=10, features=[drift.WindowFeature(present=7.6, missing=2.4)])
    window_stats.features[0].counts = [10.0]
    document = drift.statistics_document(window_stats)
    numeric = document["features"][0]["numerical_statistics"]
    assert numeric["common"] == {"num_present": 8, "num_missing": 2}
    assert "distribution" not in numeric
    # AND a column beyond the baseline's has none either
    beyond = drift.statistics_document(window(columns=2), baseline(1))["features"]
    assert ["distribution" in f["numerical_statistics"] for f in beyond] == [True, False]


def test_a_column_with_some_fractional_values_is_fractional():
    document = drift.statistics_document(window(integral=99))
    assert document["features"][0]["inferred_type"] == "Fractional"


def test_written_files_are_indented_json():
    document = drift.violations_document(
        [
            Violation(
                feature_name="_c1",
                check_type="completeness_check",
                description="Value: 0.5 does not meet",
                value=0.5,
                threshold=1.0,
            )
        ]
    )
    text = drift.dumps(document).decode("utf-8")
    assert json.loads(text) == {
        "violations": [
            {
                "feature_name": "_c1",
                "constraint_check_type": "completeness_check",
                "description": "Value: 0.5 does not meet",
                "value": 0.5,
                "threshold": 1.0,
            }
        ]
    }
    assert text.splitlines()[1] == '  "violations": ['
    assert drift.violations_document([]) == {"violations": []}


def test_a_single_row_window_is_compared_when_the_minimum_allows():
    result = drift.compare(
        window([1, 0, 0, 0, 0], rows=1), baseline(comparison_method="Simple"), min_records=1
    )
    assert result.distances == {"_c0": 0.75}


def test_buckets_start_at_the_first_edge_when_every_value_is_above_it():
    # GIVEN a window whose values all lie between the second and third edges
    window_stats = window([0, 0, 100, 0, 0])
    window_stats.features[0].min, window_stats.features[0].max = 2.5, 2.75
    buckets = drift.statistics_document(window_stats, baseline())["features"][0]["numerical_statistics"][
        "distribution"
    ]["kll"]["buckets"]
    # THEN the first bucket still closes at the first edge, the last at the last edge
    assert [(b["lower_bound"], b["upper_bound"]) for b in buckets] == [
        (1.0, 1.0),
        (1.0, 2.0),
        (2.0, 3.0),
        (3.0, 4.0),
        (4.0, 4.0),
    ]


def test_a_cutoff_at_a_minimum_many_training_scores_share_predicts_the_share_above_it():
    # GIVEN half the training scores are exactly the minimum, 0
    stats = {"count": 999, "min": 0.0, "max": 10.0, "quantiles": {"0.5": 0.0}}
    # THEN a cutoff at 0 predicts the half above it
    assert drift.predicted_rate(stats, 0.0) == pytest.approx(0.5)


def test_a_cutoff_at_a_repeated_quantile_predicts_the_share_above_its_last_repeat():
    # GIVEN the median and the 0.9 quantile are the same score, 1
    stats = {"count": 999, "min": 0.0, "max": 10.0, "quantiles": {"0.5": 1.0, "0.9": 1.0}}
    # THEN a cutoff at 1 predicts the 10% above it
    assert drift.predicted_rate(stats, 1.0) == pytest.approx(0.1)


def test_a_single_anomalous_row_where_almost_none_are_expected_is_score_drift():
    stats = {"count": 1_000_000, "min": 0.0, "max": 3.0, "quantiles": {"0.9999": 2.0}}
    assert drift.score_drift(scored((1, 1, 2.0, "threshold")), stats) is not None
