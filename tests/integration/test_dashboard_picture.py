"""The offline dashboard: EMF read back as CloudWatch would, widgets valued, alarms evaluated, PNG drawn.

The picture is checked on the figure matplotlib drew (its text boxes as the renderer placed
them), not on pixels.
"""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout

import matplotlib
import pytest
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from sentinel.dashboard import (
    MetricPoint,
    alarm_states,
    dashboard_body,
    evaluate,
    read_emf,
    widget_lines,
)
from sentinel.dashboard_picture import TOP_K, figure, number, render, with_unit
from tests.support.dashboard import drawn_texts, overlaps, resolved_template


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


def run_points(template, monkeypatch, *, failed: bool) -> list[MetricPoint]:
    """The points of one run's EMF, for the template's endpoint and pipeline."""
    args = (template.parameters["EndpointName"], template.parameters["PipelineName"])
    return read_emf(powertools_lines(monkeypatch, *args, failed=failed))


def widget(template, title):
    return next(
        w for w in dashboard_body(template)["widgets"] if w.get("properties", {}).get("title") == title
    )


def test_widgets_show_the_runs_totals_and_the_anomaly_rate(template, monkeypatch):
    points = run_points(template, monkeypatch, failed=False)
    lines = {
        line.label: line
        for line in widget_lines(widget(template, "Capture records: scored and rejected"), points)
    }
    assert lines["RecordsScored"].value == 100
    assert lines["RecordsScored"].unit == "Count"
    assert lines["RecordsRejected"].value is None
    rate = {
        line.label: line.value
        for line in widget_lines(widget(template, "Anomalies and anomaly rate"), points)
    }
    assert rate["anomaly rate (%)"] == pytest.approx(9.0)
    # AND a label names the statistic only where a widget's lines use more than one
    latency = {line.label for line in widget_lines(widget(template, "Endpoint latency (microseconds)"), [])}
    assert {"ModelLatency (p50)", "ModelLatency (p99)"} <= latency
    endpoint = widget_lines(widget(template, "Endpoint latency (microseconds)"), points)
    assert {line.note for line in endpoint} == {"published by AWS only"}


def test_a_failed_run_puts_its_alarm_and_the_health_alarm_in_alarm(template, monkeypatch):
    healthy = alarm_states(template, run_points(template, monkeypatch, failed=False))
    failing = alarm_states(template, run_points(template, monkeypatch, failed=True))
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
    points = run_points(template, monkeypatch, failed=True)
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


# ------------------------------------------------------------------ the picture a user reads

AWS_UNITS = {"ModelLatency": "Microseconds", "OverheadLatency": "Microseconds", "Duration": "Milliseconds"}


def every_metric_valued(template) -> list[MetricPoint]:
    """The worst case for the layout: every line of every widget has a value, AWS's too.

    Values span seven orders of magnitude; the drift searches (ours and Model Monitor's) return 48
    features each; the step-duration search returns steps with long names.
    """
    points = []
    for index, widget_ in enumerate(w for w in dashboard_body(template)["widgets"] if w["type"] == "metric"):
        for entry in widget_["properties"]["metrics"]:
            if isinstance(entry[0], dict):
                continue
            namespace, name, *pairs = [part for part in entry if not isinstance(part, dict)]
            dims = tuple(sorted(zip(pairs[::2], pairs[1::2], strict=True)))
            unit = AWS_UNITS.get(name, "Count")
            unit = (
                "Seconds"
                if name.endswith(("Duration", "Seconds")) and namespace == "AnomalySentinel"
                else unit
            )
            unit = "None" if name.endswith("Cost") else unit
            points.append(MetricPoint(namespace, name, dims, 1.2345 * 10 ** (index % 7) + 1, unit))
    endpoint, pipeline = template.parameters["EndpointName"], template.parameters["PipelineName"]
    ours = (("EndpointName", endpoint), ("service", "anomaly-sentinel"))
    monitor = (("Endpoint", endpoint), ("MonitoringSchedule", "a-long-monitoring-schedule-name"))
    for feature in range(48):
        distance = (feature * 37 % 48) / 48
        points.append(MetricPoint("AnomalySentinel", f"feature_baseline_drift__c{feature}", ours, distance))
        points.append(
            MetricPoint(
                "aws/sagemaker/Endpoints/data-metrics",
                f"feature_baseline_drift__c{feature}",
                monitor,
                distance,
            )
        )
    for step in ("Preprocess", "TuneRandomCutForestHyperparameters", "EvaluateBestTrainingJob", "Register"):
        dims = (("PipelineName", pipeline), ("StepName", step), ("service", "anomaly-sentinel"))
        points.append(MetricPoint("AnomalySentinel", "PipelineStepDuration", dims, 1234.5, "Seconds"))
    return points


def our_metrics_only(template, monkeypatch) -> list[MetricPoint]:
    """What an offline run has: our EMF (plus drift per feature), nothing AWS publishes."""
    points = run_points(template, monkeypatch, failed=False)
    ours = (("EndpointName", template.parameters["EndpointName"]), ("service", "anomaly-sentinel"))
    for feature in range(48):
        points.append(
            MetricPoint("AnomalySentinel", f"feature_baseline_drift__c{feature}", ours, feature / 100)
        )
    return points


@pytest.fixture(scope="module")
def worst_case(template):
    fig = figure(template, every_metric_valued(template))
    yield fig
    matplotlib.pyplot.close(fig)


@pytest.fixture
def offline(template, monkeypatch):
    fig = figure(template, our_metrics_only(template, monkeypatch))
    yield fig
    matplotlib.pyplot.close(fig)


def test_no_text_of_the_picture_overlaps_another_or_leaves_its_panel(worst_case, offline):
    # GIVEN every widget full (every line valued, 48 features twice, long names) and an offline run
    # WHEN drawn THEN titles, tick labels, values and notes never overlap and stay in their panel
    assert overlaps(worst_case) == []
    assert overlaps(offline) == []


def test_the_overlap_check_sees_text_drawn_on_top_of_other_text(template, monkeypatch):
    # GIVEN the offline picture with a title written over the first panel's title
    fig = figure(template, our_metrics_only(template, monkeypatch))
    panel = fig.subfigs[0]
    panel.text(0.01, 0.99, "A SECOND TITLE OVER THE FIRST", va="top", fontsize=12)
    fig.canvas.draw()
    # THEN the check reports it
    assert any("A SECOND TITLE" in clash for clash in overlaps(fig))
    matplotlib.pyplot.close(fig)


def test_units_never_share_an_axis_within_a_widget(worst_case):
    # GIVEN "Anomalies and anomaly rate" (count and %) and "Pipeline run time and estimated cost"
    # (seconds and USD) THEN each unit is on its own axis: no tick or value mixes two units
    texts = [text for _, text, _ in drawn_texts(worst_case)]
    assert any(text.endswith(" %") for text in texts)
    assert any(text.endswith(" s") for text in texts)
    assert any(text.startswith("$") for text in texts)
    for ax in worst_case.findobj(matplotlib.axes.Axes):
        labels = [t.get_text() for t in ax.texts + ax.get_xticklabels() if t.get_text().strip()]
        kinds = {unit_of(label) for label in labels} - {"plain", "none"}
        assert len(kinds) <= 1, labels


def unit_of(text: str) -> str:
    text = text.strip()
    if text.startswith("$") or text.startswith("< $"):
        return "USD"
    for suffix, unit in ((" %", "%"), (" ms", "ms"), (" µs", "µs"), (" s", "s")):
        if text.endswith(suffix):
            return unit
    return "none" if text.startswith("none") else "plain"


def test_numbers_are_written_as_people_write_them(worst_case):
    texts = [text for _, text, _ in drawn_texts(worst_case)]
    numbers = [t.strip() for t in texts if re.fullmatch(r"\s*[$<]?[\d.,\s]+[%a-zµ$]*\s*", t)]
    assert numbers
    assert not [t for t in texts if re.search(r"\de[+-]?\d|\u00d710", t)]  # no exponents, no offsets
    assert not [t for t in numbers if re.search(r"\d{4}", t.replace(".", " "))]  # 12,345 not 12345
    assert [number(v) for v in (12289.0, 16.0, 11.5, 0.4197, 0.0)] == ["12,289", "16", "11.5", "0.42", "0"]
    assert [with_unit(v, u) for v, u in ((12.0, "Percent"), (3.2, "Seconds"), (0.05, "USD"))] == [
        "12 %",
        "3.2 s",
        "$0.05",
    ]


def test_the_drift_panel_shows_the_top_k_features_and_says_where_the_rest_are(offline):
    # GIVEN 48 features drifting by 0.00 .. 0.47
    panel = next(sub for sub in offline.subfigs if "Drift per feature" in sub.get_suptitle())
    ax = panel.axes[0]
    shown = [label.get_text() for label in ax.get_yticklabels()]
    # THEN only the k largest are drawn, largest first, and the note says k, n and the metric
    assert shown == [f"_c{i}" for i in range(47, 47 - TOP_K, -1)]
    note = f"top {TOP_K} of 48 by value; all 48 are the metrics feature_baseline_drift_* in AnomalySentinel"
    assert ax.get_xlabel().replace("\n", " ") == note


def test_widgets_only_aws_publishes_are_named_once_in_a_footnote_not_drawn_empty(template, offline):
    # GIVEN the template's widgets whose every line is in an AWS namespace (read from its body)
    aws_only = [
        w["properties"]["title"]
        for w in dashboard_body(template)["widgets"]
        if w["type"] == "metric"
        and all(not isinstance(m[0], dict) and m[0].startswith("AWS/") for m in w["properties"]["metrics"])
    ]
    assert len(aws_only) >= 3
    titles = [sub.get_suptitle().replace("\n", " ") for sub in offline.subfigs]
    footnote = " ".join(
        text for _, text, _ in drawn_texts(offline) if text.startswith("Only on AWS")
    ).replace("\n", " ")
    # THEN none is drawn as a panel, and the footnote names each once
    assert not set(aws_only) & set(titles)
    assert all(footnote.count(f"“{title}”") == 1 for title in aws_only), footnote
    # AND widgets partly published by AWS are drawn, their AWS lines named in the footnote
    assert "Endpoint invocations and errors" in titles
    assert "Invocation5XXErrors in “Endpoint invocations and errors”" in footnote


def test_with_every_line_valued_every_widget_is_drawn_and_nothing_is_footnoted(template, worst_case):
    widgets = [w for w in dashboard_body(template)["widgets"] if w["type"] != "text"]
    titles = {sub.get_suptitle().replace("\n", " ") for sub in worst_case.subfigs}
    assert {w["properties"]["title"] for w in widgets} <= titles
    assert not [text for _, text, _ in drawn_texts(worst_case) if text.startswith("Only on AWS")]
