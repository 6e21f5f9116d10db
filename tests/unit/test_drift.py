"""anomaly_sentinel.drift: Model Monitor's data-quality formats and checks, on mergeable statistics."""

from __future__ import annotations

import dataclasses
import json
import random
import statistics as pystats

import pytest

from anomaly_sentinel import drift, monitoring
from anomaly_sentinel.capture import Reject
from anomaly_sentinel.contracts.messages import Violation
from anomaly_sentinel.exceptions import BaselineError
from pipeline.scripts import baseline as baseline_script
from tests.support import fixture_path
from tests.support.drift import file_stats, gaussian_rows, make_baseline, real_documents, window_of


@pytest.fixture(scope="module")
def gaussian_baseline() -> drift.Baseline:
    return make_baseline(gaussian_rows(10_000, 6, random.Random(11)))


# ---------------------------------------------------------------------------- real Model Monitor files


def real_rows() -> list[str]:
    """The real baseline's 100 rows: its KLL sketch holds every value (100 < k), in data order."""
    statistics, _ = real_documents()
    columns = [
        f["numerical_statistics"]["distribution"]["kll"]["sketch"]["data"][0] for f in statistics["features"]
    ]
    return [",".join(repr(v) for v in row) for row in zip(*columns, strict=True)]


def test_real_model_monitor_baseline_is_read_with_its_cdf_and_robust_method():
    # GIVEN the real data-quality baseline from the SageMaker SDK's tests
    baseline = drift.Baseline.from_documents(*real_documents())
    # THEN every feature is read, named _c0…, with the comparison settings of constraints.json
    assert [f.name for f in baseline.features] == [f"_c{i}" for i in range(6)]
    assert baseline.comparison_method == "Robust"
    assert baseline.comparison_threshold == 0.1
    # AND the CDF read from the KLL sketch agrees with the file's own display buckets (24 / 21 / 55)
    c0 = baseline.features[0]
    assert c0.cdf(1.0) == pytest.approx(0.24)
    assert c0.cdf(2.0) == pytest.approx(0.45)
    assert c0.cdf(3.0) == pytest.approx(1.0)
    assert c0.edges() == (1.0, 2.0, 3.0)  # a discrete feature's edges are its values


def test_real_baseline_data_compared_with_itself_has_no_violation_and_zero_distance():
    # GIVEN the real baseline and a window made of the very rows it was computed from
    baseline = drift.Baseline.from_documents(*real_documents())
    window = window_of(baseline, real_rows())
    # WHEN compared
    result = drift.compare(window, baseline, min_records=100)
    # THEN nothing is violated and every distance is 0
    assert result.violations == ()
    assert set(result.distances.values()) == {0.0}


def test_real_bad_case_constraints_raise_the_data_type_violation_on_c5_only():
    # GIVEN the real "bad case" constraints, which type _c5 as String, and the baseline's own rows
    baseline = drift.Baseline.from_documents(*real_documents("bad_cases"))
    window = window_of(baseline, real_rows())
    # WHEN compared
    result = drift.compare(window, baseline, min_records=100)
    # THEN exactly one violation: _c5's data type, with Model Monitor's description
    assert [v.to_json() for v in result.violations] == [
        {
            "feature_name": "_c5",
            "constraint_check_type": "data_type_check",
            "description": "Value: 0.0 does not meet the constraint requirement! ",
            "value": 0.0,
            "threshold": 1.0,
        }
    ]


def _key_tree(doc: object) -> object:
    """The keys of a JSON document at every level (lists: the union of their items' trees)."""
    if isinstance(doc, dict):
        return {key: _key_tree(value) for key, value in doc.items()}
    if isinstance(doc, list) and doc and isinstance(doc[0], dict):
        merged: dict = {}
        for item in doc:
            merged.update(_key_tree(item))  # type: ignore[arg-type]
        return [merged]
    return type(doc).__name__ if not isinstance(doc, int | float) or isinstance(doc, bool) else "number"


def test_baseline_script_writes_the_real_files_shape():
    # GIVEN the rows of the real baseline WHEN our baseline job summarises them
    statistics, constraints = baseline_script.baseline(real_rows())
    real_statistics, real_constraints = real_documents()
    # THEN statistics.json has the real file's keys at every level
    assert _key_tree(statistics) == _key_tree(real_statistics)
    # AND the figures agree with Model Monitor's (the sketch holds every value: n < k)
    for ours, theirs in zip(statistics["features"], real_statistics["features"], strict=True):
        mine, real = ours["numerical_statistics"], theirs["numerical_statistics"]
        assert mine["common"] == real["common"]
        for key in ("mean", "sum", "std_dev", "min", "max"):
            assert mine[key] == pytest.approx(real[key], rel=1e-12)
        assert [b["count"] for b in mine["distribution"]["kll"]["buckets"]] == [
            b["count"] for b in real["distribution"]["kll"]["buckets"]
        ]
        assert sorted(mine["distribution"]["kll"]["sketch"]["data"][0]) == sorted(
            real["distribution"]["kll"]["sketch"]["data"][0]
        )
        assert (
            mine["distribution"]["kll"]["sketch"]["parameters"]
            == real["distribution"]["kll"]["sketch"]["parameters"]
        )
    # AND constraints.json has the real keys (every feature numeric, comparison Robust at 0.1)
    assert _key_tree(constraints) == _key_tree(real_constraints)
    assert constraints["monitoring_config"] == real_constraints["monitoring_config"]


def test_window_statistics_have_the_real_files_shape_without_the_sketch():
    # GIVEN a window of the real rows WHEN written as statistics.json
    baseline = drift.Baseline.from_documents(*real_documents())
    document = drift.statistics_document(window_of(baseline, real_rows()), baseline)
    real_statistics, _ = real_documents()
    real_tree = _key_tree(real_statistics)
    del real_tree["features"][0]["numerical_statistics"]["distribution"]["kll"]["sketch"]  # type: ignore[index]
    # THEN its keys are Model Monitor's (buckets on the baseline's edges, no sketch)
    assert _key_tree(document) == real_tree
    # AND the window's mean / std / counts are those of the real rows
    real_c0 = real_statistics["features"][0]["numerical_statistics"]
    c0 = document["features"][0]["numerical_statistics"]
    assert c0["mean"] == pytest.approx(real_c0["mean"])
    assert c0["std_dev"] == pytest.approx(real_c0["std_dev"])
    assert [b["count"] for b in c0["distribution"]["kll"]["buckets"]] == [24.0, 21.0, 55.0, 0.0]


def test_violations_file_has_the_real_files_keys_and_the_alert_reads_its_typed_figures():
    # GIVEN a drift violation written as constraint_violations.json, its sentence saying no number
    written = Violation(
        feature_name="_c3",
        check_type=drift.BASELINE_DRIFT_CHECK,
        description="The distribution moved",
        distance=0.25,
        threshold=0.1,
    )
    document = drift.violations_document([written])
    real = json.loads(fixture_path("capture/constraint_violations.json").read_text())
    # THEN each entry has the real file's keys, and the figures beside them
    (entry,) = document["violations"]
    assert set(entry) == set(real["violations"][0]) | {"distance", "threshold"}
    # AND MonitoringAlertFunction reads the feature, check type, distance and threshold as written
    (parsed,) = monitoring.parse_violations(json.dumps(document), model_monitor=False)
    assert parsed == written


def test_constants_shared_with_the_baseline_script_agree():
    # GIVEN the stdlib-only baseline job script, which cannot import the runtime package
    # THEN its copies of the shared constants equal the runtime's
    for name in (
        "FEATURE_PREFIX",
        "STATISTICS_FILE",
        "CONSTRAINTS_FILE",
        "COMPARISON_THRESHOLD",
        "COMPARISON_METHOD",
        "DATATYPE_CHECK_THRESHOLD",
    ):
        assert getattr(baseline_script, name) == getattr(drift, name), name


# ---------------------------------------------------------------------------- baseline sketch


@pytest.mark.parametrize("n", [1, 2048, 2049, 10_000, 100_003])
def test_baseline_sketch_weights_sum_to_the_rows_and_cdf_is_within_its_bound(n):
    # GIVEN n values (below, at and above the sketch size k)
    rng = random.Random(n)
    values = sorted(rng.gauss(0, 1) for _ in range(n))
    # WHEN sketched like the baseline job does
    levels = baseline_script.kll_sketch(values)
    xs, cumulative = drift.sketch_cdf_points({"data": levels})
    # THEN the weights add up to n, the sketch is no larger than ~k items, and the CDF is within 2^h/n
    assert cumulative[-1] == n
    assert sum(len(level) for level in levels) <= 2 * baseline_script.KLL_K
    bound = 2 ** (len(levels) - 1) / n
    feature = drift.BaselineFeature("_c0", "Fractional", 1.0, n, tuple(xs), tuple(cumulative))
    for q in (0.01, 0.1, 0.5, 0.9, 0.99):
        x = values[int(q * (n - 1))]
        exact = (int(q * (n - 1)) + 1) / n
        assert abs(feature.cdf(x) - exact) <= bound + 1 / n


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "holds no rows"),
        (["1,2", "3"], "line 2: 1 values, expected 2"),
        (["1,2", "3,x"], "line 2 column 2 is not a number"),
        (["1,", "2,"], "column 2 (_c1) has no numeric value"),
    ],
)
def test_baseline_script_rejects_what_it_cannot_summarise_naming_the_line(lines, message):
    with pytest.raises(
        baseline_script.BaselineInputError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        baseline_script.baseline(lines)


def test_baseline_counts_missing_tokens_and_infers_integral_from_text():
    # GIVEN integers in _c0, an empty value in _c1
    statistics, constraints = baseline_script.baseline(["1,2.5", "2,", "3,4.5"])
    c0, c1 = statistics["features"]
    # THEN _c0 is Integral, _c1 Fractional with one missing value and completeness 2/3
    assert (c0["inferred_type"], c1["inferred_type"]) == ("Integral", "Fractional")
    assert c1["numerical_statistics"]["common"] == {"num_present": 2, "num_missing": 1}
    assert constraints["features"][1]["completeness"] == pytest.approx(2 / 3)
    assert statistics["dataset"]["item_count"] == 3


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda s, c: s["features"][0]["numerical_statistics"]["distribution"]["kll"].pop("sketch"),
            "no KLL sketch",
        ),
        (lambda s, c: s["features"][0].pop("numerical_statistics"), "no numerical_statistics"),
        (
            lambda s, c: c["monitoring_config"]["distribution_constraints"].update(
                comparison_method="Exotic"
            ),
            "Exotic",
        ),
        (lambda s, c: s.pop("features"), "malformed"),
    ],
)
def test_malformed_baseline_is_a_named_error(mutate, message):
    statistics, constraints = real_documents()
    mutate(statistics, constraints)
    with pytest.raises(BaselineError, match=message):
        drift.Baseline.from_documents(statistics, constraints)


def test_baseline_that_is_not_json_is_a_named_error():
    with pytest.raises(BaselineError, match="not JSON"):
        drift.Baseline.from_bytes(b"{", b"{}")


# ---------------------------------------------------------------------------- drift decisions


@pytest.mark.parametrize("method", ["Robust", "Simple"])
def test_a_shifted_feature_is_a_violation_on_that_feature_only(gaussian_baseline, method):
    # GIVEN a window of 5,000 rows whose _c2 moved by half a standard deviation
    baseline = dataclasses.replace(gaussian_baseline, comparison_method=method)
    rows = gaussian_rows(5_000, 6, random.Random(5), shift=(0, 0, 0.5))
    # WHEN compared
    result = drift.compare(window_of(baseline, rows[:2_500], rows[2_500:]), baseline, min_records=1_000)
    # THEN exactly one violation: baseline drift on _c2, described as Model Monitor does
    assert [(v.feature_name, v.check_type) for v in result.violations] == [("_c2", "baseline_drift_check")]
    assert result.violations[0].description.startswith("Numerical distance: ")
    assert result.distances["_c2"] > 0.1


def test_no_drift_raises_no_violation_over_100_random_windows(gaussian_baseline):
    # GIVEN 100 windows of 1,000 rows drawn from the baseline's own distribution
    rng = random.Random(2024)
    false_positives = 0
    for number in range(100):
        window = window_of(gaussian_baseline, gaussian_rows(1_000, 6, rng))
        result = drift.compare(window, gaussian_baseline, min_records=1_000)
        false_positives += bool(result.violations)
        assert window.rows == 1_000, number
    # THEN none raises a violation (the false-positive rate is reported by the benchmark)
    assert false_positives == 0


def test_a_window_below_the_minimum_never_fires_and_says_why(gaussian_baseline):
    # GIVEN a grossly shifted window of 999 rows (every feature moved by 3 sd)
    rows = gaussian_rows(999, 6, random.Random(8), shift=[3.0] * 6)
    window = window_of(gaussian_baseline, rows)
    # WHEN compared with a minimum of 1,000 rows
    small = drift.compare(window, gaussian_baseline, min_records=1_000)
    # THEN no violation, and the reason is given; one more row and it fires on every feature
    assert small.violations == ()
    assert small.skipped == "999 rows in the window, fewer than the minimum of 1000"
    window.add(file_stats(gaussian_baseline, gaussian_rows(1, 6, random.Random(9), shift=[3.0] * 6), seed=99))
    assert len(drift.compare(window, gaussian_baseline, min_records=1_000).violations) == 6


def test_missing_and_extra_columns_are_reported_per_column(gaussian_baseline):
    narrow = window_of(gaussian_baseline, gaussian_rows(1_000, 4, random.Random(1)))
    wide = window_of(gaussian_baseline, gaussian_rows(1_000, 8, random.Random(1)))
    missing = drift.compare(narrow, gaussian_baseline, min_records=100).violations
    extra = drift.compare(wide, gaussian_baseline, min_records=100).violations
    assert [(v.feature_name, v.check_type) for v in missing] == [
        ("_c4", "missing_column_check"),
        ("_c5", "missing_column_check"),
    ]
    assert [(v.feature_name, v.check_type) for v in extra] == [
        ("_c6", "extra_column_check"),
        ("_c7", "extra_column_check"),
    ]


def test_records_rejected_for_a_missing_value_lower_completeness_of_that_column(gaussian_baseline):
    # GIVEN 1,000 good rows and 10 records the decoder rejected for a non-numeric value in column 2
    builder = drift.FileStatisticsBuilder(gaussian_baseline, seed=1)
    for row in gaussian_rows(1_000, 6, random.Random(3)):
        builder.offer([row])
    for line in range(10):
        builder.observe(Reject(line, None, "non-numeric", "row 1 column 2 is not a number", column=2))
    builder.observe(Reject(11, None, "non-finite", "row 1 has a NaN or infinite value"))  # no column
    builder.observe(Reject(12, None, "not-json", ""))  # not a missing value: not counted
    stats = builder.finish()
    window = drift.merge_window([stats], gaussian_baseline.identity)
    # WHEN compared THEN completeness 1000/1010 of _c1 is below the baseline's 1.0; nothing else
    result = drift.compare(window, gaussian_baseline, min_records=100)
    assert [(v.feature_name, v.check_type) for v in result.violations] == [("_c1", "completeness_check")]
    assert (
        result.violations[0].description == f"Value: {1000 / 1010} does not meet the constraint requirement! "
    )
    assert stats.missing_rows == 11


def test_the_decoders_reject_detail_names_the_column_the_statistics_read():
    # GIVEN a CSV and a JSON record with a non-numeric value in column 3
    from anomaly_sentinel.capture import CaptureDecoder

    lines = [
        json.dumps({"captureData": {"endpointInput": {"data": "1,2,x", "encoding": "CSV"}}}).encode(),
        json.dumps(
            {"captureData": {"endpointInput": {"data": '{"features": [1, 2, "x"]}', "encoding": "JSON"}}}
        ).encode(),
    ]
    builder = drift.FileStatisticsBuilder(None)
    for item in CaptureDecoder().decode(lines):
        builder.observe(item)
    # THEN both count as missing in column 3 (_c2)
    assert builder.missing_by_column == {2: 2}


def test_fractional_values_violate_an_integral_baseline():
    baseline = make_baseline([f"{i % 7},{i % 5}" for i in range(2_000)])
    rows = [f"{i % 7},{i % 5}.5" for i in range(2_000)]
    result = drift.compare(window_of(baseline, rows), baseline, min_records=100)
    assert ("_c1", "data_type_check") in {(v.feature_name, v.check_type) for v in result.violations}
    assert ("_c0", "data_type_check") not in {(v.feature_name, v.check_type) for v in result.violations}


def test_robust_distance_subtracts_deequs_noise_term():
    assert drift.robust_distance(0.2, 1_000, 10_000) == pytest.approx(0.2 - 1.8 * ((11_000) / 1e7) ** 0.5)
    assert drift.robust_distance(0.01, 100, 100) == 0.0


# ---------------------------------------------------------------------------- merging


def test_merged_files_equal_the_statistics_of_all_their_rows(gaussian_baseline):
    # GIVEN rows split into three files, each smaller than the sample (summarised exactly)
    rows = gaussian_rows(3_000, 6, random.Random(4), shift=(5.0,))
    window = window_of(gaussian_baseline, rows[:500], rows[500:1_700], rows[1_700:])
    whole = window_of(gaussian_baseline, rows)
    # THEN moments, extremes and counts equal those of one file with every row
    values = [float(r.split(",")[0]) for r in rows]
    merged, single = window.features[0], whole.features[0]
    assert merged.moments.mean == pytest.approx(pystats.fmean(values), rel=1e-12)
    assert merged.moments.std == pytest.approx(pystats.pstdev(values), rel=1e-9)
    assert (merged.min, merged.max) == (min(values), max(values))
    assert merged.counts == single.counts
    assert window.effective_rows == pytest.approx(3_000)


def test_moment_merge_stays_accurate_far_from_zero():
    # GIVEN 200 files of values near 1e9 with a standard deviation of 1
    rng = random.Random(6)
    total = drift.Moments()
    everything: list[float] = []
    for _ in range(200):
        values = [1e9 + rng.gauss(0, 1) for _ in range(50)]
        everything += values
        total.merge(drift.Moments.of(values))
    # THEN the merged std is that of all values (a sum-of-squares merge would lose every digit)
    assert total.std == pytest.approx(pystats.pstdev(everything), rel=1e-6)


def test_large_files_are_sampled_but_row_counts_stay_exact(gaussian_baseline):
    # GIVEN a file of 20,000 rows (more than the 4,096-row sample)
    rows = gaussian_rows(20_000, 6, random.Random(10))
    stats = file_stats(gaussian_baseline, rows, seed="s3://bucket/capture/file.jsonl")
    window = drift.merge_window([stats], gaussian_baseline.identity)
    # THEN rows are exact, the sample is full, counts are scaled to the rows and the effective n is the sample
    assert (stats.rows, stats.sampled) == (20_000, drift.SAMPLE_ROWS)
    assert window.features[0].present == 20_000
    assert sum(window.features[0].counts or []) == pytest.approx(20_000)
    assert window.effective_rows == pytest.approx(drift.SAMPLE_ROWS)
    # AND the same object gives the same summary (a retried invocation writes the same file)
    assert file_stats(gaussian_baseline, rows, seed="s3://bucket/capture/file.jsonl") == stats


def test_row_sample_is_uniform_over_records_of_several_rows():
    # GIVEN 60 rows offered as records of 3 rows, sampled 6 at a time over 3,000 seeds
    hits = dict.fromkeys(range(60), 0)
    for seed in range(3_000):
        sample = drift.RowSample(6, seed)
        for start in range(0, 60, 3):
            sample.offer([str(start), str(start + 1), str(start + 2)])
        assert sample.rows == 60
        for row in sample.sample():
            hits[int(row)] += 1
    # THEN every row is kept about 3,000 * 6 / 60 = 300 times (binomial sd ~16.4: 5 sd bounds)
    assert min(hits.values()) > 300 - 5 * 16.4
    assert max(hits.values()) < 300 + 5 * 16.4


def test_file_statistics_round_trip_through_json(gaussian_baseline):
    stats = file_stats(gaussian_baseline, gaussian_rows(300, 6, random.Random(1)), seed=3)
    stats.scores = drift.ScoreSummary(scored=300, anomalies=2, cutoff=1.5, cutoff_source="model-stats")
    assert drift.FileStatistics.from_json(json.loads(stats.to_bytes())) == stats


def test_files_on_another_baseline_count_rows_but_not_distribution(gaussian_baseline):
    other = make_baseline(gaussian_rows(2_000, 6, random.Random(99), shift=[1.0] * 6))
    rows = gaussian_rows(1_500, 6, random.Random(12))
    window = drift.merge_window(
        [file_stats(gaussian_baseline, rows, seed=1), file_stats(other, rows, seed=2)],
        gaussian_baseline.identity,
    )
    assert window.rows == 3_000
    assert window.files_without_distribution == 1
    assert window.effective_rows == pytest.approx(1_500)


# ---------------------------------------------------------------------------- score drift


SCORE_STATS = {
    "count": 10_000,
    "mean": 1.0,
    "std": 0.2,
    "min": 0.5,
    "max": 2.5,
    "quantiles": {"0.5": 0.98, "0.9": 1.25, "0.95": 1.35, "0.99": 1.6, "0.999": 2.0},
}


def test_predicted_rate_interpolates_the_score_quantiles():
    assert drift.predicted_rate(SCORE_STATS, 1.6) == pytest.approx(0.01)
    assert drift.predicted_rate(SCORE_STATS, 1.8) == pytest.approx(0.0055)
    assert drift.predicted_rate(SCORE_STATS, 3.0) == pytest.approx(1 / 10_001)
    assert drift.predicted_rate(SCORE_STATS, 0.1) == 1.0


def test_binomial_tail_matches_a_direct_sum():
    from math import comb

    n, p = 40, 0.05
    for k in (0, 2, 5, 9, 40):
        exact = sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))
        assert drift.binomial_upper_tail(k, n, p) == pytest.approx(exact, rel=1e-9, abs=1e-15)


def _scored_window(scored: int, anomalies: int, source: str = "model-stats") -> drift.WindowStatistics:
    window = drift.WindowStatistics()
    stats = drift.FileStatistics(rows=scored, sampled=0, missing_rows=0, baseline_id=None, features=[])
    stats.scores = drift.ScoreSummary(scored=scored, anomalies=anomalies, cutoff=1.6, cutoff_source=source)
    window.add(stats)
    return window


def test_an_anomaly_rate_well_above_the_models_is_score_drift():
    # GIVEN the model predicts 1% above the cutoff; the window has 40 of 1,000
    found = drift.score_drift(_scored_window(1_000, 40), SCORE_STATS)
    # THEN a score-drift violation naming both rates
    assert found is not None
    assert (found.feature_name, found.check_type) == ("anomaly_rate", "score_drift_check")
    assert (
        "Anomaly rate: 0.04 exceeds the rate the model's score statistics predict: 0.01" in found.description
    )


def test_the_expected_anomaly_rate_or_a_files_own_cutoff_is_not_score_drift():
    assert drift.score_drift(_scored_window(1_000, 12), SCORE_STATS) is None
    assert drift.score_drift(_scored_window(1_000, 40, source="file-stats"), SCORE_STATS) is None


def test_the_record_preprocessor_names_features_as_the_baseline_does():
    from pipeline.scripts import record_preprocessor

    assert record_preprocessor.FEATURE_PREFIX == drift.FEATURE_PREFIX
