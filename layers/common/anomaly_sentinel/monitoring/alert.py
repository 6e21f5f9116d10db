"""The one alert a monitoring outcome gives, and how the retraining request is said in it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from anomaly_sentinel import alerts, storms
from anomaly_sentinel.alerts import Alert
from anomaly_sentinel.contracts.messages import Violation
from anomaly_sentinel.monitoring.decision import Decision, MonitoringOutcome, StartedExecution

ALERT_VIOLATION_LINES = 25


def _count_line(violations: Iterable[Violation]) -> str:
    counts = Counter(alerts.shorten(v.check_type) for v in violations)
    return ", ".join(f"{kind} x{n}" for kind, n in sorted(counts.items()))


def build_alert(outcome: MonitoringOutcome, decision: Decision, retraining: str) -> Alert | None:
    """One alert per outcome: violations are a model alert, failed monitoring is operational.

    A clean run (Completed without violations) alerts nobody. ``retraining`` says what happened to
    the retraining request (started, already started, or why not).
    """
    where = outcome.schedule or "no schedule"
    lines = [
        f"Endpoint: {outcome.endpoint}",
        f"Monitoring schedule: {where}",
        f"Source: {outcome.source} {outcome.job_arn}",
        f"Status: {outcome.status} (from {outcome.status_source})",
    ]
    if outcome.report_uri:
        lines.append(f"Report: {outcome.report_uri}")
    if outcome.detail:
        lines.append(f"Detail: {outcome.detail[:500]}")
    if outcome.status in ("Failed", "Stopped"):
        lines.append(f"Retraining: {retraining}")
        return Alert(
            kind="monitoring-failed",
            severity="warning",
            endpoint=outcome.endpoint,
            subject=f"Monitoring {outcome.status.lower()} for {outcome.endpoint} ({where})",
            body="\n".join(lines),
        )
    if outcome.status == "Completed":
        return None
    if outcome.violations_problem is not None:
        lines.append(f"Violations file: {outcome.violations_problem} - the violations could not be read")
        lines.append(f"Retraining: {retraining}")
        return Alert(
            kind="monitoring-failed",
            severity="warning",
            endpoint=outcome.endpoint,
            subject=f"Monitoring found violations on {outcome.endpoint} but the report is unreadable",
            body="\n".join(lines),
        )
    count = len(outcome.violations)
    lines.append(f"Violations: {count} ({_count_line(outcome.violations) or 'none listed'})")
    lines.extend(f"- {v.summary()}" for v in outcome.violations[:ALERT_VIOLATION_LINES])
    if count > ALERT_VIOLATION_LINES:
        lines.append(f"... and {count - ALERT_VIOLATION_LINES} more")
    lines.append(f"Retraining: {retraining}")
    features = sorted({alerts.shorten(v.feature_name) for v in outcome.violations})
    noun = "drift alarm" if outcome.source == "alarm" else f"{count} violations"
    return Alert(
        kind="model-drift",
        severity="warning",
        endpoint=outcome.endpoint,
        subject=f"Model drift on {outcome.endpoint}: {noun} ({', '.join(features[:3]) or where})",
        body="\n".join(lines),
    )


def retraining_words(
    started: StartedExecution | None, admission: storms.Admission, decision: Decision
) -> str:
    """What happened to the retraining request, as the alert and the log say it."""
    if started is not None:
        if started.already_started:
            return f"execution {admission.execution} already started ({decision.reason})"
        return f"started execution {admission.execution} ({decision.reason})"
    count = f"; signal {admission.signals} of this episode" if admission.signals > 1 else ""
    return f"not started: {admission.reason}{count} ({decision.reason})"
