"""The template table and the pure-Python matcher: Drain's matching rule, over-merged templates, bounds."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from anomaly_sentinel.logs import Matcher, Template, TemplateTable, TemplateTableError, resolve_format
from anomaly_sentinel.logs.table import split_overmerged
from pipeline.scripts import logs_prepare
from sentinel.loggen import HdfsLog

HDFS = resolve_format("hdfs")


def _table(*texts: str, parents: dict[int, int] | None = None) -> TemplateTable:
    parents = parents or {}
    return TemplateTable(HDFS, tuple(Template(i, t, 1, parents.get(i)) for i, t in enumerate(texts, start=1)))


def test_a_line_matches_a_template_of_its_length_whose_constants_it_repeats():
    matcher = Matcher(
        _table("Receiving block <BLK> src: /<IP> dest: /<IP>", "Verification succeeded for <BLK>")
    )
    assert matcher.match("Receiving block blk_1 src: /10.0.0.1:5 dest: /10.0.0.2:50010") == 1
    assert matcher.match("  Verification succeeded for blk_-9  ") == 2
    # a different constant, or one token more, is an unseen line (OOV)
    assert matcher.match("Verification failed for blk_-9") is None
    assert matcher.match("Verification succeeded for blk_-9 twice") is None


def test_the_most_specific_matching_template_wins_then_the_lowest_id():
    matcher = Matcher(
        _table(
            "<*> <NUM> for block <BLK> <*>",
            "PacketResponder <NUM> for block <BLK> <*>",
            "<*> <*> <*> <*> <*> <*>",
        )
    )
    assert matcher.match("PacketResponder 2 for block blk_7 terminating") == 2
    assert matcher.match("Responder 2 for block blk_7 terminating") == 1
    assert matcher.match("a b c d e f") == 3


def test_over_merged_templates_split_into_variants_and_an_unseen_value_keeps_the_parent():
    # GIVEN Drain's merge of the normal "terminating" and the faulty "Interrupted." responders
    merged = _table("PacketResponder <NUM> for block <BLK> <*>")
    observed = {1: Counter({("terminating",): 40, ("Interrupted.",): 3})}
    # WHEN the low-cardinality wildcard is split
    table = split_overmerged(merged, observed)
    matcher = Matcher(table)
    # THEN each value is its own template, and a value never seen is the merged parent
    by_text = {t.text: t for t in table.templates}
    assert by_text["PacketResponder <NUM> for block <BLK> Interrupted."].parent == 1
    assert (
        matcher.match("PacketResponder 1 for block blk_5 Interrupted.")
        == by_text["PacketResponder <NUM> for block <BLK> Interrupted."].id
    )
    assert matcher.match("PacketResponder 1 for block blk_5 terminating") != matcher.match(
        "PacketResponder 1 for block blk_5 Interrupted."
    )
    assert matcher.match("PacketResponder 1 for block blk_5 vanished") == 1


def test_a_wildcard_with_many_values_or_few_lines_is_not_split():
    merged = _table("Deleting block <BLK> file <*>")
    many = {1: Counter({(f"/data/subdir{i}/x",): 5 for i in range(30)})}
    few = {1: Counter({("/a",): 2, ("/b",): 1})}
    assert len(split_overmerged(merged, many)) == 1
    assert len(split_overmerged(merged, few)) == 1


def test_the_matcher_assigns_what_drain3_itself_matches_on_hdfs_like_lines(tmp_path):
    # GIVEN a generated HDFS-like log mined by drain3, before variants are added
    log = tmp_path / "hdfs.log"
    HdfsLog(300, seed=5).write(log)
    contents = list(logs_prepare.contents([log], HDFS, 10**6, 65536))
    table = logs_prepare.mine(contents, HDFS, logs_prepare.DrainSettings())
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.masking_instructions = []
    miner = TemplateMiner(config=config)
    for content in contents:
        miner.add_log_message(HDFS.masker.mask(content))
    # WHEN every line is matched by drain3 and by the pure-Python matcher
    matcher = Matcher(table)
    ours = [matcher.match(c) for c in contents]
    theirs = [
        miner.match(HDFS.masker.mask(c).strip(), full_search_strategy="fallback").cluster_id for c in contents
    ]
    # THEN they agree on every line
    assert ours == theirs


def test_a_table_round_trips_as_plain_json():
    table = split_overmerged(_table("PacketResponder <NUM> for block <BLK> <*>"), {1: Counter({("a",): 30})})
    raw = table.dump()
    document = json.loads(raw)
    assert document["format"]["name"] == "hdfs"
    assert "py/object" not in raw.decode()
    assert TemplateTable.load(raw) == table


def _document(**changes):
    document = json.loads(_table("a <*>", "b").dump())
    document.update(changes)
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x80not json", "not UTF-8"),
        (b"{", "not JSON"),
        (b"[" * 100 + b"]" * 100, "nested too deeply"),
        (b'{"format_version": NaN}', "NaN, which is not a finite number"),
        (b'{"x": 1e999}', "overflows a float"),
        (_document(format_version="jsonpickle"), "format_version"),
        (_document(templates=[{"id": 1, "text": "a"}, {"id": 1, "text": "b"}]), "not unique"),
        (_document(templates=[{"id": 1, "text": "a", "parent": 9}]), "unknown parent"),
        (_document(templates=[{"id": -1, "text": "a"}]), "negative id"),
        (_document(templates=[{"id": True, "text": "a"}]), "boolean"),
        (_document(format={"name": "x", "header": "(?P<nope>.*)"}), "content"),
    ],
)
def test_a_damaged_table_is_refused_with_a_named_error(raw, message):
    with pytest.raises(TemplateTableError, match=message):
        TemplateTable.load(raw)


def test_an_oversized_table_is_refused_before_it_is_parsed():
    with pytest.raises(TemplateTableError, match="larger than"):
        TemplateTable.load(b" " * (64 * 1024 * 1024 + 1))


@pytest.mark.parametrize(
    "masks",
    [
        [{"name": "N"}],
        [{"name": "N", "pattern": "[", "hints": []}],
        [{"name": "N", "pattern": "x", "hint_count": "many"}],
        ["x"],
    ],
)
def test_a_table_whose_masks_are_damaged_is_refused(masks):
    document = json.loads(_table("a").dump())
    document["format"]["masks"] = masks
    with pytest.raises(TemplateTableError):
        TemplateTable.load(json.dumps(document).encode())
