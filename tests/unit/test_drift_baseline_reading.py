"""How the monitor reads a Model Monitor baseline: counts, completeness, types, settings, sketch, edges."""

from __future__ import annotations

import copy
import json

import pytest

from anomaly_sentinel import drift
from anomaly_sentinel.exceptions import BaselineError
from tests.support import fixture_path

REAL = "capture/data-quality"


def real_documents(case: str = "good_cases") -> tuple[dict, dict]:
    statistics = json.loads(fixture_path(f"{REAL}/statistics.json").read_text())
    constraints = json.loads(fixture_path(f"{REAL}/{case}/constraints.json").read_text())
    return statistics, constraints


def sketch_of(statistics: dict, index: int = 0) -> dict:
    return statistics["features"][index]["numerical_statistics"]["distribution"]["kll"]["sketch"]


# ---------------------------------------------------------------------------- features


def _settings_of(baseline: drift.Baseline) -> tuple[object, ...]:
    """What the constraints' monitoring_config and the statistics' dataset set on a baseline."""
    return (
        baseline.comparison_method,
        baseline.comparison_threshold,
        baseline.perform_comparison,
        baseline.datatype_check_threshold,
        baseline.item_count,
    )


def test_feature_count_and_completeness_come_from_the_statistics_counts():
    # GIVEN _c0 of the real baseline reports 80 present and 20 missing values, with no completeness
    # constraint of its own
    statistics, constraints = real_documents()
    statistics["features"][0]["numerical_statistics"]["common"] = {"num_present": 80, "num_missing": 20}
    del constraints["features"][0]["completeness"]
    # WHEN read
    c0, c1 = drift.Baseline.from_documents(statistics, constraints).features[:2]
    # THEN its count is the present values and its completeness present / (present + missing)
    assert (c0.count, c0.completeness) == (80.0, 0.8)
    # AND a feature with its constraint keeps the constraint's completeness and its own count
    assert (c1.count, c1.completeness) == (100.0, 1.0)


def test_feature_without_counts_counts_its_sketch_and_is_complete():
    # GIVEN _c0 has no "common" counts and no completeness constraint
    statistics, constraints = real_documents()
    del statistics["features"][0]["numerical_statistics"]["common"]
    del constraints["features"][0]["completeness"]
    # WHEN read THEN its count is the sketch's weight (100 values) and it is complete
    c0 = drift.Baseline.from_documents(statistics, constraints).features[0]
    assert (c0.count, c0.completeness) == (100.0, 1.0)


def test_feature_with_no_values_at_all_is_complete():
    # GIVEN _c0's counts say 0 present and 0 missing, and no completeness constraint
    statistics, constraints = real_documents()
    statistics["features"][0]["numerical_statistics"]["common"] = {"num_present": 0, "num_missing": 0}
    del constraints["features"][0]["completeness"]
    # WHEN read THEN completeness is 1 (nothing was missing), not a division by zero
    assert drift.Baseline.from_documents(statistics, constraints).features[0].completeness == 1.0


def test_inferred_type_is_the_constraints_then_the_statistics_then_fractional():
    # GIVEN _c0 typed Integral by its constraint, _c1 only by its statistics, _c2 by neither
    statistics, constraints = real_documents()
    constraints["features"][0]["inferred_type"] = "Integral"
    statistics["features"][1]["inferred_type"] = "Integral"
    del constraints["features"][1]["inferred_type"]
    del statistics["features"][2]["inferred_type"]
    del constraints["features"][2]["inferred_type"]
    # WHEN read
    types = [f.inferred_type for f in drift.Baseline.from_documents(statistics, constraints).features[:3]]
    # THEN each takes the first type found, Fractional when none is
    assert types == ["Integral", "Integral", "Fractional"]


def test_constraints_without_features_leave_every_feature_to_its_statistics():
    # GIVEN constraints.json without a "features" list
    statistics, constraints = real_documents()
    del constraints["features"]
    # WHEN read THEN every feature is read from the statistics, complete and Fractional
    features = drift.Baseline.from_documents(statistics, constraints).features
    assert [(f.name, f.inferred_type, f.completeness) for f in features] == [
        (f"_c{i}", "Fractional", 1.0) for i in range(6)
    ]


# ---------------------------------------------------------------------------- monitoring config


def test_monitoring_config_settings_are_read():
    # GIVEN constraints that set every comparison setting away from its default
    statistics, constraints = real_documents()
    config = constraints["monitoring_config"]
    config["datatype_check_threshold"] = 0.5
    config["distribution_constraints"].update(
        comparison_method="Simple", comparison_threshold=0.3, perform_comparison="Disabled"
    )
    # WHEN read THEN the baseline carries them, and the dataset's item count
    baseline = drift.Baseline.from_documents(statistics, constraints)
    assert _settings_of(baseline) == ("Simple", 0.3, False, 0.5, 100)


def test_constraints_without_monitoring_config_use_model_monitors_defaults():
    # GIVEN constraints with no monitoring_config, statistics with no dataset
    statistics, constraints = real_documents()
    del constraints["monitoring_config"]
    del statistics["dataset"]
    # WHEN read THEN Robust at 0.1, comparison on, every value must have the type, no item count
    baseline = drift.Baseline.from_documents(statistics, constraints)
    assert _settings_of(baseline) == ("Robust", 0.1, True, 1.0, 0)


def test_distribution_constraints_without_settings_use_the_defaults():
    # GIVEN a monitoring_config whose distribution_constraints name nothing
    statistics, constraints = real_documents()
    constraints["monitoring_config"] = {"distribution_constraints": {}}
    baseline = drift.Baseline.from_documents(statistics, constraints)
    # THEN the comparison is on, Robust at 0.1
    assert (baseline.comparison_method, baseline.comparison_threshold, baseline.perform_comparison) == (
        "Robust",
        0.1,
        True,
    )


# ---------------------------------------------------------------------------- identity


def test_baseline_identity_follows_the_statistics_not_their_key_order():
    # GIVEN the real statistics, the same with keys in another order, and one with a changed value
    statistics, constraints = real_documents()
    reordered = json.loads(json.dumps(dict(reversed(list(statistics.items())))))
    changed = copy.deepcopy(statistics)
    changed["dataset"]["item_count"] = 101
    # THEN the identity is stable across key order and changes with content
    assert drift.baseline_identity(reordered) == drift.baseline_identity(statistics)
    assert drift.baseline_identity(changed) != drift.baseline_identity(statistics)
    # AND a baseline read from the documents carries it (files summarised on it carry it too)
    baseline = drift.Baseline.from_documents(statistics, constraints)
    assert baseline.identity == drift.baseline_identity(statistics)
    assert drift.FileStatisticsBuilder(baseline).finish().baseline_id == baseline.identity


def test_baseline_read_from_bytes_equals_the_one_read_from_documents():
    statistics, constraints = real_documents()
    from_bytes = drift.Baseline.from_bytes(json.dumps(statistics).encode(), json.dumps(constraints))
    assert from_bytes == drift.Baseline.from_documents(statistics, constraints)


# ---------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    "sketch",
    [
        {},
        {"data": []},
        {"data": "1,2"},
        {"data": [[], []]},
        {"data": [[1.0], "2"]},
        {"data": [[1.0, "2"]]},
        {"data": [[1.0, True]]},
        {"data": [[1.0, float("nan")]]},
        {"data": [[1.0, float("inf")]]},
    ],
)
def test_a_sketch_without_usable_numbers_is_a_baseline_error_naming_the_feature(sketch):
    # GIVEN _c3's KLL sketch has no data, or a level or item that is not a finite number
    statistics, constraints = real_documents()
    statistics["features"][3]["numerical_statistics"]["distribution"]["kll"]["sketch"] = sketch
    # WHEN read THEN a BaselineError (never a wrong CDF)
    with pytest.raises(BaselineError):
        drift.Baseline.from_documents(statistics, constraints)


@pytest.mark.parametrize(
    "remove",
    [
        lambda numeric: numeric.pop("distribution"),
        lambda numeric: numeric["distribution"].pop("kll"),
        lambda numeric: numeric["distribution"]["kll"].pop("sketch"),
    ],
)
def test_a_numeric_feature_without_a_sketch_is_a_baseline_error_naming_it(remove):
    # GIVEN _c4 lacks its distribution, its kll or its sketch
    statistics, constraints = real_documents()
    remove(statistics["features"][4]["numerical_statistics"])
    # WHEN read THEN the error names the feature
    with pytest.raises(BaselineError, match="_c4"):
        drift.Baseline.from_documents(statistics, constraints)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s, c: c["features"][0].pop("name"),
        lambda s, c: s["features"][0].pop("name"),
        lambda s, c: c["monitoring_config"].update(datatype_check_threshold="high"),
        lambda s, c: s["dataset"].update(item_count=None),
        lambda s, c: c.update(monitoring_config=[]),
    ],
)
def test_malformed_fields_are_a_baseline_error(mutate):
    statistics, constraints = real_documents()
    mutate(statistics, constraints)
    with pytest.raises(BaselineError, match="malformed"):
        drift.Baseline.from_documents(statistics, constraints)


# ---------------------------------------------------------------------------- sketch and CDF


def test_sketch_items_weigh_two_to_the_power_of_their_level_and_equal_values_merge():
    # GIVEN a sketch with 2.0 at level 0 and at level 1, and 5.0 at level 2
    values, cumulative = drift.sketch_cdf_points({"data": [[2.0, 1.0], [2.0], [5.0]]})
    # THEN values are distinct and sorted, with the cumulative weight 1, 1+1+2, 4+4
    assert values == [1.0, 2.0, 5.0]
    assert cumulative == [1.0, 4.0, 8.0]


def test_baseline_cdf_is_zero_below_the_smallest_value_and_one_at_the_largest():
    feature = drift.BaselineFeature("_c0", "Fractional", 1.0, 8, (1.0, 2.0, 5.0), (1.0, 4.0, 8.0))
    assert feature.cdf(0.5) == 0.0
    assert feature.cdf(1.0) == 0.125
    assert feature.cdf(4.9) == 0.5
    assert feature.cdf(5.0) == 1.0
    assert feature.cdf(99.0) == 1.0


def test_edges_are_the_baselines_quantiles_and_its_largest_value():
    # GIVEN 8 equally weighted values 1…8
    values = tuple(float(v) for v in range(1, 9))
    feature = drift.BaselineFeature("_c0", "Fractional", 1.0, 8, values, tuple(values))
    # THEN quartile edges are 2, 4, 6 and the largest value 8
    assert feature.edges(4) == (2.0, 4.0, 6.0, 8.0)
    # AND with more quantiles than values every value is an edge, each once
    assert feature.edges(100) == values


def test_edges_of_a_heavy_value_repeat_it_once():
    # GIVEN one value holding 90% of the weight
    feature = drift.BaselineFeature("_c0", "Fractional", 1.0, 10, (0.0, 1.0, 2.0), (1.0, 9.0, 10.0))
    # THEN it is one edge, and the largest value closes the edges
    assert feature.edges(10) == (0.0, 1.0, 2.0)
    assert feature.edges(2) == (1.0, 2.0)


def test_a_largest_value_holding_most_of_the_weight_is_every_quantile_so_the_only_edge():
    # GIVEN values 1, 2, 3 where 3 holds 98 of 100 weights
    feature = drift.BaselineFeature("_c0", "Fractional", 1.0, 100, (1.0, 2.0, 3.0), (1.0, 2.0, 100.0))
    # THEN every decile is 3, so 3 is the one edge: the small values do not get edges of their own
    assert feature.edges(10) == (3.0,)


def test_baseline_edges_are_computed_per_feature_in_column_order():
    baseline = drift.Baseline.from_documents(*real_documents())
    assert baseline.edges == [feature.edges() for feature in baseline.features]
    assert baseline.edges[0] == (1.0, 2.0, 3.0)


def test_completeness_is_the_constraints_when_it_has_one():
    # GIVEN _c0 fully present in the statistics but constrained to 0.9 completeness
    statistics, constraints = real_documents()
    constraints["features"][0]["completeness"] = 0.9
    assert drift.Baseline.from_documents(statistics, constraints).features[0].completeness == 0.9


def test_completeness_of_as_many_missing_as_present_values_is_one_half():
    statistics, constraints = real_documents()
    statistics["features"][0]["numerical_statistics"]["common"] = {"num_present": 50, "num_missing": 50}
    del constraints["features"][0]["completeness"]
    assert drift.Baseline.from_documents(statistics, constraints).features[0].completeness == 0.5


@pytest.mark.parametrize("data", [5, None, "", {}])
def test_sketch_data_that_is_not_a_list_of_levels_is_a_baseline_error(data):
    with pytest.raises(BaselineError, match="KLL sketch"):
        drift.sketch_cdf_points({"data": data})


@pytest.mark.parametrize(
    ("sketch", "names"),
    [
        ({"data": [[1.0], "2"]}, "level 1"),
        ({"data": [[1.0], [2.0, "x"]]}, "level 1"),
        ({"data": [[]]}, "empty"),
    ],
)
def test_sketch_errors_say_where_the_sketch_is_wrong(sketch, names):
    with pytest.raises(BaselineError, match=names):
        drift.sketch_cdf_points(sketch)


def test_a_malformed_baseline_error_names_the_kind_of_fault():
    statistics, constraints = real_documents()
    del statistics["features"][0]["name"]
    with pytest.raises(BaselineError, match="KeyError"):
        drift.Baseline.from_documents(statistics, constraints)
