"""What the two file-scoring flows share: the scorer's collaborators, the calls' counts, the alert.

A capture file (:mod:`anomaly_sentinel.score_capture`) and a log file (:mod:`anomaly_sentinel.logs`)
are scored the same way around their own decoding: one endpoint client per warm container, one
failure tracker per file, counts of the calls summed per batch, metrics, then one SNS message — the
critical one when the file failed as a whole, else the anomalies' when it has any.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeVar

from anomaly_sentinel import alerts
from anomaly_sentinel.observability import MetricsSink
from anomaly_sentinel.scoring.client import BatchOutcome, EndpointClient

if TYPE_CHECKING:
    from anomaly_sentinel.settings import EndpointScoringSettings


class FileReport(Protocol):
    """The fields of a file's report that its alert reads."""

    @property
    def object(self) -> str: ...

    @property
    def endpoint(self) -> str: ...

    @property
    def failure(self) -> str | None: ...

    @property
    def anomalies(self) -> int: ...

    @property
    def scores_uri(self) -> str: ...

    @property
    def rejects_uri(self) -> str | None: ...


R = TypeVar("R", bound=FileReport)

#: Reason codes of what the endpoint did not score: refused alone (bisected down to it), or every
#: request failed the same way (:attr:`~anomaly_sentinel.scoring.FailureTracker.systematic`).
ENDPOINT_REJECTED: Final = "endpoint-rejected"
ENDPOINT_FAILED: Final = "endpoint-failed"


def endpoint_reason(systematic: str | None) -> str:
    """The reason code of a record the endpoint did not score: failed for all, or rejected alone."""
    return ENDPOINT_REJECTED if systematic is None else ENDPOINT_FAILED


S = TypeVar("S", bound="EndpointScoringSettings")


class FileScorer(Generic[S]):
    """The collaborators of a file scorer, built once per warm container; :meth:`_build` adds a
    flow's own (they are built from these, so a test hands in the same clients once)."""

    def __init__(
        self,
        settings: S,
        *,
        s3: Any,
        sagemaker: Any,
        runtime: Any,
        sns: Any,
        metrics: MetricsSink | None = None,
        sleep: Any = time.sleep,
        tmp_dir: str | None = None,
    ) -> None:
        self.settings = settings
        self.s3 = s3
        self.sagemaker = sagemaker
        self.sns = sns
        self.metrics = metrics
        self.tmp_dir = tmp_dir
        self.client = EndpointClient.for_settings(runtime, settings, sleep=sleep)
        self._build()

    def _build(self) -> None:
        """The flow's own collaborators (a model source, a store), from the ones above."""


@dataclass(slots=True)
class Calls:
    """What the endpoint calls of one file took (zero for an in-function detector)."""

    calls: int = 0
    retries: int = 0
    bisections: int = 0
    answered: int = 0
    latency_s: float = 0.0

    def add(self, outcome: BatchOutcome) -> None:
        self.calls += outcome.calls
        self.retries += outcome.retries
        self.bisections += outcome.bisections
        self.answered += outcome.answered
        self.latency_s += outcome.latency_s

    @property
    def mean_latency_ms(self) -> float | None:
        """Over the calls the endpoint answered."""
        return 1000 * self.latency_s / self.answered if self.answered else None


def anomaly_alert(report: FileReport, *, counted: str, lines: list[str]) -> alerts.Alert:
    """The warning of a file with anomalies: ``lines`` (its flow's figures), then where its scores
    and rejects are; ``counted`` ("3 anomalies") is followed by the endpoint and the file's name."""
    stem = report.object.rsplit("/", 1)[-1]
    body = [*lines, "", f"Scores:  {report.scores_uri}", f"Rejects: {report.rejects_uri or 'none'}"]
    return alerts.Alert(
        kind="anomaly",
        severity="warning",
        endpoint=report.endpoint,
        subject=f"{counted} on {report.endpoint} in {stem}",
        body="\n".join(body),
    )


def failure_alert(report: FileReport, *, what: str, counts: str, subject: str) -> alerts.Alert:
    """The critical message of a file that failed as a whole; ``what`` names the file, ``counts`` is
    the line of its flow's counts, ``subject`` is followed by the endpoint and the file's name."""
    return alerts.file_failed(
        what=what,
        uri=report.object,
        endpoint=report.endpoint,
        failure=report.failure or "",
        counts=counts,
        rejects_uri=report.rejects_uri,
        subject=subject,
    )


def publish_alert(
    report: R,
    sns: Any,
    topic_arn: str,
    *,
    failed: Callable[[R], alerts.Alert],
    anomalous: Callable[[R], alerts.Alert],
) -> str | None:
    """A failed file's critical alert, else an anomalies alert when it has any; the message id."""
    if report.failure:
        return alerts.publish(failed(report), sns, topic_arn)
    if report.anomalies:
        return alerts.publish(anomalous(report), sns, topic_arn)
    return None
