"""The log route's processing step on generated logs: table, time split, labels, injected faults."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from anomaly_sentinel.logs import Matcher, TemplateTable, VectorSpec, resolve_format
from pipeline.scripts import logs_inject, logs_prepare
from sentinel.loggen import HDFS_FAULTS, BglLog, HdfsLog


@pytest.fixture(scope="module")
def hdfs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, HdfsLog]:
    folder = tmp_path_factory.mktemp("hdfs")
    log = HdfsLog(1500, seed=11)
    log.write(folder / "hdfs.log", folder / "labels.csv")
    return folder / "hdfs.log", folder / "labels.csv", log


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_the_generator_is_deterministic_and_labels_about_three_percent_of_blocks():
    first, second = HdfsLog(2000, seed=3), HdfsLog(2000, seed=3)
    assert [line.text for line in first.lines()] == [line.text for line in second.lines()]
    kinds = Counter(first.faults.values())
    share = 1 - kinds[None] / len(first.faults)
    assert 0.02 < share < 0.045
    assert set(kinds) - {None} <= set(HDFS_FAULTS)
    assert any(len(line.sessions) > 1 for line in first.lines()), "some lines name several blocks"
    assert [line.text for line in HdfsLog(50, seed=4).lines()] != [
        line.text for line in HdfsLog(50, seed=3).lines()
    ]


@pytest.mark.slow  # over 5 s: a whole prepare job on a generated log
def test_prepare_accounts_for_every_line_and_splits_groups_by_time(hdfs, tmp_path):
    log, labels, _ = hdfs
    report = logs_prepare.prepare([log], resolve_format("hdfs"), tmp_path, labels_path=labels)
    assert report["lines"] == report["placed"] + report["rejected"]
    assert report["rejected"] == 0
    assert report["groups"] == 1500
    sessions = {
        name: _rows(tmp_path / "sessions" / f"{name}.csv") for name in ("train", "validation", "evaluation")
    }
    # the oldest 70 % train, less the training sessions that show a rare event (set aside)
    set_aside = report["labels"]["train_set_aside"]
    assert 0 < set_aside < 0.1 * 1050
    assert [len(sessions[n]) for n in sessions] == [1050 - set_aside, 225, 225]
    # every training session starts before every validation one, and those before evaluation
    last_train = max(int(r["first_line"]) for r in sessions["train"])
    assert last_train < min(int(r["first_line"]) for r in sessions["validation"])
    assert max(int(r["first_line"]) for r in sessions["validation"]) < min(
        int(r["first_line"]) for r in sessions["evaluation"]
    )
    # the real labels label the held-out rows, and the channels line up with the session files
    validation = (tmp_path / "validation" / "validation.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in validation] == [r["label"] for r in sessions["validation"]]
    assert report["labels"]["source"] == "labels-file"
    spec = VectorSpec.load((tmp_path / "vector_spec.json").read_bytes())
    assert all(len(line.split(",")) == spec.dimension + 1 for line in validation)
    assert all(
        len(line.split(",")) == spec.dimension
        for line in (tmp_path / "train" / "train.csv").read_text().splitlines()
    )


@pytest.mark.slow  # over 5 s: a whole prepare job on a generated log
def test_the_vocabulary_comes_from_training_sessions_only(hdfs, tmp_path):
    log, labels, _ = hdfs
    logs_prepare.prepare([log], resolve_format("hdfs"), tmp_path, labels_path=labels)
    spec = VectorSpec.load((tmp_path / "vector_spec.json").read_bytes())
    table = TemplateTable.load((tmp_path / "templates.json").read_bytes())
    assert spec.trained_groups == 1050
    # templates mined from the whole sample but never seen in a training session are not columns
    assert set(spec.columns) <= {t.id for t in table.templates}


@pytest.mark.slow  # over 5 s: a whole prepare job on a generated log
def test_the_packet_responder_over_merge_becomes_two_features(hdfs, tmp_path):
    log, _, _ = hdfs
    table = logs_prepare.build_table([log], resolve_format("hdfs"))
    matcher = Matcher(table)
    normal = matcher.match("PacketResponder 1 for block blk_5 terminating")
    faulty = matcher.match("PacketResponder 1 for block blk_5 Interrupted.")
    assert normal is not None
    assert faulty is not None
    assert normal != faulty
    texts = {t.id: t.text for t in table.templates}
    assert texts[faulty] == "PacketResponder <NUM> for block <BLK> Interrupted."


@pytest.mark.slow  # over 5 s: a whole prepare job on a generated log
def test_without_labels_the_held_out_sets_get_each_kind_of_injected_fault(hdfs, tmp_path):
    log, _, _ = hdfs
    report = logs_prepare.prepare([log], resolve_format("hdfs"), tmp_path, seed=7)
    assert report["labels"]["source"] == "injected"
    assert set(report["labels"]["evaluation_injected"]) == set(logs_inject.KINDS)
    rows = _rows(tmp_path / "sessions" / "evaluation.csv")
    injected = [r for r in rows if r["kind"] in logs_inject.KINDS]
    assert all(r["label"] == "1" and "#injected-" in r["key"] for r in injected)
    assert {r["label"] for r in rows if r not in injected} == {"0"}
    again = tmp_path / "again"
    logs_prepare.prepare([log], resolve_format("hdfs"), again, seed=7)
    assert (again / "evaluation" / "evaluation.csv").read_bytes() == (
        tmp_path / "evaluation" / "evaluation.csv"
    ).read_bytes()


def test_injected_faults_have_the_shape_their_kind_says():
    sequence = [1, 2, 2, 3, 4, 4, 4, 5]
    made = logs_inject.inject([sequence] * 40, always=[1], seed=1, share=0.3, rare_events=[9])
    by_kind = {a.kind: a.sequence for a in made}
    assert 9 in by_kind["rare"]
    assert [t for t in by_kind["rare"] if t != 9] == sequence
    assert 1 not in by_kind["drop"]
    assert None in by_kind["unseen"]
    assert [t for t in by_kind["unseen"] if t is not None] == sequence
    assert len(by_kind["repeat"]) > len(sequence)
    assert set(by_kind["repeat"]) == set(sequence)
    assert by_kind["truncate"] == sequence[: len(by_kind["truncate"])]
    assert len(by_kind["truncate"]) < len(sequence)


def test_the_train_channel_leaves_out_sessions_with_a_rare_event_but_keeps_its_feature(hdfs, tmp_path):
    # GIVEN an unlabelled HDFS log whose training part holds its own faults (about 3 % of blocks)
    log, _, generated = hdfs
    # WHEN it is prepared
    report = logs_prepare.prepare([log], resolve_format("hdfs"), tmp_path, seed=7)
    # THEN the faults that show as a rare event are mostly gone from the train channel and from the
    # held-out sessions judged normal (a fault event common enough in this sample may stay) ...
    rare_kinds = set(HDFS_FAULTS) - {"lost-replica"}  # a lost replica shows no event of its own

    def share(keys: list[str]) -> float:
        return sum(generated.faults.get(k) in rare_kinds for k in keys) / len(keys)

    train = [r["key"] for r in _rows(tmp_path / "sessions" / "train.csv")]
    judged = [r["key"] for r in _rows(tmp_path / "sessions" / "evaluation.csv") if r["label"] == "0"]
    assert share(train) < share(list(generated.faults)) / 3
    assert share(judged) < share(list(generated.faults)) / 3
    # ... yet the fault templates are still features, and every set-aside session is counted
    spec = VectorSpec.load((tmp_path / "vector_spec.json").read_bytes())
    table = TemplateTable.load((tmp_path / "templates.json").read_bytes())
    assert Matcher(table).match("PacketResponder 1 for block blk_5 Interrupted.") in spec.columns
    labels = report["labels"]
    assert labels["rare_events"] > 0
    assert len(train) + labels["train_set_aside"] == 1050
    assert len(judged) + labels["evaluation_set_aside"] == 225


def test_real_labels_judge_every_held_out_session(hdfs, tmp_path):
    log, labels, _ = hdfs
    report = logs_prepare.prepare([log], resolve_format("hdfs"), tmp_path, labels_path=labels)
    assert "evaluation_set_aside" not in report["labels"]
    assert report["evaluation_rows"] == 225


def test_rare_events_mark_nothing_when_most_sessions_show_one():
    # GIVEN training sessions that each hold an event no other session has
    groups = [logs_prepare.group_of(f"s{n}", [1, 2, 100 + n]) for n in range(300)]
    # THEN rarity is this log's normal: nothing is set aside
    assert logs_prepare.rare_events(groups) is None
    # AND with few such sessions, their events are the rare ones
    few = [logs_prepare.group_of(f"s{n}", [1, 2] + ([100 + n] if n < 3 else [])) for n in range(300)]
    assert logs_prepare.rare_events(few) == {100, 101, 102}


def test_bgl_windows_take_their_labels_from_the_lines(tmp_path):
    BglLog(6000, seed=2, burst_share=0.01).write(tmp_path / "bgl.log")
    report = logs_prepare.prepare([tmp_path / "bgl.log"], resolve_format("bgl"), tmp_path / "out")
    assert report["labels"]["source"] == "inline"
    assert report["grouping"]["kind"] == "time"
    assert report["lines"] == report["placed"] + report["rejected"]
    assert report["labels"]["validation_positives"] + report["labels"]["evaluation_positives"] > 0


def test_labels_that_are_not_anomaly_or_normal_are_refused_naming_the_line(tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("BlockId,Label\nblk_1,Normal\nblk_2,maybe\n")
    with pytest.raises(logs_prepare.PrepareError, match=r"labels\.csv:3"):
        logs_prepare.read_labels(labels)


def test_too_few_sessions_to_train_and_judge_is_a_clear_error(tmp_path):
    HdfsLog(5, seed=1).write(tmp_path / "tiny.log")
    with pytest.raises(logs_prepare.PrepareError, match="at least 20"):
        logs_prepare.prepare([tmp_path / "tiny.log"], resolve_format("hdfs"), tmp_path / "out")


def test_the_job_entry_point_exits_2_with_the_reason_on_bad_input(tmp_path, capsys):
    assert logs_prepare.main(["--input", str(tmp_path / "missing.log"), "--out", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err
    report_path = tmp_path / "report.json"
    assert not report_path.exists()
    HdfsLog(200, seed=1).write(tmp_path / "ok.log")
    assert logs_prepare.main(["--input", str(tmp_path / "ok.log"), "--out", str(tmp_path / "o")]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert summary["train_rows"] + report["labels"]["train_set_aside"] == 140
