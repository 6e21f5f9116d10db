"""Every error name in statemachine/retrain.asl.json can really occur, and transient ones are retried.

The rules, from AWS's documentation:

* A retrier or catcher matches error names exactly (Amazon States Language, "Error names"). The
  built-in names start with ``States.``.
* An AWS SDK integration (``arn:aws:states:::aws-sdk:service:action``) reports ``ServiceName.ErrorName``,
  both PascalCase, and the error name always carries the ``Exception`` suffix, even when the service's
  API reference leaves it out (S3's ``BucketAlreadyExists`` is ``S3.BucketAlreadyExistsException``):
  https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html
* Errors the service's API model does not declare arrive as the SDK's base exception of the service.
  For the AWS SDK integrations that is the AWS SDK for Java 2.x class ``{ServiceId}Exception``
  (``SageMaker.SageMakerException``); for the optimized integrations it is the 1.x class, as in the
  documented ``Lambda.AWSLambdaException``. SageMaker's model declares no throttling error, so its
  throttles arrive as ``SageMaker.SageMakerException``.
* Lambda: ``Lambda.ClientExecutionTimeoutException``, ``Lambda.ServiceException``,
  ``Lambda.AWSLambdaException``, ``Lambda.SdkClientException`` (transient service errors),
  ``Lambda.TooManyRequestsException``, and ``Lambda.Unknown`` for unhandled function errors including
  timeouts: https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html .
  Current runtimes report a function timeout with the error type ``Sandbox.Timedout``
  (https://docs.aws.amazon.com/lambda/latest/dg/troubleshooting-invocation.html).

The declared errors of each operation come from botocore's service model, installed offline.
"""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest

from sentinel.template import PROJECT_ROOT, Template

#: The Amazon States Language's predefined error names.
STATES_ERRORS = {
    "States.ALL",
    "States.DataLimitExceeded",
    "States.ExceedToleratedFailureThreshold",
    "States.HeartbeatTimeout",
    "States.Http.Socket",
    "States.IntrinsicFailure",
    "States.ItemReaderFailed",
    "States.NoChoiceMatched",
    "States.ParameterPathFailure",
    "States.Permissions",
    "States.ResultPathMatchFailure",
    "States.ResultWriterFailed",
    "States.Runtime",
    "States.TaskFailed",
    "States.Timeout",
}
#: Optimized integrations: botocore service name, and the SDK for Java 1.x base exception.
OPTIMIZED = {
    "lambda": ("lambda", "AWSLambdaException"),
    "dynamodb": ("dynamodb", "AmazonDynamoDBException"),
    "sns": ("sns", "AmazonSNSException"),
}
#: Documented by Step Functions (bp-lambda-serviceexception) and Lambda (Sandbox.Timedout) beyond the model.
LAMBDA_DOCUMENTED = {
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.SdkClientException",
    "Lambda.Unknown",
    "Sandbox.Timedout",
}
#: What "transient" means per integration: each of these must be retried by every task of its kind.
MUST_RETRY = {
    "sagemaker": {"SageMaker.SageMakerException"},
    "dynamodb": {
        "DynamoDB.ProvisionedThroughputExceededException",
        "DynamoDB.ThrottlingException",
        "DynamoDB.RequestLimitExceededException",
        "DynamoDB.InternalServerErrorException",
    },
    "sns": {"SNS.InternalErrorException", "SNS.KMSThrottlingException", "SNS.AmazonSNSException"},
    "lambda": {
        "Lambda.ClientExecutionTimeoutException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
        "Lambda.Unknown",
        "Sandbox.Timedout",
        "States.Timeout",
    },
}
_SESSION = botocore.session.get_session()


def _asl() -> dict[str, Any]:
    uri = Template().resource("RetrainStateMachine")["Properties"]["DefinitionUri"]
    loaded: dict[str, Any] = json.loads((PROJECT_ROOT / uri).read_text(encoding="utf-8"))
    return loaded


TASKS = {name: s for name, s in _asl()["States"].items() if s["Type"] == "Task"}


def integration(resource: str) -> tuple[str, str, str]:
    """(kind, botocore service, operation) of a Task's Resource."""
    action = resource.removeprefix("arn:aws:states:::")
    if action.startswith("aws-sdk:"):
        _, service, api = action.split(":")
        return "sagemaker" if service == "sagemaker" else service, service, api[0].upper() + api[1:]
    service, api = action.split(":")
    return service, OPTIMIZED[service][0], api[0].upper() + api[1:]


def possible_errors(resource: str) -> set[str]:
    """The names Step Functions can report for this task, by the rules in the module docstring."""
    kind, service, operation = integration(resource)
    model = _SESSION.get_service_model(service)
    prefix = model.metadata["serviceId"].replace(" ", "")
    declared = {shape.name for shape in model.operation_model(operation).error_shapes}
    names = {f"{prefix}.{n if n.endswith('Exception') else n + 'Exception'}" for n in declared}
    if resource.startswith("arn:aws:states:::aws-sdk:"):
        names.add(f"{prefix}.{prefix}Exception")  # SDK for Java 2.x base exception
    else:
        names.add(f"{prefix}.{OPTIMIZED[kind][1]}")  # SDK for Java 1.x base exception
    if kind == "lambda":
        names |= LAMBDA_DOCUMENTED
    return names


def handlers(state: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [("Retry", r["ErrorEquals"]) for r in state.get("Retry", [])] + [
        ("Catch", c["ErrorEquals"]) for c in state.get("Catch", [])
    ]


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_error_name_a_task_handles_is_one_its_integration_can_report(name):
    # GIVEN a task and the names its integration can report (documented naming + botocore's model)
    state = TASKS[name]
    possible = possible_errors(state["Resource"]) | STATES_ERRORS
    # WHEN its retriers and catchers are read THEN each name can occur: no rule that never matches
    for field, names in handlers(state):
        never = [n for n in names if n not in possible]
        assert never == [], f"{name}.{field} names errors its integration never reports: {never}"


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_retries_the_transient_errors_of_its_integration(name):
    state = TASKS[name]
    kind = integration(state["Resource"])[0]
    retried = {n for field, names in handlers(state) if field == "Retry" for n in names}
    assert MUST_RETRY[kind] <= retried, f"{name} does not retry {sorted(MUST_RETRY[kind] - retried)}"


def test_a_sagemaker_throttle_is_not_a_declared_error_so_only_the_base_exception_can_catch_it():
    # The fact the retry rule rests on: no SageMaker operation the machine calls declares a
    # throttling error, so a throttle is reported as the base exception.
    for state in TASKS.values():
        kind, service, operation = integration(state["Resource"])
        if kind != "sagemaker":
            continue
        declared = {
            s.name for s in _SESSION.get_service_model(service).operation_model(operation).error_shapes
        }
        assert not any("Throttl" in n for n in declared), operation


def test_old_names_that_never_match_are_rejected_by_the_rule():
    # The names this machine used before: none of them can be reported, so the rule must refuse them.
    update = "arn:aws:states:::aws-sdk:sagemaker:updateEndpoint"
    assert "SageMaker.ThrottlingException" not in possible_errors(update)
    assert "SageMaker.InternalFailure" not in possible_errors(update)
    assert "DynamoDB.RequestLimitExceeded" not in possible_errors("arn:aws:states:::dynamodb:putItem")
    assert "SNS.SdkClientException" not in possible_errors("arn:aws:states:::sns:publish")


def test_lambda_tasks_time_out_after_the_function_would_and_retry_that_timeout():
    # GIVEN the function's own timeout from the template
    timeout = int(Template().resource("RetrainStepsFunction")["Properties"]["Timeout"])
    for name, state in TASKS.items():
        if integration(state["Resource"])[0] != "lambda":
            continue
        # THEN the task waits longer than the function may run (States.Timeout only for a lost
        # invocation), and a timed-out attempt is retried at least once
        assert state["TimeoutSeconds"] > timeout, name
        timeouts = [r for r in state["Retry"] if "Sandbox.Timedout" in r["ErrorEquals"]]
        assert timeouts, name
        assert timeouts[0]["MaxAttempts"] >= 1, name
