"""PipelineRunsFunction on moto: the real handler, its environment and its rule from template.yaml.

moto lacks ListPipelineExecutionSteps and ListTrainingJobsForHyperParameterTuningJob, its jobs
report no billable time and start/end at the same instant, and its processing jobs drop
ProcessingResources: ``sentinel.moto_patches.sagemaker_extras``
adds the two list actions (steps recorded per execution; a tuning job's training jobs found by
SageMaker's ``<tuning job>-NNN-…`` naming), and the tests set billable and start/end times on
moto's job objects. Everything else (DescribePipelineExecution, DescribeTrainingJob,
DescribeProcessingJob, SNS, DynamoDB idempotency) is moto's own.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto.events.models import EventPattern

from anomaly_sentinel.pipeline_runs import END_BEFORE_START, INSTANCE_PRICES_USD_PER_HOUR, cost_line
from sentinel.moto_patches import record_pipeline_steps
from tests.support.pipeline_runs import (
    backend_execution,
    failed_run,
    processing_job,
    start_execution,
    status_event,
    step,
    training_job,
)
from tests.support.retrain import AlertsInbox

FUNCTION = "PipelineRunsFunction"


@pytest.fixture
def extras(world, stack):
    return world.extras


@pytest.fixture
def handler(lambda_function):
    return lambda_function(FUNCTION)


@pytest.fixture
def inbox(stack):
    return AlertsInbox(stack, kinds=["operational"])


def emf(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"_aws"' in line]


def test_a_failed_run_is_metered_costed_and_alerted_with_its_failed_step(
    stack, extras, handler, inbox, capsys
):
    # GIVEN a run whose tuning step failed after preprocessing succeeded
    execution = failed_run(stack, extras)
    # WHEN its Failed status-change event arrives
    result = handler(status_event(execution, "Failed"))
    # THEN the run's time, billable seconds and estimated cost are computed from SageMaker's answers
    prices = INSTANCE_PRICES_USD_PER_HOUR
    expected = 120 / 3600 * prices["ml.m5.xlarge"] + (300 + 360) / 3600 * prices["ml.m5.large"]
    assert result["status"] == "Failed"
    assert result["failedSteps"] == ["Tune-Python-Labelled"]
    assert result["durationSeconds"] == 400
    assert result["trainingBillableSeconds"] == 660  # the unrelated training job is not counted
    assert result["estimatedCostUsd"] == pytest.approx(expected, abs=1e-4)
    assert result["unpricedJobs"] == []
    # AND published as EMF metrics with the pipeline (and step) as dimensions
    documents = emf(capsys.readouterr().out)
    by_name = {
        name: doc for doc in documents for name in doc if name[0].isupper() and name not in ("Status",)
    }
    assert by_name["PipelineRunDuration"]["PipelineRunDuration"] == [400.0]
    assert by_name["PipelineRunDuration"]["PipelineName"] == stack.parameters["PipelineName"]
    assert by_name["PipelineRuns"]["Status"] == "Failed"
    steps = {doc["StepName"]: doc["PipelineStepDuration"] for doc in documents if "StepName" in doc}
    assert steps == {"Tune-Python-Labelled": [270.0], "Preprocess-Python-Labelled": [125.0]}
    # AND subscribers get one alert naming the failed step, its reason and where its logs are
    (alert,) = inbox.messages()
    assert "Tune-Python-Labelled" in alert["subject"]
    assert "No training job succeeded after 5 attempts" in alert["message"]
    assert "/aws/sagemaker/TrainingJobs, streams starting pipelines-x1-tune-" in alert["message"]
    assert alert["attributes"] == {
        "kind": "operational",
        "severity": "critical",
        "endpoint": stack.parameters["EndpointName"],
    }


def test_the_retraining_reports_cost_line_sums_the_runs_billed_jobs(stack, extras):
    # GIVEN a run whose processing job billed 120 s on ml.m5.xlarge and tuning 660 s on ml.m5.large
    execution = failed_run(stack, extras)
    # WHEN the retraining report asks for its line
    line = cost_line(boto3.client("sagemaker"), execution)
    # THEN it names the steps, the billed training seconds and the estimated cost from the price table
    usd = 120 / 3600 * INSTANCE_PRICES_USD_PER_HOUR["ml.m5.xlarge"]
    usd += 660 / 3600 * INSTANCE_PRICES_USD_PER_HOUR["ml.m5.large"]
    assert ", 2 steps, training/tuning billed 660 s, " in line
    assert f"estimated ${usd:.2f} (on-demand list prices)" in line


def test_a_run_the_report_cannot_read_is_said_not_hidden(stack):
    # GIVEN an execution SageMaker does not know WHEN the report asks THEN the line says why
    pipeline = f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{stack.parameters['PipelineName']}"
    line = cost_line(boto3.client("sagemaker"), f"{pipeline}/execution/unknown")
    assert line.startswith("not available (")


def test_the_same_run_end_delivered_twice_alerts_once(stack, extras, handler, inbox):
    execution = failed_run(stack, extras)
    first = handler(status_event(execution, "Failed"))
    again = handler(status_event(execution, "Failed"))
    assert again == first
    assert len(inbox.messages()) == 1


def test_a_succeeded_run_is_metered_without_an_alert(stack, extras, handler, inbox, capsys):
    execution = start_execution(stack)
    train = training_job("pipelines-x2-Train-Python-b2", "ml.m5.large", 420)
    record_pipeline_steps(
        execution, [step("Train-Python-Unlabelled", "Succeeded", 60, 500, {"TrainingJob": {"Arn": train}})]
    )
    result = handler(status_event(execution, "Succeeded", seconds=600))
    assert result["alert"] is None
    assert result["trainingBillableSeconds"] == 420
    assert result["estimatedCostUsd"] == pytest.approx(
        420 / 3600 * INSTANCE_PRICES_USD_PER_HOUR["ml.m5.large"], abs=1e-4
    )
    outcome = [doc for doc in emf(capsys.readouterr().out) if "PipelineRuns" in doc]
    assert [doc["Status"] for doc in outcome] == ["Succeeded"]
    assert inbox.messages() == []


def test_a_stopped_run_is_metered_as_stopped_without_a_failure_alert(stack, extras, handler, inbox, capsys):
    # GIVEN a run someone stopped (StopPipelineExecution: a decision, not a fault)
    execution = start_execution(stack)
    backend_execution(execution).pipeline_execution_status = "Stopped"
    # WHEN its Stopped status-change event arrives
    result = handler(status_event(execution, "Stopped"))
    # THEN it is counted as Stopped and nobody is paged as for a failure
    assert (result["status"], result["alert"]) == ("Stopped", None)
    outcome = [doc for doc in emf(capsys.readouterr().out) if "PipelineRuns" in doc]
    assert [doc["Status"] for doc in outcome] == ["Stopped"]
    assert inbox.messages() == []


def test_an_unpriced_instance_type_is_reported_not_counted_as_free(stack, extras, handler, capsys):
    # GIVEN a run whose training job ran on an instance type the price table does not have
    execution = start_execution(stack)
    train = training_job("pipelines-x3-Train-Python-c3", "ml.p4d.24xlarge", 100)
    record_pipeline_steps(
        execution, [step("Train-Python-Unlabelled", "Succeeded", 0, 100, {"TrainingJob": {"Arn": train}})]
    )
    # WHEN its end is accounted
    result = handler(status_event(execution, "Succeeded"))
    # THEN the job is named unpriced and the run has no cost, rather than a cost of $0
    assert result["unpricedJobs"] == ["pipelines-x3-Train-Python-c3 (ml.p4d.24xlarge)"]
    assert (result["estimatedCostUsd"], result["pricedJobsCostUsd"]) == (None, 0)
    documents = emf(capsys.readouterr().out)
    assert not any("PipelineRunEstimatedCost" in doc for doc in documents)
    assert any(doc.get("PipelineRunsUnpriced") == [1.0] for doc in documents)
    # AND the retraining report's line says the cost is unknown, not $0.00
    line = cost_line(boto3.client("sagemaker"), execution)
    assert "cost unknown: unpriced pipelines-x3-Train-Python-c3 (ml.p4d.24xlarge)" in line
    assert "estimated $" not in line


def test_a_failed_run_whose_job_cannot_be_described_still_alerts(stack, extras, handler, inbox):
    # GIVEN a failed run whose training step names a job SageMaker cannot describe (gone, or denied)
    execution = start_execution(stack)
    gone = "arn:aws:sagemaker:us-east-1:123456789012:training-job/pipelines-x4-train-gone"
    record_pipeline_steps(
        execution,
        [step("Train-Python-Unlabelled", "Failed", 0, 90, {"TrainingJob": {"Arn": gone}}, reason="OOM")],
    )
    backend_execution(execution).pipeline_execution_status = "Failed"
    # WHEN its end is accounted
    result = handler(status_event(execution, "Failed"))
    # THEN subscribers are alerted with the failed step, and the job is unpriced, not free
    assert result["failedSteps"] == ["Train-Python-Unlabelled"]
    (alert,) = inbox.messages()
    assert "OOM" in alert["message"]
    (unpriced,) = result["unpricedJobs"]
    assert unpriced.startswith("pipelines-x4-train-gone (not described: ")
    assert result["estimatedCostUsd"] is None


def test_an_end_time_without_a_zone_beside_a_start_with_one_is_utc(stack, extras, handler):
    # GIVEN a run end whose start carries a zone and whose end does not
    execution = start_execution(stack)
    event = status_event(execution, "Succeeded", seconds=400)
    event["detail"]["executionEndTime"] = event["detail"]["executionEndTime"].removesuffix("Z")
    # WHEN accounted THEN the end is read as UTC: 400 s, not a TypeError
    assert handler(event)["durationSeconds"] == 400


def test_times_whose_clocks_disagree_give_no_duration_and_no_cost_rather_than_a_wrong_one(
    stack, extras, handler, capsys
):
    # GIVEN a run whose end event says it ended 30 s before it started, a step that ended before
    # it started, and a processing job whose end is before its start (clocks that disagree)
    execution = start_execution(stack)
    job = processing_job("pipelines-x5-Preprocess-Pytho-e5", "ml.m5.xlarge", -90)
    train = training_job("pipelines-x5-Train-Python-e5", "ml.m5.large", 300)
    record_pipeline_steps(
        execution,
        [
            step("Preprocess-Python-Labelled", "Succeeded", 0, -5, {"ProcessingJob": {"Arn": job}}),
            step("Train-Python-Unlabelled", "Succeeded", 10, 320, {"TrainingJob": {"Arn": train}}),
        ],
    )
    # WHEN its end is accounted
    result = handler(status_event(execution, "Succeeded", seconds=-30))
    # THEN the run and that step have no duration (not 0, not negative), the others keep theirs
    assert result["durationSeconds"] is None
    assert result["steps"] == [
        {"name": "Train-Python-Unlabelled", "status": "Succeeded", "seconds": 310.0},
        {"name": "Preprocess-Python-Labelled", "status": "Succeeded", "seconds": None},
    ]
    # AND the job with the unknown run time makes the run's cost unknown, never $0 for that job
    assert result["unpricedJobs"] == [f"pipelines-x5-Preprocess-Pytho-e5 ({END_BEFORE_START})"]
    assert result["estimatedCostUsd"] is None
    assert result["trainingBillableSeconds"] == 300
    # AND no duration metric is published for the run or that step, and none is negative
    documents = emf(capsys.readouterr().out)
    assert not any("PipelineRunDuration" in doc for doc in documents)
    steps = {doc["StepName"]: doc["PipelineStepDuration"] for doc in documents if "StepName" in doc}
    assert steps == {"Train-Python-Unlabelled": [310.0]}


def test_a_run_still_executing_is_ignored_with_a_reason(stack, extras, handler):
    execution = start_execution(stack)
    result = handler(status_event(execution, "Executing"))
    assert result["status"] == "ignored"
    assert "Executing" in result["reason"]


def test_the_rule_delivers_only_ended_runs_of_the_stacks_pipeline(stack):
    # GIVEN the rule as template.yaml writes it (the real matcher, FACTS.md)
    pattern = EventPattern.load(json.dumps(stack.rule(f"{FUNCTION}PipelineRunEnded").pattern))
    pipeline = f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/{stack.parameters['PipelineName']}"
    ours = f"{pipeline}/execution/abc123"
    # THEN every terminal status of our pipeline matches, nothing else does
    for status in ("Succeeded", "Failed", "Stopped"):
        assert pattern.matches_event(status_event(ours, status))
    assert not pattern.matches_event(status_event(ours, "Executing"))
    assert not pattern.matches_event(status_event(ours, "Stopping"))
    other = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/someone-else/execution/abc123"
    assert not pattern.matches_event(status_event(other, "Failed"))
