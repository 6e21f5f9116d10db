"""The stack's CloudWatch dashboard, drawn offline from what an emulator run produced.

The widgets come from template.yaml's ``SentinelDashboard`` (same titles, same layout, same metric
lines); the values come from the EMF documents the real handlers printed (our namespace) and from
what moto holds for AWS-published metrics it can answer (Step Functions executions by status,
dead-letter queue depth). Metrics only AWS publishes (endpoint latency, Lambda duration) are
marked as such. The picture (``sentinel.dashboard_picture``) shows totals over the run: the demo
lasts seconds, not hours.
"""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentinel.template import Template

AWS_ONLY = "published by AWS only"
_STAT_SUM = ("Sum", "SampleCount")


@dataclass(frozen=True)
class MetricPoint:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    value: float
    unit: str = "None"  # CloudWatch's unit as the EMF document declared it


def read_emf(lines: Iterable[str]) -> list[MetricPoint]:
    """Every metric value in the EMF documents among ``lines`` (other log lines are skipped)."""
    points: list[MetricPoint] = []
    for line in lines:
        text = line.strip()
        if not (text.startswith("{") and '"_aws"' in text):
            continue
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            continue
        for directive in document["_aws"].get("CloudWatchMetrics", []):
            for dimension_set in directive.get("Dimensions", []):
                dims = tuple(sorted((name, str(document.get(name, ""))) for name in dimension_set))
                for metric in directive.get("Metrics", []):
                    raw = document.get(metric["Name"], [])
                    unit = str(metric.get("Unit", "None"))
                    for value in raw if isinstance(raw, list) else [raw]:
                        points.append(
                            MetricPoint(directive["Namespace"], metric["Name"], dims, float(value), unit)
                        )
    return points


def emulator_metrics(template: Template, clients: Mapping[str, Any]) -> list[MetricPoint]:
    """AWS-published metrics the emulator can answer: retraining executions, dead letters.

    The emulator lists every execution, so a status no execution ended in is a known 0, not a gap.
    """
    points: list[MetricPoint] = []
    machine = template.ref("RetrainStateMachine")
    runs = clients["stepfunctions"].list_executions(stateMachineArn=machine)["executions"]
    names = {"SUCCEEDED": "ExecutionsSucceeded", "FAILED": "ExecutionsFailed"}
    names |= {"TIMED_OUT": "ExecutionsTimedOut", "ABORTED": "ExecutionsAborted"}
    dims = (("StateMachineArn", machine),)
    for status, name in names.items():
        count = sum(run["status"] == status for run in runs)
        points.append(MetricPoint("AWS/States", name, dims, float(count), "Count"))
    queue = template.get_att("DeadLetterQueue", "QueueName")
    sqs = clients["sqs"]
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    points.append(
        MetricPoint(
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            (("QueueName", queue),),
            float(depth["Attributes"]["ApproximateNumberOfMessages"]),
            "Count",
        )
    )
    return points


def dashboard_body(template: Template) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        template.resolve(template.resource("SentinelDashboard")["Properties"]["DashboardBody"])
    )
    return body


@dataclass(frozen=True)
class Line:
    label: str
    value: float | None  # None: no data (see ``note``)
    note: str = ""
    unit: str = "None"  # CloudWatch's unit, or Percent / USD when the line's label says so
    axis: str = "left"  # the widget's yAxis for this line
    metric: str = ""  # the metric's name (empty for metric math)
    search: str = ""  # the SEARCH expression the line came from (its lines are as many as the data)


def _unit(label: str, declared: str) -> str:
    """The unit a line is drawn in: the label's "(%)" or "(USD)" wins over an EMF "None"."""
    if "(%)" in label:
        return "Percent"
    if "(USD)" in label:
        return "USD"
    return declared


def _aggregate(values: list[float], stat: str) -> float:
    if stat in _STAT_SUM:
        return float(sum(values))
    if stat == "Minimum":
        return min(values)
    if stat == "Average":
        return sum(values) / len(values)
    return max(values)  # Maximum and percentiles: the largest value seen in the run


Key = tuple[str, str, tuple[tuple[str, str], ...]]
Index = dict[Key, list[float]]


def _index(points: list[MetricPoint]) -> Index:
    index: Index = defaultdict(list)
    for point in points:
        index[(point.namespace, point.name, point.dimensions)].append(point.value)
    return index


def _units(points: list[MetricPoint]) -> dict[Key, str]:
    return {(point.namespace, point.name, point.dimensions): point.unit for point in points}


def _stat_value(index: Index, metric: Mapping[str, Any], stat: str) -> float | None:
    dims = tuple(sorted((d["Name"], str(d["Value"])) for d in metric.get("Dimensions", [])))
    values = index.get((metric["Namespace"], metric["MetricName"], dims))
    return _aggregate(values, stat) if values else None


_COMPARE = {
    "GreaterThanThreshold": lambda v, t: v > t,
    "GreaterThanOrEqualToThreshold": lambda v, t: v >= t,
    "LessThanThreshold": lambda v, t: v < t,
    "LessThanOrEqualToThreshold": lambda v, t: v <= t,
}


def alarm_states(template: Template, points: list[MetricPoint]) -> dict[str, str]:
    """Each alarm's state over the whole run (one period), composite alarms from their children."""
    index = _index(points)
    states: dict[str, str] = {}
    for logical_id, resource in template.resources_of_type("AWS::CloudWatch::Alarm").items():
        if "Condition" in resource and not template.condition(resource["Condition"]):
            continue
        props = template.resolve(resource["Properties"])
        if "Metrics" in props:
            by_id: dict[str, float | None] = {}
            value = None
            for query in props["Metrics"]:
                if "MetricStat" in query:
                    stat = query["MetricStat"]
                    by_id[query["Id"]] = _stat_value(index, stat["Metric"], stat["Stat"])
                else:
                    by_id[query["Id"]] = evaluate(query["Expression"], by_id)
                if query.get("ReturnData", True):
                    value = by_id[query["Id"]]
        else:
            stat = props.get("Statistic") or props.get("ExtendedStatistic", "Maximum")
            value = _stat_value(index, props, stat)
        if value is None:
            missing = props.get("TreatMissingData", "missing")
            states[logical_id] = "OK" if missing == "notBreaching" else "INSUFFICIENT_DATA"
        else:
            breached = _COMPARE[props["ComparisonOperator"]](value, float(props["Threshold"]))
            states[logical_id] = "ALARM" if breached else "OK"
    for logical_id, resource in template.resources_of_type("AWS::CloudWatch::CompositeAlarm").items():
        rule = resource["Properties"]["AlarmRule"]
        text = rule.get("Fn::Sub", "") if isinstance(rule, dict) else str(rule)
        children = re.findall(r'ALARM\("\$\{(\w+)\}"\)', text)
        states[logical_id] = "ALARM" if any(states.get(c) == "ALARM" for c in children) else "OK"
    return states


def widget_lines(widget: Mapping[str, Any], points: list[MetricPoint]) -> list[Line]:
    """The values of one metric widget's lines, from the run's points.

    A label names the statistic only where the widget's lines use more than one.
    """
    props = widget["properties"]
    index, units = _index(points), _units(points)
    entries = props.get("metrics", [])
    stats = {
        (entry[-1] if isinstance(entry[-1], dict) else {}).get("stat", props.get("stat", "Average"))
        for entry in entries
        if not isinstance(entry[0], dict)
    }
    lines: list[Line] = []
    by_id: dict[str, float | None] = {}
    for entry in entries:
        options = entry[-1] if isinstance(entry[-1], dict) else {}
        axis = str(options.get("yAxis", "left"))
        if isinstance(entry[0], dict):
            axis = str(entry[0].get("yAxis", "left"))
            if "SEARCH(" in str(entry[0].get("expression", "")):
                lines.extend(_search_lines(entry[0], index, units))
            else:
                value = evaluate(str(entry[0].get("expression", "")), by_id)
                label = entry[0].get("label") or entry[0].get("id", "expression")
                note = "" if value is not None else "none in this run"
                lines.append(Line(label, value, note, _unit(label, "None"), axis))
            continue
        namespace, name, *pairs = [part for part in entry if not isinstance(part, dict)]
        dims = tuple(sorted(zip(pairs[::2], pairs[1::2], strict=True)))
        stat = options.get("stat", props.get("stat", "Average"))
        values = index.get((namespace, name, dims))
        value = _aggregate(values, stat) if values else None
        if "id" in options:
            by_id[options["id"]] = value
        if options.get("visible") is False:
            continue
        varying = " ".join(v for k, v in dims if k not in _CONSTANT_DIMENSIONS)
        shown_stat = f"({stat})" if len(stats) > 1 else ""
        label = options.get("label") or " ".join(part for part in (name, shown_stat, varying) if part)
        note = "" if value is not None else (AWS_ONLY if _aws_namespace(namespace) else "none in this run")
        unit = _unit(label, units.get((namespace, name, dims), "None"))
        lines.append(Line(label, value, note, unit, axis, name))
    return lines


#: Dimensions every line of a widget shares: labels show only the ones that differ.
_CONSTANT_DIMENSIONS = {"service", "EndpointName", "PipelineName", "VariantName", "StateMachineArn"}


def _aws_namespace(namespace: str) -> bool:
    return namespace.lower().startswith("aws/")


#: Metric math operators over single values (comparisons give 1 or 0, as CloudWatch's do).
_OPERATORS: dict[type[ast.AST], Callable[[float, float], float | None]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b if b else None,
    ast.Gt: lambda a, b: float(a > b),
    ast.GtE: lambda a, b: float(a >= b),
    ast.Lt: lambda a, b: float(a < b),
    ast.LtE: lambda a, b: float(a <= b),
    ast.Eq: lambda a, b: float(a == b),
    ast.NotEq: lambda a, b: float(a != b),
}


def evaluate(expression: str, values: Mapping[str, float | None]) -> float | None:
    """Metric math over single values: ids, numbers, + - * /, comparisons, FILL(id, n), IF(c, a, b).

    None when data is missing.
    """
    tree = ast.parse(expression, mode="eval")

    def apply(op: ast.AST, left_node: ast.AST, right_node: ast.AST) -> float | None:
        operator = _OPERATORS.get(type(op))
        if operator is None:
            raise ValueError(f"metric math not drawn offline: {expression!r}")
        left, right = walk(left_node), walk(right_node)
        return None if left is None or right is None else operator(left, right)

    def call(name: str, args: list[ast.expr]) -> float | None:
        if name == "FILL":
            found = walk(args[0])
            return found if found is not None else walk(args[1])
        if name == "IF":
            condition = walk(args[0])
            if condition is None:
                return None
            return walk(args[1]) if condition else walk(args[2])
        raise ValueError(f"metric math not drawn offline: {expression!r}")

    def walk(node: ast.AST) -> float | None:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            return values.get(node.id)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return call(node.func.id, node.args)
        if isinstance(node, ast.BinOp):
            return apply(node.op, node.left, node.right)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            return apply(node.ops[0], node.left, node.comparators[0])
        raise ValueError(f"metric math not drawn offline: {expression!r}")

    return walk(tree)


def _search_lines(expression: Mapping[str, Any], index: Index, units: Mapping[Key, str]) -> list[Line]:
    """SEARCH's lines: ``key="value"`` terms match exactly, a bare term matches part of the name."""
    text = str(expression.get("expression", ""))
    match = re.search(r"SEARCH\('\{([^}]*)\}([^']*)',\s*'(\w+)'", text)
    if not match:
        raise ValueError(f"unreadable SEARCH expression: {text!r}")
    namespace, *dim_names = [part.strip() for part in match.group(1).split(",")]
    terms = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
    bare = re.sub(r'\w+="[^"]*"', " ", match.group(2)).split()
    wanted = terms.pop("MetricName", None)
    lines = []
    for (ns, name, dims), values in sorted(index.items()):
        given = dict(dims)
        if ns != namespace or sorted(given) != sorted(dim_names) or (wanted and name != wanted):
            continue
        if any(given.get(key) != value for key, value in terms.items()):
            continue
        if any(term.lower() not in name.lower() for term in bare):
            continue
        varying = [given[d] for d in dim_names if d not in terms and d != "service"]
        if bare:  # a per-feature family: the part of the name after the searched term
            varying = [name.split(bare[0], 1)[-1].removeprefix("_") or name]
        unit = units.get((ns, name, dims), "None")
        value = _aggregate(list(values), match.group(3))
        lines.append(Line(" ".join(varying) or name, value, "", unit, metric=name, search=namespace))
    if not lines:
        note = AWS_ONLY if _aws_namespace(namespace) else "none in this run"
        lines.append(Line(f"SEARCH {namespace}", None, note, metric=f"{namespace} metrics"))
    return lines


def write_dashboard(template: Template, log_path: Path, out: Path, clients: Mapping[str, Any]) -> Path:
    """The demo's entry point: EMF lines of ``log_path`` + the emulator's metrics → ``out``."""
    with log_path.open(encoding="utf-8") as log:
        points = read_emf(log)
    from sentinel.dashboard_picture import render  # matplotlib: imported only when drawing

    return render(template, points + emulator_metrics(template, clients), out)
