"""The dashboard and alarms show only metrics the code really emits (names, namespace, dimensions).

The emitted metrics are read from the code's Powertools EMF calls with ``ast``, not restated: a
renamed metric or a dropped dimension makes this fail instead of leaving a blank widget.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from sentinel.template import Template
from tests.support.dashboard import NAME_FAMILIES, Emitted, code_sources, emitted_metrics, resolved_template

SEARCH = re.compile(r"SEARCH\('\{(?P<schema>[^}]*)\}(?P<terms>[^']*)'")

pytestmark = pytest.mark.source_scan


def widget_metrics(body: dict[str, Any]) -> list[tuple[str, str, dict[str, str], str]]:
    """(namespace, metric, dimensions, widget title) of every metric line and SEARCH of the body."""
    found = []
    for widget in body["widgets"]:
        props = widget.get("properties", {})
        for line in props.get("metrics", []):
            if isinstance(line[0], dict):
                match = SEARCH.search(line[0].get("expression", ""))
                if match:
                    namespace, *dim_names = [part.strip() for part in match["schema"].split(",")]
                    terms = dict(re.findall(r'(\w+)="([^"]*)"', match["terms"]))
                    metric = terms.pop("MetricName", "")
                    words = re.sub(r'\w+="[^"]*"', "", match["terms"]).split()
                    if not metric and words:  # a free-text search names a family: feature_baseline_drift
                        metric = next((f for f in NAME_FAMILIES.values() if f.startswith(words[0])), "")
                    dims = {name: terms.get(name, "*") for name in dim_names}
                    found.append((namespace, metric, dims, props.get("title", "")))
                continue
            parts = [part for part in line if not isinstance(part, dict)]
            namespace, metric, *pairs = parts
            found.append((namespace, metric, dict(zip(pairs[::2], pairs[1::2], strict=True)), props["title"]))
    return found


@pytest.fixture(scope="module")
def template() -> Template:
    return resolved_template()


@pytest.fixture(scope="module")
def emitted() -> Emitted:
    found, unreadable = emitted_metrics(code_sources())
    assert not unreadable, f"metric names that are not literals (cannot be checked): {unreadable}"
    return found


def _globals_env(template: Template) -> dict[str, str]:
    return template.document["Globals"]["Function"]["Environment"]["Variables"]


def test_the_code_scan_finds_the_metrics_every_function_emits(emitted: Emitted) -> None:
    # GIVEN the runtime package and the handlers / WHEN their EMF calls are read
    # THEN the scan sees metrics of every stage, with the dimensions each call site adds
    assert frozenset({"service", "EndpointName"}) in emitted["RecordsScored"]
    assert frozenset({"service"}) in emitted["UploadsIgnored"]  # through ignored(...)
    assert frozenset({"service", "PipelineName", "Status"}) in emitted["PipelineRuns"]
    assert frozenset({"service", "PipelineName", "StepName"}) in emitted["PipelineStepDuration"]
    assert frozenset({"service", "PipelineName"}) in emitted["PipelineRunEstimatedCost"]
    assert frozenset({"service", "EndpointName"}) in emitted["feature_baseline_drift_*"]


def test_every_dashboard_metric_of_our_namespace_is_emitted_by_the_code(
    template: Template, emitted: Emitted
) -> None:
    # GIVEN the dashboard as deployed with the template's defaults
    env = _globals_env(template)
    namespace, service = env["POWERTOOLS_METRICS_NAMESPACE"], env["POWERTOOLS_SERVICE_NAME"]
    body = json.loads(template.resolve(template.resource("SentinelDashboard")["Properties"]["DashboardBody"]))
    # WHEN every metric it shows is listed
    shown = widget_metrics(body)
    ours = [m for m in shown if m[0] == namespace]
    # THEN each of ours has a name and a dimension set the code emits, with the deployed values
    assert len(ours) >= 15
    for _, metric, dims, title in ours:
        assert metric in emitted, f"{title!r}: {metric} is not emitted by the code"
        assert frozenset(dims) in emitted[metric], (
            f"{title!r}: {metric} shown with dimensions {sorted(dims)}, emitted with {emitted[metric]}"
        )
        assert dims["service"] == service
        if "EndpointName" in dims:  # the log route's metrics (Log*) are about the log endpoint
            endpoint = "LogsEndpointName" if metric.startswith("Log") else "EndpointName"
            assert dims["EndpointName"] == template.parameters[endpoint]
        if "PipelineName" in dims:
            assert dims["PipelineName"] == template.parameters["PipelineName"]
        if "Status" in dims:
            assert dims["Status"] in ("Succeeded", "Failed", "Stopped")
    # AND nothing is shown from a namespace that is neither ours nor AWS's (a stale namespace)
    foreign = (
        {m[0] for m in shown}
        - {namespace}
        - {n for n in (m[0] for m in shown) if n.lower().startswith("aws/")}
    )
    assert not foreign


def test_alarms_on_our_namespace_watch_metrics_the_code_emits(template: Template, emitted: Emitted) -> None:
    namespace = _globals_env(template)["POWERTOOLS_METRICS_NAMESPACE"]
    alarms = template.resources_of_type("AWS::CloudWatch::Alarm")
    checked = 0
    for logical_id, alarm in alarms.items():
        props = template.resolve(alarm["Properties"])
        if props.get("Namespace") != namespace:
            continue
        dims = {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}
        assert frozenset(dims) in emitted.get(props["MetricName"], set()), logical_id
        checked += 1
    assert checked >= 2  # AnomaliesAlarm and PipelineRunFailedAlarm at least


def test_a_renamed_metric_or_a_dropped_dimension_is_caught() -> None:
    # GIVEN code that renamed RecordsScored and no longer adds EndpointName
    sources = code_sources()
    path = "layers/common/anomaly_sentinel/score_capture/adapters.py"
    changed = sources[path].replace('name="RecordsScored"', 'name="RecordsScoredTotal"')
    changed = changed.replace('metrics.add_dimension(name="EndpointName", value=report.endpoint)', "pass")
    assert changed != sources[path]
    emitted, _ = emitted_metrics({**sources, path: changed})
    # THEN the dashboard check no longer finds what the widgets show
    assert "RecordsScored" not in emitted
    assert frozenset({"service", "EndpointName"}) not in emitted["Anomalies"]


def test_every_alarm_description_says_where_to_look(template: Template) -> None:
    health = [
        "EndpointErrorsAlarm",
        "EndpointLatencyAlarm",
        "EndpointThrottlingAlarm",
        "PipelineRunFailedAlarm",
        "RetrainingFailedAlarm",
        "RejectedRecordsAlarm",
    ]
    for logical_id in health:
        description = template.resource(logical_id)["Properties"]["AlarmDescription"]
        assert "look" in description.lower() or "names the" in description, logical_id
    rule = template.resource("SentinelHealthAlarm")["Properties"]["AlarmRule"]["Fn::Sub"]
    for logical_id in [*health, "DeadLetterAlarm"]:
        assert f'ALARM("${{{logical_id}}}")' in rule


def test_endpoint_alarms_watch_the_variant_retraining_deploys(template: Template) -> None:
    from anomaly_sentinel.retraining import request

    source = Path(request.__file__).read_text(encoding="utf-8")
    (variant,) = set(re.findall(r'"variantName": "([^"]+)"', source))
    for logical_id in ("EndpointErrorsAlarm", "EndpointLatencyAlarm", "EndpointThrottlingAlarm"):
        dims = {d["Name"]: d["Value"] for d in template.resource(logical_id)["Properties"]["Dimensions"]}
        assert dims["VariantName"] == variant
        assert dims["EndpointName"] == {"Ref": "EndpointName"}


def test_every_event_driven_function_has_its_lambda_widgets(template: Template) -> None:
    # PipelineArtifactsFunction runs only during deployments (a custom resource): not graphed.
    functions = set(template.resources_of_type("AWS::Serverless::Function")) - {"PipelineArtifactsFunction"}
    body = json.loads(template.resolve(template.resource("SentinelDashboard")["Properties"]["DashboardBody"]))
    for metric in ("Errors", "Throttles", "Duration"):
        graphed = {
            dims["FunctionName"]
            for ns, name, dims, _ in widget_metrics(body)
            if (ns, name) == ("AWS/Lambda", metric)
        }
        assert graphed == {template.ref(f) for f in functions}, metric
