"""The strict twin: every AWS call is checked against botocore's service model, as AWS checks it.

moto stores whatever it is sent; AWS refuses a value that breaks its service model's constraints
(a model package's metadata with ``(``, a 64-character schedule name, an unknown enum value). So in
:func:`strict_calls` (entered by ``sentinel.world.local_world``) every boto3 client of the process,
whenever it was created, checks each request's parameters before they are serialised:

* required members, types, ``min``/``max`` (string and blob length, list and map size, number
  value), ``enum``, ``pattern`` and unknown members, recursively;
* botocore's own client-side checks still come first where the client has them on (a missing
  required member raises ``ParamValidationError`` exactly as on AWS); what the service itself
  would refuse raises the ``ClientError`` AWS returns: code ``ValidationException`` (query
  protocol: ``ValidationError``), HTTP 400, Coral's message (``1 validation error detected: Value
  '…' at 'customerMetadataProperties.training_data' failed to satisfy constraint: …``).

This covers the handlers' clients, the local pipeline executor's, the tests' own, and the Step
Functions engine: moto's interpreter runs every Task (``aws-sdk:*``, ``sns:publish``,
``dynamodb:putItem``, ``lambda:invoke``…) through a boto3 client it makes with
``parameter_validation=False`` (``moto.stepfunctions.parser.asl.utils.boto_client``), so there
the whole check is ours, as the service's is on AWS, and the task fails with the service's error.

A ``CreatePipeline``/``UpdatePipeline`` call also has its definition checked
(:func:`pipeline_violations`): each step's static arguments against the request shape of the API
the step calls, step and parameter names and parameter defaults against their shapes.

botocore's patterns are Java regular expressions, matched whole (Java's ``matches()``; e.g.
SageMaker's names have no ``$`` and refuse ``a_b``): :func:`java_pattern` translates them for the
``regex`` package (POSIX ``\\p{Alnum}``…, ``\\p{IsAlphabetic}``, ``&&``, surrogate-pair ranges,
ASCII ``\\d``/``\\w``/``\\s``, ``.`` excluding line terminators) and caches each compiled pattern.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

import botocore.client
import botocore.session
import botocore.validate
import regex
from botocore.exceptions import ClientError
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape

from sentinel.moto_patches import Patch, _guarded

# ---------------------------------------------------------------------------- Java patterns

#: Java's POSIX classes (US-ASCII, as ``java.util.regex.Pattern`` defines them without flags).
_POSIX = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7F",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1F\\x7F",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0B\\f\\r",
}
#: Java's other property names that the regex package spells differently.
_PROPERTIES = {
    "all": "\\p{Any}",
    "LD": "[\\p{L}\\p{Nd}]",
    "IsWhitespace": "\\p{White_Space}",
    "javaWhitespace": "\\p{White_Space}",
}
#: Java's predefined classes are ASCII unless UNICODE_CHARACTER_CLASS is set.
_CLASSES = {
    "d": "[0-9]",
    "D": "[^0-9]",
    "w": "[a-zA-Z0-9_]",
    "W": "[^a-zA-Z0-9_]",
    "s": "[ \\t\\n\\x0B\\f\\r]",
    "S": "[^ \\t\\n\\x0B\\f\\r]",
    "h": "[ \\t\\xA0\\u1680\\u180e\\u2000-\\u200a\\u202f\\u205f\\u3000]",
    "v": "[\\n\\x0B\\f\\r\\x85\\u2028\\u2029]",
    "z": "\\Z",
    "Z": "(?=[\\n\\r\\x85\\u2028\\u2029]?\\Z)",
}
#: Java's ``.`` matches anything but a line terminator (Python's excludes only ``\n``).
_DOT = "[^\\n\\r\\x85\\u2028\\u2029]"
_HEX4 = regex.compile(r"\\u([0-9a-fA-F]{4})")


def _property(name: str, negated: bool) -> str:
    if name in _POSIX:
        return f"[{'^' if negated else ''}{_POSIX[name]}]"
    if name in _PROPERTIES:
        translated = _PROPERTIES[name]
    elif name.startswith("Is"):
        translated = f"\\p{{{name[2:]}}}"
    else:
        translated = f"\\p{{{name}}}"
    return f"[^{translated}]" if negated else translated


def _surrogates(pattern: str) -> str:
    """``\\uD800\\uDC00`` (a UTF-16 pair, as Java writes a supplementary character) → ``\\U00010000``."""

    def pair(match: regex.Match[str]) -> str:
        high, low = int(match.group(1), 16), int(match.group(2), 16)
        return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"

    return regex.sub(r"\\u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})", pair, pattern)


def _escape(source: str, i: int, in_class: bool) -> tuple[str, int]:
    """The escape at ``source[i]`` (a backslash) translated, and where the next token starts."""
    letter = source[i + 1]
    if letter in "pP" and source[i + 2 : i + 3] == "{":
        end = source.index("}", i + 3)
        return _property(source[i + 3 : end], negated=letter == "P"), end + 1
    if letter == "x" and source[i + 2 : i + 3] == "{":  # \x{h…h}: a code point
        end = source.index("}", i + 3)
        return f"\\U{int(source[i + 3 : end], 16):08X}", end + 1
    if letter in _CLASSES and not (in_class and letter in "zZ"):
        return _CLASSES[letter], i + 2
    return source[i : i + 2], i + 2


def translate(pattern: str) -> str:
    """A Java regular expression (botocore's ``pattern``) as the regex package's VERSION1 syntax."""
    source = _surrogates(pattern)
    out: list[str] = []
    depth = 0  # inside a character class (Java nests classes, as VERSION1 does)
    i = 0
    while i < len(source):
        char = source[i]
        if char == "\\" and i + 1 < len(source):
            text, i = _escape(source, i, depth > 0)
            out.append(text)
            continue
        if char == "[":
            depth += 1
            opening = source[i : i + 2] if source[i + 1 : i + 2] == "^" else "["
            i += len(opening)
            out.append(opening)
            if source[i : i + 1] == "]":  # a leading ] is a literal in Java
                out.append("\\]")
                i += 1
            continue
        if char == "]" and depth:
            depth -= 1
        elif depth and (char in "|~" or source[i : i + 2] == "--"):
            char = "\\" + char  # literal in Java; set operators (||, ~~, --) in VERSION1
        elif not depth and char == ".":
            char = _DOT
        out.append(char)
        i += 1
    return "".join(out)


@cache
def java_pattern(pattern: str) -> regex.Pattern[str]:
    """botocore's ``pattern``, compiled once per process."""
    return regex.compile(translate(pattern), regex.VERSION1)


# ---------------------------------------------------------------------------- the check


@dataclass(frozen=True)
class Violation:
    """One constraint a value breaks, worded as AWS words it."""

    path: str
    value: Any
    constraint: str

    def __str__(self) -> str:
        shown = "null" if self.value is _MISSING else f"'{_show(self.value)}'"
        return f"Value {shown} at '{self.path}' failed to satisfy constraint: {self.constraint}"


_MISSING = object()
_SHOWN = 100


def _show(value: Any) -> str:
    """The value as the error names it: blobs by size, long strings cut (no payloads in messages)."""
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    text = str(value)
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}…"


def _member(path: str, name: str) -> str:
    key = name[:1].lower() + name[1:]
    return f"{path}.{key}" if path else key


_NUMBERS = {"integer": int, "long": int}
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "float": (int, float, Decimal),
    "double": (int, float, Decimal),
    "timestamp": (datetime.datetime, datetime.date, str, int, float),
    "blob": (bytes, bytearray, str),
    "structure": (dict,),
    "map": (dict,),
    "list": (list, tuple),
}


def violations(value: Any, shape: Shape, path: str = "", *, required: bool = True) -> list[Violation]:
    """Every constraint of ``shape`` that ``value`` breaks (``required=False``: missing members pass)."""
    kind = shape.type_name
    if not _is_type(value, kind):
        return [Violation(path, value, f"Member must be of type {kind}")]
    found = _limits(value, shape, path)
    if isinstance(shape, StructureShape):
        found += _structure(value, shape, path, required)
    elif isinstance(shape, ListShape):
        for index, item in enumerate(value):
            found += violations(item, shape.member, f"{path}.{index + 1}.member", required=required)
    elif isinstance(shape, MapShape):
        for key, item in value.items():
            found += [
                Violation(v.path, v.value, f"Map keys must satisfy constraint: [{v.constraint}]")
                for v in violations(key, shape.key, path, required=required)
            ]
            found += [
                Violation(v.path, v.value, f"Map value must satisfy constraint: [{v.constraint}]")
                for v in violations(item, shape.value, f"{path}.{key}", required=required)
            ]
    return found


def _is_type(value: Any, kind: str) -> bool:
    if kind in _NUMBERS:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("float", "double") and isinstance(value, bool):
        return False
    if kind == "blob" and hasattr(value, "read"):
        return True  # a file-like body (streamed; its length is S3's business)
    expected = _TYPES.get(kind)
    return expected is None or isinstance(value, expected)


def _bounds(value: Any, shape: Shape) -> tuple[str, float] | None:
    """What ``min``/``max`` bound for this value (number: its value; else its length), and that."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return "value", float(value)
    if isinstance(value, str) and shape.type_name == "blob":
        return "length", len(value.encode("utf-8"))
    if isinstance(value, str | bytes | bytearray | list | tuple | dict):
        return "length", len(value)
    return None


def _limits(value: Any, shape: Shape, path: str) -> list[Violation]:
    meta = shape.metadata
    found: list[Violation] = []
    bounded = _bounds(value, shape)
    if bounded is not None:
        what, size = bounded
        if "min" in meta and size < meta["min"]:
            found.append(
                Violation(path, value, f"Member must have {what} greater than or equal to {meta['min']}")
            )
        if "max" in meta and size > meta["max"]:
            found.append(
                Violation(path, value, f"Member must have {what} less than or equal to {meta['max']}")
            )
    if isinstance(value, str) and shape.type_name == "string":
        enum = meta.get("enum")
        if enum and value not in enum:
            found.append(Violation(path, value, f"Member must satisfy enum value set: [{', '.join(enum)}]"))
        pattern = meta.get("pattern")
        if pattern and java_pattern(pattern).fullmatch(value) is None:
            found.append(Violation(path, value, f"Member must satisfy regular expression pattern: {pattern}"))
    return found


def _structure(value: Mapping[str, Any], shape: StructureShape, path: str, required: bool) -> list[Violation]:
    if shape.metadata.get("document"):
        return []
    found: list[Violation] = []
    members = shape.members
    if required:
        found += [
            Violation(_member(path, name), _MISSING, "Member must not be null")
            for name in shape.required_members
            if value.get(name) is None
        ]
    for name, item in value.items():
        if name not in members:
            found.append(Violation(_member(path, name), item, f"Member is not in the {shape.name} shape"))
        elif item is not None:
            found += violations(item, members[name], _member(path, name), required=required)
    if shape.metadata.get("union") and sum(item is not None for item in value.values()) != 1:
        found.append(Violation(path, "", "Member must set exactly one member of a union"))
    return found


def message(found: Sequence[Violation]) -> str:
    """Coral's wording: ``N validation error(s) detected: …; …``."""
    plural = "error" if len(found) == 1 else "errors"
    return f"{len(found)} validation {plural} detected: " + "; ".join(str(v) for v in found)


def error_code(protocol: str) -> str:
    return "ValidationError" if protocol in ("query", "ec2") else "ValidationException"


def client_error(client: Any, operation: OperationModel, found: Sequence[Violation]) -> ClientError:
    """The error a client raises when the service answers 400 with a validation error."""
    code = error_code(operation.service_model.protocol)
    response: Any = {
        "Error": {"Code": code, "Message": message(found), "Type": "Sender"},
        "ResponseMetadata": {
            "RequestId": str(uuid.uuid4()),
            "HTTPStatusCode": 400,
            "HTTPHeaders": {},
            "RetryAttempts": 0,
        },
    }
    error_class = client.exceptions.from_code(code)
    error: ClientError = error_class(response, operation.name)
    return error


def request_violations(operation: OperationModel, params: Mapping[str, Any]) -> list[Violation]:
    """What the service would refuse in this request (its input shape, then extra service rules)."""
    shape = operation.input_shape
    found = [] if shape is None else violations(dict(params), shape)
    extra = _SERVICE_RULES.get((operation.service_model.service_name, operation.name))
    if extra is not None and not found:
        found += extra(params)
    return found


# ---------------------------------------------------------------------------- pipeline definitions

#: Pipeline step type → the SageMaker API whose request its ``Arguments`` are.
STEP_OPERATIONS = {
    "Processing": "CreateProcessingJob",
    "Training": "CreateTrainingJob",
    "Tuning": "CreateHyperParameterTuningJob",
    "Transform": "CreateTransformJob",
    "Model": "CreateModel",
    "RegisterModel": "CreateModelPackage",
}


def _static(value: Any) -> Any:
    """``value`` without its pipeline expressions (``Get``, ``Std:…``): only what is fixed is checked."""
    if isinstance(value, dict):
        if any(key == "Get" or key.startswith("Std:") for key in value):
            return _MISSING
        kept = {key: _static(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item is not _MISSING}
    if isinstance(value, list):
        return [item for item in (_static(v) for v in value) if item is not _MISSING]
    return value


def _steps(steps: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for step in steps:
        yield step
        arguments = step.get("Arguments")
        if step.get("Type") == "Condition" and isinstance(arguments, dict):
            yield from _steps([*arguments.get("IfSteps", []), *arguments.get("ElseSteps", [])])


def pipeline_violations(definition: Mapping[str, Any]) -> list[Violation]:
    """What SageMaker would refuse in a pipeline definition's fixed values (names, arguments).

    Members a step leaves to SageMaker (job names) or fills at run time (expressions) are not
    required; every value that is written out must fit the shape it ends in.
    """
    sagemaker = _service_model("sagemaker")
    parameter = sagemaker.operation_model("StartPipelineExecution").input_shape.members["PipelineParameters"]
    found: list[Violation] = []
    for index, declared in enumerate(definition.get("Parameters", [])):
        value = {"Name": declared.get("Name"), "Value": _parameter_text(declared.get("DefaultValue", ""))}
        found += violations(value, parameter.member, f"parameters.{index + 1}.member", required=False)
    step_name = sagemaker.shape_for("StepName")
    for step in _steps(definition.get("Steps", [])):
        name = str(step.get("Name", ""))
        found += violations(name, step_name, "steps.name")
        operation = STEP_OPERATIONS.get(str(step.get("Type")))
        if operation is None:
            continue
        shape = sagemaker.operation_model(operation).input_shape
        arguments = _static(step.get("Arguments", {}))
        found += violations(arguments, shape, f"steps.{name}.arguments", required=False)
    return found


def _parameter_text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _pipeline_rule(params: Mapping[str, Any]) -> list[Violation]:
    text = params.get("PipelineDefinition")
    if not isinstance(text, str):
        return []
    try:
        definition = json.loads(text)
    except ValueError:
        return [Violation("pipelineDefinition", "<not JSON>", "Member must be a JSON pipeline definition")]
    return pipeline_violations(definition)


_SERVICE_RULES = {
    ("sagemaker", "CreatePipeline"): _pipeline_rule,
    ("sagemaker", "UpdatePipeline"): _pipeline_rule,
}


@cache
def _service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


# ---------------------------------------------------------------------------- the patch

_convert = botocore.client.BaseClient._convert_to_request_dict


def _checked_convert(
    self: Any,
    api_params: dict[str, Any],
    operation_model: OperationModel,
    *args: Any,
    **kwargs: Any,
) -> Any:
    # botocore's client-side checks first where the client runs them (as on AWS); a client without
    # them (moto's Step Functions engine) is checked whole, before serialisation can drop anything.
    client_checks = isinstance(getattr(self, "_serializer", None), botocore.validate.ParamValidationDecorator)
    request = _convert(self, api_params, operation_model, *args, **kwargs) if client_checks else None
    found = request_violations(operation_model, api_params)
    if found:
        raise client_error(self, operation_model, found)
    return request if client_checks else _convert(self, api_params, operation_model, *args, **kwargs)


@contextmanager
def strict_calls() -> Iterator[None]:
    """Every boto3 client of the process refuses what AWS would refuse, until the block ends."""
    parameters = ("self", "api_params", "operation_model", "endpoint_url", "context", "headers")
    with _guarded(
        [
            Patch(
                botocore.client.BaseClient,
                "_convert_to_request_dict",
                _checked_convert,
                parameters=(*parameters, "set_user_agent_header"),
            )
        ]
    ):
        yield
