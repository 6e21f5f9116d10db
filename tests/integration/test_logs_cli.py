"""``sentinel logs parse|fit|score``: the CLI contract on generated logs and on bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from sentinel.cli import main
from sentinel.loggen import HdfsLog

GOOD = (
    "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block "
    "blk_38865049064139660 terminating"
)


def last_json_line(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def _events(path: Path) -> list[list[str]]:
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


def _fit(log: Path, labels: Path, out: Path) -> int:
    return main(
        [
            "logs",
            "fit",
            str(log),
            "--format",
            "hdfs",
            "--labels",
            str(labels),
            "--out",
            str(out),
            "--budget",
            "1",
        ]
    )


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("logs")
    HdfsLog(2500, seed=21).write(folder / "hdfs.log", folder / "labels.csv")
    return folder / "hdfs.log", folder / "labels.csv"


@pytest.fixture(scope="module")
def model(generated: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    log, labels = generated
    out = tmp_path_factory.mktemp("model")
    code = _fit(log, labels, out)
    assert code == 0
    return out, json.loads((out / "detector.json").read_text())


def test_parse_writes_one_event_row_per_line_and_the_table(generated, tmp_path, capsys):
    log, _ = generated
    assert main(["logs", "parse", str(log), "--format", "hdfs", "--out", str(tmp_path)]) == 0
    summary = last_json_line(capsys.readouterr().out)
    rows = _events(tmp_path / "events.csv")
    lines = log.read_text().splitlines()
    assert rows[0] == ["line", "template_id", "session"]
    assert summary["lines"] == len(lines) == len(rows) - 1
    assert [int(r[0]) for r in rows[1:]] == list(range(1, len(lines) + 1))
    table = json.loads((tmp_path / "templates.json").read_text())
    assert summary["templates"] == len(table["templates"]) > 20
    assert rows[1][2] in lines[0]
    assert rows[1][1] != ""


def test_fit_tunes_both_detectors_and_keeps_the_better_one(model, capsys):
    out, detector = model
    assert detector["detector"] in ("rcf", "pca")
    best = max(detector["rcf"]["evaluation"]["f1"], detector["pca"]["evaluation"]["f1"])
    assert detector["f1"] == best > 0.8
    for name in ("templates.json", "vector_spec.json", "pca.json", "model.tar.gz", "score_stats.json"):
        assert (out / name).is_file()


def test_fit_reports_sessions_templates_detector_and_f1_last(generated, tmp_path, capsys):
    log, labels = generated
    code = _fit(log, labels, tmp_path)
    assert code == 0
    summary = last_json_line(capsys.readouterr().out)
    assert summary["sessions"] == 2500
    assert summary["detector"] in ("rcf", "pca")
    assert summary["templates"] > 20
    assert 0.0 <= summary["f1"] <= 1.0


def test_score_writes_one_row_per_session_and_flags_the_faulty_blocks(generated, model, tmp_path, capsys):
    log, labels = generated
    out, detector = model
    assert main(["logs", "score", str(log), "--model", str(out), "--out", str(tmp_path / "s.csv")]) == 0
    summary = last_json_line(capsys.readouterr().out)
    rows = _events(tmp_path / "s.csv")
    assert rows[0] == ["session", "score", "anomaly"]
    assert summary["sessions"] == len(rows) - 1 == 2500
    assert summary["anomalies"] == sum(int(r[2]) for r in rows[1:])
    assert all((float(r[1]) > detector["cutoff"]) == (r[2] == "1") for r in rows[1:])
    truth = {r[0]: r[1] == "Anomaly" for r in _events(labels)[1:]}
    flagged = {r[0] for r in rows[1:] if r[2] == "1"}
    caught = sum(1 for key in flagged if truth[key])
    assert caught >= 0.7 * sum(truth.values())
    assert caught >= 0.7 * len(flagged)


def test_bad_lines_are_each_counted_with_a_reason_and_none_is_lost(model, tmp_path, capsys):
    out, _ = model
    log = tmp_path / "bad.log"
    log.write_bytes(
        b"\n".join(
            [
                GOOD.encode(),
                b"\xff\xfe\xfd not utf-8",
                b"081109 203615 148 INFO dfs.X: binary \x00\x01\x02",
                b"081109 203615 148 INFO dfs.X: " + b"y" * 1_000_000,
                b"081109 203615 148 INFO dfs.DataNode: a line without a block id",
                b"not an hdfs line at all",
                b"",
                GOOD.replace("terminating", "exploded").encode(),
            ]
        )
    )
    assert main(["logs", "parse", str(log), "--format", "hdfs", "--out", str(tmp_path / "p")]) == 0
    captured = capsys.readouterr()
    summary = last_json_line(captured.out)
    assert summary["lines"] == 8 == len(_events(tmp_path / "p" / "events.csv")) - 1
    assert summary["rejects"] == {
        "binary-line": 1,
        "empty-line": 1,
        "line-too-long": 1,
        "no-header-match": 1,
        "no-session-key": 1,
        "not-utf8": 1,
    }
    assert "rejected 1 line(s): not-utf8" in captured.err
    assert main(["logs", "score", str(log), "--model", str(out), "--out", str(tmp_path / "s.csv")]) == 0
    scored = last_json_line(capsys.readouterr().out)
    assert scored["lines"] == 8
    assert scored["rejected"] == 6
    assert scored["sessions"] == 1
    assert scored["unseen_lines"] == 1  # "exploded" is a template the model never saw


def test_an_empty_file_parses_to_nothing_and_cannot_be_fitted(tmp_path, capsys):
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    assert main(["logs", "parse", str(empty), "--format", "hdfs", "--out", str(tmp_path / "p")]) == 0
    assert last_json_line(capsys.readouterr().out)["lines"] == 0
    assert main(["logs", "fit", str(empty), "--format", "hdfs", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "empty" in err[0]


def test_a_format_regex_that_matches_no_line_rejects_each_line_with_the_reason(generated, tmp_path, capsys):
    log, _ = generated
    code = main(
        [
            "logs",
            "parse",
            str(log),
            "--format",
            r"(?P<time>\d{4}-\d\d-\d\d) (?P<content>.*)",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    summary = last_json_line(capsys.readouterr().out)
    assert summary["templates"] == 0
    assert summary["rejects"] == {"no-header-match": summary["lines"]}


@pytest.mark.parametrize(
    "argv",
    [
        ["logs", "parse", "{missing}", "--format", "hdfs", "--out", "{tmp}/p"],
        ["logs", "parse", "{log}", "--format", "(?P<content>[broken", "--out", "{tmp}/p"],
        ["logs", "parse", "{log}", "--format", "nginx", "--out", "{tmp}/p"],
        ["logs", "parse", "{log}", "--format", "hdfs"],
        ["logs", "fit", "{log}", "--format", "hdfs", "--labels", "{missing}", "--out", "{tmp}/m"],
        ["logs", "score", "{log}", "--model", "{tmp}", "--out", "{tmp}/s.csv"],
        ["logs", "score", "{log}", "--model", "{model}", "--out", "/dev/null/x.csv"],
    ],
)
def test_bad_input_exits_2_with_one_line(argv, generated, model, tmp_path, capsys):
    log, _ = generated
    out, _ = model
    values = {"missing": str(tmp_path / "nope.log"), "tmp": str(tmp_path), "log": str(log), "model": str(out)}
    code = (
        main([a.format(**values) for a in argv])
        if "--out" in argv
        else _exit_code([a.format(**values) for a in argv])
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err


def _exit_code(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    return int(stopped.value.code)


def test_a_damaged_model_file_is_refused_before_any_line_is_read(generated, model, tmp_path, capsys):
    log, _ = generated
    out, _ = model
    damaged = tmp_path / "model"
    damaged.mkdir()
    for item in out.iterdir():
        (damaged / item.name).write_bytes(item.read_bytes())
    (damaged / "vector_spec.json").write_text(
        '{"format_version": "sentinel-log-vectors/1", "columns": [1, 1]}'
    )
    assert main(["logs", "score", str(log), "--model", str(damaged), "--out", str(tmp_path / "s.csv")]) == 2
    assert "vector_spec.json" in capsys.readouterr().err
    assert not (tmp_path / "s.csv").exists()
