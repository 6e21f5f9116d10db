"""What one capture file's statistics hold, how they are stored, and how a window merges them."""

from __future__ import annotations

import io
import json
import math
import random
import statistics as pystats

import pytest

from anomaly_sentinel import drift
from anomaly_sentinel.capture import CaptureRecord, Reject
from anomaly_sentinel.exceptions import DriftReportError

#: A baseline feature with the values 1…8 once each (its edges are those values).
VALUES = tuple(float(v) for v in range(1, 9))


def one_feature_baseline() -> drift.Baseline:
    feature = drift.BaselineFeature("_c0", "Fractional", 1.0, 8, VALUES, VALUES)
    return drift.Baseline(features=(feature,), item_count=8, identity="b1")


def record(*rows: str, line: int = 1) -> CaptureRecord:
    return CaptureRecord(line, None, None, None, list(rows))


def summary(**kw) -> drift.FeatureSummary:
    fields = {"present": 10, "missing": 0, "mean": 1.0, "m2": 0.0, "min": 1.0, "max": 1.0, "integral": 10}
    return drift.FeatureSummary(**{**fields, "counts": None, **kw})


def stats(
    rows: int = 10, sampled: int | None = None, baseline_id: str | None = "b1", **kw
) -> drift.FileStatistics:
    features = kw.pop("features", [summary(present=rows, integral=rows, counts=[rows, 0])])
    return drift.FileStatistics(
        rows=rows,
        sampled=rows if sampled is None else sampled,
        missing_rows=kw.pop("missing_rows", 0),
        baseline_id=baseline_id,
        features=features,
        **kw,
    )


# ---------------------------------------------------------------------------- moments


def test_merging_moments_into_empty_ones_takes_them_and_merging_empty_ones_changes_nothing():
    # GIVEN the moments of 1, 2, 3
    some = drift.Moments.of([1.0, 2.0, 3.0])
    # WHEN merged into empty moments, and empty moments merged into them
    total = drift.Moments()
    total.merge(some)
    total.merge(drift.Moments())
    # THEN the result is theirs: 3 values, mean 2, population std sqrt(2/3)
    assert (total.weight, total.mean, total.m2) == (3.0, 2.0, 2.0)
    assert total.std == pytest.approx(math.sqrt(2 / 3))


@pytest.mark.parametrize(("left", "right"), [([1.0, 2.0], [6.0]), ([1.0], [2.0, 6.0])])
def test_a_single_value_merges_like_any_other(left, right):
    # GIVEN the moments of one value on either side WHEN merged THEN they are those of all three
    total = drift.Moments.of(left)
    total.merge(drift.Moments.of(right))
    assert total.weight == 3.0
    assert total.mean == pytest.approx(3.0)
    assert total.std == pytest.approx(pystats.pstdev([1.0, 2.0, 6.0]))


def test_merged_moments_equal_those_of_all_values():
    left, right = [1.0, 2.0, 6.0], [10.0, 11.0]
    total = drift.Moments.of(left)
    total.merge(drift.Moments.of(right))
    assert total.weight == 5.0
    assert total.mean == pytest.approx(pystats.fmean(left + right))
    assert total.std == pytest.approx(pystats.pstdev(left + right))


def test_empty_moments_have_no_spread():
    assert drift.Moments.of([]) == drift.Moments()
    assert drift.Moments().std == 0.0
    assert drift.Moments().scaled(100.0) == drift.Moments()


def test_a_sample_scaled_to_its_file_keeps_its_mean_and_spread():
    # GIVEN the moments of a 4-value sample standing for a file of 1,000 rows
    sample = drift.Moments.of([1.0, 2.0, 3.0, 6.0])
    scaled = sample.scaled(1_000.0)
    # THEN it weighs 1,000 with the sample's mean and standard deviation
    assert (scaled.weight, scaled.mean) == (1_000.0, 3.0)
    assert scaled.std == pytest.approx(sample.std)


# ---------------------------------------------------------------------------- row sample


def test_a_sample_needs_room_for_one_row():
    with pytest.raises(ValueError, match="at least 1"):
        drift.RowSample(0)
    one = drift.RowSample(1)
    one.offer(["a", "b", "c"])
    assert len(one.sample()) == 1


def test_the_row_after_a_full_sample_has_the_same_chance_as_the_others():
    # GIVEN a one-row sample offered two rows, under 400 seeds
    kept = []
    for seed in range(400):
        sample = drift.RowSample(1, seed=seed)
        sample.offer(["a", "b"])
        kept.append(sample.sample()[0])
    # THEN each row is kept about half the time (binomial sd 10): none is favoured
    assert 150 < kept.count("b") < 250


def test_a_draw_so_close_to_one_that_the_weight_rounds_to_one_takes_the_next_row():
    # GIVEN a two-row sampler whose random draws are the largest float below 1: its weight rounds
    # to 1, where the skip formula is undefined (log1p(-1))
    sample = drift.RowSample(2, seed=0)
    sample._random.random = lambda: 1.0 - 2.0**-53
    # WHEN three rows are offered THEN it keeps sampling and takes the next row, the third
    sample.offer(["a", "b", "c"])
    assert sample.rows == 3
    assert len(sample.sample()) == 2
    assert "c" in sample.sample()


def test_fewer_rows_than_the_sample_are_all_kept_in_order():
    sample = drift.RowSample(5, seed=3)
    sample.offer(["a", "b"])
    sample.offer(["c"])
    assert (sample.rows, sample.sample()) == (3, ["a", "b", "c"])


def test_more_rows_than_the_sample_keep_exactly_the_sample_size_of_distinct_offered_rows():
    sample = drift.RowSample(10, seed=3)
    for start in range(0, 1_000, 4):
        sample.offer([str(i) for i in range(start, start + 4)])
    kept = sample.sample()
    assert sample.rows == 1_000
    assert len(kept) == len(set(kept)) == 10
    assert set(kept) <= {str(i) for i in range(1_000)}


def test_the_same_seed_keeps_the_same_rows_and_another_seed_other_rows():
    def kept(seed: int | str) -> list[str]:
        sample = drift.RowSample(20, seed=seed)
        for i in range(2_000):
            sample.offer([str(i)])
        return sample.sample()

    assert kept("s3://b/capture/one.jsonl") == kept("s3://b/capture/one.jsonl")
    assert kept("s3://b/capture/one.jsonl") != kept("s3://b/capture/two.jsonl")
    assert kept(7) == kept(7) != kept(8)


def test_a_zero_draw_from_the_generator_still_gives_a_full_sample(monkeypatch):
    # GIVEN a generator whose next draws are 0.0 (random() may return it; its log is undefined)
    real, zeros = random.Random.random, iter([0.0, 0.0])
    monkeypatch.setattr(random.Random, "random", lambda self: next(zeros, real(self)))
    sample = drift.RowSample(4, seed=1)
    # WHEN more rows than the sample holds are offered
    sample.offer([str(i) for i in range(100)])
    # THEN the sample is full, of offered rows (the zero draws were drawn again, not a crash)
    kept = sample.sample()
    assert len(kept) == 4
    assert set(kept) <= {str(i) for i in range(100)}
    assert next(zeros, None) is None


# ---------------------------------------------------------------------------- one file


def test_a_files_statistics_summarise_every_column_of_its_rows():
    # GIVEN a baseline on _c0 only and a file of three rows of two columns, one record rejected in column 2
    builder = drift.FileStatisticsBuilder(one_feature_baseline(), seed="f")
    builder.observe(record("1,0.5", "3,2.5"))
    builder.observe(record("9,4", line=2))
    builder.observe(Reject(3, None, "non-finite", "row 1 column 2 is not finite", column=2))
    scores = drift.ScoreSummary(scored=3, anomalies=1, cutoff=2.0, cutoff_source="model-stats")
    # WHEN finished
    stats = builder.finish(scores, source="s3://b/capture/f.jsonl")
    c0, c1 = stats.features
    # THEN rows are counted, every row sampled, and the rejected record is missing in _c1 only
    assert (stats.rows, stats.sampled, stats.missing_rows) == (3, 3, 1)
    assert (c0.present, c0.missing, c1.present, c1.missing) == (3, 0, 3, 1)
    # AND each column has its mean, squared deviations, extremes and whole-number count
    assert (c0.mean, c0.m2, c0.min, c0.max, c0.integral) == (
        pytest.approx(13 / 3),
        pytest.approx(104 / 3),
        1.0,
        9.0,
        3,
    )
    assert (c1.min, c1.max, c1.integral) == (0.5, 4.0, 1)
    # AND _c0 (1, 3, 9) is counted on the baseline's edges 1…8 and above; _c1, beyond it, is not
    assert c0.counts == [1, 0, 1, 0, 0, 0, 0, 0, 1]
    assert c1.counts is None
    # AND the file carries the baseline's identity, its scores and its source
    assert (stats.baseline_id, stats.scores, stats.source) == ("b1", scores, "s3://b/capture/f.jsonl")


def test_without_a_baseline_a_file_has_no_distribution_and_no_baseline():
    builder = drift.FileStatisticsBuilder(None)
    builder.observe(record("1,2"))
    stats = builder.finish()
    assert stats.baseline_id is None
    assert [f.counts for f in stats.features] == [None, None]
    assert stats.scores == drift.ScoreSummary()


def test_a_large_file_counts_every_row_but_summarises_its_sample():
    # GIVEN 100 rows of one column with a sample of 10
    builder = drift.FileStatisticsBuilder(None, seed=1, sample_rows=10)
    for i in range(100):
        builder.observe(record(str(i)))
    stats = builder.finish()
    # THEN every row is present, 10 were sampled
    assert (stats.rows, stats.sampled, stats.features[0].present) == (100, 10, 100)


def test_observing_records_samples_as_offering_their_rows_does():
    # GIVEN the same 300 records of 3 rows given to a builder and to a plain sample with one seed
    builder = drift.FileStatisticsBuilder(None, seed="x", sample_rows=16)
    plain = drift.RowSample(16, seed="x")
    for i in range(300):
        rows = [f"{i}.{j}" for j in range(3)]
        builder.observe(record(*rows))
        plain.offer(rows)
    # THEN both keep the same rows
    assert (builder.rows, builder.sample()) == (plain.rows, plain.sample())


@pytest.mark.parametrize(
    ("reject", "by_column", "missing_rows"),
    [
        (Reject(1, None, "non-numeric", "row 2 column 12 is not a number", column=12), {11: 1}, 1),
        (Reject(1, None, "non-finite", "row 1 column 1 is infinite", column=1), {0: 1}, 1),
        (Reject(1, None, "non-finite", "row 1 has a NaN"), {}, 1),
        # the column is the reject's field, never read back from its words
        (Reject(1, None, "non-finite", "row 1 column 4 is NaN"), {}, 1),
        (Reject(1, None, "bad-width", "row 1 column 3 is extra", column=3), {}, 0),
        (Reject(1, None, "not-json", "column 3"), {}, 0),
    ],
)
def test_only_records_rejected_for_a_missing_value_count_as_missing(reject, by_column, missing_rows):
    builder = drift.FileStatisticsBuilder(None)
    builder.observe(reject)
    builder.observe(reject)
    assert builder.missing_by_column == {k: 2 * v for k, v in by_column.items()}
    assert builder.missing_rows == 2 * missing_rows
    assert builder.rows == 0


def test_summarise_capture_decodes_the_stream_and_names_the_source():
    # GIVEN a capture stream of two good records (3 rows) and one with a missing value in column 2
    lines = [
        {"captureData": {"endpointInput": {"data": "1,2\n3,4", "encoding": "CSV"}}},
        {"captureData": {"endpointInput": {"data": "5,6", "encoding": "CSV"}}},
        {"captureData": {"endpointInput": {"data": "7,x", "encoding": "CSV"}}},
    ]
    body = "\n".join(json.dumps(line) for line in lines).encode()
    stats, decoder = drift.summarise_capture(io.BytesIO(body), one_feature_baseline(), seed="s3://b/k")
    # THEN the statistics count its rows and the missing value, on the baseline, named by the seed
    assert (stats.rows, stats.missing_rows, stats.source, stats.baseline_id) == (3, 1, "s3://b/k", "b1")
    assert [f.missing for f in stats.features] == [0, 1]
    # AND the decoder is returned with its counts
    assert (decoder.records, decoder.decoded, decoder.rejected) == (3, 2, 1)


def test_summarise_capture_enforces_the_feature_dimension():
    body = json.dumps({"captureData": {"endpointInput": {"data": "1,2", "encoding": "CSV"}}}).encode()
    stats, _ = drift.summarise_capture(io.BytesIO(body), None, seed=1, feature_dim=3)
    assert stats.rows == 0


# ---------------------------------------------------------------------------- stored JSON


def test_file_statistics_are_stored_as_versioned_json_with_every_figure():
    # GIVEN file statistics with every field set away from its default
    original = stats(
        rows=40,
        sampled=20,
        missing_rows=3,
        features=[
            drift.FeatureSummary(
                present=40,
                missing=3,
                mean=1.5,
                m2=2.5,
                min=-1.0,
                max=4.0,
                integral=7,
                counts=[5, 15],
                off_domain=2,
            )
        ],
        scores=drift.ScoreSummary(scored=40, anomalies=2, cutoff=1.25, cutoff_source="threshold"),
        source="s3://b/capture/f.jsonl",
        other_widths={2: 4},
    )
    document = json.loads(original.to_bytes())
    # THEN the stored document names them
    assert document == {
        "version": 1,
        "source": "s3://b/capture/f.jsonl",
        "rows": 40,
        "sampled": 20,
        "missing_rows": 3,
        "other_widths": {"2": 4},
        "baseline_id": "b1",
        "scores": {"scored": 40, "anomalies": 2, "cutoff": 1.25, "cutoff_source": "threshold"},
        "features": [
            {
                "present": 40,
                "missing": 3,
                "mean": 1.5,
                "m2": 2.5,
                "min": -1.0,
                "max": 4.0,
                "integral": 7,
                "counts": [5, 15],
                "off_domain": 2,
            }
        ],
    }
    # AND reading it back gives the same statistics
    assert drift.FileStatistics.from_json(document) == original


def test_statistics_stored_before_the_domain_count_read_as_none_off_domain():
    document = json.loads(stats().to_bytes())
    for feature in document["features"]:
        del feature["off_domain"]
    assert all(f.off_domain == 0 for f in drift.FileStatistics.from_json(document).features)


def test_stored_statistics_of_another_version_are_refused():
    document = json.loads(stats().to_bytes())
    for version in (2, None, "1"):
        with pytest.raises(ValueError, match="version"):
            drift.FileStatistics.from_json({**document, "version": version})


def test_stored_statistics_without_optional_fields_read_as_empty():
    # GIVEN a minimal document: no missing rows, scores, source, extremes, integral or counts
    document = {
        "version": 1,
        "rows": 5,
        "sampled": 5,
        "baseline_id": None,
        "features": [{"present": 5, "missing": 0, "mean": 0.0, "m2": 0.0}],
    }
    stats_read = drift.FileStatistics.from_json(document)
    assert (stats_read.missing_rows, stats_read.source, stats_read.scores) == (0, "", drift.ScoreSummary())
    assert stats_read.features == [
        drift.FeatureSummary(
            present=5, missing=0, mean=0.0, m2=0.0, min=None, max=None, integral=0, counts=None
        )
    ]


def test_stored_scores_without_a_cutoff_read_as_none():
    document = json.loads(stats().to_bytes())
    document["scores"] = {"scored": 4, "anomalies": 1}
    assert drift.FileStatistics.from_json(document).scores == drift.ScoreSummary(4, 1, None, "")


# ---------------------------------------------------------------------------- window


def test_a_window_adds_files_rows_missing_values_and_extremes():
    # GIVEN two files of one column with different extremes and missing values, one without extremes
    first = stats(rows=10, missing_rows=1, features=[summary(present=10, missing=1, min=-2.0, max=3.0)])
    second = stats(rows=30, missing_rows=2, features=[summary(present=30, missing=2, min=0.0, max=9.0)])
    empty = stats(rows=0, features=[summary(present=0, min=None, max=None, integral=0)])
    # WHEN merged
    window = drift.merge_window([first, second, empty], "b1")
    feature = window.features[0]
    # THEN files, rows and missing values add up and the extremes are the window's
    assert (window.files, window.rows, window.missing_rows) == (3, 40, 3)
    assert (feature.present, feature.missing, feature.min, feature.max) == (40, 3, -2.0, 9.0)


def test_window_width_is_the_one_most_rows_had_the_wider_on_a_tie():
    one = [summary()]
    two = [summary(), summary()]
    assert drift.WindowStatistics().width == 0
    assert drift.merge_window([stats(30, features=one), stats(20, features=two)], None).width == 1
    assert drift.merge_window([stats(20, features=one), stats(20, features=two)], None).width == 2
    # AND a file without rows does not vote
    assert drift.merge_window([stats(5, features=one), stats(0, features=two)], None).width == 1


def test_sampled_files_weigh_by_rows_and_shrink_the_effective_sample():
    # GIVEN a file of 100 rows summarised whole and one of 1,000 rows summarised from 100
    whole = stats(rows=100, features=[summary(present=100, integral=100, counts=[60, 40])])
    sampled = stats(rows=1_000, sampled=100, features=[summary(present=1_000, integral=50, counts=[30, 70])])
    # WHEN merged
    window = drift.merge_window([whole, sampled], "b1")
    feature = window.features[0]
    # THEN the sampled file's counts and whole numbers are scaled by 10
    assert feature.counts == [360.0, 740.0]
    assert feature.integral == 600.0
    # AND the effective sample size is Kish's (1100^2 / (100 + 1000 * 10))
    assert window.effective_rows == pytest.approx(1_100**2 / 10_100)
    assert window.distribution_rows == 1_100


def test_a_sampled_files_spread_is_its_samples():
    # GIVEN a 1,000-row file whose 4-row sample has mean 3 and m2 14
    file = stats(rows=1_000, sampled=4, features=[summary(present=1_000, mean=3.0, m2=14.0, counts=[1, 3])])
    moments = drift.merge_window([file], "b1").features[0].moments
    # THEN the window has 1,000 rows with the sample's mean and standard deviation
    assert (moments.weight, moments.mean) == (1_000.0, 3.0)
    assert moments.std == pytest.approx(math.sqrt(14.0 / 4))


@pytest.mark.parametrize(
    ("window_baseline", "file"),
    [
        (None, stats()),
        ("b1", stats(baseline_id="b2")),
        ("b1", stats(baseline_id=None)),
        ("b1", stats(features=[summary(counts=[10, 0]), summary(counts=None)])),
    ],
)
def test_a_file_not_on_the_windows_baseline_counts_rows_but_no_distribution(window_baseline, file):
    # GIVEN two such files WHEN merged THEN their rows count, each is counted without distribution
    window = drift.merge_window([file, file], window_baseline)
    assert window.rows == 20
    assert window.files_without_distribution == 2
    assert (window.distribution_rows, window.effective_rows) == (0.0, 0.0)
    assert window.features[0].counts is None


def test_a_file_with_rows_but_no_sample_adds_no_distribution():
    window = drift.merge_window([stats(rows=10, sampled=0)], "b1")
    assert (window.rows, window.distribution_rows, window.files_without_distribution) == (10, 0.0, 1)
    assert window.features[0].counts is None


def test_an_empty_file_is_not_counted_as_missing_its_distribution():
    window = drift.merge_window([stats(rows=0, baseline_id="b2")], "b1")
    assert (window.files, window.files_without_distribution) == (1, 0)


def test_a_narrower_file_after_a_wider_one_adds_to_the_columns_it_has():
    # GIVEN a file of 2 columns then a file of 1 column, on one baseline
    wide = stats(features=[summary(counts=[10, 0]), summary(counts=[0, 10])])
    narrow = stats(rows=5, features=[summary(present=5, integral=5, counts=[5, 0])])
    # WHEN merged THEN the first column holds both files' values, the second only the first file's
    window = drift.merge_window([wide, narrow], "b1")
    assert (window.rows, window.width) == (15, 2)
    assert [(f.present, f.counts) for f in window.features] == [(15, [15.0, 0.0]), (10, [0.0, 10.0])]


def test_files_on_one_baseline_with_different_edges_are_an_error():
    with pytest.raises(DriftReportError, match="counts on the baseline's edges"):
        drift.merge_window(
            [stats(features=[summary(counts=[10, 0])]), stats(features=[summary(counts=[5, 5, 0])])], "b1"
        )


def test_only_rows_classified_on_the_models_cutoff_count_for_score_drift():
    # GIVEN files classified on the model's statistics, a threshold, and a file's own statistics
    sources = [("model-stats", 1.5, 100, 3), ("threshold", 2.0, 50, 4), ("file-stats", 9.0, 1_000, 500)]
    files = [
        stats(rows=n, scores=drift.ScoreSummary(scored=n, anomalies=a, cutoff=c, cutoff_source=s))
        for s, c, n, a in sources
    ]
    files.append(
        stats(scores=drift.ScoreSummary(scored=10, anomalies=1, cutoff=None, cutoff_source="threshold"))
    )
    window = drift.merge_window(files, "b1")
    # THEN the model's and the threshold's rows and anomalies count, with their cutoffs
    assert (window.scored, window.anomalies, window.cutoffs) == (160, 8, {1.5, 2.0})


def test_file_statistics_are_stored_compactly():
    data = stats(features=[summary(counts=[10, 0]), summary(counts=[4, 6])]).to_bytes()
    assert b": " not in data
    assert b", " not in data


def test_stored_statistics_of_another_version_name_it():
    document = json.loads(stats().to_bytes())
    with pytest.raises(ValueError, match="version 7 "):
        drift.FileStatistics.from_json({**document, "version": 7})


def test_summarise_capture_samples_a_large_file_by_its_seed():
    # GIVEN a capture file of 5,000 rows, more than the sample
    lines = [
        json.dumps({"captureData": {"endpointInput": {"data": f"{i},{i % 7}", "encoding": "CSV"}}})
        for i in range(5_000)
    ]
    body = "\n".join(lines).encode()

    def summarised(seed: str) -> drift.FileStatistics:
        return drift.summarise_capture(io.BytesIO(body), None, seed=seed)[0]

    # THEN its summary depends on the seed (the object's identity), and repeats with it
    first = summarised("s3://b/capture/a.jsonl")
    assert first.sampled == drift.SAMPLE_ROWS
    assert summarised("s3://b/capture/a.jsonl") == first
    assert summarised("s3://b/capture/b.jsonl").features != first.features
