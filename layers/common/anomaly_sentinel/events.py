"""Models of the events the functions consume, and the identities used for idempotency."""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from pydantic import BaseModel, ConfigDict, ValidationError, computed_field

from anomaly_sentinel.exceptions import EventParseError


class S3Object(BaseModel):
    """One S3 object version named by an "Object Created" event, with its key decoded."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    size: int | None = None
    etag: str = ""
    version_id: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def identity(self) -> str:
        """Bucket + key + version (or etag): what "the same upload" means for deduplication."""
        return f"{self.bucket}/{self.key}#{self.version_id or self.etag}"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def token(self, length: int = 64) -> str:
        """A stable request token derived from the identity (hex, so valid for every AWS API)."""
        return hashlib.sha256(self.identity.encode("utf-8")).hexdigest()[:length]


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
OBJECT_CREATED = ("aws.s3", "Object Created")


def decode_key(raw: str) -> str:
    """S3 notifications URL-encode keys ("a b.csv" arrives as "a+b.csv"); decode to the real key.

    S3 encodes a literal ``%`` as ``%25``, so a ``%`` without two hex digits, or escapes that
    are not UTF-8, mean the event was not written by S3: :class:`EventParseError` names the key.
    """
    if _BAD_ESCAPE.search(raw):
        raise EventParseError(f"object key {raw!r} has a malformed % escape")
    try:
        return unquote_plus(raw, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise EventParseError(f"object key {raw!r} has % escapes that are not UTF-8") from None


def not_object_created(event: dict[str, Any]) -> str | None:
    """Why an event is not an S3 "Object Created" notification (the rule's pattern, checked again
    in the handler: a direct invoke or a mis-edited rule must not act), or None when it is."""
    source, detail_type = event.get("source"), event.get("detail-type")
    if (source, detail_type) != OBJECT_CREATED:
        return f"not an S3 Object Created event (source {source!r}, detail-type {detail_type!r})"[:200]
    return None


def s3_object_from_eventbridge(event: dict[str, Any]) -> S3Object:
    """Parse an S3 "Object Created" EventBridge event with the Powertools model."""
    try:
        model = parse(event=event, model=S3EventNotificationEventBridgeModel)
    except (ValidationError, ValueError) as exc:
        raise EventParseError(f"not an S3 EventBridge notification: {exc}") from exc
    obj = model.detail.object
    return S3Object(
        bucket=model.detail.bucket.name,
        key=decode_key(obj.key),
        size=int(obj.size) if obj.size is not None else None,
        etag=obj.etag,
        version_id=obj.version_id,
    )
