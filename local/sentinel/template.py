"""Reads template.yaml the way CloudFormation would, for the embedded default and the tests.

The emulator, the event router, ``sentinel invoke`` and the tests all take resource names,
function environments and EventBridge patterns from here, so nothing in Python restates what the
template says and the two cannot drift apart.
"""

from __future__ import annotations

import copy
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sentinel.errors import LocalError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"

_TAGS = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in [
            "Sub",
            "GetAtt",
            "If",
            "Not",
            "Equals",
            "And",
            "Or",
            "Join",
            "Select",
            "Split",
            "FindInMap",
            "ImportValue",
            "Base64",
            "GetAZs",
            "Cidr",
            "ToJsonString",
            "Length",
        ]
    },
}


class TemplateError(LocalError):
    """The template does not say what the caller asked for, or uses something we cannot resolve."""


#: libyaml's parser when PyYAML was built with it (about 7 times faster here), else pure Python.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """SafeLoader that turns CloudFormation short-form tags into their long form."""


def _construct(tag: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if tag == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {tag: value}

    return construct


for _short, _long in _TAGS.items():
    _CfnLoader.add_constructor(f"!{_short}", _construct(_long))


#: Parsed templates by (path, mtime, size): every emulated test deploys the template, and parsing it
#: was a large part of each test's set-up. Callers get a deep copy, so none can alter another's.
_PARSED: dict[tuple[Path, int, int], dict[str, Any]] = {}


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    status = path.stat()
    key = (path.resolve(), status.st_mtime_ns, status.st_size)
    if key not in _PARSED:
        with path.open(encoding="utf-8") as handle:
            loaded = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
        if not isinstance(loaded, dict):
            raise TemplateError(f"{path} is not a CloudFormation template")
        _PARSED[key] = loaded
    return copy.deepcopy(_PARSED[key])


@dataclass(frozen=True)
class PhysicalResource:
    """What Ref and Fn::GetAtt return for one resource in a given stack."""

    ref: str
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory_mb: int

    @property
    def module_path(self) -> Path:
        module, _, _ = self.handler.rpartition(".")
        return self.code_uri / (module.replace(".", "/") + ".py")

    @property
    def function_name(self) -> str:
        return self.handler.rpartition(".")[2]


@dataclass(frozen=True)
class RuleSpec:
    """An EventBridge rule and the target it feeds (a function, or a state machine)."""

    logical_id: str
    target: str
    pattern: dict[str, Any]


class Template:
    """A parsed template plus the physical names of one (real or local) deployment of it."""

    def __init__(
        self,
        document: dict[str, Any] | None = None,
        *,
        physical: Mapping[str, PhysicalResource] | None = None,
        parameters: Mapping[str, str] | None = None,
        region: str = "us-east-1",
        account: str = "123456789012",
        stack_name: str = "anomaly-sentinel",
    ) -> None:
        self.document = document if document is not None else load_template()
        self.physical = dict(physical or {})
        self.region = region
        self.account = account
        self.stack_name = stack_name
        self.parameters = {
            name: str(spec.get("Default", "")) for name, spec in self.document.get("Parameters", {}).items()
        }
        self.parameters.update(parameters or {})

    # ------------------------------------------------------------------ structure
    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.document.get("Resources", {}))

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {lid: res for lid, res in self.resources.items() if res.get("Type") == resource_type}

    def resource(self, logical_id: str) -> dict[str, Any]:
        try:
            return dict(self.resources[logical_id])
        except KeyError:
            raise TemplateError(f"template.yaml has no resource {logical_id!r}") from None

    def function_ids(self) -> list[str]:
        return sorted(self.resources_of_type("AWS::Serverless::Function"))

    # ------------------------------------------------------------------ intrinsics
    def pseudo(self, name: str) -> str:
        values = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::Partition": "aws",
            "AWS::StackName": self.stack_name,
            # A stack's ID ends in a UUID CloudFormation draws; here one derived from the name.
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{self.stack_name}/"
                f"{uuid.uuid5(uuid.NAMESPACE_URL, self.stack_name)}"
            ),
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": "",
        }
        if name not in values:
            raise TemplateError(f"unknown pseudo parameter {name}")
        return values[name]

    def ref(self, name: str) -> str:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name].ref
        raise TemplateError(f"cannot resolve Ref {name!r}: not a parameter or a known resource")

    def get_att(self, logical_id: str, attribute: str) -> str:
        resource = self.physical.get(logical_id)
        if resource is None or attribute not in resource.attributes:
            raise TemplateError(f"cannot resolve Fn::GetAtt {logical_id}.{attribute}")
        return resource.attributes[attribute]

    def condition(self, name: str) -> bool:
        spec = self.document.get("Conditions", {}).get(name)
        if spec is None:
            raise TemplateError(f"unknown condition {name!r}")
        return bool(self.resolve(spec))

    def _sub(self, text: str, extra: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in extra:
                return str(self.resolve(extra[token]))
            if "." in token and not token.startswith("AWS::"):
                logical_id, attribute = token.split(".", 1)
                return self.get_att(logical_id, attribute)
            return self.ref(token)

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def resolve(self, value: Any) -> Any:  # noqa: PLR0911, PLR0912 - one branch per intrinsic
        """Resolve intrinsic functions recursively; plain values pass through."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self.get_att(logical_id, attribute)
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    return self._sub(arg[0], arg[1])
                return self._sub(arg, {})
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(name) else when_false)
            if key == "Fn::Equals":
                left, right = self.resolve(arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(arg))
            if key == "Fn::Or":
                return any(self.resolve(arg))
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Join":
                separator, parts = arg
                return str(separator).join(str(p) for p in self.resolve(parts))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                separator, text = arg
                return str(self.resolve(text)).split(separator)
            if key == "Fn::FindInMap":
                mapping, top, second = self.resolve(arg)
                return self.document["Mappings"][mapping][top][second]
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not supported by the local template reader")
        return {key: self.resolve(item) for key, item in value.items()}

    # ------------------------------------------------------------------ functions and rules
    def function(self, logical_id: str) -> FunctionSpec:
        resource = self.resource(logical_id)
        if resource.get("Type") != "AWS::Serverless::Function":
            raise TemplateError(f"{logical_id} is not an AWS::Serverless::Function")
        defaults = self.document.get("Globals", {}).get("Function", {})
        props = resource.get("Properties", {})
        environment = {
            **defaults.get("Environment", {}).get("Variables", {}),
            **props.get("Environment", {}).get("Variables", {}),
        }
        return FunctionSpec(
            logical_id=logical_id,
            code_uri=PROJECT_ROOT / props["CodeUri"],
            handler=props.get("Handler", defaults.get("Handler", "app.lambda_handler")),
            environment={k: str(v) for k, v in self._resolve_env(environment).items()},
            timeout=int(props.get("Timeout", defaults.get("Timeout", 3))),
            memory_mb=int(props.get("MemorySize", defaults.get("MemorySize", 128))),
        )

    def _resolve_env(self, environment: Mapping[str, Any]) -> dict[str, Any]:
        resolved: dict[str, Any] = {}
        for name, value in environment.items():
            try:
                resolved[name] = self.resolve(value)
            except TemplateError:
                # Unknown physical names (e.g. a resource the caller did not create) stay visible.
                resolved[name] = f"<unresolved:{name}>"
        return resolved

    def rules(self) -> list[RuleSpec]:
        """Every EventBridge rule: SAM function/state-machine events and AWS::Events::Rule targets."""
        found: list[RuleSpec] = []
        for logical_id, resource in self.resources.items():
            if "Condition" in resource and not self.condition(resource["Condition"]):
                continue  # not deployed with these parameters: its rule does not exist
            events = resource.get("Properties", {}).get("Events", {}) or {}
            if resource.get("Type") in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
                for event_name, event in events.items():
                    if event.get("Type") in ("EventBridgeRule", "CloudWatchEvent"):
                        found.append(
                            RuleSpec(
                                logical_id=f"{logical_id}{event_name}",
                                target=logical_id,
                                pattern=self.resolve(event["Properties"]["Pattern"]),
                            )
                        )
            if resource.get("Type") == "AWS::Events::Rule":
                props = resource.get("Properties", {})
                for target in props.get("Targets", []):
                    arn = target.get("Arn", {})
                    target_id = (arn.get("Fn::GetAtt") or [arn.get("Ref", "?")])[0]
                    found.append(
                        RuleSpec(
                            logical_id=logical_id,
                            target=str(target_id),
                            pattern=self.resolve(props["EventPattern"]),
                        )
                    )
        return found

    def rule(self, logical_id: str) -> RuleSpec:
        for spec in self.rules():
            if spec.logical_id == logical_id:
                return spec
        raise TemplateError(f"template.yaml has no EventBridge rule {logical_id!r}")
