"""The offline twin: :func:`local_world` is the one place an emulated stack is assembled.

The demo, ``sentinel invoke``, the test fixtures and the end-to-end test all enter
``local_world(...)``: moto (in-process or as a server) with every patch of
:mod:`sentinel.moto_patches`, every AWS call checked against its service model as AWS checks it
(:mod:`sentinel.strict`), template.yaml's resources deployed on it, and on request the
template's state machines executing with their real Lambda handlers, the local pipeline executor
training what they start, the local RCF endpoint serving what the endpoint's config points to, and
the event router applying the template's EventBridge rules.

The rest of this module builds what a sample event presupposes (``sentinel invoke``): on AWS an
event arrives in a world that already holds what it names — the uploaded capture file, a model
serving the endpoint, the monitoring job and its report. Each piece is built the project's own way
(the pipeline executor trains on NAB NYC taxi, the retraining state machine deploys in adopt
mode), so the handler under test runs unchanged. Nothing is done at import.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from botocore.exceptions import ClientError

from anomaly_sentinel.contracts import parse_s3_uri
from sentinel.emulator import LOCAL_ENV, local_client
from sentinel.errors import LocalError
from sentinel.moto_patches import (
    MonitoringStatus,
    SageMakerExtras,
    atomic_dynamodb_writes,
    sagemaker_extras,
    shared_parsing,
    start_as_executing,
)
from sentinel.pipeline_executor import ExecutionResult, PipelineExecutor
from sentinel.stepfunctions import run_execution
from sentinel.strict import strict_calls
from sentinel.template import Template

if TYPE_CHECKING:
    from sentinel.endpoint import EndpointServer
    from sentinel.invoke import FunctionPool
    from sentinel.router import Router
    from sentinel.stepfunctions import TemplateLambdas, Waits

MOTO_CONFIG: Any = {"lambda": {"use_docker": False}, "stepfunctions": {"execute_state_machine": True}}


@dataclass(frozen=True)
class Twin:
    """Which optional pieces of the twin a world runs (see :func:`local_world`)."""

    server: bool = False
    execute_state_machines: bool = True
    run_pipelines: bool = False
    serve_endpoint: bool = False
    route_events: bool = False
    parameters: Mapping[str, str] | None = None
    overrides: Mapping[str, Mapping[str, str]] | None = None
    function_log: TextIO | None = None
    seed: int | None = None


@dataclass
class World:
    """One emulator and, once deployed, the stack on it and the local pieces around it."""

    twin: Twin
    extras: SageMakerExtras
    stack: ExitStack = field(repr=False)
    url: str | None = None
    deployed: Template | None = None
    executor: PipelineExecutor | None = None
    pool: FunctionPool | None = None
    lambdas: TemplateLambdas | None = None
    waits: Waits | None = None
    endpoint: EndpointServer | None = None
    router: Router | None = None
    #: Variables a function needs to reach the local endpoint (empty without serve_endpoint).
    endpoint_environ: dict[str, str] = field(default_factory=dict)

    @property
    def template(self) -> Template:
        if self.deployed is None:
            raise WorldError("world", "template.yaml is not deployed on this world yet (World.deploy())")
        return self.deployed

    @property
    def pipelines(self) -> PipelineExecutor:
        """The local pipeline executor (exists once deployed)."""
        if self.executor is None:
            raise WorldError("world", "template.yaml is not deployed on this world yet (World.deploy())")
        return self.executor

    def deploy(self) -> Template:
        """Deploy template.yaml on the emulator and start the pieces the twin asked for."""
        from sentinel.emulator import LocalStack
        from sentinel.endpoint import EndpointServer
        from sentinel.invoke import FunctionPool
        from sentinel.router import Router
        from sentinel.serving import ModelResolver
        from sentinel.stepfunctions import fast_waits, template_lambdas

        twin = self.twin
        template = LocalStack(parameters=dict(twin.parameters) if twin.parameters else None).deploy()
        self.deployed = template
        executor = (
            PipelineExecutor(template) if twin.seed is None else PipelineExecutor(template, seed=twin.seed)
        )
        self.executor = executor
        self.pool = FunctionPool(template, twin.overrides, stdout=twin.function_log, base=LOCAL_ENV)
        if twin.execute_state_machines:
            self.lambdas = self.stack.enter_context(template_lambdas(template, pool=self.pool))
            self.waits = self.stack.enter_context(
                fast_waits(on_wait=_run_pipelines(executor) if twin.run_pipelines else None)
            )
        if twin.serve_endpoint:
            self.endpoint = self.stack.enter_context(EndpointServer(ModelResolver()))
            self.endpoint_environ = self.endpoint.environ()
        if twin.route_events:
            self.router = Router(template, pool=self.pool)
            self.router.install()
        return template


def _run_pipelines(executor: PipelineExecutor) -> Callable[[float], None]:
    """While a state machine waits, the local executor runs what it started (as SageMaker would)."""

    def run(_seconds: float) -> None:
        executor.run_pending()

    return run


@contextmanager
def local_world(*, deploy: bool = True, **options: Any) -> Iterator[World]:
    """The offline twin of the stack, torn down when the block ends.

    Options (:class:`Twin`): ``server`` runs moto as a ThreadedMotoServer (every client in-process
    points at it) instead of in-process ``mock_aws``; ``execute_state_machines`` lets Step
    Functions run the template's ASL with the real Lambda handlers and instant waits;
    ``run_pipelines`` makes pipeline executions start "Executing" and the local executor train
    them while a state machine waits (otherwise moto's instant "Succeeded"); ``serve_endpoint``
    answers the endpoint with the local RCF; ``route_events`` delivers events by the template's
    EventBridge rules. ``deploy=False`` leaves template.yaml undeployed until ``World.deploy()``.
    """
    from moto import mock_aws

    from sentinel.emulator import moto_server

    twin = Twin(**options)
    with ExitStack() as stack:
        stack.enter_context(shared_parsing())
        stack.enter_context(strict_calls())
        url = None
        if twin.server:
            url = stack.enter_context(moto_server(step_functions=twin.execute_state_machines))
        else:
            config: Any = {
                **MOTO_CONFIG,
                "stepfunctions": {"execute_state_machine": twin.execute_state_machines},
            }
            stack.enter_context(mock_aws(config=config))
        extras = stack.enter_context(sagemaker_extras())
        stack.enter_context(atomic_dynamodb_writes())
        if twin.run_pipelines:
            stack.enter_context(start_as_executing())
        world = World(twin, extras, stack, url=url)
        if deploy:
            world.deploy()
        yield world


DATA = Path(__file__).parent / "data"
#: The demo's Model Monitor report, put where a monitoring job's output points.
VIOLATIONS = DATA / "monitoring" / "constraint_violations.json"
#: Training data of --serve-model and of state machine runs: NAB NYC taxi (MIT, see data/nab/).
TRAINING = DATA / "nab" / "nyc_taxi.csv"
#: The sample capture file: hourly shingles of one day (48 half-hours) ending from the afternoon
#: before the January 2015 blizzard to the end of the storm day (a NAB anomaly window), so the
#: sample scores both normal and anomalous records.
SAMPLE_SHINGLE = 48
SAMPLE_FIRST = "2015-01-26T12:00:00"
SAMPLE_RECORDS = 36

Say = Callable[[str], None]


class WorldError(LocalError):
    """The world cannot be built as asked; ``argument`` names the command-line argument at fault."""

    def __init__(self, argument: str, message: str) -> None:
        super().__init__(f"{argument}: {message}")
        self.argument = argument


class TrainingFailed(LocalError):
    """The local pipeline run that should have produced a model failed (its reason says why)."""


# ---------------------------------------------------------------------------- events


def is_s3_object_created(event: Mapping[str, Any]) -> bool:
    return event.get("source") == "aws.s3" and event.get("detail-type") == "Object Created"


def is_processing_job_change(event: Mapping[str, Any]) -> bool:
    return (
        event.get("source") == "aws.sagemaker"
        and event.get("detail-type") == "SageMaker Processing Job State Change"
    )


def _s3_object(event: Mapping[str, Any]) -> tuple[str, str]:
    from anomaly_sentinel.events import s3_object_from_eventbridge
    from anomaly_sentinel.exceptions import EventParseError

    try:
        obj = s3_object_from_eventbridge(dict(event))
    except EventParseError as exc:
        raise WorldError("--object", f"the event does not name an S3 object ({exc})") from None
    return obj.bucket, obj.key


def _ensure_bucket(bucket: str) -> None:
    s3 = local_client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        s3.create_bucket(Bucket=bucket)


def put_event_object(event: Mapping[str, Any], body: bytes) -> dict[str, Any]:
    """Upload ``body`` as the object an "Object Created" event names; the event, made to match it.

    The bucket is versioned, and handlers read exactly the version the event names: the event's
    version-id, etag and size are replaced by the uploaded object's, as S3 would have sent them.
    """
    bucket, key = _s3_object(event)
    _ensure_bucket(bucket)
    put = local_client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    matched = copy.deepcopy(dict(event))
    described = matched["detail"]["object"]
    described.update(size=len(body), etag=str(put["ETag"]).strip('"'))
    if put.get("VersionId"):
        described["version-id"] = put["VersionId"]
    else:
        described.pop("version-id", None)
    return matched


def object_missing(event: Mapping[str, Any]) -> str | None:
    """``s3://bucket/key`` when the event's object does not exist on the emulator, else None."""
    bucket, key = _s3_object(event)
    try:
        local_client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError:
        return f"s3://{bucket}/{key}"
    return None


# ---------------------------------------------------------------------------- monitoring


def _monitoring_status(detail: Mapping[str, Any]) -> MonitoringStatus:
    """The Model Monitor outcome the event describes: its ExitMessage's first word decides."""
    prefix = str(detail.get("ExitMessage") or "").split(":", 1)[0]
    if prefix in ("Completed", "CompletedWithViolations", "Failed", "Stopped"):
        return cast(MonitoringStatus, prefix)
    if detail.get("ProcessingJobStatus") in ("Failed", "Stopped"):
        return cast(MonitoringStatus, detail["ProcessingJobStatus"])
    return "Completed"


def _report_uri(detail: Mapping[str, Any]) -> str | None:
    for output in (detail.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
        uri = (output.get("S3Output") or {}).get("S3Uri")
        if uri:
            return str(uri)
    return None


def monitoring_job(event: Mapping[str, Any], extras: SageMakerExtras, report: bytes, say: Say) -> None:
    """Create the processing job a "Processing Job State Change" event describes, from its detail.

    A job with a MonitoringScheduleArn is shaped as a Model Monitor execution (schedule, endpoint,
    ExitMessage, listed by ListMonitoringExecutions) and, when it reports violations, ``report``
    is put as ``constraint_violations.json`` where its output config points. Other jobs are
    created plain, as SageMaker's own jobs are (the function should ignore them).
    """
    detail = event.get("detail") or {}
    name = detail.get("ProcessingJobName")
    if not name:
        raise WorldError("--event", "the processing-job event has no detail.ProcessingJobName")
    schedule_arn = detail.get("MonitoringScheduleArn")
    if not schedule_arn:
        _plain_processing_job(name, detail)
        say(f"processing job {name} created (not a monitoring execution: no MonitoringScheduleArn)")
        return
    report_uri = _report_uri(detail)
    if report_uri is None:
        raise WorldError("--event", "the monitoring job in the event has no ProcessingOutputConfig S3Uri")
    environment = detail.get("Environment") or {}
    status = _monitoring_status(detail)
    extras.monitoring_execution(
        job_name=name,
        schedule_name=str(schedule_arn).rsplit("/", 1)[-1],
        endpoint_name=str(environment.get("sagemaker_endpoint_name", "")),
        report_uri=report_uri,
        status=status,
        exit_message=detail.get("ExitMessage"),
    )
    say(f"monitoring execution {name} created ({status})")
    if status == "CompletedWithViolations":
        bucket, prefix = parse_s3_uri(report_uri)
        _ensure_bucket(bucket)
        key = f"{prefix.rstrip('/')}/constraint_violations.json"
        local_client("s3").put_object(Bucket=bucket, Key=key, Body=report)
        say(f"violations report put at s3://{bucket}/{key}")


def _plain_processing_job(name: str, detail: Mapping[str, Any]) -> None:
    """A processing job that is not a Model Monitor run: moto's job, as CreateProcessingJob makes it."""
    local_client("sagemaker").create_processing_job(
        ProcessingJobName=name,
        ProcessingResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}
        },
        AppSpecification={"ImageUri": str((detail.get("AppSpecification") or {}).get("ImageUri", "local"))},
        RoleArn=str(detail.get("RoleArn") or "arn:aws:iam::123456789012:role/sentinel-processing"),
    )


# ---------------------------------------------------------------------------- a served model


def invokes_endpoint(template: Template, logical_id: str) -> bool:
    """Whether the template lets the function call the endpoint (it then needs a served model)."""
    policies = template.resource(logical_id).get("Properties", {}).get("Policies", [])
    return "sagemaker:InvokeEndpoint" in json.dumps(policies)


def upload_training_data(template: Template, body: bytes, name: str = TRAINING.name) -> str:
    """Put training data under TrainingPrefix in the data bucket; returns its s3:// URI."""
    bucket = template.ref("DataBucket")
    key = f"{template.parameters['TrainingPrefix']}{name}"
    local_client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def train(world: World, input_data_uri: str, display_name: str) -> ExecutionResult:
    """Start the template's pipeline on ``input_data_uri`` and run it with the local executor."""
    arn = local_client("sagemaker").start_pipeline_execution(
        PipelineName=world.template.parameters["PipelineName"],
        PipelineExecutionDisplayName=display_name,
        PipelineParameters=[{"Name": "InputDataUri", "Value": input_data_uri}],
    )["PipelineExecutionArn"]
    result = world.pipelines.run(arn)
    if result.status != "Succeeded" or not result.model_package_arn:
        raise TrainingFailed(f"pipeline execution {result.execution_arn} failed: {result.failure_reason}")
    return result


def serve_model(
    world: World, endpoint_name: str, training: bytes, say: Say, name: str = TRAINING.name
) -> dict[str, str]:
    """Train and register a model, then deploy it as AWS would: the retraining state machine's
    real ASL adopts the pipeline execution, approves its package and creates the endpoint.

    Returns the variables that reach the local endpoint; they must be in the function's
    environment before the handler module is imported (its clients are created at import).
    """
    template = world.template
    if endpoint_name != template.parameters["EndpointName"]:
        raise WorldError(
            "--env-vars",
            f"ENDPOINT_NAME {endpoint_name!r}: --serve-model deploys through the retraining state "
            f"machine, which serves the template's EndpointName {template.parameters['EndpointName']!r}",
        )
    if world.lambdas is None or world.endpoint is None:
        raise WorldError("--serve-model", "the world runs no state machines or serves no endpoint")
    url = world.endpoint.url
    uri = upload_training_data(template, training, name)
    result = train(world, uri, display_name="invoke-serve-model")
    say(
        f"pipeline trained on {uri}: {result.hyperparameters}, registered "
        f"{(result.model_package_arn or '').split('/', 1)[-1]}"
    )
    payload = {
        "pipelineExecutionArn": result.execution_arn,
        "trigger": "manual",
        "reason": "sentinel invoke --serve-model",
    }
    name = f"serve-{datetime.now(UTC):%Y%m%d%H%M%S%f}"
    described = run_execution(
        local_client("stepfunctions"), template.ref("RetrainStateMachine"), name, payload
    )
    if described["status"] != "SUCCEEDED":
        raise TrainingFailed(
            f"deployment execution {name} ended {described['status']}: {described.get('error')}"
        )
    config = local_client("sagemaker").describe_endpoint(EndpointName=endpoint_name)["EndpointConfigName"]
    say(f"endpoint {endpoint_name} InService on {config}, served by the local RCF at {url}")
    return world.endpoint_environ


# ---------------------------------------------------------------------------- state machines


def is_state_machine(template: Template, logical_id: str) -> bool:
    return logical_id in template.resources_of_type("AWS::Serverless::StateMachine")


def run_state_machine(
    world: World,
    logical_id: str,
    payload: dict[str, Any],
    *,
    training: bytes,
    say: Say,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Run one execution of the state machine's real ASL to its end; returns DescribeExecution.

    The world must execute state machines and run pipelines: Lambda tasks run the template's
    handlers, Wait states return at once after letting the local executor run the pipeline
    executions started meanwhile, and the execution ends before this returns.
    """
    payload = _retraining_world(world, payload, training, say)
    name = f"invoke-{datetime.now(UTC):%Y%m%d%H%M%S}"
    say(f"execution {name} of {logical_id} started")
    return run_execution(
        local_client("stepfunctions"), world.template.ref(logical_id), name, payload, timeout=timeout
    )


def _retraining_world(world: World, payload: dict[str, Any], training: bytes, say: Say) -> dict[str, Any]:
    """Training data where a start input points; a trained execution for an adopt input."""
    uri = payload.get("inputDataUri")
    if isinstance(uri, str) and uri.startswith("s3://"):
        bucket, key = parse_s3_uri(uri)
        _ensure_bucket(bucket)
        local_client("s3").put_object(Bucket=bucket, Key=key, Body=training)
        say(f"training data put at {uri}")
    adopted = payload.get("pipelineExecutionArn")
    if isinstance(adopted, str) and not known_execution(adopted):
        result = train(world, upload_training_data(world.template, training), display_name="invoke-adopt")
        world.pipelines.done.add(result.execution_arn)
        say(f"{adopted} is not on the emulator: adopting {result.execution_arn}, trained just now")
        payload = {**payload, "pipelineExecutionArn": result.execution_arn}
    return payload


def known_execution(arn: str) -> bool:
    try:
        local_client("sagemaker").describe_pipeline_execution(PipelineExecutionArn=arn)
    except ClientError:
        return False
    return True


# ---------------------------------------------------------------------------- sample capture file


def capture_sample() -> bytes:
    """events/objects/capture-sample.jsonl: base64-CSV records of taxi shingles, then one broken line."""
    import numpy as np

    from sentinel.rcf import shingle
    from sentinel.series import NYC_TAXI, load_series, shingle_timestamps
    from sentinel.traffic import capture_file

    series = load_series(NYC_TAXI)
    rows = shingle(series.values, SAMPLE_SHINGLE)
    stamps = shingle_timestamps(series.timestamps, SAMPLE_SHINGLE)
    first = int(np.searchsorted(stamps, np.datetime64(SAMPLE_FIRST)))
    hourly = slice(first, first + 2 * SAMPLE_RECORDS, 2)
    good = capture_file(stamps[hourly], rows[hourly], broken=False)
    last = good.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    return good + last[: len(last) // 2] + b"\n"  # a line cut short, as a partial write leaves it
