"""The local Random Cut Forest: tree construction, the AWS score, persistence, and quality on NAB taxi."""

from __future__ import annotations

import io
import json
import math
import tarfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.rcf import ModelArtifactError, RandomCutForest, RcfError, shingle
from sentinel.series import (
    NYC_TAXI,
    cutoff,
    load_series,
    load_windows,
    point_scores,
    shingle_timestamps,
    window_quality,
)


def blob(count: int = 400, dims: int = 3, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(count, dims))


def reference_score(forest: RandomCutForest, point: np.ndarray) -> float:
    """The AWS RCF visitor written plainly, one point and one node at a time (no vectorisation).

    It walks the forest's nodes because the AWS score is defined over each tree's path and boxes."""
    nodes = forest._nodes
    assert nodes is not None
    total = 0.0
    for tree, root in enumerate(nodes.roots):
        path = [int(root)]
        while nodes.cut_dim[path[-1]] >= 0:
            node = path[-1]
            side = nodes.right if point[nodes.cut_dim[node]] > nodes.cut_val[node] else nodes.left
            path.append(int(side[node]))
        leaf = path[-1]
        tree_mass = float(nodes.tree_mass[tree])
        if np.array_equal(point, nodes.box_min[leaf]):
            mass = float(nodes.mass[leaf])
            score = (1 - mass / (2 * tree_mass)) / (nodes.depth[leaf] + math.log2(mass + 1))
            inside = True
        else:
            score = 1.0 / (nodes.depth[leaf] + 1)
            inside = False
        for node in reversed(path[:-1]):
            if inside:
                break
            low, high = nodes.box_min[node], nodes.box_max[node]
            new_span = sum(max(h, x) - min(lo, x) for lo, h, x in zip(low, high, point, strict=True))
            grown = new_span - float((high - low).sum())
            probability = grown / new_span
            if probability <= 0:
                inside = True
                continue
            score = probability / (nodes.depth[node] + 1) + (1 - probability) * score
        total += score * math.log2(tree_mass + 1)
    return total / nodes.roots.size


# ---------------------------------------------------------------------------- shingling


def test_shingle_rows_are_consecutive_values_in_order():
    # GIVEN a series 0..5
    # WHEN it is shingled by 3
    rows = shingle(np.arange(6.0), 3)
    # THEN row i holds values i..i+2
    assert rows.tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]]


@pytest.mark.parametrize(("size", "message"), [(0, "at least 1"), (7, "shorter than the shingle size 7")])
def test_shingle_rejects_impossible_sizes(size, message):
    # GIVEN a 6-value series and a shingle size that cannot work
    # WHEN / THEN the error says why
    with pytest.raises(RcfError, match=message):
        shingle(np.arange(6.0), size)


# ---------------------------------------------------------------------------- trees
# The next three read the forest's nodes on purpose: the construction of the RCF paper (Alg. 1: cut
# dimension in proportion to range, cut value uniform, every cut splitting its box) is the documented
# property, and no score separates it from another cut distribution. What a caller sees is below.


def test_rcf_trees_are_well_formed_random_cut_trees():
    # GIVEN a forest fitted on a 3-D blob
    forest = RandomCutForest(3, num_trees=8, num_samples_per_tree=64, seed=1).fit(blob())
    nodes = forest._nodes
    inner = np.flatnonzero(nodes.cut_dim >= 0)
    leaves = np.flatnonzero(nodes.cut_dim < 0)
    # THEN every cut lies inside its node's range on the cut dimension, leaving both sides non-empty
    dim = nodes.cut_dim[inner]
    assert (nodes.box_min[inner, dim] <= nodes.cut_val[inner]).all()
    assert (nodes.cut_val[inner] < nodes.box_max[inner, dim]).all()
    # AND children sit on their side of the cut, inside the parent's box, one level deeper
    for side, below in ((nodes.left, True), (nodes.right, False)):
        child = side[inner]
        assert (nodes.parent[child] == inner).all()
        assert (nodes.depth[child] == nodes.depth[inner] + 1).all()
        assert (nodes.box_min[child] >= nodes.box_min[inner]).all()
        assert (nodes.box_max[child] <= nodes.box_max[inner]).all()
        if below:
            assert (nodes.box_max[child, dim] <= nodes.cut_val[inner]).all()
        else:
            assert (nodes.box_min[child, dim] > nodes.cut_val[inner]).all()
    # AND leaves are single points whose masses add up to each tree's sample
    assert (nodes.box_min[leaves] == nodes.box_max[leaves]).all()
    assert nodes.mass[leaves].sum() == 8 * 64
    assert (nodes.mass[inner] == nodes.mass[nodes.left[inner]] + nodes.mass[nodes.right[inner]]).all()


def test_rcf_cuts_choose_dimensions_in_proportion_to_their_range():
    # GIVEN data whose first dimension spans 9x the range of the second
    rng = np.random.default_rng(3)
    data = np.column_stack([rng.uniform(0, 9, 2000), rng.uniform(0, 1, 2000)])
    forest = RandomCutForest(2, num_trees=50, num_samples_per_tree=256, seed=3).fit(data)
    # WHEN we look at the root cuts (the whole sample's box)
    root_dims = forest._nodes.cut_dim[forest._nodes.roots]
    # THEN about 90% of them cut the first dimension (binomial(50, 0.9): 38..50 is > 99.9% likely)
    assert 38 <= int((root_dims == 0).sum()) <= 50


def test_rcf_cut_values_are_uniform_within_the_range():
    # GIVEN 1-D data spanning exactly [0, 1] and 400 trees
    data = np.concatenate([[0.0, 1.0], np.random.default_rng(8).uniform(0, 1, 998)])[:, None]
    forest = RandomCutForest(1, num_trees=400, num_samples_per_tree=1000, seed=8).fit(data)
    # WHEN we look at the root cuts (each tree's sample is the whole [0, 1] range)
    cuts = forest._nodes.cut_val[forest._nodes.roots]
    # THEN every quarter of the range receives about a quarter of them (sd 2.2%: 15..35% is > 4 sd)
    quarters = np.histogram(cuts, bins=[0, 0.25, 0.5, 0.75, 1.0])[0] / cuts.size
    assert ((quarters > 0.15) & (quarters < 0.35)).all(), quarters


def test_rcf_a_point_seen_many_times_is_more_normal_than_one_seen_once():
    # GIVEN three distinct points, with (1, 1) once or 100 times, each tree sampling every row
    def fitted(copies: int) -> RandomCutForest:
        data = np.vstack([np.ones((copies, 2)), [[5.0, 5.0], [9.0, 0.0], [0.0, 9.0]]])
        return RandomCutForest(2, num_trees=20, num_samples_per_tree=len(data), seed=0).fit(data)

    # WHEN (1, 1) is scored by each forest
    once, many = (fitted(copies).score([[1.0, 1.0]])[0] for copies in (1, 100))
    # THEN its copies count as its mass: seen 100 times it scores well below once, under the normal
    # scale of 1; and it scores below a fresh point far away
    assert many < 0.8 * once
    assert many < 1.0
    assert many < fitted(100).score([[20.0, 20.0]])[0]


# ---------------------------------------------------------------------------- scores


def test_rcf_vectorised_scores_equal_the_plain_aws_visitor():
    # GIVEN a forest and points of every kind: training points (seen), new inliers, far outliers
    data = blob()
    forest = RandomCutForest(3, num_trees=10, num_samples_per_tree=128, seed=5).fit(data)
    points = np.vstack([data[:20], blob(20, seed=99), [[8.0, 8.0, 8.0], [-6.0, 0.0, 6.0]]])
    # WHEN scored in one vectorised batch
    fast = forest.score_array(points)
    # THEN each score equals the point-by-point reference
    slow = [reference_score(forest, p) for p in points]
    np.testing.assert_allclose(fast, slow, rtol=1e-12)


def test_rcf_scores_outliers_higher_and_inliers_near_one():
    # GIVEN a forest on a Gaussian blob
    forest = RandomCutForest(3, num_trees=50, num_samples_per_tree=256, seed=2).fit(blob(2000))
    # WHEN inliers and outliers are scored
    inliers = forest.score_array(blob(500, seed=11) * 0.5)
    outliers = forest.score_array(np.array([[6.0, 0, 0], [0, -7.0, 0], [5.0, 5.0, 5.0]]))
    # THEN inliers sit on the built-in's scale (around 1) and every outlier is far above them
    assert 0.5 < float(np.median(inliers)) < 1.2
    assert outliers.min() > inliers.max()
    assert outliers.min() > 2 * float(np.median(inliers))


def test_rcf_same_seed_same_scores_other_seed_other_scores():
    # GIVEN the same data
    data = blob()
    # WHEN forests are fitted with seeds 1, 1 and 2
    a, b, c = (RandomCutForest(3, 10, 64, seed=s).fit(data).score_array(data[:50]) for s in (1, 1, 2))
    # THEN equal seeds agree exactly and a different seed does not
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_rcf_attribution_splits_each_score_over_its_dimensions():
    # GIVEN a forest on 8-dimensional points, and a point far off in dimension 5 only
    rng = np.random.default_rng(3)
    data = rng.normal(size=(400, 8))
    forest = RandomCutForest(8, 40, 128, seed=1).fit(data)
    odd = data[:20].copy()
    odd[0, 5] += 25.0
    # WHEN attributed
    shares = forest.attribution_array(odd)
    # THEN each row's shares add up to its score, and the odd point's score sits in dimension 5
    assert np.allclose(shares.sum(axis=1), forest.score_array(odd), rtol=1e-12, atol=1e-12)
    assert (shares >= 0).all()
    assert shares[0].argmax() == 5
    assert shares[0, 5] > 0.5 * shares[0].sum()


def test_rcf_score_returns_plain_floats_one_per_row():
    # GIVEN a fitted forest (the local endpoint's Scorer protocol takes lists of rows)
    forest = RandomCutForest(3, 5, 32, seed=0).fit(blob())
    # WHEN scoring two rows given as lists
    scores = forest.score([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    # THEN two Python floats come back, and an empty request gives an empty answer
    assert [type(s) for s in scores] == [float, float]
    assert forest.score([]) == []
    assert forest.feature_dim == 3


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([[1.0, 2.0]], "must have 3 features per row; got shape 1x2"),
        ([[1.0, float("nan"), 2.0]], "NaN or infinite"),
        ([["a", "b", "c"]], "not numeric rows"),
    ],
)
def test_rcf_rejects_rows_it_cannot_score(rows, message):
    # GIVEN a 3-feature forest
    forest = RandomCutForest(3, 5, 32, seed=0).fit(blob())
    # WHEN / THEN a malformed request names what is wrong
    with pytest.raises(RcfError, match=message):
        forest.score(rows)


def test_rcf_validates_hyperparameters_and_requires_fitting():
    # GIVEN / WHEN / THEN out-of-range hyperparameters (the built-in's limits) are refused by name
    with pytest.raises(RcfError, match=r"num_samples_per_tree must be in 1\.\.2048"):
        RandomCutForest(3, num_samples_per_tree=4096)
    with pytest.raises(RcfError, match="feature_dim"):
        RandomCutForest(0)
    # AND an unfitted forest says so instead of scoring
    with pytest.raises(RcfError, match="not fitted"):
        RandomCutForest(3).score([[1.0, 2.0, 3.0]])


def test_rcf_fits_fewer_rows_than_the_sample_size_as_a_sample_of_every_row():
    # GIVEN 10 rows, fitted with a sample size of 512 and with a sample size of exactly 10
    larger = RandomCutForest(2, 5, 512, seed=0).fit(blob(10, 2))
    exact = RandomCutForest(2, 5, 10, seed=0).fit(blob(10, 2))
    # WHEN new points are scored
    points = blob(5, 2, seed=1)
    # THEN the scores are finite and the same: each tree holds all 10 rows
    assert np.isfinite(larger.score_array(points)).all()
    np.testing.assert_array_equal(larger.score_array(points), exact.score_array(points))


@settings(max_examples=25, deadline=None)
@given(
    data=st.lists(st.lists(st.integers(-5, 5).map(float), min_size=2, max_size=2), min_size=1, max_size=40),
    seed=st.integers(0, 2**16),
)
def test_rcf_any_small_dataset_scores_finite_and_matches_the_reference(data, seed):
    # GIVEN any small integer dataset (duplicates and constant columns included)
    rows = np.array(data)
    forest = RandomCutForest(2, num_trees=3, num_samples_per_tree=16, seed=seed).fit(rows)
    # WHEN scoring the data and a far point
    points = np.vstack([rows, [[50.0, -50.0]]])
    scores = forest.score_array(points)
    # THEN scores are finite, positive and equal to the plain visitor
    assert np.isfinite(scores).all()
    assert (scores > 0).all()
    np.testing.assert_allclose(scores, [reference_score(forest, p) for p in points], rtol=1e-12)


# ---------------------------------------------------------------------------- persistence


def test_rcf_artifact_round_trip_gives_identical_scores(tmp_path):
    # GIVEN a fitted forest saved as model.tar.gz
    data = blob()
    forest = RandomCutForest(3, 12, 100, seed=4).fit(data)
    path = forest.save(tmp_path / "model.tar.gz")
    # WHEN it is loaded back
    loaded = RandomCutForest.load(path)
    # THEN it scores exactly as before and carries the built-in's hyperparameter names
    np.testing.assert_array_equal(loaded.score_array(data), forest.score_array(data))
    with tarfile.open(path) as archive:
        meta = json.load(archive.extractfile("hyperparameters.json"))
    assert meta["feature_dim"] == 3
    assert meta["num_trees"] == 12
    assert meta["num_samples_per_tree"] == 100
    # AND it keeps its seed: fitted again on the same rows, it grows the same forest
    np.testing.assert_array_equal(
        RandomCutForest.load(path).fit(data).score_array(data), forest.score_array(data)
    )


def test_rcf_artifact_that_is_not_ours_is_refused_by_name():
    # GIVEN a tar.gz without our members (e.g. a built-in RCF's MXNet artifact) and plain garbage
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("model_algo-1")
        info.size = 3
        archive.addfile(info, io.BytesIO(b"abc"))
    # WHEN / THEN loading says what is missing, or that it cannot be read
    with pytest.raises(ModelArtifactError, match="not a sentinel RCF artifact"):
        RandomCutForest.from_bytes(buffer.getvalue())
    with pytest.raises(ModelArtifactError, match="cannot read"):
        RandomCutForest.from_bytes(b"not a tarball")


# ---------------------------------------------------------------------------- quality on real data


def test_rcf_finds_the_nab_taxi_anomalies_at_mean_plus_three_sigma():
    # GIVEN NAB's NYC taxi series shingled by one day, and its five labelled windows
    series = load_series(NYC_TAXI)
    rows = shingle(series.values, 48)
    # WHEN the benchmark's forest (50 trees x 512 samples, seed 0) scores every shingle, and the
    # scores are attributed to the points that make each shingle anomalous
    shares = RandomCutForest(48, 50, 512, seed=0).fit(rows).attribution_array(rows)
    scores = shares.sum(axis=1)
    limit = cutoff(scores)
    by_shingle = window_quality(shingle_timestamps(series.timestamps, 48), scores > limit, load_windows())
    by_point = window_quality(series.timestamps, point_scores(shares) > limit, load_windows())
    # THEN either way at least 4 of the 5 windows are hit and most flagged points fall inside windows
    for quality in (by_shingle, by_point):
        assert quality.windows_hit >= 4, quality
        assert quality.precision >= 0.5, quality
        # AND the marathon and the blizzard, the two strongest anomalies, are both hit
        assert quality.hits_per_window[0] > 0
        assert quality.hits_per_window[4] > 0
