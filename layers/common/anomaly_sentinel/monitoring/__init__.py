"""Monitoring signals → one outcome model → one alert, and the retraining policy.

Three signals reach MonitoringAlertFunction: a Model Monitor execution finishing (it runs as a
processing job, so it arrives as "SageMaker Processing Job State Change"), the stack's own drift
monitor finishing a window ("Drift Monitoring Execution Status Change", same report files), and a
drift alarm ("CloudWatch Alarm State Change" on ``feature_baseline_drift_<feature>`` metrics).
Each is a typed event, told apart once by its detail-type (:mod:`.signals`); all are normalised
into :class:`MonitoringOutcome`, so the alert, the policy and the retraining request never care
where the signal came from. The use case answers :class:`Ignored` or :class:`Done`.

* :mod:`.signals` — the EventBridge events and the typed signals (pure).
* :mod:`.decision` — outcomes, the policy, the results, violations parsing, names (pure).
* :mod:`.alert` — the one alert of an outcome (pure).
* :mod:`.adapters` — DescribeProcessingJob, ListMonitoringExecutions, S3, StartExecution.
* :mod:`.responder` — the use case.
"""

from __future__ import annotations

from anomaly_sentinel.contracts.messages import Violation
from anomaly_sentinel.exceptions import ViolationsFileError
from anomaly_sentinel.monitoring.adapters import (
    VIOLATIONS_FILES,
    MonitoringJob,
    describe_monitoring_job,
    monitoring_execution_status,
    outcome_from_drift,
    outcome_from_job,
    read_violations,
    start_retraining,
)
from anomaly_sentinel.monitoring.alert import ALERT_VIOLATION_LINES, build_alert, retraining_words
from anomaly_sentinel.monitoring.decision import (
    DRIFT_METRIC_PREFIX,
    DRIFT_MONITOR_SCHEDULE,
    EXECUTION_NAME_MAX,
    TRIGGERS,
    VIOLATIONS_MAX_BYTES,
    Decision,
    Done,
    Ignored,
    MonitoringOutcome,
    Result,
    RetrainingPolicy,
    SentAlert,
    StartedExecution,
    Status,
    decide,
    execution_name,
    outcome_from_alarm,
    own_violation,
    parse_violations,
    result_from_json,
    retrain_input,
    status_from_exit_message,
)
from anomaly_sentinel.monitoring.responder import MonitoringResponder
from anomaly_sentinel.monitoring.signals import (
    ALARM_EVENT,
    DRIFT_WINDOW_EVENT,
    PROCESSING_JOB_EVENT,
    AlarmMetric,
    AlarmSignal,
    AlarmState,
    DriftWindowSignal,
    MonitoringEvent,
    MonitoringSignal,
    ProcessingJobSignal,
    Source,
    foreign_endpoint,
    ignore_reason,
    signal_from_event,
)

__all__ = [
    "ALARM_EVENT",
    "ALERT_VIOLATION_LINES",
    "DRIFT_METRIC_PREFIX",
    "DRIFT_MONITOR_SCHEDULE",
    "DRIFT_WINDOW_EVENT",
    "EXECUTION_NAME_MAX",
    "PROCESSING_JOB_EVENT",
    "TRIGGERS",
    "VIOLATIONS_FILES",
    "VIOLATIONS_MAX_BYTES",
    "AlarmMetric",
    "AlarmSignal",
    "AlarmState",
    "Decision",
    "Done",
    "DriftWindowSignal",
    "Ignored",
    "MonitoringEvent",
    "MonitoringJob",
    "MonitoringOutcome",
    "MonitoringResponder",
    "MonitoringSignal",
    "ProcessingJobSignal",
    "Result",
    "RetrainingPolicy",
    "SentAlert",
    "Source",
    "StartedExecution",
    "Status",
    "Violation",
    "ViolationsFileError",
    "build_alert",
    "decide",
    "describe_monitoring_job",
    "execution_name",
    "foreign_endpoint",
    "ignore_reason",
    "monitoring_execution_status",
    "outcome_from_alarm",
    "outcome_from_drift",
    "outcome_from_job",
    "own_violation",
    "parse_violations",
    "read_violations",
    "result_from_json",
    "retrain_input",
    "retraining_words",
    "signal_from_event",
    "start_retraining",
    "status_from_exit_message",
]
