"""Run template.yaml's state machines on moto's Step Functions engine, with the real Lambdas.

moto executes ASL when ``{"stepfunctions": {"execute_state_machine": True}}`` is set, but its
``lambda:invoke`` echoes the payload. Within :func:`template_lambdas` a task invoking
``arn:aws:lambda:...:function:<name>`` runs the template function whose physical name that is,
in-process, with its template environment (sentinel.invoke.LocalFunction). Handler exceptions
become Lambda function errors, so the ASL's Retry/Catch see the error name as on AWS.

:func:`fast_waits` records what Wait states and Retry intervals would have slept instead of
sleeping, and :func:`wait_for_execution` is the bounded poll every caller needs. The moto patches
behind both live in :mod:`sentinel.moto_patches`; nothing is applied at import.
"""

from __future__ import annotations

import json
import re
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentinel.emulator import LOCAL_ENV
from sentinel.invoke import FunctionPool, LocalFunction
from sentinel.moto_patches import instant_waits, lambda_invoke
from sentinel.template import PROJECT_ROOT, Template, TemplateError

TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
_TOKEN = re.compile(r"\$\{([A-Za-z0-9_.:]+)\}")


# ---------------------------------------------------------------------------- definitions


def substitute(value: Any, substitutions: Mapping[str, Any]) -> Any:
    """Apply DefinitionSubstitutions to every string of a parsed ASL document (as CloudFormation)."""
    if isinstance(value, dict):
        return {key: substitute(item, substitutions) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, substitutions) for item in value]
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in substitutions:
                raise TemplateError(f"ASL placeholder ${{{name}}} has no DefinitionSubstitutions entry")
            return str(substitutions[name])

        return _TOKEN.sub(replace, value)
    return value


def placeholders(document: Any) -> set[str]:
    """Every ``${Name}`` the ASL document uses."""
    return set(_TOKEN.findall(json.dumps(document)))


def definition(template: Template, logical_id: str) -> dict[str, Any]:
    """The state machine's ASL with its substitutions resolved against ``template``'s names."""
    props = template.resource(logical_id).get("Properties", {})
    if "DefinitionUri" not in props:
        raise TemplateError(f"{logical_id} has no DefinitionUri (inline ASL is not allowed)")
    document = json.loads((PROJECT_ROOT / Path(props["DefinitionUri"])).read_text(encoding="utf-8"))
    resolved = template.resolve(props.get("DefinitionSubstitutions", {}))
    substituted: dict[str, Any] = substitute(document, resolved)
    return substituted


# ---------------------------------------------------------------------------- Lambda tasks


@dataclass
class LambdaCall:
    logical_id: str
    payload: Any
    result: Any = None
    error: str | None = None


@dataclass
class TemplateLambdas:
    """The template's functions, as moto's Lambda backend sees them during a ``with`` block."""

    template: Template
    overrides: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    calls: list[LambdaCall] = field(default_factory=list)
    #: Called with (logical_id, payload) before each handler runs: a seam for tests and the demo
    #: (e.g. let a simulated pipeline register its model before the evaluate step).
    before: list[Callable[[str, Any], None]] = field(default_factory=list)
    #: Shared with the router when given, so each function is imported (warm) once.
    pool: FunctionPool | None = None

    def __post_init__(self) -> None:
        if self.pool is None:
            self.pool = FunctionPool(self.template, self.overrides, base=LOCAL_ENV)
        self._by_name = {
            self.template.physical[logical_id].ref: logical_id
            for logical_id in self.template.function_ids()
            if logical_id in self.template.physical
        }

    def logical_id(self, function_name: str) -> str:
        """``name``, ``name:qualifier`` or a function ARN → the template's logical id."""
        name = function_name.split(":function:", 1)[1] if ":function:" in function_name else function_name
        name = name.split(":", 1)[0]
        if name not in self._by_name:
            raise KeyError(f"no template function is deployed as {name!r}")
        return self._by_name[name]

    def function(self, logical_id: str) -> LocalFunction:
        assert self.pool is not None  # set in __post_init__
        return self.pool(logical_id)

    def invoke(self, function_name: str, body: Any, response_headers: dict[str, Any]) -> bytes:
        logical_id = self.logical_id(function_name)
        raw = body.decode("utf-8") if isinstance(body, bytes) else body
        payload = json.loads(raw) if raw else {}
        call = LambdaCall(logical_id, payload)
        self.calls.append(call)
        for hook in self.before:
            hook(logical_id, payload)
        try:
            call.result = self.function(logical_id)(payload)
        except Exception as exc:  # noqa: BLE001 - any handler error is a function error, as on Lambda
            call.error = f"{type(exc).__name__}: {exc}"
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(
                {
                    "errorType": type(exc).__name__,
                    "errorMessage": str(exc),
                    "stackTrace": traceback.format_exception(exc)[-3:],
                }
            ).encode("utf-8")
        return json.dumps(call.result, default=str).encode("utf-8")


@contextmanager
def template_lambdas(
    template: Template,
    overrides: Mapping[str, Mapping[str, str]] | None = None,
    pool: FunctionPool | None = None,
) -> Iterator[TemplateLambdas]:
    """Within the block, moto's ``lambda:invoke`` runs the template's real handlers in-process.

    Works with ``mock_aws`` and with ThreadedMotoServer (same process). Requires moto's Lambda
    to run without Docker: ``config={"lambda": {"use_docker": False}}``.
    """
    lambdas = TemplateLambdas(template, overrides or {}, pool=pool)
    with lambda_invoke(lambdas.invoke):
        yield lambdas


# ---------------------------------------------------------------------------- waits


@dataclass
class Waits:
    """What Wait states and Retry intervals would have slept, in seconds, in order."""

    waits: list[float] = field(default_factory=list)
    retries: list[float] = field(default_factory=list)


@contextmanager
def fast_waits(on_wait: Callable[[float], None] | None = None) -> Iterator[Waits]:
    """Wait states and Retry back-off return at once (recorded) instead of sleeping for real.

    ``on_wait(seconds)`` runs in place of each Wait state's sleep: the moment to let local work
    progress, e.g. the demo's pipeline executor running the execution the machine is polling.
    """
    record = Waits()

    def waited(seconds: float) -> None:
        record.waits.append(seconds)
        if on_wait is not None:
            on_wait(seconds)

    with instant_waits(on_wait=waited, on_retry=record.retries.append):
        yield record


def wait_for_execution(
    sfn: Any, execution_arn: str, timeout: float = 30.0, interval: float = 0.02
) -> dict[str, Any]:
    """Poll DescribeExecution until the execution ends; TimeoutError (never a hang) otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] in TERMINAL:
            return described
        if time.monotonic() > deadline:
            raise TimeoutError(f"{execution_arn} still {described['status']} after {timeout:g} s")
        time.sleep(interval)


def run_execution(
    sfn: Any, state_machine_arn: str, name: str, payload: dict[str, Any], timeout: float = 30.0
) -> dict[str, Any]:
    """Start a named execution and wait for its end; returns DescribeExecution (output parsed)."""
    arn = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload))[
        "executionArn"
    ]
    described = wait_for_execution(sfn, arn, timeout=timeout)
    if described.get("output"):
        described["output"] = json.loads(described["output"])
    return described


# ---------------------------------------------------------------------------- EventBridge input


def _json_path(event: Mapping[str, Any], path: str) -> Any:
    if path == "$":
        return event
    if not path.startswith("$."):
        raise ValueError(f"unsupported InputPathsMap path {path!r}")
    value: Any = event
    for part in path[2:].split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def apply_input_transformer(transformer: Mapping[str, Any], event: Mapping[str, Any]) -> str:
    """EventBridge's InputTransformer: ``<name>`` placeholders filled from InputPathsMap paths.

    As EventBridge does: inside a JSON string a placeholder takes the value's text; outside one it
    takes the value as JSON (a string value becomes a quoted string). Missing paths give null.
    """
    values = {name: _json_path(event, path) for name, path in transformer.get("InputPathsMap", {}).items()}
    template = str(transformer["InputTemplate"])
    out: list[str] = []
    in_string = escaped = False
    i = 0
    while i < len(template):
        char = template[i]
        match = re.match(r"<([A-Za-z0-9_.-]+)>", template[i:])
        if match and match.group(1) in values:
            value = values[match.group(1)]
            encoded = json.dumps(value)
            out.append(encoded[1:-1] if in_string and isinstance(value, str) else encoded)
            i += len(match.group(0))
            continue
        if in_string and char == "\\" and not escaped:
            escaped = True
        else:
            if char == '"' and not escaped:
                in_string = not in_string
            escaped = False
        out.append(char)
        i += 1
    return "".join(out)
