"""Drift of log traffic (anomaly_sentinel.drift.logs): per-file statistics merged into a window, compared
with the log model's baseline in Model Monitor's violation format."""

from __future__ import annotations

import json

import pytest

from anomaly_sentinel.drift.logs import (
    MAX_NEW_TEMPLATE_VIOLATIONS,
    MAX_SHAPES,
    NEW_TEMPLATE_CHECK,
    OOV_SHARE_CHECK,
    LogBaseline,
    LogFileStatistics,
    Shape,
    compare_logs,
    merge_log_window,
)


def stats(
    matched: int, unseen: int, shapes: tuple[Shape, ...] = (), model: str = "pkg/1"
) -> LogFileStatistics:
    return LogFileStatistics(
        source="s3://b/logs/incoming/x.log",
        model_package=model,
        lines=matched + unseen + 2,
        matched=matched,
        unseen=unseen,
        rejected=2,
        sessions=10,
        anomalies=1,
        new_templates=shapes,
    )


BASELINE = LogBaseline(oov_share=0.001, lines=50_000)


def test_a_window_merges_its_files_counts_and_the_sessions_of_each_new_shape():
    # GIVEN two files sharing one new shape WHEN merged
    shared = Shape("writeBlock <BLK> received exception", 2, "writeBlock blk_1 received exception")
    window = merge_log_window(
        [stats(900, 100, (shared,)), stats(1900, 100, (Shape(shared.shape, 3, "other sample"),))]
    )
    # THEN counts add up, the share is over the lines that reached the matcher, shapes merge by text
    assert (window.files, window.lines, window.matched, window.unseen) == (2, 3004, 2800, 200)
    assert window.oov_share == pytest.approx(200 / 3000)
    (merged,) = window.ranked_shapes()
    assert (merged.sessions, merged.sample) == (5, shared.sample)


def test_more_unseen_lines_than_the_baseline_allows_is_an_oov_share_violation():
    window = merge_log_window([stats(9_500, 500)])  # 5% unseen vs 0.1% + 1 point
    violations, skipped = compare_logs(window, BASELINE, min_lines=1000)
    assert skipped is None
    (violation,) = violations
    assert (violation.feature_name, violation.check_type) == ("oov_share", OOV_SHARE_CHECK)
    assert "5.00% of 10000 lines" in violation.description


def test_an_unseen_share_within_the_tolerance_is_no_violation():
    violations, _ = compare_logs(merge_log_window([stats(9_950, 50)]), BASELINE, min_lines=1000)
    assert violations == []


def test_each_new_shape_is_reported_with_a_sample_most_widespread_first_and_bounded():
    shapes = tuple(Shape(f"shape {i}", i + 1, f"sample {i}") for i in range(MAX_NEW_TEMPLATE_VIOLATIONS + 5))
    violations, _ = compare_logs(merge_log_window([stats(10_000, 0, shapes)]), BASELINE, min_lines=1000)
    assert len(violations) == MAX_NEW_TEMPLATE_VIOLATIONS
    assert {v.check_type for v in violations} == {NEW_TEMPLATE_CHECK}
    assert violations[0].feature_name == f"template:shape {MAX_NEW_TEMPLATE_VIOLATIONS + 4}"
    assert "sample: sample 14" in violations[0].description


def test_a_small_window_raises_nothing_and_says_why():
    violations, skipped = compare_logs(merge_log_window([stats(500, 400)]), BASELINE, min_lines=1000)
    assert violations == []
    assert skipped == "900 matched lines in the window, 1000 needed"


def test_without_a_baseline_new_shapes_are_still_reported_but_the_share_is_not_judged():
    shape = Shape("s", 1, "x")
    violations, skipped = compare_logs(
        merge_log_window([stats(5_000, 5_000, (shape,))]), None, min_lines=1000
    )
    assert [v.check_type for v in violations] == [NEW_TEMPLATE_CHECK]
    assert skipped == "no log baseline: OOV share not compared"


def test_statistics_survive_their_json_form_and_malformed_ones_are_refused():
    original = stats(10, 2, (Shape("a", 1, "b"),))
    assert LogFileStatistics.from_json(json.loads(original.to_bytes())) == original
    for broken in (
        {**original.to_json(), "version": 2},
        {**original.to_json(), "kind": "capture"},
        {**original.to_json(), "unseen": -1},
        {**original.to_json(), "lines": True},
        {**original.to_json(), "new_templates": "many"},
    ):
        with pytest.raises((ValueError, TypeError)):
            LogFileStatistics.from_json(broken)


def test_a_window_keeps_at_most_a_bounded_number_of_shapes():
    many = tuple(Shape(f"s{i}", 1, "x") for i in range(MAX_SHAPES))
    window = merge_log_window([stats(1, 0, many), stats(1, 0, (Shape("one more", 9, "x"),))])
    assert len(window.shapes) == MAX_SHAPES


@pytest.mark.parametrize("share", [-0.1, 1.5, "0.1", True])
def test_a_baseline_with_an_impossible_share_is_refused(share):
    with pytest.raises(ValueError, match="oov_share"):
        LogBaseline.from_bytes(json.dumps({"oov_share": share, "lines": 10}).encode())
