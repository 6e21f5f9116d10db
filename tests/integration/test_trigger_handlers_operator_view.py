"""What an operator sees of StartPipelineFunction and PipelineRunsFunction: the metrics the dashboard
plots and the one log line per action, with the identities a log query filters on.

A renamed metric leaves a dashboard panel empty without any error, and a log line without its
identities cannot be found in CloudWatch Logs Insights: both are behaviour, observed here on the
real handlers' log records and EMF output, against the real template's dashboard.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest

from sentinel.dashboard import dashboard_body, read_emf
from sentinel.emulator import LOCAL_ENV
from sentinel.invoke import LocalFunction
from sentinel.moto_patches import record_pipeline_steps
from sentinel.template import Template
from tests.support import ensure_pipeline, s3_object_created
from tests.support.pipeline_runs import start_execution, status_event, step, training_job

Run = Callable[[dict[str, Any]], tuple[dict[str, Any], str]]


def plotted_metric_names(stack: Template) -> set[str]:
    """Every metric name the stack's dashboard plots in the stack's own namespace."""
    names: set[str] = set()
    for widget in dashboard_body(stack)["widgets"]:
        for metric in widget.get("properties", {}).get("metrics", []):
            if metric and isinstance(metric[0], str) and not metric[0].startswith("AWS/"):
                names.add(metric[1])
    return names


def log_lines(caplog: pytest.LogCaptureFixture, message: str) -> list[dict[str, Any]]:
    """The handler's log records with ``message``: their fields as Powertools writes them."""
    return [vars(record) for record in caplog.records if record.getMessage() == message]


def counted(printed: str, name: str) -> list[float]:
    return [point.value for point in read_emf(printed.splitlines()) if point.name == name]


@pytest.fixture
def run(stack: Template) -> Callable[[str], Run]:
    """The real handler of a template function; each call returns (result, what it printed)."""

    def make(logical_id: str) -> Run:
        printed = io.StringIO()
        handler = LocalFunction(stack.function(logical_id), LOCAL_ENV, stdout=printed)

        def invoke(event: dict[str, Any]) -> tuple[dict[str, Any], str]:
            start = printed.tell()
            result = handler(event)
            return result, printed.getvalue()[start:]

        return invoke

    return make


@pytest.mark.parametrize(
    ("key", "event_name", "reason"),
    [
        ("capture/not-training.csv", "Object Created", "outside"),  # not under the training prefix
        ("training/nyc_taxi.csv", "Object Deleted", "Object Deleted"),  # not an upload at all
    ],
)
def test_an_upload_that_is_not_training_data_is_counted_where_the_dashboard_plots_it(
    stack, run, caplog, key, event_name, reason
):
    # GIVEN an S3 event StartPipelineFunction must not act on
    event = s3_object_created(stack.ref("DataBucket"), key)
    event["detail-type"] = event_name
    # WHEN it is handled
    result, printed = run("StartPipelineFunction")(event)
    # THEN it is ignored with its reason, counted once under a metric the dashboard plots
    assert result["status"] == "ignored"
    assert reason in result["reason"]
    ignored = [name for name in plotted_metric_names(stack) if name.startswith("Uploads")]
    assert {name: counted(printed, name) for name in ignored} == {
        "UploadsIgnored": [1.0],
        "UploadsAccepted": [],
    }
    (logged,) = log_lines(caplog, "event ignored")
    assert logged["reason"] == result["reason"]
    assert logged["subject"]


def test_a_started_pipeline_is_logged_once_with_the_upload_and_its_execution(stack, run, caplog):
    # GIVEN the pipeline and a training upload
    ensure_pipeline(stack)
    event = s3_object_created(stack.ref("DataBucket"), "training/nyc_taxi.csv")
    # WHEN StartPipelineFunction handles it
    result, printed = run("StartPipelineFunction")(event)
    # THEN one log line names the upload (bucket/key#version) and the execution it started,
    # and the accepted upload is counted where the dashboard plots it
    (logged,) = log_lines(caplog, "pipeline started")
    assert logged["object"].startswith(f"{stack.ref('DataBucket')}/training/nyc_taxi.csv#")
    assert logged["pipeline_execution_arn"] == result["pipeline_execution_arn"]
    assert counted(printed, "UploadsAccepted") == [1.0]
    assert "UploadsAccepted" in plotted_metric_names(stack)


def test_a_run_still_executing_is_counted_where_the_dashboard_plots_ignored_run_events(stack, run, caplog):
    # GIVEN a pipeline execution that has not ended
    execution = start_execution(stack)
    # WHEN its status change reaches PipelineRunsFunction
    result, printed = run("PipelineRunsFunction")(status_event(execution, "Executing"))
    # THEN it is ignored, saying it is still executing, and counted once on the dashboard's metric
    assert result == {"status": "ignored", "reason": "execution is Executing, not ended"}
    assert "PipelineRunEventsIgnored" in plotted_metric_names(stack)
    assert counted(printed, "PipelineRunEventsIgnored") == [1.0]
    (logged,) = log_lines(caplog, "event ignored")
    assert logged["subject"].startswith(execution)


def test_an_ended_run_is_logged_once_with_its_execution_status_duration_and_cost(stack, run, caplog):
    # GIVEN a run that trained for 420 billable seconds and ended after 600 s
    execution = start_execution(stack)
    train = training_job("pipelines-x3-Train-Python-c3", "ml.m5.large", 420)
    record_pipeline_steps(
        execution, [step("Train-Python-Unlabelled", "Succeeded", 60, 500, {"TrainingJob": {"Arn": train}})]
    )
    # WHEN its end reaches PipelineRunsFunction
    result, _ = run("PipelineRunsFunction")(status_event(execution, "Succeeded", seconds=600))
    # THEN one log line carries what the result says, under the names a log query uses
    (logged,) = log_lines(caplog, "pipeline run accounted")
    assert {k: logged[k] for k in ("execution", "status", "seconds", "cost_usd")} == {
        "execution": execution,
        "status": "Succeeded",
        "seconds": 600.0,
        "cost_usd": result["estimatedCostUsd"],
    }
    assert result["estimatedCostUsd"] > 0
