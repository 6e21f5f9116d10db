"""The dashboard and alarms show only metrics the code really emits (names, namespace, dimensions).

The emitted metrics are read from the code's Powertools EMF calls with ``ast``, not restated: a
renamed metric or a dropped dimension makes this fail instead of leaving a blank widget.
"""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from sentinel.emulator import LocalStack, nominal
from sentinel.template import PROJECT_ROOT, Template

CODE_ROOTS = [PROJECT_ROOT / "layers" / "common" / "anomaly_sentinel", PROJECT_ROOT / "functions"]
#: The one place a metric name is a variable: the helper every "ignored" path calls with a literal.
#: The helpers that take metric names from their callers: function name -> its metric-name
#: arguments (keyword, position or None). Their callers pass literals; inside them names are variables.
NAME_FORWARDERS: dict[str, tuple[tuple[str, int | None], ...]] = {
    "ignored": (("metric", 2),),
    "handle_object_event": (("ignored_metric", None), ("handled_metric", None)),  # object_events.py
    "ignored_event": (("metric", 0),),  # handler_kit.py
    "count_metric": (("name", 0),),  # handler_kit.py
}
#: Metric families named per feature (Model Monitor's naming): the helper that builds the name.
NAME_FAMILIES = {"drift_metric_name": "feature_baseline_drift_*"}
SEARCH = re.compile(r"SEARCH\('\{(?P<schema>[^}]*)\}(?P<terms>[^']*)'")

Emitted = dict[str, set[frozenset[str]]]

pytestmark = pytest.mark.source_scan


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _keyword(call: ast.Call, name: str, position: int | None = 0) -> ast.AST | None:
    """The argument passed as ``name=``, else at ``position`` (None: keyword only)."""
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return call.args[position] if position is not None and len(call.args) > position else None


def _family(node: ast.AST | None) -> str | None:
    """``feature_baseline_drift_*`` for a name built by a per-feature naming helper."""
    return NAME_FAMILIES.get(_method(node) or "") if isinstance(node, ast.Call) else None


def _method(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


class EmfCalls(ast.NodeVisitor):
    """Metric names and their dimension sets, per function scope and per ``single_metric`` block.

    Powertools adds the ``service`` dimension to every metric; ``add_dimension`` in a function
    applies to the metrics that function adds; inside ``with single_metric(...) as m`` only the
    dimensions added to ``m`` apply.
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self.emitted: Emitted = defaultdict(set)
        self.unreadable: list[str] = []

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        dims = {"service"}
        pending: list[str] = []
        single_blocks: set[int] = set()
        for child in ast.walk(node):
            if isinstance(child, ast.With):
                for item in child.items:
                    call = item.context_expr
                    if isinstance(call, ast.Call) and _method(call) == "single_metric":
                        self._single_metric(call, item.optional_vars, child, node.name)
                        single_blocks.update(id(n) for n in ast.walk(child))
        for child in ast.walk(node):
            if not isinstance(child, ast.Call) or id(child) in single_blocks:
                continue
            method = _method(child)
            if method == "add_dimension":
                name = _literal(_keyword(child, "name"))
                if name:
                    dims.add(name)
            elif method == "add_metric":
                name = _literal(_keyword(child, "name")) or _family(_keyword(child, "name"))
                if name is None:
                    if node.name not in NAME_FORWARDERS:
                        self.unreadable.append(f"{self.where}:{child.lineno}")
                    continue
                pending.append(name)
            elif method in NAME_FORWARDERS:
                for keyword, position in NAME_FORWARDERS[method]:
                    name = _literal(_keyword(child, keyword, position))
                    if name is not None:
                        self.emitted[name].add(frozenset({"service"}))
                    elif node.name not in NAME_FORWARDERS:  # a forwarder passes its own argument on
                        self.unreadable.append(f"{self.where}:{child.lineno}")
        for name in pending:
            self.emitted[name].add(frozenset(dims))

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def _single_metric(self, call: ast.Call, target: ast.AST | None, block: ast.With, scope: str) -> None:
        name = _literal(_keyword(call, "name"))
        if name is None:
            self.unreadable.append(f"{self.where}:{call.lineno}")
            return
        alias = target.id if isinstance(target, ast.Name) else None
        dims = {"service"}
        for child in ast.walk(block):
            if (
                isinstance(child, ast.Call)
                and _method(child) == "add_dimension"
                and isinstance(child.func, ast.Attribute)
                and isinstance(child.func.value, ast.Name)
                and child.func.value.id == alias
            ):
                dim = _literal(_keyword(child, "name"))
                if dim:
                    dims.add(dim)
        self.emitted[name].add(frozenset(dims))


def emitted_metrics(sources: dict[str, str]) -> tuple[Emitted, list[str]]:
    emitted: Emitted = defaultdict(set)
    unreadable: list[str] = []
    for where, text in sources.items():
        visitor = EmfCalls(where)
        visitor.visit(ast.parse(text))
        for name, dims in visitor.emitted.items():
            emitted[name] |= dims
        unreadable += visitor.unreadable
    return emitted, unreadable


def code_sources() -> dict[str, str]:
    return {
        str(path.relative_to(PROJECT_ROOT)): path.read_text(encoding="utf-8")
        for root in CODE_ROOTS
        for path in sorted(root.rglob("*.py"))
    }


def resolved_template() -> Template:
    """template.yaml with nominal physical names (no emulator needed to read the dashboard)."""
    stack = LocalStack()
    for logical_id, resource in stack.document["Resources"].items():
        stack.physical[logical_id] = nominal(logical_id, resource["Type"], {})
    return stack.template()


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
