"""CloudFormation's own rules that cfn-lint, sam validate and checkov let through, on both templates.

Each test reads template.yaml and observability/monitoring-account.yaml as written and checks a rule
CloudFormation or the service applies at deploy or run time, for every value the parameters allow
(or their longest): intrinsic functions inside ``Rules``, schedule expressions, generated names
against the resource schemas CloudFormation validates with (the registry schemas cfn-lint ships),
the retraining state machine's history against the Standard-execution quota, and log retention.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
import regex
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from sentinel.template import PROJECT_ROOT, Template, load_template

MAIN = PROJECT_ROOT / "template.yaml"
MONITORING = PROJECT_ROOT / "observability" / "monitoring-account.yaml"
TEMPLATES = {"template.yaml": MAIN, "monitoring-account.yaml": MONITORING}
ASL = json.loads((PROJECT_ROOT / "statemachine" / "retrain.asl.json").read_text(encoding="utf-8"))
#: CloudFormation stack names: a letter, then letters, digits and hyphens, at most 128 characters.
LONGEST_STACK_NAME = "a" * 128


def document(name: str) -> dict[str, Any]:
    return load_template(TEMPLATES[name])


# ---------------------------------------------------------------------------- Rules


#: Template Reference, "Rule functions": inside a rule's condition and assertions CloudFormation
#: accepts Ref and these only (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/rules-section-structure.html).
RULE_FUNCTIONS = frozenset(
    {
        "Ref",
        "Fn::And",
        "Fn::Contains",
        "Fn::EachMemberEquals",
        "Fn::EachMemberIn",
        "Fn::Equals",
        "Fn::Not",
        "Fn::Or",
        "Fn::RefAll",
        "Fn::ValueOf",
        "Fn::ValueOfAll",
    }
)


def intrinsics(value: Any) -> Iterator[str]:
    """Every intrinsic function (``Ref``, ``Fn::…``, ``Condition``) used anywhere in ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("Ref", "Condition") or key.startswith("Fn::"):
                yield key
            yield from intrinsics(item)
    elif isinstance(value, list):
        for item in value:
            yield from intrinsics(item)


def rule_violations(rules: Mapping[str, Any]) -> list[str]:
    found = []
    for name, rule in rules.items():
        expressions = [rule.get("RuleCondition"), *(a.get("Assert") for a in rule.get("Assertions", []))]
        found += [f"{name}: {used}" for used in intrinsics(expressions) if used not in RULE_FUNCTIONS]
    return found


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_rules_use_only_ref_and_rule_functions(name):
    rules = document(name).get("Rules", {})
    assert rule_violations(rules) == []


def test_the_rules_check_refuses_what_cloudformation_refuses():
    # The monitoring account's first assertion as it was: Fn::Join inside a rule.
    before = {
        "SomebodyMayLink": {
            "Assertions": [{"Assert": {"Fn::Not": [{"Fn::Equals": [{"Fn::Join": [",", {"Ref": "L"}]}, ""]}]}}]
        }
    }
    assert rule_violations(before) == ["SomebodyMayLink: Fn::Join"]


def evaluate_rule(value: Any, parameters: Mapping[str, Any]) -> Any:
    """The rule functions as CloudFormation evaluates them (CommaDelimitedList values are lists)."""
    if isinstance(value, list):
        return [evaluate_rule(item, parameters) for item in value]
    if not isinstance(value, dict):
        return value
    ((key, arg),) = value.items()
    args = evaluate_rule(arg, parameters) if key != "Ref" else arg
    functions = {
        "Ref": lambda: parameters[arg],
        "Fn::Not": lambda: not args[0],
        "Fn::Or": lambda: any(args),
        "Fn::And": lambda: all(args),
        "Fn::Equals": lambda: args[0] == args[1],
        "Fn::EachMemberEquals": lambda: all(member == args[1] for member in args[0]),
        "Fn::EachMemberIn": lambda: all(member in args[1] for member in args[0]),
        "Fn::Contains": lambda: args[1] in args[0],
    }
    return functions[key]()


@pytest.mark.parametrize(
    ("accounts", "organization", "allowed"),
    [
        ([""], "", False),  # the defaults: an empty CommaDelimitedList is [""]
        (["111122223333"], "", True),
        ([""], "o-abcdefghij", True),
        (["111122223333", "444455556666"], "o-abcdefghij", True),
    ],
)
def test_the_monitoring_account_refuses_a_sink_nobody_may_link_to(accounts, organization, allowed):
    (rule,) = document("monitoring-account.yaml")["Rules"].values()
    parameters = {"SourceAccountIds": accounts, "OrganizationId": organization}
    assert all(evaluate_rule(a["Assert"], parameters) for a in rule["Assertions"]) is allowed


# ---------------------------------------------------------------------------- schedule expressions

#: EventBridge cron fields: (name, lowest, highest, names, extra wildcards)
#: (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html).
MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
CRON_FIELDS = (
    ("minutes", 0, 59, (), ""),
    ("hours", 0, 23, (), ""),
    ("day-of-month", 1, 31, (), "?LW"),
    ("month", 1, 12, MONTHS, ""),
    ("day-of-week", 1, 7, DAYS, "?L#"),
    ("year", 1970, 2199, (), ""),
)


def _number(text: str, low: int, high: int, names: tuple[str, ...] | list[str]) -> bool:
    if text.upper() in names:
        return True
    return text.isdigit() and low <= int(text) <= high


def _cron_field_errors(text: str, field: tuple[str, int, int, Any, str]) -> list[str]:
    name, low, high, names, extra = field
    if text in ("*", "?") and (text == "*" or "?" in extra):
        return []
    errors = []
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and not (step.isdigit() and 1 <= int(step) <= high):
            errors.append(f"{name}: increment {step} outside 1-{high}")
        ends = [] if base == "*" else base.split("-")
        for end in ends:
            if ("L" in extra and end in ("L", "LW")) or ("#" in extra and re.fullmatch(r"[1-7]#[1-5]", end)):
                continue
            if "W" in extra and end.endswith("W") and _number(end[:-1], low, high, names):
                continue
            if not _number(end, low, high, names):
                errors.append(f"{name}: {end} outside {low}-{high}")
    return errors


def eventbridge_schedule_errors(expression: str) -> list[str]:
    """What EventBridge refuses in a rule's schedule expression (cron or rate)."""
    rate = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        singular = not unit.endswith("s")
        if value < 1 or singular != (value == 1):
            return [f"{expression}: value {value} with unit {unit}"]
        return []
    cron = re.fullmatch(r"cron\((.*)\)", expression)
    fields = cron.group(1).split(" ") if cron else []
    if len(fields) != len(CRON_FIELDS):
        return [f"{expression}: not cron(6 fields) or rate(N unit)"]
    errors = [
        e for text, field in zip(fields, CRON_FIELDS, strict=True) for e in _cron_field_errors(text, field)
    ]
    if (fields[2] == "?") == (fields[4] == "?"):
        errors.append("exactly one of day-of-month and day-of-week must be ?")
    return errors


def model_monitor_schedule_errors(expression: str) -> list[str]:
    """Model Monitor's documented expressions only: hourly, daily at H, every N hours from H, NOW
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ScheduleConfig.html)."""
    if expression in ("NOW", "cron(0 * ? * * *)"):
        return []
    found = re.fullmatch(r"cron\(0 (\d{1,2})(?:/(\d{1,2}))? \? \* \* \*\)", expression)
    if found and int(found.group(1)) <= 23 and (found.group(2) is None or 1 <= int(found.group(2)) <= 24):
        return []
    return [f"{expression}: not a Model Monitor schedule expression"]


def schedules(resources: Mapping[str, Any]) -> Iterator[tuple[str, Any, Any]]:
    """(where, raw expression, checker) for every schedule expression the template writes."""
    for logical_id, resource in resources.items():
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::Serverless::Function":
            for event, spec in (props.get("Events") or {}).items():
                if spec["Type"] == "Schedule":
                    yield f"{logical_id}.{event}", spec["Properties"]["Schedule"], eventbridge_schedule_errors
        elif kind in ("AWS::Events::Rule", "AWS::Scheduler::Schedule") and "ScheduleExpression" in props:
            yield logical_id, props["ScheduleExpression"], eventbridge_schedule_errors
        elif kind == "AWS::SageMaker::MonitoringSchedule":
            raw = props["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"]
            yield logical_id, raw, model_monitor_schedule_errors


def referenced(raw: Any, doc: Mapping[str, Any]) -> set[str]:
    """Parameters a value depends on, through Ref, Fn::Sub and the conditions of its Fn::If."""
    text = json.dumps(raw)
    names = set(re.findall(r'"Ref": "([A-Za-z0-9]+)"', text)) | set(re.findall(r"\$\{([A-Za-z0-9]+)\}", text))
    for condition in re.findall(r'"Fn::If": \["([A-Za-z0-9]+)"', text):
        names |= referenced(doc["Conditions"][condition], doc)
    return names & set(doc.get("Parameters", {}))


def allowed_values(spec: Mapping[str, Any]) -> list[str]:
    """Every value a parameter allows, or its edges and default when it is a range."""
    if "AllowedValues" in spec:
        return [str(v) for v in spec["AllowedValues"]]
    edges = [spec.get("MinValue"), spec.get("Default"), spec.get("MaxValue")]
    return sorted({str(v) for v in edges if v is not None})


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_schedule_expression_is_valid_for_every_allowed_parameter_value(name):
    doc = document(name)
    checked = 0
    for where, raw, errors_of in schedules(doc["Resources"]):
        names = sorted(referenced(raw, doc))
        for values in itertools.product(*(allowed_values(doc["Parameters"][n]) for n in names)):
            parameters = dict(zip(names, values, strict=True))
            expression = Template(doc, parameters=parameters).resolve(raw)
            assert errors_of(expression) == [], (where, parameters)
            checked += 1
    assert checked >= (9 if name == "template.yaml" else 0)  # DriftWindowHours' 8 values, and more


@pytest.mark.parametrize(
    ("expression", "valid"),
    [
        ("cron(15 0/1 * * ? *)", True),
        ("cron(15 0/12 * * ? *)", True),
        ("cron(15 0 * * ? *)", True),
        ("cron(0 12 ? * MON-FRI *)", True),
        ("rate(5 minutes)", True),
        ("rate(1 hour)", True),
        ("cron(15 0/24 * * ? *)", False),  # DriftWindowHours=24 before: hours are 0-23
        ("cron(15 24 * * ? *)", False),
        ("cron(15 0 * * * *)", False),  # day-of-month and day-of-week both given
        ("rate(1 hours)", False),
        ("rate(0 minutes)", False),
    ],
)
def test_the_schedule_check_knows_eventbridges_rules(expression, valid):
    assert (eventbridge_schedule_errors(expression) == []) is valid


# ---------------------------------------------------------------------------- generated names


def _schema(resource_type: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    except Exception:  # noqa: BLE001 - SAM types and custom resources have no registry schema
        return None
    return found


def _resolve_ref(schema: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        node = schema["definitions"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def _inputs_only(raw: Any, doc: Mapping[str, Any]) -> bool:
    """Whether a value is computed from parameters and pseudo parameters alone (no resource)."""
    text = json.dumps(raw)
    if "Fn::GetAtt" in text or "Fn::ImportValue" in text:
        return False
    refs = set(re.findall(r'"Ref": "([A-Za-z0-9:]+)"', text)) | set(
        re.findall(r"\$\{([A-Za-z0-9:.]+)\}", text)
    )
    local = set()
    if isinstance(raw, dict) and isinstance(raw.get("Fn::Sub"), list):
        local = set(raw["Fn::Sub"][1])
    refs -= local
    resources = set(doc.get("Resources", {}))
    return bool(refs) and not refs & resources and all("." not in r for r in refs)


def constrained_strings(
    raw: Any, node: Mapping[str, Any], schema: Mapping[str, Any], path: str, doc: Mapping[str, Any]
) -> Iterator[tuple[str, Any, Mapping[str, Any]]]:
    """(property path, raw value, constraints) of every string property computed from the inputs."""
    node = _resolve_ref(schema, node)
    if node.get("type") == "string" and _inputs_only(raw, doc):
        if {"maxLength", "minLength", "pattern"} & set(node):
            yield path, raw, node
        return
    if isinstance(raw, dict) and "properties" in node and not any(k.startswith("Fn::") for k in raw):
        for key, item in raw.items():
            if key in node["properties"]:
                yield from constrained_strings(item, node["properties"][key], schema, f"{path}.{key}", doc)
    elif isinstance(raw, list) and "items" in node:
        for index, item in enumerate(raw):
            yield from constrained_strings(item, node["items"], schema, f"{path}[{index}]", doc)


#: A short valid value of each patterned parameter, stretched to its MaxLength by :func:`longest`.
EXAMPLES = {
    "MonitoringSinkArn": "arn:aws:oam:us-east-1:111122223333:sink/a",
    "CentralEventBusArn": "arn:aws:events:us-east-1:111122223333:event-bus/a",
    "ModelMonitorBaselineUri": "s3://bucket/baseline/",
}


def longest(name: str, spec: Mapping[str, Any]) -> str:
    """The longest value a parameter allows (its pattern still satisfied)."""
    if "AllowedValues" in spec:
        return max((str(v) for v in spec["AllowedValues"]), key=len)
    if spec.get("Type") == "Number":
        if "MaxValue" not in spec:
            raise AssertionError(f"parameter {name} ends up in a name but has no MaxValue")
        return str(spec["MaxValue"])
    if "MaxLength" not in spec:
        raise AssertionError(f"parameter {name} ends up in a name but has no MaxLength")
    pattern, size = spec.get("AllowedPattern", ".*"), int(spec["MaxLength"])
    candidates = ["a" * size, "0" * size]
    if name in EXAMPLES:  # stretched before its last character (a trailing / stays last)
        example = EXAMPLES[name]
        candidates.append(example[:-1] + "a" * (size - len(example)) + example[-1])
    for candidate in candidates:
        if re.fullmatch(pattern, candidate):
            return candidate
    raise AssertionError(f"cannot build a {size}-character value of {name} matching {pattern}")


def name_violations(doc: Mapping[str, Any], parameters: Mapping[str, str], stack_name: str) -> list[str]:
    template = Template(dict(doc), parameters=parameters, stack_name=stack_name)
    found = []
    for logical_id, resource in doc["Resources"].items():
        schema = _schema(resource["Type"])
        if schema is None or ("Condition" in resource and not template.condition(resource["Condition"])):
            continue
        for path, raw, constraints in constrained_strings(
            resource.get("Properties", {}), schema, schema, logical_id, doc
        ):
            value = str(template.resolve(raw))
            if len(value) > constraints.get("maxLength", len(value)):
                found.append(f"{path}: {len(value)} characters > {constraints['maxLength']} ({value})")
            if len(value) < constraints.get("minLength", 0):
                found.append(f"{path}: {len(value)} characters < {constraints['minLength']}")
            pattern = constraints.get("pattern")
            if pattern and regex.search(pattern, value) is None:  # JSON Schema: unanchored search
                found.append(f"{path}: {value!r} does not match {pattern}")
    return found


def parameters_in_names(doc: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for resource in doc["Resources"].values():
        schema = _schema(resource["Type"])
        if schema is not None:
            for _, raw, _ in constrained_strings(resource.get("Properties", {}), schema, schema, "", doc):
                names |= referenced(raw, doc)
    return names


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_generated_name_fits_its_resource_for_the_longest_allowed_inputs(name):
    doc = document(name)
    used = parameters_in_names(doc)
    longest_values = {p: longest(p, doc["Parameters"][p]) for p in used}
    assert name_violations(doc, {}, "anomaly-sentinel") == []
    assert name_violations(doc, longest_values, LONGEST_STACK_NAME) == []


def test_the_name_check_sees_a_schedule_name_past_63_characters():
    # The Model Monitor schedule as it was: the endpoint's name (up to 63) plus "-data-quality".
    doc = document("template.yaml")
    doc["Resources"]["ModelMonitorSchedule"]["Properties"]["MonitoringScheduleName"] = {
        "Fn::Sub": "${ModelMonitorEndpointName}-data-quality"
    }
    on = {"ModelMonitorEndpointName": "a" * 63, "ModelMonitorBaselineUri": "s3://bucket/baseline/"}
    found = name_violations(doc, on, "anomaly-sentinel")
    assert [v.split(":")[0] for v in found] == ["ModelMonitorSchedule.MonitoringScheduleName"]


# ---------------------------------------------------------------------------- the retraining run's bounds

#: Standard workflows: 25,000 events in an execution's history
#: (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
HISTORY_QUOTA = 25_000
#: History events one pass through a state writes: Entered + Exited, and a Task's Scheduled,
#: Started and Succeeded between them; each retried attempt adds Failed, Scheduled and Started.
STATE_EVENTS = {
    "Task": 5,
    "Choice": 2,
    "Pass": 2,
    "Wait": 2,
    "Succeed": 1,
    "Fail": 1,
    "Parallel": 2,
    "Map": 2,
}
RETRY_EVENTS = 3


def _next_states(state: Mapping[str, Any]) -> list[str]:
    found = [state.get("Next"), state.get("Default"), *(c.get("Next") for c in state.get("Choices", []))]
    return [name for name in found if name]


def poll_loops(states: Mapping[str, Any]) -> list[set[str]]:
    """The cycles of the state graph (strongly connected sets of more than one state)."""

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in _next_states(states[todo.pop()]):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reach = {name: reachable(name) for name in states}
    loops: list[set[str]] = []
    for name in states:
        loop = {other for other in reach[name] if name in reach[other]}
        if len(loop) > 1 and loop not in loops:
            loops.append(loop)
    return loops


def loop_bound(loop: set[str], states: Mapping[str, Any]) -> str:
    """The template parameter that bounds a loop: its Choice compares the count with it."""
    for name in loop:
        for choice in states[name].get("Choices", []):
            path = choice.get("NumericGreaterThanEqualsPath", "")
            if path.startswith("$.request.limits."):
                field = path.rsplit(".", 1)[-1]
                return field[0].upper() + field[1:]
    raise AssertionError(f"loop {sorted(loop)} has no bound")


def test_the_longest_retraining_run_fits_a_standard_executions_history():
    states = ASL["States"]
    parameters = document("template.yaml")["Parameters"]
    loops = poll_loops(states)
    in_loops = set().union(*loops)
    assert len(loops) == 2
    # Every state outside the polls once, with every retry it allows, plus start and end.
    fixed = 2 + sum(
        STATE_EVENTS[state["Type"]]
        + RETRY_EVENTS * sum(r.get("MaxAttempts", 3) for r in state.get("Retry", []))
        for name, state in states.items()
        if name not in in_loops
    )
    polls = {
        loop_bound(loop, states): sum(STATE_EVENTS[states[name]["Type"]] for name in loop) for loop in loops
    }
    assert polls == {"PipelineMaxPolls": 11, "EndpointMaxPolls": 11}
    worst = fixed + sum(events * int(parameters[bound]["MaxValue"]) for bound, events in polls.items())
    assert worst <= HISTORY_QUOTA


def test_the_lock_outlives_the_longest_bounded_wait_with_the_defaults():
    # RetrainStepsFunction refuses other values at start (anomaly_sentinel.settings); the template's
    # defaults must be a valid combination in the first place.
    defaults = Template().parameters
    longest_wait = int(defaults["PipelinePollSeconds"]) * int(defaults["PipelineMaxPolls"]) + int(
        defaults["EndpointPollSeconds"]
    ) * int(defaults["EndpointMaxPolls"])
    assert int(defaults["RetrainLockTtlSeconds"]) >= longest_wait


# ---------------------------------------------------------------------------- logs


def test_every_function_logs_to_a_group_with_retention():
    # Lambda's own /aws/lambda/<name> group keeps logs forever: each function names its group,
    # and the group has a retention.
    template = Template()
    groups = template.resources_of_type("AWS::Logs::LogGroup")
    for logical_id in template.function_ids():
        config = template.resource(logical_id)["Properties"].get("LoggingConfig", {})
        assert "Ref" in config.get("LogGroup", {}), logical_id
        group = groups[config["LogGroup"]["Ref"]]["Properties"]
        assert group.get("RetentionInDays"), logical_id
        name = template.resolve(group["LogGroupName"])
        assert name.startswith(f"/aws/lambda/{template.stack_name}-"), name  # the OAM link's filter
    machine_logs = template.resource("RetrainStateMachineLogs")["Properties"]
    assert machine_logs.get("RetentionInDays")
