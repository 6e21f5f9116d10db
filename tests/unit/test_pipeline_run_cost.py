"""Pure run-time and cost logic: step parsing, the estimate, the report section, the failure alert."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from anomaly_sentinel import pipeline_runs
from anomaly_sentinel.exceptions import EventParseError
from anomaly_sentinel.pipeline_runs import INSTANCE_PRICES_USD_PER_HOUR, JobUsage, PipelineRun, StepRun
from sentinel.template import PROJECT_ROOT
from tests.support import load_event

T0 = datetime(2026, 11, 30, tzinfo=UTC)


def test_every_instance_type_the_pipeline_defaults_to_has_a_price():
    # GIVEN the deployed pipeline definition's parameters
    definition = json.loads((PROJECT_ROOT / "pipeline" / "definition.json").read_text(encoding="utf-8"))
    defaults = {
        p["Name"]: p.get("DefaultValue")
        for p in definition["Parameters"]
        if p["Name"].endswith("InstanceType")
    }
    # THEN the default run can be costed (a new default needs a row in the table)
    assert defaults
    for name, instance_type in defaults.items():
        assert instance_type in INSTANCE_PRICES_USD_PER_HOUR, name


def test_billable_seconds_are_multiplied_by_the_instance_count_and_the_hourly_price():
    jobs = [
        JobUsage("training", "t1", "Tune", "ml.m5.large", 1, 3600),
        JobUsage("processing", "p1", "Preprocess", "ml.m5.xlarge", 2, 1800),
    ]
    cost = pipeline_runs.estimate(jobs)
    assert cost.usd == pytest.approx(0.115 + 2 * 0.5 * 0.23)
    assert cost.instance_seconds == 3600 + 3600
    assert cost.unpriced == ()


def test_an_unknown_instance_type_is_listed_as_unpriced_not_free():
    cost = pipeline_runs.estimate([JobUsage("training", "t1", "Train", "ml.g5.48xlarge", 1, 60)])
    assert cost.usd == 0
    assert cost.unpriced == ("t1 (ml.g5.48xlarge)",)


def test_steps_name_the_job_they_ran_by_kind():
    steps = [
        {
            "StepName": "Tune",
            "StepStatus": "Failed",
            "Metadata": {"TuningJob": {"Arn": "arn:x:hyper-parameter-tuning-job/tj"}},
        },
        {
            "StepName": "Train",
            "StepStatus": "Succeeded",
            "Metadata": {"TrainingJob": {"Arn": "arn:x:training-job/tr"}},
        },
        {
            "StepName": "Scores",
            "StepStatus": "Succeeded",
            "Metadata": {"TransformJob": {"Arn": "arn:x:transform-job/tf"}},
        },
        {"StepName": "Route", "StepStatus": "Succeeded", "Metadata": {"Condition": {"Outcome": "True"}}},
        {"StepName": "Model", "StepStatus": "Executing", "StartTime": T0},
    ]
    parsed = [pipeline_runs.step_run(item) for item in steps]
    assert [(s.job, s.job_kind) for s in parsed] == [
        ("tj", "tuning"),
        ("tr", "training"),
        ("tf", "transform"),
        (None, None),
        (None, None),
    ]
    assert parsed[-1].seconds is None  # not ended: no duration, never a negative one


def test_the_report_section_carries_time_steps_and_cost():
    run = PipelineRun(
        execution_arn="arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/e1",
        pipeline="p",
        status="Succeeded",
        seconds=900.0,
        steps=[StepRun("Train", "Succeeded", 600.0, job="tr", job_kind="training")],
        jobs=[JobUsage("training", "tr", "Train", "ml.m5.large", 1, 540)],
    )
    section = pipeline_runs.report_section(run)
    assert section["durationSeconds"] == 900.0
    assert section["steps"] == [{"name": "Train", "status": "Succeeded", "seconds": 600.0}]
    assert section["trainingBillableSeconds"] == 540
    assert section["estimatedCostUsd"] == pytest.approx(540 / 3600 * 0.115, abs=1e-4)
    json.dumps(section)  # JSON-ready for the report


def test_a_training_job_whose_billed_time_is_unknown_leaves_the_runs_billed_seconds_unknown():
    # GIVEN a run with one training job billed 540 s and one whose billed time is unknown
    run = PipelineRun(
        execution_arn="arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/e1",
        pipeline="p",
        status="Succeeded",
        seconds=900.0,
        jobs=[
            JobUsage("training", "tr", "Train", "ml.m5.large", 1, 540),
            JobUsage("training", "t2", "Train", "ml.m5.large", 1, 0, unknown=pipeline_runs.END_BEFORE_START),
        ],
    )
    # WHEN the report section is built THEN neither the billed seconds nor the cost is a partial sum
    section = pipeline_runs.report_section(run)
    assert section["trainingBillableSeconds"] is None
    assert section["estimatedCostUsd"] is None
    assert section["unpricedJobs"] == [f"t2 ({pipeline_runs.END_BEFORE_START})"]


def test_a_failure_without_a_failed_step_still_says_why_and_where_to_look():
    run = PipelineRun(
        execution_arn="arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/e1",
        pipeline="p",
        status="Failed",
        seconds=10.0,
        failure_reason="Pipeline definition is invalid",
    )
    alert = pipeline_runs.failure_alert(run, "endpoint")
    assert alert.subject == "Pipeline p failed at no failed step"
    assert "Pipeline definition is invalid" in alert.body
    assert "list-pipeline-execution-steps" in alert.body


def test_the_status_change_event_gives_identity_and_times():
    event = load_event("SageMakerModelBuildingPipelineExecutionStatusChange")
    ended = pipeline_runs.run_ended(event)
    assert ended.identity == f"{event['detail']['pipelineExecutionArn']}#Succeeded"
    assert ended.end - ended.start == timedelta(minutes=6, seconds=57)


def test_an_event_without_an_execution_arn_is_a_clear_error():
    event = load_event("SageMakerModelBuildingPipelineExecutionStatusChange")
    del event["detail"]["pipelineExecutionArn"]
    with pytest.raises(EventParseError, match="not a pipeline execution status change"):
        pipeline_runs.run_ended(event)
