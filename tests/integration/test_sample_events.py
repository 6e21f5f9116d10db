"""A sample event for every function of template.yaml, and each one runs offline (issue 23)."""

from __future__ import annotations

import json
import re

import pytest

from sentinel.cli import main
from sentinel.template import PROJECT_ROOT, Template

EVENTS = PROJECT_ROOT / "events"


def sample_rows() -> dict[str, set[str]]:
    """events/README.md's table: file → the functions it runs."""
    rows: dict[str, set[str]] = {}
    for line in (EVENTS / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`") and cells[0].endswith(".json`"):
            rows[cells[0].strip("`")] = set(re.findall(r"`(\w+Function)`", cells[2]))
    return rows


def test_every_function_has_a_sample_event_that_exists():
    rows = sample_rows()
    covered = set().union(*rows.values())
    assert covered == set(Template().function_ids())
    for name in rows:
        assert (EVENTS / name).is_file(), name


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code = main(["invoke", *argv])
    out, err = capsys.readouterr()
    (line,) = out.strip().splitlines()
    return code, json.loads(line), err


def test_the_prepare_payload_plans_a_start(capsys):
    code, result, _ = run(capsys, "RetrainStepsFunction", "-e", str(EVENTS / "retrain-steps-prepare.json"))
    assert code == 0, result
    assert result["mode"] == "start"
    assert result["lock"]["holder"] == "manual-2026-11-21T10-00-00Z"
    assert result["start"]["parameters"] == [
        {"Name": "InputDataUri", "Value": "s3://sentinel-databucket/training/nyc_taxi.csv"}
    ]


def test_the_run_ended_event_is_accounted_for_a_run_of_the_emulator(capsys):
    code, result, err = run(capsys, "PipelineRunsFunction", "-e", str(EVENTS / "pipeline-run-ended.json"))
    assert code == 0, result
    assert result["status"] == "Succeeded"
    assert result["durationSeconds"] == 2273.0  # 10:03:13 → 10:41:06, from the event's own times
    assert result["alert"] is None
    assert "is not on the emulator: the event now names" in err
    assert '"PipelineRunDuration":[2273.0]' in err


def test_the_custom_resource_request_publishes_and_answers_cloudformation(capsys):
    code, result, err = run(
        capsys, "PipelineArtifactsFunction", "-e", str(EVENTS / "pipeline-artifacts-create.json")
    )
    assert code == 0, result
    assert result["Status"] == "SUCCESS"
    # the definition is content-addressed: its key is the digest of the rendered definition
    assert re.fullmatch(
        r"s3://sentinel-databucket/pipeline/definitions/[0-9a-f]{16}\.json", result["PhysicalResourceId"]
    )
    assert 'CloudFormation would receive: {"Status": "SUCCESS"' in err


def test_another_event_for_the_custom_resource_is_refused_naming_what_it_lacks(capsys):
    code, result, _ = run(
        capsys, "PipelineArtifactsFunction", "-e", str(EVENTS / "training-object-created.json")
    )
    assert code == 1
    assert result["errorType"] == "NotACustomResourceRequest"
    assert "lacks RequestType, ResponseURL, StackId, RequestId, LogicalResourceId" in result["errorMessage"]
