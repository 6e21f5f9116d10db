"""SNS alerts: one message shape for every kind of alert, with attributes subscribers filter on.

Subscribers use filter policies on the ``kind``, ``severity`` and ``endpoint`` message attributes
(e.g. an on-call queue taking only ``severity=critical``), so every alert carries all three.
Bodies hold counts, ids, scores and S3 URIs — never payload contents.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

Kind = Literal["anomaly", "model-drift", "monitoring-failed", "retraining", "operational"]
Severity = Literal["info", "warning", "critical"]

#: SNS Publish: a subject is "ASCII text ... less than 100 characters long", with no line breaks or
#: control characters (https://docs.aws.amazon.com/sns/latest/api/API_Publish.html). A rejected
#: publish fails the invocation after the scores were written, so the subject must always fit.
SUBJECT_MAX = 99
ELLIPSIS = "..."
FALLBACK_SUBJECT = "Anomaly Sentinel alert"
#: SNS Publish takes at most 262,144 bytes for message, subject and attributes together: the body
#: keeps 4 KB for the rest (a subject is < 100 characters, our three attributes are short).
BODY_MAX_BYTES = 262_144 - 4_096
BODY_CUT_NOTE = "\n... (cut to fit SNS's 256 KB message limit)"
#: Names and ids we did not choose (features, checks, event ids) as alert lines show them.
NAME_MAX = 120


def shorten(text: str, limit: int = NAME_MAX) -> str:
    """``text`` of at most ``limit`` characters (cut with "..."): a name from a file is not a line."""
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def fit_body(value: str) -> str:
    """At most :data:`BODY_MAX_BYTES` of UTF-8, cut on a character boundary with a note."""
    encoded = value.encode("utf-8")
    if len(encoded) <= BODY_MAX_BYTES:
        return value
    room = BODY_MAX_BYTES - len(BODY_CUT_NOTE.encode("utf-8"))
    return encoded[:room].decode("utf-8", "ignore") + BODY_CUT_NOTE


def fit_subject(value: str) -> str:
    """Printable ASCII on one line, at most ``SUBJECT_MAX`` characters (cut with "...")."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    printable = "".join(c if c.isprintable() else " " for c in ascii_text)
    flat = " ".join(printable.split()) or FALLBACK_SUBJECT
    if len(flat) <= SUBJECT_MAX:
        return flat
    return flat[: SUBJECT_MAX - len(ELLIPSIS)].rstrip() + ELLIPSIS


class Alert(BaseModel):
    kind: Kind
    severity: Severity
    endpoint: str = Field(min_length=1)
    subject: str
    body: str

    @field_validator("subject")
    @classmethod
    def _fit_subject(cls, value: str) -> str:
        return fit_subject(value)

    @field_validator("body")
    @classmethod
    def _fit_body(cls, value: str) -> str:
        return fit_body(value)

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


def file_failed(
    *, what: str, uri: str, endpoint: str, failure: str, counts: str, rejects_uri: str | None, subject: str
) -> Alert:
    """One critical message for a file that failed as a whole: the reason, counts, how to retry.

    ``what`` names the file ("Capture file", "Log file"); ``subject`` is followed by the file's name.
    """
    stem = uri.rsplit("/", 1)[-1]
    lines = [
        f"{what} {uri} could not be scored on endpoint {endpoint}.",
        "",
        f"Reason: {failure}",
        "",
        counts,
        f"Rejects: {rejects_uri or 'none'}",
        "To score it again once fixed, copy the object onto itself (a new version) or invoke the "
        "function with the object's event.",
    ]
    return Alert(
        kind="operational",
        severity="critical",
        endpoint=endpoint,
        subject=f"{subject} on {endpoint} for {stem}",
        body="\n".join(lines),
    )
