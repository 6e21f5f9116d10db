"""SageMaker behaviour moto 5.2.5 lacks, added ONLY inside :func:`sagemaker_extras` (never at import).

What is added, and why (FACTS.md: "add the missing action to both SageMakerResponse and the
backend" — a botocore Stubber cannot reach calls made by moto's own Step Functions engine):

- ``UpdateEndpoint``: switches the endpoint to the new endpoint config *in moto's backend*, so the
  local endpoint server, which resolves endpoint → current config → model → ModelDataUrl, serves the
  new model. ``SageMakerExtras.update_outcome`` simulates a failed rollout for tests.
- ``ListMonitoringExecutions``: summaries of the processing jobs registered as monitoring
  executions with :meth:`SageMakerExtras.monitoring_execution`.
- :meth:`SageMakerExtras.monitoring_execution` itself: moto's CreateProcessingJob drops
  ``MonitoringScheduleArn``, ``ExitMessage`` and ``Environment``, and always says Completed; this
  sets them on the backend object so DescribeProcessingJob answers like a Model Monitor run.
- :func:`set_pipeline_execution_status`: moto's executions are Succeeded at once and never change.
- ``ListPipelineExecutionSteps``: the steps recorded with :meth:`SageMakerExtras.pipeline_steps`
  (moto runs no step, so an execution has none unless a test or the demo records them).
- ``ListTrainingJobsForHyperParameterTuningJob``: the training jobs named ``<tuning job>-…``, as
  SageMaker names a tuning job's training jobs.

The patches are class attributes, so they work in-process (``mock_aws``) and with moto's
ThreadedMotoServer alike; leaving the context restores moto exactly.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from unittest import mock

from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

from sentinel.emulator import ACCOUNT, REGION, local_client

UpdateOutcome = Literal["InService", "Failed", "RolledBack"]
MonitoringStatus = Literal["Completed", "CompletedWithViolations", "Failed", "Stopped"]
MONITOR_IMAGE = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"


def backend(account: str = ACCOUNT, region: str = REGION) -> SageMakerModelBackend:
    return sagemaker_backends[account][region]


def set_pipeline_execution_status(execution_arn: str, status: str, failure_reason: str | None = None) -> None:
    """Make a moto pipeline execution Executing/Failed/Stopped/... (moto only knows Succeeded)."""
    pipeline_name = execution_arn.split(":pipeline/", 1)[1].split("/", 1)[0]
    sm = backend()
    for name, pipeline in sm.pipelines.items():
        if name.lower() == pipeline_name.lower() and execution_arn in pipeline.pipeline_executions:
            execution = pipeline.pipeline_executions[execution_arn]
            execution.pipeline_execution_status = status
            if failure_reason is not None:
                vars(execution)["failure_reason"] = failure_reason  # serialised as FailureReason
            return
    raise KeyError(f"no pipeline execution {execution_arn} in moto")


@dataclass
class SageMakerExtras:
    """Handle on the active patches: failure injection and a record of what was called."""

    #: What UpdateEndpoint leads to: the new config in service, a Failed endpoint (config
    #: unchanged), or a rollback (InService on the previous config).
    update_outcome: UpdateOutcome = "InService"
    updates: list[dict[str, str]] = field(default_factory=list)
    monitoring: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ListPipelineExecutionSteps items per execution ARN (shaped like SageMaker's, newest first).
    pipeline_steps: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

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
        found = []
        for job_arn, summary in self.monitoring.items():
            if filters.get("MonitoringScheduleName") not in (None, summary["MonitoringScheduleName"]):
                continue
            if filters.get("EndpointName") not in (None, summary.get("EndpointName")):
                continue
            if filters.get("StatusEquals") not in (None, summary["MonitoringExecutionStatus"]):
                continue
            found.append({**summary, "ProcessingJobArn": job_arn})
        found.sort(key=lambda s: s["CreationTime"], reverse=filters.get("SortOrder") != "Ascending")
        return found[: int(filters.get("MaxResults") or 100)]

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


@contextmanager
def sagemaker_extras(update_outcome: UpdateOutcome = "InService") -> Iterator[SageMakerExtras]:
    """Add the SageMaker actions listed in the module docstring to moto for the duration of the block."""
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
        names = ("MonitoringScheduleName", "EndpointName", "StatusEquals", "SortOrder", "MaxResults")
        filters = {name: self._get_param(name) for name in names}
        summaries = extras.list_monitoring_executions(self.sagemaker_backend, **filters)
        return ActionResult({"MonitoringExecutionSummaries": summaries})

    def response_list_pipeline_execution_steps(self: SageMakerResponse) -> ActionResult:
        steps = extras.pipeline_steps.get(self._get_param("PipelineExecutionArn"), [])
        return ActionResult({"PipelineExecutionSteps": steps})

    def response_list_training_jobs_for_tuning_job(self: SageMakerResponse) -> ActionResult:
        name = self._get_param("HyperParameterTuningJobName")
        summaries = extras.list_training_jobs_for_tuning_job(self.sagemaker_backend, name)
        return ActionResult({"TrainingJobSummaries": summaries})

    with ExitStack() as stack:
        for target, name, replacement in (
            (SageMakerModelBackend, "update_endpoint", backend_update_endpoint),
            (SageMakerResponse, "update_endpoint", response_update_endpoint),
            (SageMakerResponse, "list_monitoring_executions", response_list_monitoring_executions),
            (SageMakerResponse, "list_pipeline_execution_steps", response_list_pipeline_execution_steps),
            (
                SageMakerResponse,
                "list_training_jobs_for_hyper_parameter_tuning_job",
                response_list_training_jobs_for_tuning_job,
            ),
        ):
            if hasattr(target, name):
                raise RuntimeError(f"moto now implements {target.__name__}.{name}: drop this patch")
            stack.enter_context(mock.patch.object(target, name, replacement, create=True))
        yield extras
