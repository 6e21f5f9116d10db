"""``sentinel invoke``: ``sam local invoke`` without Docker.

Reads the function's handler and environment from template.yaml and runs the real handler
in-process, against the embedded emulator (default) or a deployed stack (``--aws``). On the
emulator, what the event presupposes is built first (sentinel.world): the object it names, a
served model for functions that call the endpoint, the monitoring job it reports on.

stdout carries one line, the JSON result; everything else (what was built, the handler's own logs
and metrics) goes to stderr, as ``sam local invoke`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NoReturn

from sentinel.template import PhysicalResource, Template, TemplateError

Fail = Callable[[str], NoReturn]
#: Placeholders in events/env.json that only a deployed stack's outputs can fill.
PLACEHOLDER = "REPLACE-"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "invoke",
        help="run one function's handler with an event, like `sam local invoke`, without Docker",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Run a function of template.yaml in-process with EVENT.\n\n"
            "By default the stack is first created on an embedded AWS emulator (nothing leaves this\n"
            "machine) with what the event presupposes: the object it names (--object), a served model\n"
            "for functions that call the endpoint (--serve-model), the monitoring job a processing-job\n"
            "event describes and its violations report. With --aws the handler talks to the deployed\n"
            "stack with your AWS credentials. LOGICAL_ID may also name a state machine (emulator only):\n"
            "EVENT is then its input, and the real ASL runs to its end.\n\n"
            "stdout holds one line, the result as JSON; a handler error prints {errorType, errorMessage}\n"
            "and exits 1; a bad argument exits 2. Logs and metrics go to stderr."
        ),
        epilog=(
            "examples (events/README.md explains each file):\n"
            "  sentinel invoke StartPipelineFunction -e events/training-object-created.json\n"
            "  sentinel invoke ScoreCaptureFunction -e events/capture-object-created.json \\\n"
            "      --object events/objects/capture-sample.jsonl\n"
            "  sentinel invoke MonitoringAlertFunction -e events/monitoring-processing-job.json\n"
            "  sentinel invoke RetrainStateMachine -e events/retrain-start.json"
        ),
    )
    parser.add_argument(
        "logical_id",
        metavar="LOGICAL_ID",
        help="function (or state machine) logical ID, e.g. StartPipelineFunction",
    )
    parser.add_argument("-e", "--event", type=Path, required=True, help="event JSON file (see events/)")
    parser.add_argument(
        "-n",
        "--env-vars",
        type=Path,
        help="JSON of environment overrides, SAM format {LOGICAL_ID: {VAR: value}, Parameters: {...}}",
    )
    parser.add_argument("--aws", action="store_true", help="run against the deployed stack, not the emulator")
    parser.add_argument(
        "--stack-name",
        help="with --aws: the deployed stack's name (default: stack_name of --config-env in samconfig.toml)",
    )
    parser.add_argument(
        "--config-env",
        help="with --aws: the samconfig.toml environment the stack was deployed with, as in "
        "`sam deploy --config-env dev` (default: default, i.e. stack anomaly-sentinel)",
    )
    parser.add_argument(
        "--object",
        type=Path,
        metavar="FILE",
        help=(
            "emulator only: FILE is the S3 object the event is about: for an S3 'Object Created' event "
            "it is uploaded as the object named (the event's version-id, etag and size are set to the "
            "upload's); for a monitoring processing-job event it is the violations report "
            "(default: the demo's constraint_violations.json); for a state machine input with "
            "inputDataUri it is the training data (default: NAB NYC taxi)"
        ),
    )
    parser.add_argument(
        "--serve-model",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=(
            "emulator only: train a model with the pipeline (NAB NYC taxi), deploy it to the "
            "EndpointName endpoint and serve it with the local RCF endpoint (about 10 s). Default: on "
            "for functions whose IAM policy allows sagemaker:InvokeEndpoint (ScoreCaptureFunction)"
        ),
    )
    parser.add_argument(
        "--training",
        type=Path,
        metavar="FILE.csv",
        help=(
            "emulator only, with a served model: the upload the model is trained on (a timestamp,value "
            "series, shingled by the pipeline's ShingleSize 48, or feature columns; default NAB NYC taxi). "
            "Your own data: sentinel prepare series FILE.csv --capture C.jsonl, then --training FILE.csv "
            "--object C.jsonl"
        ),
    )
    parser.set_defaults(run=run)


def _read_json(fail: Fail, path: Path, what: str) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(f"{what}: no such file {path}")
    except json.JSONDecodeError as exc:
        fail(f"{what}: {path} is not JSON ({exc})")
    if not isinstance(loaded, dict):
        fail(f"{what}: {path} must hold a JSON object")
    return loaded


def _overrides(env: dict[str, Any], logical_id: str, fail: Fail) -> dict[str, str]:
    merged = {**env.get("Parameters", {}), **env.get(logical_id, {})}
    for name, value in merged.items():
        if str(value).startswith(PLACEHOLDER):
            fail(
                f"--env-vars: {name} is still a placeholder ({value}); fill it from the stack's "
                "outputs, or leave it out (the emulator names everything itself)"
            )
    return {key: str(value) for key, value in merged.items()}


def _print_outcome(result: Any) -> int:
    print(json.dumps(result, default=str))
    return 0


def _print_error(exc: BaseException) -> int:
    traceback.print_exc(file=sys.stderr)
    print(json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}))
    return 1


def _say(text: str) -> None:
    print(f"sentinel invoke: {text}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    def fail(message: str) -> NoReturn:
        print(f"sentinel invoke: error: {message}", file=sys.stderr)
        raise SystemExit(2)

    event = _read_json(fail, args.event, "--event")
    env = _read_json(fail, args.env_vars, "--env-vars") if args.env_vars else {}
    overrides = _overrides(env, args.logical_id, fail)
    for option, path in (("--object", args.object), ("--training", args.training)):
        if path is not None and not path.is_file():
            fail(f"{option}: no such file {path}")
    if not args.aws:
        for option, value in (("--stack-name", args.stack_name), ("--config-env", args.config_env)):
            if value is not None:
                fail(f"{option} only applies with --aws (the emulator names its own stack)")
    if args.aws:
        if args.object is not None:
            fail("--object only applies to the emulator; upload with `aws s3 cp` instead")
        if args.training is not None:
            fail("--training only applies to the emulator; on AWS upload under TrainingPrefix instead")
        if args.serve_model:
            fail("--serve-model only applies to the emulator; the deployed endpoint answers on AWS")
        return _invoke_aws(args, event, overrides, fail)
    return _invoke_local(args, event, overrides, fail)


def _check_target(template: Template, logical_id: str, fail: Fail, *, aws: bool) -> None:
    machines = sorted(template.resources_of_type("AWS::Serverless::StateMachine"))
    if aws and logical_id in machines:
        fail(
            f"LOGICAL_ID: {logical_id} is a state machine; on AWS start it with "
            "`aws stepfunctions start-execution` (see events/README.md)"
        )
    known = template.function_ids() + ([] if aws else machines)
    what = "function" if aws else "function or state machine"
    if logical_id not in known:
        fail(f"LOGICAL_ID: {logical_id!r} is not a {what} of template.yaml (one of: {', '.join(known)})")


# ---------------------------------------------------------------------------- the emulator


def _invoke_local(
    args: argparse.Namespace, event: dict[str, Any], overrides: dict[str, str], fail: Fail
) -> int:
    from sentinel import invoke_events, world
    from sentinel.emulator import LOCAL_ENV
    from sentinel.invoke import environment

    declared = Template()
    _check_target(declared, args.logical_id, fail, aws=False)
    machine = world.is_state_machine(declared, args.logical_id)
    serve = not machine and _serves_model(declared, args)
    if args.training is not None and not serve:
        fail(f"--training: {args.logical_id} is given no served model to train (add --serve-model)")
    run_ended = invoke_events.is_pipeline_run_change(event)
    # Functions only start executions (recorded, never run: nothing may outlive the emulator),
    # unless a served model is deployed first; a state machine target runs its ASL to the end.
    with ExitStack() as stack:
        stack.enter_context(environment(LOCAL_ENV))
        _forget_endpoint_overrides()
        twin = stack.enter_context(
            world.local_world(
                execute_state_machines=machine or serve,
                run_pipelines=machine or serve or run_ended,
                serve_endpoint=serve,
                function_log=sys.stderr,
            )
        )
        try:
            if machine:
                return _run_state_machine(twin, args, event)
            event, served = _build_world(twin, args, event, overrides=overrides, serve=serve)
            if invoke_events.is_custom_resource_request(event):  # PipelineArtifactsFunction's request
                receiver = stack.enter_context(invoke_events.cloudformation_receiver(_say))
                event = {**event, "ResponseURL": receiver}
                _say("the event's ResponseURL is a local receiver (CloudFormation's answer is shown here)")
                served = {**served, **invoke_events.LAYER_ENV}
        except world.WorldError as exc:
            fail(str(exc))
        except world.TrainingFailed as exc:
            return _print_error(exc)
        return _invoke(twin.template, args.logical_id, {**LOCAL_ENV, **served, **overrides}, event)


def _serves_model(template: Template, args: argparse.Namespace) -> bool:
    from sentinel import world

    return (
        bool(args.serve_model)
        if args.serve_model is not None
        else world.invokes_endpoint(template, args.logical_id)
    )


def _forget_endpoint_overrides() -> None:
    """Inside environment(): endpoint URLs or a profile from the shell must not divert the emulator."""
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in ("AWS_PROFILE", "MOTO_PORT"):
            del os.environ[name]


def _build_world(
    twin: Any, args: argparse.Namespace, event: dict[str, Any], *, overrides: dict[str, str], serve: bool
) -> tuple[dict[str, Any], dict[str, str]]:
    """What the event presupposes → (the event as delivered, variables for the function)."""
    from sentinel import invoke_events, log_route, world

    if world.is_s3_object_created(event):
        if args.object is not None:
            event = world.put_event_object(event, args.object.read_bytes())
            _say(f"{args.object} uploaded as the event's object")
        elif (missing := world.object_missing(event)) and serve:
            # the function reads the object: refuse now, not after training a model for it
            raise world.WorldError(
                "--object",
                f"{args.logical_id} reads {missing}, which does not exist on the emulator: give its "
                "content with --object FILE (events/README.md names a sample for each event)",
            )
        elif missing:
            _say(
                f"note: {missing} does not exist on the emulator; "
                "give it with --object FILE if the function reads it"
            )
    elif world.is_processing_job_change(event):
        report = args.object or world.VIOLATIONS
        world.monitoring_job(event, twin.extras, report.read_bytes(), _say)
    elif args.object is not None:
        raise world.WorldError("--object", "the event names no S3 object (nor a monitoring report)")
    elif invoke_events.is_pipeline_run_change(event):
        arn = str((event.get("detail") or {}).get("pipelineExecutionArn") or "")
        if not world.known_execution(arn):
            ran = world.train(
                twin, world.upload_training_data(twin.template, world.TRAINING.read_bytes()), "invoke"
            )
            _say(
                f"{arn or 'its execution'} is not on the emulator: "
                f"the event now names {ran.execution_arn}, run just now"
            )
            event = invoke_events.adopt_pipeline_run(event, ran.execution_arn)
    if not serve:
        return event, {}
    spec = twin.template.function(args.logical_id)
    if log_route.scores_logs(spec.environment):  # ScoreLogsFunction: a log model in service (issue 21)
        return event, log_route.serve_log_model(twin, _say)
    endpoint = overrides.get("ENDPOINT_NAME") or spec.environment.get("ENDPOINT_NAME")
    endpoint = endpoint or twin.template.parameters["EndpointName"]
    training = args.training or world.TRAINING
    return event, world.serve_model(twin, endpoint, training.read_bytes(), _say, training.name)


def _invoke(template: Template, logical_id: str, environ: dict[str, str], event: dict[str, Any]) -> int:
    from sentinel.invoke import LocalFunction

    try:
        spec = template.function(logical_id)
    except TemplateError as exc:
        return _print_error(exc)
    function = LocalFunction(spec, environ, stdout=sys.stderr)
    try:
        return _print_outcome(function(event))
    except Exception as exc:  # noqa: BLE001 - reported like `sam local invoke` does
        return _print_error(exc)


def _run_state_machine(twin: Any, args: argparse.Namespace, event: dict[str, Any]) -> int:
    from sentinel import world

    training = (args.object or world.TRAINING).read_bytes()
    try:
        described = world.run_state_machine(twin, args.logical_id, event, training=training, say=_say)
    except TimeoutError as exc:
        return _print_error(exc)
    summary = {
        "executionArn": described["executionArn"],
        "status": described["status"],
        "output": described.get("output"),
    }
    if described["status"] != "SUCCEEDED":
        error = {
            "errorType": described.get("error") or described["status"],
            "errorMessage": described.get("cause", ""),
        }
        print(json.dumps({**error, **summary}, default=str))
        return 1
    return _print_outcome(summary)


# ---------------------------------------------------------------------------- AWS


def _invoke_aws(
    args: argparse.Namespace, event: dict[str, Any], overrides: dict[str, str], fail: Fail
) -> int:
    import boto3

    _check_target(Template(), args.logical_id, fail, aws=True)
    config = samconfig(args.config_env or "default", fail)
    stack_name = args.stack_name or config.get("stack_name")
    if not stack_name:
        fail(f"--stack-name: samconfig.toml names no stack_name for --config-env {args.config_env}")
    from botocore.exceptions import BotoCoreError

    try:
        session = boto3.session.Session()
        # boto3 reads AWS_DEFAULT_REGION, not AWS_REGION (which Lambda sets): both count here
        region = session.region_name or os.environ.get("AWS_REGION") or config.get("region")
        if not region:
            fail(
                "no AWS region: set AWS_REGION or AWS_DEFAULT_REGION (or region in your AWS profile), "
                "e.g. AWS_REGION=us-east-1"
            )
        session = boto3.session.Session(region_name=region)
        credentials = session.get_credentials()
    except BotoCoreError as exc:  # a profile that does not exist, an expired SSO token...
        fail(f"AWS_PROFILE: {_one_line(exc)} (see `aws configure list-profiles`)")
    if credentials is None:
        fail(
            "no AWS credentials: set AWS_PROFILE (after `aws configure` or `aws sso login`), "
            "or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    cloudformation = session.client("cloudformation")
    try:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
        account = session.client("sts").get_caller_identity()["Account"]
    except Exception as exc:  # noqa: BLE001 - credentials, region or stack name: all user errors here
        fail(f"--stack-name: cannot read stack {stack_name!r} in {region}: {_one_line(exc)}")
    template = Template(
        physical={r["LogicalResourceId"]: PhysicalResource(r["PhysicalResourceId"]) for r in resources},
        parameters={p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])},
        region=region,
        account=account,
        stack_name=stack_name,
    )
    return _invoke(template, args.logical_id, {"AWS_REGION": region, **overrides}, event)


def samconfig(config_env: str, fail: Fail) -> dict[str, str]:
    """stack_name and region of one samconfig.toml environment (global, then deploy parameters)."""
    import tomllib

    from sentinel.template import PROJECT_ROOT

    try:
        loaded = tomllib.loads((PROJECT_ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        fail(f"--config-env: cannot read samconfig.toml ({_one_line(exc)})")
    if config_env not in loaded:
        known = ", ".join(sorted(k for k in loaded if isinstance(loaded[k], dict)))
        fail(f"--config-env: samconfig.toml has no environment {config_env!r} (one of: {known})")
    found: dict[str, str] = {}
    for command in ("global", "deploy"):
        parameters = loaded[config_env].get(command, {}).get("parameters", {})
        found.update({k: str(v) for k, v in parameters.items() if k in ("stack_name", "region")})
    return found


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__
