"""The offline dashboard: EMF read back as CloudWatch would, widgets valued, alarms evaluated, PNG drawn."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from sentinel.dashboard import (
    MetricPoint,
    alarm_states,
    dashboard_body,
    evaluate,
    read_emf,
    render,
    widget_lines,
)
from tests.unit.test_dashboard_metrics import resolved_template


@pytest.fixture(scope="module")
def template():
    return resolved_template()


def powertools_lines(monkeypatch, endpoint: str, pipeline: str, *, failed: bool) -> list[str]:
    """EMF exactly as the handlers print it (Powertools itself, the template's namespace and service)."""
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "AnomalySentinel")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "anomaly-sentinel")
    metrics = Metrics()
    out = io.StringIO()
    with redirect_stdout(out):
        metrics.add_dimension(name="EndpointName", value=endpoint)
        metrics.add_metric(name="RecordsScored", unit=MetricUnit.Count, value=90)
        metrics.add_metric(name="Anomalies", unit=MetricUnit.Count, value=9)
        metrics.flush_metrics()
        metrics.add_dimension(name="EndpointName", value=endpoint)
        metrics.add_metric(name="RecordsScored", unit=MetricUnit.Count, value=10)
        metrics.flush_metrics()
        status = "Failed" if failed else "Succeeded"
        with single_metric(name="PipelineRuns", unit=MetricUnit.Count, value=1) as run:
            run.add_dimension(name="PipelineName", value=pipeline)
            run.add_dimension(name="Status", value=status)
        print('{"level":"INFO","message":"not a metric"}')  # a log line among the EMF
    return out.getvalue().splitlines()


def widget(template, title):
    return next(
        w for w in dashboard_body(template)["widgets"] if w.get("properties", {}).get("title") == title
    )


def test_widgets_show_the_runs_totals_and_the_anomaly_rate(template, monkeypatch):
    points = read_emf(
        powertools_lines(
            monkeypatch,
            template.parameters["EndpointName"],
            template.parameters["PipelineName"],
            failed=False,
        )
    )
    lines = {
        line.label: line
        for line in widget_lines(widget(template, "Capture records: scored and rejected"), points)
    }
    assert lines["RecordsScored (Sum)"].value == 100
    assert lines["RecordsRejected (Sum)"].value is None
    rate = {
        line.label: line.value
        for line in widget_lines(widget(template, "Anomalies and anomaly rate"), points)
    }
    assert rate["anomaly rate (%)"] == pytest.approx(9.0)
    endpoint = widget_lines(widget(template, "Endpoint latency (microseconds)"), points)
    assert {line.note for line in endpoint} == {"published by AWS only"}


def test_a_failed_run_puts_its_alarm_and_the_health_alarm_in_alarm(template, monkeypatch):
    args = (template.parameters["EndpointName"], template.parameters["PipelineName"])
    healthy = alarm_states(template, read_emf(powertools_lines(monkeypatch, *args, failed=False)))
    failing = alarm_states(template, read_emf(powertools_lines(monkeypatch, *args, failed=True)))
    assert healthy["PipelineRunFailedAlarm"] == "OK"
    assert healthy["SentinelHealthAlarm"] == "OK"
    assert healthy["AnomaliesAlarm"] == "ALARM"  # 9 anomalies
    assert failing["PipelineRunFailedAlarm"] == "ALARM"
    assert failing["SentinelHealthAlarm"] == "ALARM"


def test_retraining_failures_are_evaluated_with_the_alarms_metric_math(template):
    machine = template.ref("RetrainStateMachine")
    timed_out = [MetricPoint("AWS/States", "ExecutionsTimedOut", (("StateMachineArn", machine),), 1.0)]
    assert alarm_states(template, timed_out)["RetrainingFailedAlarm"] == "ALARM"
    assert alarm_states(template, [])["RetrainingFailedAlarm"] == "OK"
    assert evaluate("FILL(a, 0) + FILL(b, 0)", {"a": None, "b": 2.0}) == 2.0
    assert evaluate("100 * a / b", {"a": 1.0, "b": 0.0}) is None


def test_the_picture_is_a_png_with_every_widget(template, monkeypatch, tmp_path):
    points = read_emf(
        powertools_lines(
            monkeypatch, template.parameters["EndpointName"], template.parameters["PipelineName"], failed=True
        )
    )
    path = render(template, points, tmp_path / "dashboard.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 20_000


def test_lines_that_are_not_emf_are_skipped():
    lines = ['{"level":"INFO"}', "plain text", json.dumps({"_aws": {"CloudWatchMetrics": []}}), "{broken"]
    assert read_emf(lines) == []


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"records": 200.0, "rejected": 50.0}, 0.25),
        ({"records": 0.0, "rejected": 0.0}, 0.0),
        ({"records": None, "rejected": 3.0}, None),
    ],
)
def test_the_reject_ratio_alarms_if_expression_is_evaluated_like_cloudwatch(values, expected):
    # GIVEN the reject-ratio alarm's metric math WHEN evaluated offline THEN IF and > act as CloudWatch's
    assert evaluate("IF(records > 0, rejected / records, 0)", values) == expected


def test_unknown_metric_math_is_refused_not_guessed():
    with pytest.raises(ValueError, match="not drawn offline"):
        evaluate("RATE(records)", {"records": 1.0})
