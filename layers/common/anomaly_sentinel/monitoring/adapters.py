"""The monitoring flow's AWS calls: DescribeProcessingJob, ListMonitoringExecutions, the violations
file on S3, StartExecution; and the outcomes that need them."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict

from anomaly_sentinel.contracts import S3UriError, parse_s3_uri, read_at_most, s3_uri
from anomaly_sentinel.contracts.layout import VIOLATIONS_FILE
from anomaly_sentinel.contracts.messages import RetrainRequest, Violation
from anomaly_sentinel.exceptions import RetrainStartError, ViolationsFileError
from anomaly_sentinel.monitoring.decision import (
    DRIFT_MONITOR_SCHEDULE,
    VIOLATIONS_MAX_BYTES,
    MonitoringOutcome,
    StartedExecution,
    Status,
    parse_violations,
    status_from_exit_message,
)
from anomaly_sentinel.monitoring.signals import DriftWindowSignal, ProcessingJobSignal

#: Model Monitor writes this name; one documentation page spells it the other way: read both.
VIOLATIONS_FILES = (VIOLATIONS_FILE, "constraints_violations.json")
#: S3 errors that make a report unreadable for good (an alert, not a retry): transient ones raise.
_UNREADABLE_CODES = ("NoSuchBucket", "AccessDenied", "InvalidObjectState", "403")


def read_violations(s3: Any, report_uri: str, *, model_monitor: bool) -> tuple[Violation, ...]:
    """Read the violations file under the report URI (either spelling); problems are named."""
    try:
        bucket, prefix = parse_s3_uri(report_uri, key_required=False)
    except S3UriError:
        raise ViolationsFileError(f"malformed: report location {report_uri!r} is not an s3:// URI") from None
    base = prefix.rstrip("/")
    for file_name in VIOLATIONS_FILES:
        key = f"{base}/{file_name}" if base else file_name
        try:
            response = s3.get_object(Bucket=bucket, Key=key)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("NoSuchKey", "404", "NotFound"):
                continue
            if code in _UNREADABLE_CODES:
                raise ViolationsFileError(f"unreadable: {s3_uri(bucket, key)} ({code})") from None
            raise
        return parse_violations(
            read_at_most(response["Body"], VIOLATIONS_MAX_BYTES), model_monitor=model_monitor
        )
    raise ViolationsFileError(f"missing: neither {' nor '.join(VIOLATIONS_FILES)} under {report_uri}")


def monitoring_execution_status(sagemaker: Any, schedule: str, job_arn: str) -> dict[str, Any] | None:
    """The ListMonitoringExecutions summary of this job, when the API answers (None otherwise)."""
    try:
        response = sagemaker.list_monitoring_executions(
            MonitoringScheduleName=schedule, SortBy="CreationTime", SortOrder="Descending", MaxResults=100
        )
    except (ClientError, BotoCoreError):
        # Denied, or throttled after retries: the ExitMessage and the violations file still decide.
        return None
    for summary in response.get("MonitoringExecutionSummaries", []):
        if summary.get("ProcessingJobArn") == job_arn:
            return dict(summary)
    return None


def _report_uri(job: dict[str, Any]) -> str | None:
    outputs = (job.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    for output in outputs:
        uri = (output.get("S3Output") or {}).get("S3Uri")
        if uri:
            return str(uri)
    return None


class MonitoringJob(BaseModel):
    """A processing job confirmed to be a monitoring execution: DescribeProcessingJob + its listing."""

    model_config = ConfigDict(frozen=True)

    job_arn: str
    schedule: str
    endpoint: str | None
    processing_status: str
    exit_message: str | None = None
    failure_reason: str | None = None
    report_uri: str | None = None
    listed_status: str | None = None


def describe_monitoring_job(signal: ProcessingJobSignal, sagemaker: Any) -> MonitoringJob | None:
    """The monitoring execution behind a processing-job signal; None when it is not one."""
    job = sagemaker.describe_processing_job(ProcessingJobName=signal.name)
    schedule_arn = job.get("MonitoringScheduleArn")
    if not schedule_arn:
        return None
    schedule = str(schedule_arn).rsplit("/", 1)[-1]
    job_arn = str(job.get("ProcessingJobArn", signal.arn))
    summary = monitoring_execution_status(sagemaker, schedule, job_arn) or {}
    endpoint = (job.get("Environment") or {}).get("sagemaker_endpoint_name") or summary.get("EndpointName")
    failure = job.get("FailureReason") or job.get("ExitMessage") or summary.get("FailureReason")
    return MonitoringJob(
        job_arn=job_arn,
        schedule=schedule,
        endpoint=str(endpoint) if endpoint else None,
        processing_status=str(job.get("ProcessingJobStatus") or signal.status),
        exit_message=job.get("ExitMessage"),
        failure_reason=str(failure) if failure else None,
        report_uri=_report_uri(job),
        listed_status=summary.get("MonitoringExecutionStatus"),
    )


def outcome_from_job(job: MonitoringJob, s3: Any) -> MonitoringOutcome:
    """Status from ExitMessage, cross-checked with ListMonitoringExecutions, else the violations file."""
    status = status_from_exit_message(job.processing_status, job.exit_message)
    status_source = "ExitMessage" if status is not None else "processing job"
    if job.listed_status in ("Completed", "CompletedWithViolations", "Failed", "Stopped"):
        status, status_source = job.listed_status, "ListMonitoringExecutions"  # type: ignore[assignment]
    violations: tuple[Violation, ...] = ()
    problem: str | None = None
    if job.processing_status == "Completed" and status != "Completed":
        try:
            if job.report_uri is None:
                raise ViolationsFileError("missing: the job has no S3 output location")
            violations = read_violations(s3, job.report_uri, model_monitor=True)
        except ViolationsFileError as exc:
            problem = str(exc)
        if status is None:
            status = "CompletedWithViolations" if violations or problem else "Completed"
            status_source = "violations file"
        elif status == "CompletedWithViolations" and not violations and problem is None:
            problem = "empty: the run reported violations but the file lists none"
    return MonitoringOutcome(
        source="processing-job",
        endpoint=job.endpoint or "",
        schedule=job.schedule,
        job_arn=job.job_arn,
        status=status or "Completed",
        violations=violations,
        report_uri=job.report_uri,
        detail=job.failure_reason,
        violations_problem=problem,
        status_source=status_source,
    )


def outcome_from_drift(signal: DriftWindowSignal, s3: Any) -> MonitoringOutcome:
    """A drift monitor window: its status from the event, its violations from its report."""
    status: Status = "CompletedWithViolations" if signal.status == "CompletedWithViolations" else "Completed"
    violations: tuple[Violation, ...] = ()
    problem: str | None = None
    if status == "CompletedWithViolations":
        try:
            if not signal.report_uri:
                raise ViolationsFileError("missing: the drift event names no report")
            violations = read_violations(s3, signal.report_uri, model_monitor=False)
        except ViolationsFileError as exc:
            problem = str(exc)
        if not violations and problem is None:
            problem = "empty: the window reported violations but the file lists none"
    return MonitoringOutcome(
        source="drift-monitor",
        endpoint=signal.endpoint or "",
        schedule=DRIFT_MONITOR_SCHEDULE,
        job_arn=signal.arn,
        status=status,
        violations=violations,
        report_uri=signal.report_uri,
        violations_problem=problem,
        status_source="drift monitor event",
    )


def start_retraining(
    sfn: Any, state_machine_arn: str, name: str, request: RetrainRequest
) -> StartedExecution:
    """Start one retraining execution; an execution of that name already existing is success."""
    execution_arn = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
    try:
        response = sfn.start_execution(
            stateMachineArn=state_machine_arn, name=name, input=request.execution_input()
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "Unknown")
        if code == "ExecutionAlreadyExists":
            return StartedExecution(execution_name=name, execution_arn=execution_arn, already_started=True)
        raise RetrainStartError(
            f"cannot start retraining '{name}' on {state_machine_arn}: "
            f"{code}: {exc.response.get('Error', {}).get('Message', '')}"
        ) from exc
    except BotoCoreError as exc:
        raise RetrainStartError(f"cannot start retraining '{name}' on {state_machine_arn}: {exc}") from exc
    return StartedExecution(
        execution_name=name, execution_arn=response["executionArn"], already_started=False
    )
