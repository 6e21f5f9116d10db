"""The use case: one monitoring signal → its outcome → the retraining decision → at most one alert."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from anomaly_sentinel import alerts, storms
from anomaly_sentinel.exceptions import RetrainStartError
from anomaly_sentinel.monitoring.adapters import (
    describe_monitoring_job,
    outcome_from_drift,
    outcome_from_job,
    start_retraining,
)
from anomaly_sentinel.monitoring.alert import build_alert, retraining_words
from anomaly_sentinel.monitoring.decision import (
    Decision,
    Done,
    Ignored,
    MonitoringOutcome,
    RetrainingPolicy,
    SentAlert,
    StartedExecution,
    decide,
    execution_name,
    outcome_from_alarm,
    retrain_input,
)
from anomaly_sentinel.monitoring.signals import (
    AlarmSignal,
    DriftWindowSignal,
    MonitoringSignal,
    foreign_endpoint,
)
from anomaly_sentinel.settings import MonitoringAlertSettings


class MonitoringResponder:
    """One monitoring signal → its outcome → the retraining decision → at most one alert.

    Signals about another endpoint, and processing jobs that are not monitoring executions, are
    answered :class:`Ignored` before anything is read or started. A signal that would retrain
    starts the one retraining of its episode of drift, or is folded into it
    (:class:`anomaly_sentinel.storms.Episodes`); of the signals of an hour that start or fold, the
    first alerts and the others are counted on its digest.
    """

    def __init__(
        self,
        settings: MonitoringAlertSettings,
        *,
        sagemaker: Any,
        s3: Any,
        sns: Any,
        sfn: Any,
        dynamodb: Any,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.policy = RetrainingPolicy.from_settings(settings)
        self.sagemaker, self.s3, self.sns, self.sfn = sagemaker, s3, sns, sfn
        self.dynamodb = dynamodb
        self.clock = clock
        self.episodes = storms.Episodes(
            dynamodb,
            sfn,
            settings.idempotency_table,
            settings.state_machine_arn,
            settings.retrain_cooldown_hours * 3600,
        )

    def screen(self, signal: MonitoringSignal) -> Ignored | None:
        """Ignored when the event itself says the signal is not ours (nothing read yet)."""
        reason = signal.ignore_reason(self.settings)
        return Ignored(reason=reason) if reason is not None else None

    def outcome(self, signal: MonitoringSignal) -> MonitoringOutcome | Ignored:
        """The outcome, or why the signal is not ours to act on."""
        ours = self.settings.endpoint_name
        if isinstance(signal, AlarmSignal):
            return outcome_from_alarm(signal, ours)
        if isinstance(signal, DriftWindowSignal):
            return outcome_from_drift(signal, self.s3)
        job = describe_monitoring_job(signal, self.sagemaker)
        if job is None:
            return Ignored(reason="not a monitoring execution (no MonitoringScheduleArn)")
        monitored = self.settings.model_monitor_endpoint
        foreign = None if monitored and job.endpoint == monitored else foreign_endpoint(job.endpoint, ours)
        if foreign is not None:
            return Ignored(reason=f"monitoring schedule {job.schedule} {foreign}")
        return outcome_from_job(job, self.s3)

    def handle(self, signal: MonitoringSignal) -> Ignored | Done:
        outcome = self.outcome(signal)
        if isinstance(outcome, Ignored):
            return outcome
        decision = decide(outcome, self.policy)
        started: StartedExecution | None = None
        admission: storms.Admission | None = None
        folded = 0
        if decision.retrain:
            started, admission, folded = self._retrain(signal, outcome, decision)
            retraining = retraining_words(started, admission, decision)
        else:
            retraining = f"not started: {decision.reason}"
        alert = build_alert(outcome, decision, retraining) if folded <= 1 else None
        if alert is not None and folded == 1 and admission is not None:
            note = f"Further signals this hour are counted, not alerted, until {admission.until}."
            alert = alert.model_copy(update={"body": alert.body + "\n" + note})
        sent = None
        if alert is not None:
            message_id = alerts.publish(alert, self.sns, self.settings.alerts_topic_arn)
            sent = SentAlert(kind=alert.kind, severity=alert.severity, message_id=message_id)
        return Done(
            status=outcome.status,
            endpoint=outcome.endpoint,
            schedule=outcome.schedule,
            job_arn=outcome.job_arn,
            violations=len(outcome.violations),
            violations_problem=outcome.violations_problem,
            alert=sent,
            retrain=decision.retrain,
            retrain_reason=decision.reason,
            retraining=retraining,
            episode=admission.execution if admission is not None else None,
            execution=started,
            digest_signals=folded,
        )

    def _retrain(
        self, signal: MonitoringSignal, outcome: MonitoringOutcome, decision: Decision
    ) -> tuple[StartedExecution | None, storms.Admission, int]:
        """Start the episode's retraining, or fold the signal into it: (execution, admission, folded).

        The episode is the endpoint's that retraining acts on (the stack's), whichever endpoint the
        signal watched (Model Monitor watches a real-time endpoint of its own).
        """
        now = self.clock()
        endpoint, table = self.settings.endpoint_name, self.settings.idempotency_table
        admission = self.episodes.admit(endpoint, execution_name(signal), now)
        expires = int(now.timestamp()) + self.settings.idempotency_ttl_seconds
        digest = storms.claim_digest(self.dynamodb, table, endpoint, storms.window_key(now), expires)
        if not admission.start:
            return None, admission, digest
        payload = retrain_input(outcome, decision, self.settings.retrain_input_data_uri)
        try:
            started = start_retraining(
                self.sfn, self.settings.state_machine_arn, admission.execution, payload
            )
        except RetrainStartError:
            self.episodes.release(endpoint, admission.execution)
            raise
        return started, admission, 0
