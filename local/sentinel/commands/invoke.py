"""``sentinel invoke``: ``sam local invoke`` without Docker.

Reads the function's handler and environment from template.yaml and runs the real handler
in-process, against the embedded emulator (default) or a deployed stack (``--aws``).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path
from typing import Any

from sentinel.template import PhysicalResource, Template, TemplateError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "invoke",
        help="run one function's handler with an event, like `sam local invoke`, without Docker",
        description=(
            "Run a function of template.yaml in-process with EVENT. By default the stack is created "
            "on an embedded AWS emulator first (nothing leaves this machine); with --aws the handler "
            "talks to the deployed stack using your AWS credentials. The handler's return value is "
            "printed as JSON on the last line; a handler error prints {errorType, errorMessage} and "
            "exits 1."
        ),
    )
    parser.add_argument(
        "logical_id", metavar="LOGICAL_ID", help="function logical ID, e.g. StartPipelineFunction"
    )
    parser.add_argument("-e", "--event", type=Path, required=True, help="event JSON file (see events/)")
    parser.add_argument(
        "-n",
        "--env-vars",
        type=Path,
        help="JSON of environment overrides, SAM format {LOGICAL_ID: {VAR: value}}",
    )
    parser.add_argument("--aws", action="store_true", help="run against the deployed stack, not the emulator")
    parser.add_argument("--stack-name", default="anomaly-sentinel", help="deployed stack name (with --aws)")
    parser.add_argument(
        "--object",
        type=Path,
        help="emulator only: upload FILE as the S3 object the event names before invoking",
    )
    parser.set_defaults(run=run)


def _read_json(parser_error: Any, path: Path, what: str) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        parser_error(f"{what}: no such file {path}")
    except json.JSONDecodeError as exc:
        parser_error(f"{what}: {path} is not JSON ({exc})")
    if not isinstance(loaded, dict):
        parser_error(f"{what}: {path} must hold a JSON object")
    return loaded


def _overrides(env: dict[str, Any], logical_id: str) -> dict[str, str]:
    merged = {**env.get("Parameters", {}), **env.get(logical_id, {})}
    return {key: str(value) for key, value in merged.items()}


def _print_outcome(result: Any) -> int:
    print(json.dumps(result, default=str))
    return 0


def _print_error(exc: BaseException) -> int:
    traceback.print_exc(file=sys.stderr)
    print(json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}))
    return 1


def run(args: argparse.Namespace) -> int:
    def fail(message: str) -> None:
        print(f"sentinel invoke: error: {message}", file=sys.stderr)
        raise SystemExit(2)

    event = _read_json(fail, args.event, "--event")
    env = _read_json(fail, args.env_vars, "--env-vars") if args.env_vars else {}
    if args.object is not None and not args.object.is_file():
        fail(f"--object: no such file {args.object}")
    if args.aws:
        if args.object is not None:
            fail("--object only applies to the emulator; upload with `aws s3 cp` instead")
        return _invoke_aws(args, event, env, fail)
    return _invoke_local(args, event, env, fail)


def _check_function(template: Template, logical_id: str, fail: Any) -> None:
    if logical_id not in template.function_ids():
        known = ", ".join(template.function_ids())
        fail(f"LOGICAL_ID: {logical_id!r} is not a function of template.yaml (one of: {known})")


def _invoke_local(args: argparse.Namespace, event: dict[str, Any], env: dict[str, Any], fail: Any) -> int:
    from moto import mock_aws

    from sentinel.emulator import LOCAL_ENV, LocalStack
    from sentinel.invoke import LocalFunction, environment

    with environment(LOCAL_ENV), mock_aws(config={"lambda": {"use_docker": False}}):
        template = LocalStack().deploy()
        _check_function(template, args.logical_id, fail)
        if args.object is not None:
            _put_event_object(event, args.object, fail)
        function = LocalFunction(
            template.function(args.logical_id), {**LOCAL_ENV, **_overrides(env, args.logical_id)}
        )
        try:
            return _print_outcome(function(event))
        except Exception as exc:  # noqa: BLE001 - reported like `sam local invoke` does
            return _print_error(exc)


def _put_event_object(event: dict[str, Any], path: Path, fail: Any) -> None:
    from anomaly_sentinel.events import s3_object_from_eventbridge
    from anomaly_sentinel.exceptions import EventParseError
    from sentinel.emulator import local_client

    try:
        obj = s3_object_from_eventbridge(event)
    except EventParseError as exc:
        fail(f"--object: the event does not name an S3 object ({exc})")
    local_client("s3").put_object(Bucket=obj.bucket, Key=obj.key, Body=path.read_bytes())


def _invoke_aws(args: argparse.Namespace, event: dict[str, Any], env: dict[str, Any], fail: Any) -> int:
    import boto3

    from sentinel.invoke import LocalFunction

    cloudformation = boto3.client("cloudformation")
    try:
        stack = cloudformation.describe_stacks(StackName=args.stack_name)["Stacks"][0]
        resources = cloudformation.describe_stack_resources(StackName=args.stack_name)["StackResources"]
    except Exception as exc:  # noqa: BLE001 - credentials, region or stack name: all user errors here
        fail(f"--stack-name: cannot read stack {args.stack_name!r}: {exc}")
    session = boto3.session.Session()
    template = Template(
        physical={r["LogicalResourceId"]: PhysicalResource(r["PhysicalResourceId"]) for r in resources},
        parameters={p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])},
        region=session.region_name or "us-east-1",
        account=boto3.client("sts").get_caller_identity()["Account"],
        stack_name=args.stack_name,
    )
    _check_function(template, args.logical_id, fail)
    try:
        spec = template.function(args.logical_id)
    except TemplateError as exc:
        fail(str(exc))
    function = LocalFunction(spec, _overrides(env, args.logical_id))
    try:
        return _print_outcome(function(event))
    except Exception as exc:  # noqa: BLE001
        return _print_error(exc)
