"""SNS alerts: one message shape for every kind of alert, with attributes subscribers filter on.

Subscribers use filter policies on the ``kind``, ``severity`` and ``endpoint`` message attributes
(e.g. an on-call queue taking only ``severity=critical``), so every alert carries all three.
Bodies hold counts, ids, scores and S3 URIs — never payload contents.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

Kind = Literal["anomaly", "model-drift", "monitoring-failed", "retraining", "operational"]
Severity = Literal["info", "warning", "critical"]

SUBJECT_MAX = 100  # SNS rejects longer subjects


class Alert(BaseModel):
    kind: Kind
    severity: Severity
    endpoint: str = Field(min_length=1)
    subject: str
    body: str

    @field_validator("subject")
    @classmethod
    def _fit_subject(cls, value: str) -> str:
        """SNS subjects: at most 100 printable characters, no line breaks."""
        flat = " ".join(value.split())
        return flat if len(flat) <= SUBJECT_MAX else flat[: SUBJECT_MAX - 1] + "…"

    def message_attributes(self) -> dict[str, dict[str, str]]:
        return {
            name: {"DataType": "String", "StringValue": value}
            for name, value in (("kind", self.kind), ("severity", self.severity), ("endpoint", self.endpoint))
        }


def publish(alert: Alert, sns: Any, topic_arn: str) -> str:
    """Publish one alert; returns the SNS message id. Errors propagate (the event is retried)."""
    response = sns.publish(
        TopicArn=topic_arn,
        Subject=alert.subject,
        Message=alert.body,
        MessageAttributes=alert.message_attributes(),
    )
    return str(response["MessageId"])
