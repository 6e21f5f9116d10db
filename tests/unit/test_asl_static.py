"""statemachine/retrain.asl.json read statically against template.yaml: wiring, error handling, bounds."""

from __future__ import annotations

import json

import pytest

from sentinel.stepfunctions import placeholders
from sentinel.template import PROJECT_ROOT, Template

MACHINE = "RetrainStateMachine"


@pytest.fixture(scope="module")
def template():
    return Template()


@pytest.fixture(scope="module")
def asl(template):
    uri = template.resource(MACHINE)["Properties"]["DefinitionUri"]
    return json.loads((PROJECT_ROOT / uri).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def states(asl):
    return asl["States"]


def targets(state):
    found = [state.get("Next"), state.get("Default")]
    found += [choice.get("Next") for choice in state.get("Choices", [])]
    found += [catcher["Next"] for catcher in state.get("Catch", [])]
    return {target for target in found if target}


def test_the_machine_is_loaded_from_its_file_never_inline(template):
    props = template.resource(MACHINE)["Properties"]
    assert props["DefinitionUri"] == "statemachine/retrain.asl.json"
    assert "Definition" not in props
    assert props["Type"] == "STANDARD"


def test_every_placeholder_has_a_substitution_and_every_substitution_is_used(template, asl):
    substitutions = set(template.resource(MACHINE)["Properties"]["DefinitionSubstitutions"])
    assert placeholders(asl) - substitutions == set(), "ASL placeholders without a substitution"
    assert substitutions - placeholders(asl) == set(), "substitutions the ASL never uses"


def test_every_task_has_retry_and_a_catch_all(states):
    for name, state in states.items():
        if state["Type"] != "Task":
            continue
        assert state.get("Retry"), f"{name} has no Retry"
        assert all(retrier["MaxAttempts"] >= 1 for retrier in state["Retry"]), name
        catches = state.get("Catch") or []
        assert any("States.ALL" in catcher["ErrorEquals"] for catcher in catches), f"{name} has no catch-all"


def test_no_hard_coded_resources_or_sync_integrations(states):
    for name, state in states.items():
        if state["Type"] != "Task":
            continue
        assert state["Resource"].startswith("arn:aws:states:::"), name
        assert not state["Resource"].endswith(".sync"), f"{name}: .sync cannot be polled by moto nor bounded"
        text = json.dumps(state.get("Parameters", {}))
        assert "arn:aws:" not in text, f"{name} hard-codes an ARN instead of a substitution"


def test_transitions_reach_existing_states_and_every_state_is_reachable(asl, states):
    for name, state in states.items():
        assert targets(state) <= set(states), f"{name} points at a missing state"
        assert state["Type"] in ("Choice", "Succeed", "Fail") or "Next" in state or state.get("End"), name
    seen, todo = set(), [asl["StartAt"]]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(targets(states[current]))
    assert seen == set(states), f"unreachable: {set(states) - seen}"


def test_once_the_lock_is_taken_every_ending_releases_it(states):
    # GIVEN the state after a successful AcquireLock
    release = {name for name, s in states.items() if s.get("Resource", "").endswith("dynamodb:deleteItem")}
    start = states["AcquireLock"]["Next"]
    # WHEN walking every path that does not pass a release state
    seen, todo, unreleased_ends = set(), [start], set()
    while todo:
        current = todo.pop()
        if current in seen or current in release:
            continue
        seen.add(current)
        state = states[current]
        if state["Type"] in ("Succeed", "Fail") or state.get("End"):
            unreleased_ends.add(current)
        todo.extend(targets(state))
    # THEN none of them ends the execution
    assert unreleased_ends == set()


def test_lock_held_path_ends_without_touching_the_other_runs_lock(states):
    held = next(
        c["Next"]
        for c in states["AcquireLock"]["Catch"]
        if "DynamoDB.ConditionalCheckFailedException" in c["ErrorEquals"]
    )
    reachable, todo = set(), [held]
    while todo:
        current = todo.pop()
        if current not in reachable:
            reachable.add(current)
            todo.extend(targets(states[current]))
    assert not any(states[name].get("Resource", "").endswith("dynamodb:deleteItem") for name in reachable)


def test_polling_loops_wait_by_parameter_and_are_bounded(states):
    waits = {name for name, s in states.items() if s["Type"] == "Wait"}
    assert waits == {"WaitForPipeline", "WaitForEndpoint"}
    for name in waits:
        assert states[name]["SecondsPath"].startswith("$.request.limits."), name
    for choice, limit in (("PipelineStatus", "pipelineMaxPolls"), ("EndpointStatus", "endpointMaxPolls")):
        bounds = [
            c
            for c in states[choice]["Choices"]
            if c.get("NumericGreaterThanEqualsPath") == f"$.request.limits.{limit}"
        ]
        assert bounds, f"{choice} has no bound on {limit}"
        assert states[bounds[0]["Next"]]["Type"] == "Pass"  # → a timeout error, then the failure path


def test_describe_tasks_keep_only_the_fields_they_need(states):
    for name, state in states.items():
        if ":aws-sdk:sagemaker:describe" in state.get("Resource", ""):
            assert "ResultSelector" in state, (
                f"{name} would carry timestamps in the state (moto cannot serialise them)"
            )


def test_deployment_uses_the_serverless_shape_and_the_execution_role(states):
    variant = states["CreateEndpointConfig"]["Parameters"]["ProductionVariants"][0]
    assert set(variant["ServerlessConfig"]) == {"MemorySizeInMB.$", "MaxConcurrency.$"}
    assert states["CreateModel"]["Parameters"]["ExecutionRoleArn"] == "${SageMakerExecutionRoleArn}"


def test_notifications_carry_the_alert_attributes(states):
    for name, state in states.items():
        if state.get("Resource") == "arn:aws:states:::sns:publish":
            attributes = state["Parameters"]["MessageAttributes"]
            assert set(attributes) == {"kind", "severity", "endpoint"}, name
            assert attributes["kind"]["StringValue"] == "retraining"


def test_subjects_fit_sns_with_the_longest_endpoint_name_the_template_allows(template, states):
    # SNS Publish: subjects are ASCII, without line breaks, and less than 100 characters
    # (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html)
    # (the endpoint is EndpointName, or LogsEndpointName for a log run: the request names it)
    parameters = template.document["Parameters"]
    longest = "e" * max(int(parameters[p]["MaxLength"]) for p in ("EndpointName", "LogsEndpointName"))
    for name, state in states.items():
        if state.get("Resource") == "arn:aws:states:::sns:publish":
            given = state["Parameters"]
            if "Subject.$" in given:
                text = given["Subject.$"]
                assert text.startswith("States.Format('"), name
                assert text.endswith("', $.request.deployment.endpointName)"), name
                subject = text.removeprefix("States.Format('").split("'", 1)[0].replace("{}", longest)
            else:
                subject = given["Subject"].replace("${EndpointName}", longest)
            assert len(subject) <= 99, name
            assert subject.isascii(), name
            assert subject.isprintable(), name


def test_a_failed_deployment_never_leaves_the_candidate_approved(states):
    # GIVEN the states that create, update and wait for the endpoint
    deploying = {
        "CreateModel",
        "CreateEndpointConfig",
        "CreateEndpoint",
        "UpdateEndpoint",
        "DescribeEndpoint",
    }
    # WHEN walking back from the approval THEN it comes only after the endpoint serves the new config
    approvers = {n for n, s in states.items() if s.get("Resource", "").endswith(":updateModelPackage")}
    assert approvers == {"ApproveModelPackage"}
    before = {n for n, s in states.items() if "ApproveModelPackage" in targets(s)}
    assert before == {"EndpointStatus"}
    in_service = next(c for c in states["EndpointStatus"]["Choices"] if c["Next"] == "ApproveModelPackage")
    assert {"Variable": "$.endpoint.status", "StringEquals": "InService"} in in_service["And"]
    # AND no deployment state can reach the approval through its failure path
    for name in deploying:
        for catcher in states[name]["Catch"]:
            assert catcher["Next"] == "NotifyDeployFailed", name
