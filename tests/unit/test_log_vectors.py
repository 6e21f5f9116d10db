"""Grouping lines into sessions and windows, and the vectors the detectors see."""

from __future__ import annotations

import json
import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from anomaly_sentinel.logs import Group, Grouper, GroupingSpec, VectorSpec, VectorSpecError

T0 = datetime(2008, 11, 9, 20, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _all(grouper: Grouper) -> dict[str, Group]:
    return {g.key: g for g in grouper.close()}


def test_a_line_naming_two_blocks_counts_in_both_sessions():
    grouper = Grouper(GroupingSpec("session"))
    grouper.add(1, 7, ("blk_1",), _at(0))
    grouper.add(2, 9, ("blk_1", "blk_2"), _at(1))
    assert grouper.last_keys == ("blk_1", "blk_2")
    groups = _all(grouper)
    assert groups["blk_1"].counts == Counter({7: 1, 9: 1})
    assert groups["blk_1"].length == 2
    assert groups["blk_2"].counts == Counter({9: 1})
    assert groups["blk_2"].first_line == 2
    assert grouper.placed == 2


def test_a_line_without_a_session_key_or_a_time_is_rejected_with_its_reason():
    sessions, windows = Grouper(GroupingSpec("session")), Grouper(GroupingSpec("time"))
    assert sessions.add(1, 3, (), _at(0)) == "no-session-key"
    assert windows.add(1, 3, (), None) == "no-time"
    assert (sessions.rejects, windows.rejects) == (Counter({"no-session-key": 1}), Counter({"no-time": 1}))
    assert list(sessions.close()) == []
    assert sessions.placed == 0


def test_idle_sessions_close_as_time_passes_so_open_groups_stay_bounded():
    grouper = Grouper(GroupingSpec("session", idle_seconds=60))
    for i in range(1000):
        grouper.add(i + 1, 1, (f"blk_{i}",), _at(i * 10))
        assert grouper.open_groups <= 8
    closed = list(grouper.closed())
    assert len(closed) + len(list(grouper.close())) == 1000


def test_beyond_max_open_the_least_recently_active_session_is_closed():
    grouper = Grouper(GroupingSpec("session", max_open=2))
    for n, key in enumerate(("a", "b", "a", "c"), start=1):
        grouper.add(n, 1, (key,), None)
    assert [g.key for g in grouper.closed()] == ["b"]
    assert grouper.evicted == 1


def test_fixed_windows_close_in_order_and_a_late_line_is_rejected():
    grouper = Grouper(GroupingSpec("time", window_seconds=60))
    grouper.add(1, 1, (), _at(5))
    grouper.add(2, 2, (), _at(59))
    grouper.add(3, 1, (), _at(61))
    first = list(grouper.closed())
    assert [(g.key, g.length) for g in first] == [("2008-11-09T20:00:00Z", 2)]
    assert grouper.add(4, 1, (), _at(30)) == "late-line"
    assert [(g.key, g.length) for g in grouper.close()] == [("2008-11-09T20:01:00Z", 1)]


def test_sliding_windows_count_a_line_in_every_window_that_covers_it():
    grouper = Grouper(GroupingSpec("time", window_seconds=60, step_seconds=30))
    grouper.add(1, 1, (), _at(45))
    assert grouper.last_keys == ("2008-11-09T20:00:00Z", "2008-11-09T20:00:30Z")
    assert sorted(g.length for g in grouper.close()) == [1, 1]


def test_line_windows_hold_n_lines_each():
    grouper = Grouper(GroupingSpec("lines", lines=3))
    for n in range(1, 8):
        grouper.add(n, n % 2, (), None)
    assert [(g.key, g.length) for g in grouper.close()] == [("lines:1", 3), ("lines:4", 3), ("lines:7", 1)]


def _group(key: str, counts: dict[int | None, int]) -> Group:
    group = Group(key)
    group.counts.update(counts)
    group.length = sum(counts.values())
    return group


def test_the_vocabulary_is_fitted_on_training_groups_and_anything_else_is_oov():
    spec = VectorSpec.fit(GroupingSpec("session"), [_group("a", {1: 2, 2: 1}), _group("b", {1: 1})])
    assert spec.columns == (1, 2)
    assert spec.feature_names() == ["t1", "t2", "oov", "length"]
    # a template outside the vocabulary and an unseen line are both OOV
    assert spec.counts(_group("c", {1: 1, 5: 2, None: 1})) == [1, 0, 3, 4]
    assert spec.vector(_group("c", {1: 1, 5: 2, None: 1})) == pytest.approx(
        [math.log1p(1), 0.0, math.log1p(3), math.log1p(4)]
    )


def test_tfidf_weights_come_from_training_groups_only():
    train = [_group("a", {1: 1, 2: 1}), _group("b", {1: 1}), _group("c", {1: 1})]
    spec = VectorSpec.fit(GroupingSpec("session"), train, weighting="tfidf")
    # the rarer template weighs more; later groups cannot move the weights
    assert spec.idf[1] > spec.idf[0]
    again = VectorSpec.fit(GroupingSpec("session"), train, weighting="tfidf")
    assert again.vector(_group("x", {2: 3})) == spec.vector(_group("x", {2: 3}))
    assert VectorSpec.load(spec.dump()) == spec


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": "v0"}, "format_version"),
        ({"columns": [1, 1]}, "distinct"),
        ({"columns": [-1]}, "template ids"),
        ({"weighting": "bm25"}, "weighting"),
        ({"extras": ["oov", "entropy"]}, "extras"),
        ({"grouping": {"kind": "session", "window_seconds": 0}}, "window_seconds"),
        ({"grouping": {"kind": "session", "bogus": 1}}, "unknown setting"),
        ({"grouping": {"kind": "forever"}}, "kind"),
        ({"idf": [1.0, "x"]}, "idf"),
    ],
)
def test_a_damaged_vector_spec_is_refused_with_a_named_error(change, message):
    document = json.loads(VectorSpec.fit(GroupingSpec("session"), [_group("a", {1: 1})]).dump())
    document.update(change)
    with pytest.raises(VectorSpecError, match=message):
        VectorSpec.load(json.dumps(document).encode())


def test_every_rejected_line_is_told_with_its_reason_as_it_is_counted():
    from anomaly_sentinel.logs import LineEvent, Tally, group_events

    # GIVEN lines the reader refused, a line without a session key, and placed lines
    at = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        LineEvent(1, 7, ("blk_1",), at),
        LineEvent(2, None, reject="not-utf8"),
        LineEvent(3, 7, (), at),  # the grouper refuses it: no session key
        LineEvent(4, 8, ("blk_1",), at),
        LineEvent(5, None, reject="line-too-long"),
    ]
    told: list[tuple[int, str]] = []
    tally = Tally()
    # WHEN they are grouped
    groups = list(
        group_events(
            iter(events), Grouper(GroupingSpec("session")), None, tally, on_reject=lambda *r: told.append(r)
        )
    )
    # THEN each rejected line is told once, in order, with the reason the tally counts
    assert told == [(2, "not-utf8"), (3, "no-session-key"), (5, "line-too-long")]
    assert Counter(reason for _, reason in told) == tally.rejects
    assert [g.length for g in groups] == [2]
