"""``sentinel invoke`` on every file in events/: the real handlers on the embedded emulator.

Each test calls ``sentinel.cli.main`` in-process, as a user's shell would run the command: the
stack is deployed on a fresh in-process moto per call, and what the event presupposes is built
by sentinel.world (the capture object, a model trained by the local pipeline executor and served
by the local RCF endpoint, the monitoring job and its report). stdout must hold exactly one line,
the JSON result; logs go to stderr.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from sentinel.cli import main
from sentinel.template import PROJECT_ROOT, Template
from sentinel.world import capture_sample
from tests.support.invoke import EVENTS, SAMPLE, invoke


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> str:
    """Run a command that must be refused as a usage error (exit 2); returns its stderr."""
    with pytest.raises(SystemExit) as exited:
        main(["invoke", *map(str, argv)])
    out, err = capsys.readouterr()
    assert exited.value.code == 2
    assert out == ""
    return err


# ---------------------------------------------------------------------------- function events


def test_training_event_starts_the_pipeline(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the training upload event
    # WHEN StartPipelineFunction is invoked with it offline
    code, result, err = invoke(capsys, "StartPipelineFunction", "-e", EVENTS / "training-object-created.json")

    # THEN the pipeline named by the template was started for that object; the handler's own
    # output (its EMF metrics line here) went to stderr, leaving stdout to the result
    assert code == 0
    assert result["status"] == "started"
    assert ":pipeline/anomaly-sentinel-rcf/execution/" in result["pipeline_execution_arn"]
    assert result["input_data_uri"] == "s3://sentinel-databucket/training/nyc_taxi.csv"
    assert '"UploadsAccepted":[1.0]' in err


@pytest.mark.slow  # trains, serves and scores end to end (≈15 s)
def test_capture_event_with_the_sample_is_scored_by_a_served_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the capture event and the shipped sample: 36 shingles of the taxi series + 1 broken line
    # WHEN ScoreCaptureFunction is invoked (a served model is implied: it may invoke the endpoint)
    code, result, err = invoke(
        capsys, "ScoreCaptureFunction", "-e", EVENTS / "capture-object-created.json", "--object", SAMPLE
    )

    # THEN every good record was scored by the model the pipeline trained, the broken line rejected
    assert code == 0, result
    assert result["status"] == "scored"
    assert (result["records"], result["scored"], result["rejected"]) == (37, 36, 1)
    assert result["reasons"] == {"not-json": 1}
    assert result["cutoff_source"] == "model-stats"  # score_stats.json of the deployed model
    assert result["anomalies"] >= 1  # the sample ends in the January 2015 blizzard (a NAB window)
    assert "pipeline trained on s3://sentinel-databucket/training/nyc_taxi.csv" in err
    assert "endpoint anomaly-sentinel-rcf InService on anomaly-sentinel-rcf-c-" in err


def env_file(tmp_path: Path, **variables: str) -> Path:
    """A SAM --env-vars file overriding MonitoringAlertFunction's policy."""
    path = tmp_path / "env.json"
    path.write_text(json.dumps({"MonitoringAlertFunction": variables}), encoding="utf-8")
    return path


def test_processing_job_event_alerts_and_by_default_does_not_retrain_on_moved_data(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the Model Monitor processing-job event (7 violations: types, completeness, a new value)
    code, result, _ = invoke(
        capsys, "MonitoringAlertFunction", "-e", EVENTS / "monitoring-processing-job.json"
    )
    # THEN subscribers are alerted; the template's policy retrains on the model's anomaly rate only
    assert code == 0, result
    assert (result["status"], result["violations"]) == ("CompletedWithViolations", 7)
    assert result["alert"]["kind"] == "model-drift"
    assert result["retrain"] is False
    assert "the data moved" in result["retrain_reason"]


def test_processing_job_event_alerts_and_starts_retraining(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN the Model Monitor processing-job event (7 violations, the report is the demo's copy) and a
    # policy that counts Model Monitor's categorical_values_check (given with -n, as sam local invoke)
    env = env_file(tmp_path, RETRAIN_CHECK_TYPES="categorical_values_check")
    # WHEN MonitoringAlertFunction is invoked with it
    code, result, err = invoke(
        capsys, "MonitoringAlertFunction", "-e", EVENTS / "monitoring-processing-job.json", "-n", env
    )

    # THEN the job the event describes was read, subscribers alerted and one retraining run started
    assert code == 0, result
    assert result["status"] == "CompletedWithViolations"
    assert result["violations"] == 7
    assert result["violations_problem"] is None
    assert result["alert"]["kind"] == "model-drift"
    assert result["retrain"] is True
    assert result["execution"]["already_started"] is False
    assert ":execution:sentinel-retrainstatemachine:" in result["execution"]["execution_arn"]
    assert "violations report put at s3://sentinel-databucket/monitoring/" in err


def test_processing_job_event_reads_the_report_given_with_object(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN a report whose only violation is a data-type check (broken input, not drift)
    report = tmp_path / "constraint_violations.json"
    violation = {"feature_name": "value", "constraint_check_type": "data_type_check", "description": "x"}
    report.write_text(json.dumps({"violations": [violation]}), encoding="utf-8")

    # WHEN the processing-job event is invoked with that report
    code, result, _ = invoke(
        capsys, "MonitoringAlertFunction", "-e", EVENTS / "monitoring-processing-job.json", "--object", report
    )

    # THEN that report decided: one violation alerted, no retraining
    assert code == 0, result
    assert result["violations"] == 1
    assert result["alert"] is not None
    assert result["retrain"] is False
    assert result["execution"] is None


def test_processing_job_event_of_another_job_is_ignored(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN a processing-job event of a job that is not a Model Monitor run (no schedule ARN)
    event = json.loads((EVENTS / "monitoring-processing-job.json").read_text(encoding="utf-8"))
    del event["detail"]["MonitoringScheduleArn"]
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")

    # WHEN MonitoringAlertFunction is invoked with it
    code, result, _ = invoke(capsys, "MonitoringAlertFunction", "-e", path)

    # THEN the job the emulator made is not passed off as a monitoring run: nothing alerted
    assert code == 0, result
    assert result["status"] == "ignored"
    assert "not a monitoring execution" in result["reason"]


def test_drift_alarm_event_alerts_and_by_default_does_not_retrain(capsys: pytest.CaptureFixture[str]) -> None:
    code, result, _ = invoke(capsys, "MonitoringAlertFunction", "-e", EVENTS / "monitoring-drift-alarm.json")
    assert code == 0, result
    assert result["alert"]["kind"] == "model-drift"
    assert (result["retrain"], result["retrain_reason"]) == (False, "drift alarms do not retrain (policy)")


def test_drift_alarm_event_alerts_and_starts_retraining(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN the CloudWatch drift alarm event, and a stack that retrains on drift alarms
    env = env_file(tmp_path, RETRAIN_ON_ALARM="true")
    # WHEN MonitoringAlertFunction is invoked with it
    code, result, _ = invoke(
        capsys, "MonitoringAlertFunction", "-e", EVENTS / "monitoring-drift-alarm.json", "-n", env
    )

    # THEN subscribers are alerted and a retraining run started
    assert code == 0, result
    assert result["alert"]["kind"] == "model-drift"
    assert result["retrain"] is True
    assert result["execution"]["execution_name"].startswith("alarm-anomaly-sentinel-drift-value-")


@pytest.mark.slow  # trains, serves and scores end to end (≈15 s)
def test_retrain_start_input_runs_the_state_machine_to_a_deployment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # GIVEN the retraining state machine's start input (training data: NAB NYC taxi)
    # WHEN the state machine is invoked with it
    code, result, _ = invoke(capsys, "RetrainStateMachine", "-e", EVENTS / "retrain-start.json")

    # THEN the real ASL ran the pipeline, approved the candidate and deployed it
    assert code == 0, result
    assert result["status"] == "SUCCEEDED"
    assert result["output"]["evaluation"]["approve"] is True
    assert result["output"]["outcome"]["status"] == "deployed"
    assert result["output"]["endpoint"]["status"] == "InService"


# ---------------------------------------------------------------------------- errors


@pytest.mark.filterwarnings("ignore:No application metrics:UserWarning")  # the handler failed before any
def test_a_failing_handler_exits_1_with_its_error_type(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN an override naming a pipeline that does not exist
    env = tmp_path / "env.json"
    env.write_text(json.dumps({"StartPipelineFunction": {"PIPELINE_NAME": "no-such-pipeline"}}), "utf-8")

    # WHEN StartPipelineFunction is invoked with it
    code, result, err = invoke(
        capsys, "StartPipelineFunction", "-e", EVENTS / "training-object-created.json", "-n", env
    )

    # THEN the handler's error is the result, as sam local invoke reports it, with exit 1
    assert code == 1
    assert result["errorType"] == "PipelineStartError"
    assert "no-such-pipeline" in result["errorMessage"]
    assert "Traceback" in err


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["StartPipelineFunction", "-e", "no/such/event.json"], "--event: no such file"),
        (["NoSuchFunction", "-e", EVENTS / "training-object-created.json"], "LOGICAL_ID: 'NoSuchFunction'"),
        (
            [
                "ScoreCaptureFunction",
                "-e",
                EVENTS / "capture-object-created.json",
                "--aws",
                "--object",
                SAMPLE,
            ],
            "--object",
        ),
        (
            ["ScoreCaptureFunction", "-e", EVENTS / "capture-object-created.json", "--object", "nope.jsonl"],
            "--object: no such file",
        ),
        (
            ["ScoreCaptureFunction", "-e", EVENTS / "capture-object-created.json", "--aws", "--serve-model"],
            "--serve-model",
        ),
        (
            ["RetrainStateMachine", "-e", EVENTS / "retrain-start.json", "--aws"],
            "LOGICAL_ID: RetrainStateMachine is a state machine",
        ),
        (
            [
                "StartPipelineFunction",
                "-e",
                EVENTS / "training-object-created.json",
                "-n",
                EVENTS / "env.json",
            ],
            "--env-vars: IDEMPOTENCY_TABLE is still a placeholder",
        ),
    ],
)
def test_bad_arguments_exit_2_naming_the_argument(
    capsys: pytest.CaptureFixture[str], argv: list[str | Path], named: str
) -> None:
    # GIVEN / WHEN a command line with one bad argument
    err = usage_error(capsys, *argv)

    # THEN it is refused before anything runs, naming the argument
    assert named in err


def test_object_for_an_event_that_names_none_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN the drift alarm event, which names no object
    # WHEN a file is given with --object
    err = usage_error(
        capsys, "MonitoringAlertFunction", "-e", EVENTS / "monitoring-drift-alarm.json", "--object", SAMPLE
    )

    # THEN the command says which argument does not apply
    assert "--object: the event names no S3 object" in err


# ---------------------------------------------------------------------------- events/ itself


def records(body: bytes) -> list[Any]:
    """Each line parsed (JSON formatting aside), or None for a line that is not JSON."""
    parsed: list[Any] = []
    for line in body.decode("utf-8").splitlines():
        try:
            parsed.append(json.loads(line))
        except ValueError:
            parsed.append(None)
    return parsed


def test_the_shipped_capture_sample_is_what_the_builder_makes() -> None:
    # GIVEN / WHEN the sample is rebuilt from NAB NYC taxi
    shipped, built = records(SAMPLE.read_bytes()), records(capture_sample())

    # THEN the shipped file holds the same records (regenerate it as events/README.md says):
    # 36 records, then one line that is not JSON
    assert shipped == built
    assert len(shipped) == 37
    assert shipped[-1] is None
    assert None not in shipped[:-1]


def test_the_capture_event_fits_the_template_and_the_model() -> None:
    # GIVEN the template, the pipeline definition and the capture event
    template = Template()
    event = json.loads((EVENTS / "capture-object-created.json").read_text(encoding="utf-8"))
    definition = json.loads((PROJECT_ROOT / "pipeline" / "definition.json").read_text(encoding="utf-8"))
    shingle = next(p["DefaultValue"] for p in definition["Parameters"] if p["Name"] == "ShingleSize")
    first = json.loads(SAMPLE.read_text(encoding="utf-8").splitlines()[0])

    # THEN its key is a capture file under CapturePrefix and the sample rows have the model's width
    key = event["detail"]["object"]["key"]
    assert key.startswith(template.parameters["CapturePrefix"])
    assert key.endswith(".jsonl")

    row = base64.b64decode(first["captureData"]["endpointInput"]["data"]).decode()
    assert len(row.split(",")) == int(shingle) == 48


def test_env_json_names_every_function_and_readme_every_event() -> None:
    # GIVEN events/env.json, events/README.md and the template's functions
    env = json.loads((EVENTS / "env.json").read_text(encoding="utf-8"))
    readme = (EVENTS / "README.md").read_text(encoding="utf-8")

    # THEN sam local invoke users find every function, and every event file is documented
    assert set(env) - {"Parameters"} == set(Template().function_ids())
    for path in sorted(EVENTS.glob("*.json")):
        assert f"`{path.name}`" in readme, path.name


# ---------------------------------------------------------------------------- --aws messages


def test_aws_without_a_region_says_what_to_set_in_one_line(
    capsys: pytest.CaptureFixture[str], no_aws_setup: pytest.MonkeyPatch
) -> None:
    # GIVEN no region anywhere (the dev environment of samconfig.toml names none)
    # WHEN invoked against AWS
    err = usage_error(
        capsys,
        "StartPipelineFunction",
        "-e",
        EVENTS / "training-object-created.json",
        "--aws",
        "--config-env",
        "dev",
    )
    # THEN one line names what to set, without a traceback
    assert err.strip().count("\n") == 0
    assert "set AWS_REGION" in err


def test_aws_without_credentials_says_what_to_set_in_one_line(
    capsys: pytest.CaptureFixture[str], no_aws_setup: pytest.MonkeyPatch
) -> None:
    no_aws_setup.setenv("AWS_REGION", "eu-west-1")
    err = usage_error(capsys, "StartPipelineFunction", "-e", EVENTS / "training-object-created.json", "--aws")
    assert err.strip().count("\n") == 0
    assert "no AWS credentials" in err
    assert "AWS_PROFILE" in err


@pytest.mark.parametrize("option", [["--stack-name", "mine"], ["--config-env", "dev"]])
def test_stack_options_without_aws_are_an_error(
    capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    err = usage_error(capsys, "StartPipelineFunction", "-e", EVENTS / "training-object-created.json", *option)
    assert f"{option[0]} only applies with --aws" in err


def test_default_stack_name_follows_samconfig(capsys: pytest.CaptureFixture[str]) -> None:
    from sentinel.commands.invoke import samconfig

    def fail(message: str) -> None:
        raise AssertionError(message)

    assert samconfig("default", fail)["stack_name"] == "anomaly-sentinel"  # type: ignore[arg-type]
    assert samconfig("dev", fail)["stack_name"] == "anomaly-sentinel-dev"  # type: ignore[arg-type]
    with pytest.raises(SystemExit):
        main(["invoke", "--help"])
    assert "--config-env" in capsys.readouterr().out
