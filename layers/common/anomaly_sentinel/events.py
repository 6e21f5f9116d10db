"""Models of the events the functions consume, and the identities used for idempotency."""

from __future__ import annotations

import hashlib
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


def decode_key(raw: str) -> str:
    """S3 notifications URL-encode keys ("a b.csv" arrives as "a+b.csv"); decode to the real key."""
    return unquote_plus(raw, encoding="utf-8", errors="strict")


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
