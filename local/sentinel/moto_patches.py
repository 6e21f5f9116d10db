"""Every change this project makes to moto, in one place, each behind a guard.

moto is the offline emulator; where it lacks an API or behaves unlike AWS, the emulator gains the
behaviour here so that production code never has an emulator branch. Nothing is patched at import:
each patch is applied by a context manager, and before applying it :func:`_guarded` checks that the
target still exists with the parameters the replacement expects (or, for an added API, that moto
still lacks it), failing loudly with moto's version otherwise. ``tests/integration/test_moto_patches.py``
has one test per patch that fails when the patch stops having its effect.

SageMaker (:func:`sagemaker_extras`; class attributes, so in-process ``mock_aws`` and
ThreadedMotoServer alike):

- ``UpdateEndpoint`` (added): switches the endpoint to the new config in moto's backend, so the
  local endpoint serves the new model; ``SageMakerExtras.update_outcome`` injects a failed rollout.
- ``ListMonitoringExecutions`` (added, with SageMaker's sort and page-size checks and defaults): the
  jobs registered with :meth:`SageMakerExtras.monitoring_execution`, which also shapes a processing
  job like a Model Monitor run (moto's CreateProcessingJob drops MonitoringScheduleArn, ExitMessage,
  Environment).
- ``ListPipelineExecutionSteps`` (added): the steps recorded by :func:`record_pipeline_steps` (the
  local pipeline executor records its RegisterModel step, as SageMaker does).
- ``ListTrainingJobsForHyperParameterTuningJob`` (added): the training jobs named ``<tuning job>-…``,
  as SageMaker names a tuning job's training jobs.
- ``UpdateModelPackage`` (replaced): keeps the package's CustomerMetadataProperties and adds the
  sent ones, as AWS does (moto replaces them with what was sent, or drops them).
- :func:`set_pipeline_execution_status`: moto's executions are Succeeded at once and never change;
  :func:`start_as_executing` makes new ones start "Executing" instead.

Step Functions and Lambda:

- :func:`lambda_invoke`: moto's ``lambda:invoke`` (which echoes the payload without Docker) calls
  a given function instead — the template's real handlers (``sentinel.stepfunctions``).
- :func:`instant_waits`: Wait states and Retry back-off return at once instead of sleeping.

DynamoDB (:func:`atomic_dynamodb_writes`): a write and its condition are one atomic step, as
DynamoDB guarantees (moto checks the condition, then writes, with nothing between two threads: two
conditional puts racing for one item could both succeed, which DynamoDB never allows).

Speed (:func:`shared_parsing`; the same answers, less work per emulated world — a test's world
cost ≈ 1 s before, most of it parsing the same files again):

- botocore: every session shares one data loader, so each service model and endpoint ruleset is
  read from its JSON once per process (``mock_aws`` gives every world a new default session).
- Step Functions: a definition moto already parsed without error is not parsed again (moto parses
  every definition with its ANTLR grammar on CreateStateMachine only to validate it).
- KMS: every ``SYMMETRIC_DEFAULT`` key shares one RSA key pair (moto makes a 2048-bit one per key
  for asymmetric signing, which a symmetric key never does).
"""

from __future__ import annotations

import functools
import inspect
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from unittest import mock

import botocore.loaders
import botocore.session
import moto
import moto.kms.models
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.dynamodb.models import DynamoDBBackend
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from sentinel.emulator import ACCOUNT, REGION, local_client
from sentinel.errors import LocalError


class MotoPatchError(LocalError):
    """moto changed under a patch: the target is gone, has another signature, or now exists."""


@dataclass(frozen=True)
class Patch:
    """One change to moto: ``replacement`` set as ``target.name`` while a context is active.

    ``adds``: moto lacks the attribute (the guard fails once moto implements it). Otherwise it
    must exist, and when ``parameters`` are given, with exactly those parameter names.
    """

    target: Any
    name: str
    replacement: Any
    adds: bool = False
    parameters: tuple[str, ...] | None = None


def _describe(patch: Patch) -> str:
    return f"{getattr(patch.target, '__name__', patch.target)}.{patch.name}"


def _guard(patch: Patch) -> None:
    version = f"moto {moto.__version__}"
    if patch.adds:
        if hasattr(patch.target, patch.name):
            raise MotoPatchError(f"{version} now implements {_describe(patch)}: drop this patch")
        return
    original = getattr(patch.target, patch.name, None)
    if original is None:
        raise MotoPatchError(f"{version} has no {_describe(patch)} any more: revisit this patch")
    if patch.parameters is not None:
        found = tuple(inspect.signature(original).parameters)
        if found != patch.parameters:
            raise MotoPatchError(
                f"{version} changed {_describe(patch)}{found}; the patch expects {patch.parameters}"
            )


@contextmanager
def _guarded(patches: Sequence[Patch]) -> Iterator[None]:
    """Check every patch first (all or nothing), then apply them until the block ends."""
    for patch in patches:
        _guard(patch)
    with ExitStack() as stack:
        for patch in patches:
            stack.enter_context(
                mock.patch.object(patch.target, patch.name, patch.replacement, create=patch.adds)
            )
        yield


UpdateOutcome = Literal["InService", "Failed", "RolledBack"]
MonitoringStatus = Literal["Completed", "CompletedWithViolations", "Failed", "Stopped"]
MONITOR_IMAGE = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"


def backend(account: str = ACCOUNT, region: str = REGION) -> SageMakerModelBackend:
    return sagemaker_backends[account][region]


def pipeline_execution(execution_arn: str) -> Any:
    """moto's object for a pipeline execution; KeyError when this process's moto has none."""
    pipeline_name = execution_arn.split(":pipeline/", 1)[1].split("/", 1)[0]
    for name, pipeline in backend().pipelines.items():
        if name.lower() == pipeline_name.lower() and execution_arn in pipeline.pipeline_executions:
            return pipeline.pipeline_executions[execution_arn]
    raise KeyError(f"no pipeline execution {execution_arn} in moto")


def set_pipeline_execution_status(execution_arn: str, status: str, failure_reason: str | None = None) -> Any:
    """Make a moto pipeline execution Executing/Failed/Stopped/... (moto only knows Succeeded)."""
    execution = pipeline_execution(execution_arn)
    execution.pipeline_execution_status = status
    execution.last_modified_time = utcnow()
    if failure_reason is not None:
        execution.pipeline_execution_failure_reason = failure_reason  # ListPipelineExecutions
        vars(execution)["failure_reason"] = failure_reason  # serialised as FailureReason
    return execution


#: Attribute of moto's SageMaker backend holding recorded pipeline steps (reset with the backend).
_STEPS = "sentinel_pipeline_execution_steps"


def record_pipeline_steps(execution_arn: str, steps: Sequence[dict[str, Any]]) -> None:
    """Record what ListPipelineExecutionSteps answers for ``execution_arn`` (newest last)."""
    vars(backend()).setdefault(_STEPS, {})[execution_arn] = [dict(step) for step in steps]


def registered_step(package_arn: str, step_name: str = "RegisterModel") -> dict[str, Any]:
    """A succeeded RegisterModel step as ListPipelineExecutionSteps describes it."""
    now = utcnow()
    return {
        "StepName": step_name,
        "StepDisplayName": step_name,
        "StartTime": now,
        "EndTime": now,
        "StepStatus": "Succeeded",
        "Metadata": {"RegisterModel": {"Arn": package_arn}},
    }


@dataclass
class SageMakerExtras:
    """Handle on the active patches: failure injection and a record of what was called."""

    #: What UpdateEndpoint leads to: the new config in service, a Failed endpoint (config
    #: unchanged), or a rollback (InService on the previous config).
    update_outcome: UpdateOutcome = "InService"
    updates: list[dict[str, str]] = field(default_factory=list)
    monitoring: dict[str, dict[str, Any]] = field(default_factory=dict)

    # ------------------------------------------------------------------ backend behaviour
    def update_endpoint(
        self, sm: SageMakerModelBackend, endpoint_name: str, config_name: str
    ) -> FakeEndpoint:
        endpoint = sm.endpoints.get(endpoint_name)
        if endpoint is None:
            raise ValidationError(message=f"Could not find endpoint '{endpoint_name}'.")
        config = sm.describe_endpoint_config(config_name)  # raises "Could not find" like SageMaker
        self.updates.append({"EndpointName": endpoint_name, "EndpointConfigName": config_name})
        endpoint.last_modified_time = utcnow()
        if self.update_outcome == "Failed":
            endpoint.endpoint_status = "Failed"
            vars(endpoint)["failure_reason"] = "injected by SageMakerExtras.update_outcome"
        elif self.update_outcome == "RolledBack":
            endpoint.endpoint_status = "InService"
            vars(endpoint)["failure_reason"] = "rolled back: injected by SageMakerExtras.update_outcome"
        else:
            endpoint.endpoint_config_name = config_name
            endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
            endpoint.endpoint_status = "InService"
            endpoint.failure_reason = None
        return endpoint

    def list_training_jobs_for_tuning_job(
        self, sm: SageMakerModelBackend, tuning_job: str
    ) -> list[dict[str, Any]]:
        return [
            {
                "TrainingJobName": name,
                "TrainingJobArn": job.arn,
                "CreationTime": job.creation_time,
                "TrainingJobStatus": job.training_job_status,
                "TunedHyperParameters": job.hyper_parameters or {},
            }
            for name, job in sm.training_jobs.items()
            if name.startswith(f"{tuning_job}-")
        ]

    def list_monitoring_executions(self, sm: SageMakerModelBackend, **filters: Any) -> list[dict[str, Any]]:
        # SageMaker's own checks and defaults: SortBy/SortOrder enums, MaxResults 1-100 (default 10).
        sort_by = filters.get("SortBy") or "CreationTime"
        if sort_by not in ("CreationTime", "ScheduledTime", "Status"):
            raise ValidationError(message=f"Value '{sort_by}' at 'sortBy' failed to satisfy constraint")
        if filters.get("SortOrder") not in (None, "Ascending", "Descending"):
            raise ValidationError(
                message=f"Value '{filters['SortOrder']}' at 'sortOrder' failed to satisfy constraint"
            )
        limit = int(filters.get("MaxResults") or 10)
        if not 1 <= limit <= 100:
            raise ValidationError(message=f"Value '{limit}' at 'maxResults' failed to satisfy constraint")
        found = []
        for job_arn, summary in self.monitoring.items():
            if filters.get("MonitoringScheduleName") not in (None, summary["MonitoringScheduleName"]):
                continue
            if filters.get("EndpointName") not in (None, summary.get("EndpointName")):
                continue
            if filters.get("StatusEquals") not in (None, summary["MonitoringExecutionStatus"]):
                continue
            found.append({**summary, "ProcessingJobArn": job_arn})
        key = "MonitoringExecutionStatus" if sort_by == "Status" else sort_by
        found.sort(key=lambda s: s[key], reverse=filters.get("SortOrder") != "Ascending")
        return found[:limit]

    # ------------------------------------------------------------------ fixtures
    def monitoring_execution(
        self,
        *,
        job_name: str,
        schedule_name: str,
        endpoint_name: str,
        report_uri: str,
        status: MonitoringStatus = "CompletedWithViolations",
        exit_message: str | None = None,
        listed: bool = True,
    ) -> str:
        """A processing job shaped like a Model Monitor execution; returns its ARN.

        ``exit_message`` defaults to what the Model Monitor container writes for ``status``;
        ``listed=False`` leaves it out of ListMonitoringExecutions.
        """
        sagemaker = local_client("sagemaker")
        arn = sagemaker.create_processing_job(
            ProcessingJobName=job_name,
            ProcessingResources={
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}
            },
            AppSpecification={"ImageUri": MONITOR_IMAGE},
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/sentinel-monitoring",
            ProcessingOutputConfig={
                "Outputs": [
                    {
                        "OutputName": "result",
                        "S3Output": {
                            "S3Uri": report_uri,
                            "LocalPath": "/opt/ml/processing/resultdata",
                            "S3UploadMode": "Continuous",
                        },
                    }
                ]
            },
        )["ProcessingJobArn"]
        schedule_arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:monitoring-schedule/{schedule_name}"
        job = backend().processing_jobs[job_name]
        # moto serialises every attribute of the job object (snake_case → CamelCase).
        shaped: dict[str, Any] = {
            "monitoring_schedule_arn": schedule_arn,
            "environment": {
                "sagemaker_endpoint_name": endpoint_name,
                "sagemaker_monitoring_schedule_name": schedule_name,
                "output_path": "/opt/ml/processing/resultdata",
            },
            "processing_job_status": status if status in ("Failed", "Stopped") else "Completed",
        }
        default_messages = {
            "CompletedWithViolations": "CompletedWithViolations: Job completed successfully with violations.",
            "Completed": "Completed: Job completed successfully with no violations.",
            "Failed": "Failed: the monitoring job could not analyse the captured data.",
            "Stopped": None,
        }
        message = exit_message if exit_message is not None else default_messages[status]
        if message is not None:
            shaped["exit_message"] = message
        if status == "Failed":
            shaped["failure_reason"] = "AlgorithmError: see the job logs"
        vars(job).update(shaped)
        if listed:
            now = utcnow()
            self.monitoring[arn] = {
                "MonitoringScheduleName": schedule_name,
                "ScheduledTime": now,
                "CreationTime": now,
                "LastModifiedTime": now,
                "MonitoringExecutionStatus": status,
                "EndpointName": endpoint_name,
            }
        return str(arn)


def processing_job_event(job_name: str) -> dict[str, Any]:
    """The "SageMaker Processing Job State Change" event SageMaker would send for a job now.

    Its detail mirrors DescribeProcessingJob (times as epoch milliseconds, as in AWS's sample), so
    a job shaped by :meth:`SageMakerExtras.monitoring_execution` yields a Model Monitor run's event.
    """
    described = local_client("sagemaker").describe_processing_job(ProcessingJobName=job_name)
    described.pop("ResponseMetadata", None)
    detail = {
        key: int(value.timestamp() * 1000) if isinstance(value, datetime) else value
        for key, value in described.items()
    }
    return {
        "version": "0",
        "id": str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"{detail['ProcessingJobArn']}#{detail['ProcessingJobStatus']}")
        ),
        "detail-type": "SageMaker Processing Job State Change",
        "source": "aws.sagemaker",
        "account": ACCOUNT,
        "time": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [detail["ProcessingJobArn"]],
        "detail": detail,
    }


def _response_list_pipeline_execution_steps(self: SageMakerResponse) -> ActionResult:
    steps = vars(self.sagemaker_backend).get(_STEPS, {}).get(self._get_param("PipelineExecutionArn"), [])
    ordered = steps if self._get_param("SortOrder") == "Ascending" else list(reversed(steps))
    return ActionResult({"PipelineExecutionSteps": ordered})


_update_model_package = SageMakerModelBackend.update_model_package


def _update_model_package_keeping_metadata(  # noqa: PLR0917 - moto's positional signature
    self: SageMakerModelBackend,
    model_package_arn: str,
    model_approval_status: str | None,
    approval_description: str | None,
    customer_metadata_properties: dict[str, str] | None,
    customer_metadata_properties_to_remove: list[str],
    additional_inference_specifications_to_add: list[Any] | None,
) -> str:
    name = self.model_package_name_mapping.get(model_package_arn, model_package_arn)
    package = self.model_packages.get(name)
    kept = dict((package.customer_metadata_properties or {}) if package is not None else {})
    return str(
        _update_model_package(
            self,
            model_package_arn,
            model_approval_status,
            approval_description,
            {**kept, **(customer_metadata_properties or {})} or None,
            customer_metadata_properties_to_remove,
            additional_inference_specifications_to_add,
        )
    )


@contextmanager
def sagemaker_extras(update_outcome: UpdateOutcome = "InService") -> Iterator[SageMakerExtras]:
    """The SageMaker APIs and behaviour moto lacks, for the duration of the block."""
    extras = SageMakerExtras(update_outcome=update_outcome)

    def backend_update_endpoint(
        self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str
    ) -> FakeEndpoint:
        return extras.update_endpoint(self, endpoint_name, endpoint_config_name)

    def response_update_endpoint(self: SageMakerResponse) -> ActionResult:
        endpoint = self.sagemaker_backend.update_endpoint(  # type: ignore[attr-defined]
            self._get_param("EndpointName"), self._get_param("EndpointConfigName")
        )
        return ActionResult({"EndpointArn": endpoint.arn})

    def response_list_monitoring_executions(self: SageMakerResponse) -> ActionResult | EmptyResult:
        names = (
            "MonitoringScheduleName",
            "EndpointName",
            "StatusEquals",
            "SortBy",
            "SortOrder",
            "MaxResults",
        )
        filters = {name: self._get_param(name) for name in names}
        summaries = extras.list_monitoring_executions(self.sagemaker_backend, **filters)
        return ActionResult({"MonitoringExecutionSummaries": summaries})

    def response_list_training_jobs_for_tuning_job(self: SageMakerResponse) -> ActionResult:
        name = self._get_param("HyperParameterTuningJobName")
        summaries = extras.list_training_jobs_for_tuning_job(self.sagemaker_backend, name)
        return ActionResult({"TrainingJobSummaries": summaries})

    patches = (
        Patch(SageMakerModelBackend, "update_endpoint", backend_update_endpoint, adds=True),
        Patch(SageMakerResponse, "update_endpoint", response_update_endpoint, adds=True),
        Patch(
            SageMakerResponse, "list_monitoring_executions", response_list_monitoring_executions, adds=True
        ),
        Patch(
            SageMakerResponse,
            "list_pipeline_execution_steps",
            _response_list_pipeline_execution_steps,
            adds=True,
        ),
        Patch(
            SageMakerResponse,
            "list_training_jobs_for_hyper_parameter_tuning_job",
            response_list_training_jobs_for_tuning_job,
            adds=True,
        ),
        Patch(
            SageMakerModelBackend,
            "update_model_package",
            _update_model_package_keeping_metadata,
            parameters=tuple(inspect.signature(_update_model_package_keeping_metadata).parameters),
        ),
    )
    with _guarded(patches):
        _active.append(extras)
        try:
            yield extras
        finally:
            _active.remove(extras)


_active: list[SageMakerExtras] = []


def active_extras() -> SageMakerExtras:
    """The handle of the active :func:`sagemaker_extras` (the world's); LookupError outside one."""
    if not _active:
        raise LookupError("no sagemaker_extras() is active: enter sentinel.world.local_world() first")
    return _active[-1]


@contextmanager
def start_as_executing() -> Iterator[None]:
    """While active, moto records new pipeline executions as "Executing" instead of "Succeeded".

    Without it, a poller (the retraining state machine) can read moto's instant "Succeeded"
    before the local executor has trained anything.
    """
    original = SageMakerModelBackend.start_pipeline_execution

    def start(self: Any, pipeline_name: str, *args: Any, **kwargs: Any) -> dict[str, str]:
        response: dict[str, str] = original(self, pipeline_name, *args, **kwargs)
        execution = self.pipelines[pipeline_name].pipeline_executions[response["PipelineExecutionArn"]]
        execution.pipeline_execution_status = "Executing"
        return response

    expected = tuple(inspect.signature(original).parameters)[:2]
    if expected != ("self", "pipeline_name"):
        raise MotoPatchError(f"moto {moto.__version__} changed start_pipeline_execution{expected}")
    with _guarded([Patch(SageMakerModelBackend, "start_pipeline_execution", start)]):
        yield


#: DynamoDB's writes, each checked against its condition and applied as one step.
DYNAMODB_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")
_DYNAMODB_WRITE_LOCK = threading.RLock()


def _one_at_a_time(write: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(write)
    def atomic(*args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_WRITE_LOCK:
            return write(*args, **kwargs)

    return atomic


@contextmanager
def atomic_dynamodb_writes() -> Iterator[None]:
    """Conditional writes as DynamoDB makes them: check and write together, one writer at a time.

    Every table of every backend shares one lock: writes are short, and an emulated stack has a
    handful of tables.
    """
    patches = [
        Patch(DynamoDBBackend, name, _one_at_a_time(getattr(DynamoDBBackend, name, None) or _missing))
        for name in DYNAMODB_WRITES
    ]
    with _guarded(patches):  # a write moto renamed fails here, naming moto's version
        yield


def _missing(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError  # never called: the guard refuses a patch whose target is gone


#: Runs a Lambda invocation: (function name or ARN, request body, response headers) → response body.
Invoker = Callable[[str, Any, dict[str, Any]], bytes]


@contextmanager
def lambda_invoke(invoker: Invoker) -> Iterator[None]:
    """moto's ``lambda:invoke`` calls ``invoker`` (requires ``{"lambda": {"use_docker": False}}``)."""
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def invoke(  # noqa: PLR0917 - moto's positional signature
        self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> bytes:
        return invoker(function_name, body, response_headers)

    parameters = ("self", "function_name", "qualifier", "body", "headers", "response_headers")
    with _guarded([Patch(LambdaSimpleBackend, "invoke", invoke, parameters=parameters)]):
        yield


@contextmanager
def instant_waits(on_wait: Callable[[float], None], on_retry: Callable[[float], None]) -> Iterator[None]:
    """Wait states call ``on_wait(seconds)`` and Retry back-off ``on_retry(seconds)`` instead of sleeping."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    def wait_interval(self: Any, env: Any, wait_seconds: float) -> None:
        on_wait(wait_seconds)

    class _NoSleep:
        @staticmethod
        def sleep(seconds: float) -> None:
            on_retry(seconds)

    if not callable(getattr(getattr(retrier_decl, "time", None), "sleep", None)):
        raise MotoPatchError(f"moto {moto.__version__}: the retrier no longer sleeps through time.sleep")
    with _guarded(
        [
            Patch(WaitFunction, "_wait_interval", wait_interval, parameters=("self", "env", "wait_seconds")),
            Patch(retrier_decl, "time", _NoSleep),
        ]
    ):
        yield


# ---------------------------------------------------------------------------- speed

_loaders: dict[str | None, botocore.loaders.Loader] = {}
_valid_definitions: set[str] = set()
_symmetric_key: list[Any] = []
_parse_definition = StepFunctionsParserBackend._validate_definition
_generate_private_key = moto.kms.models.generate_private_key


def _shared_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
    if search_path_string not in _loaders:
        _loaders[search_path_string] = botocore.loaders.create_loader(search_path_string)
    return _loaders[search_path_string]


def _validate_definition_once(definition: str) -> None:
    if definition not in _valid_definitions:
        _parse_definition(definition=definition)  # raises InvalidDefinition: not remembered
        _valid_definitions.add(definition)


def _private_key(key_spec: str) -> Any:
    if key_spec != "SYMMETRIC_DEFAULT":
        return _generate_private_key(key_spec)
    if not _symmetric_key:
        _symmetric_key.append(_generate_private_key(key_spec))
    return _symmetric_key[0]


@contextmanager
def shared_parsing() -> Iterator[None]:
    """What every world parses or generates alike is done once per process (see the module doc)."""
    with _guarded(
        [
            Patch(botocore.session, "create_loader", _shared_loader, parameters=("search_path_string",)),
            Patch(
                StepFunctionsParserBackend,
                "_validate_definition",
                staticmethod(_validate_definition_once),
                parameters=("definition",),
            ),
            Patch(moto.kms.models, "generate_private_key", _private_key, parameters=("key_spec",)),
        ]
    ):
        yield
