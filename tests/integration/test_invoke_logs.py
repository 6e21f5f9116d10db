"""``sentinel invoke`` on the log route's events: the real handlers on the embedded emulator."""

from __future__ import annotations

import json

import pytest

from sentinel.log_route import log_sample
from sentinel.template import PROJECT_ROOT, Template
from tests.support.invoke import EVENTS, invoke

LOG_SAMPLE = EVENTS / "objects" / "hdfs-sample.log"


def test_a_log_training_upload_starts_the_log_route(capsys: pytest.CaptureFixture[str]) -> None:
    code, result, _ = invoke(
        capsys, "StartPipelineFunction", "-e", EVENTS / "logs-training-object-created.json"
    )
    assert code == 0
    assert result["status"] == "started"
    assert result["display_name"].startswith("logs-hdfs-2008-11-09-")
    assert result["input_data_uri"] == "s3://sentinel-databucket/logs/training/hdfs-2008-11-09.log"


@pytest.mark.slow  # trains a log model through the route, then scores (≈10 s)
def test_a_log_file_event_with_the_sample_is_scored_by_a_log_model_put_in_service(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the log event and the shipped sample (40 generated HDFS blocks, a few faulty)
    # WHEN ScoreLogsFunction is invoked: a log model is trained by the route and approved first
    code, result, err = invoke(
        capsys, "ScoreLogsFunction", "-e", EVENTS / "log-object-created.json", "--object", LOG_SAMPLE
    )
    # THEN every line of the sample was read and every block is a scored session
    assert code == 0, result
    assert result["status"] == "scored"
    assert result["lines"] == LOG_SAMPLE.read_bytes().count(b"\n")
    assert (result["sessions"], result["scored"], result["rejected_lines"]) == (40, 40, 0)
    assert "log route trained on s3://sentinel-databucket/logs/training/invoke-hdfs.log" in err


def test_the_shipped_log_sample_is_what_the_generator_makes_and_fits_the_event() -> None:
    assert LOG_SAMPLE.read_bytes() == log_sample()  # regenerate as events/README.md says
    event = json.loads((EVENTS / "log-object-created.json").read_text(encoding="utf-8"))
    key = event["detail"]["object"]["key"]
    assert key.startswith(Template().parameters["LogsPrefix"])
    assert event["detail"]["object"]["size"] == LOG_SAMPLE.stat().st_size
    assert (PROJECT_ROOT / "events" / "logs-training-object-created.json").is_file()
