"""Which model answers an endpoint locally: the one its *current* endpoint config points to.

SageMaker serves ``DescribeEndpoint → EndpointConfigName → first ProductionVariant's ModelName →
DescribeModel PrimaryContainer.ModelDataUrl``. The resolver follows the same chain on the
emulator at every call (a few cheap describes), so when the retraining state machine puts a new
endpoint config in service, the next request is answered by the new model. Artifacts are
downloaded and loaded once per ModelDataUrl.

``resolve(endpoint_name) -> Scorer`` is what :class:`sentinel.endpoint.EndpointServer` takes: an
unknown endpoint raises :class:`EndpointNotFoundError` (a ``LookupError``, which the server answers
with ValidationError); a model that cannot be loaded raises :class:`ModelNotServableError`.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from sentinel.emulator import ACCOUNT, local_client
from sentinel.endpoint import Scorer
from sentinel.rcf import ModelArtifactError, RandomCutForest


class ServingError(Exception):
    """The endpoint cannot be answered; ``code`` and ``status`` say how SageMaker's runtime would."""

    code = "ModelError"
    status = 424


class EndpointNotFoundError(ServingError, LookupError):
    """No such endpoint: the local endpoint answers 400 ValidationError "Endpoint … not found"."""

    code = "ValidationError"
    status = 400


class ModelNotServableError(ServingError):
    """The endpoint exists but its config, model or artifact cannot be turned into a scorer."""


@dataclass(frozen=True)
class ServedModel:
    """Where an endpoint's answer comes from right now (for logs, the demo summary and tests)."""

    endpoint_name: str
    endpoint_config_name: str
    model_name: str
    model_data_url: str


class ModelResolver:
    """Callable ``(endpoint_name) -> Scorer`` backed by the emulator (or any SageMaker API).

    Thread-safe: the HTTP endpoint answers requests on several threads. Clients are created on
    first use, so constructing a resolver never touches AWS or the emulator.
    """

    def __init__(self, sagemaker: Any = None, s3: Any = None) -> None:
        self._given = {"sagemaker": sagemaker, "s3": s3}
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._models: dict[str, RandomCutForest] = {}
        self._lock = threading.Lock()
        self.downloads = 0

    def __call__(self, endpoint_name: str) -> Scorer:
        return self.model(self.served(endpoint_name).model_data_url)

    # ------------------------------------------------------------------ lookups
    def served(self, endpoint_name: str) -> ServedModel:
        sagemaker = self._client("sagemaker")
        try:
            endpoint = sagemaker.describe_endpoint(EndpointName=endpoint_name)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ValidationException":
                raise EndpointNotFoundError(
                    f"Endpoint {endpoint_name} of account {ACCOUNT} not found."
                ) from error
            raise ModelNotServableError(
                f"cannot describe endpoint {endpoint_name}: {_message(error)}"
            ) from error
        except BotoCoreError as error:
            raise ModelNotServableError(f"cannot describe endpoint {endpoint_name}: {error}") from error
        config_name = endpoint["EndpointConfigName"]
        try:
            config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
            variants = config.get("ProductionVariants") or []
            if not variants:
                raise ModelNotServableError(f"endpoint config {config_name} has no production variant")
            model_name = variants[0]["ModelName"]
            model = sagemaker.describe_model(ModelName=model_name)
        except ClientError as error:
            raise ModelNotServableError(
                f"endpoint {endpoint_name}: cannot describe its config or model: {_message(error)}"
            ) from error
        except BotoCoreError as error:
            raise ModelNotServableError(f"endpoint {endpoint_name}: {error}") from error
        container = model.get("PrimaryContainer") or (model.get("Containers") or [{}])[0]
        url = container.get("ModelDataUrl")
        if not url:
            raise ModelNotServableError(f"model {model_name} has no ModelDataUrl")
        return ServedModel(endpoint_name, config_name, model_name, url)

    def model(self, model_data_url: str) -> RandomCutForest:
        """The forest stored at ``model_data_url``, downloaded once."""
        with self._lock:
            cached = self._models.get(model_data_url)
        if cached is not None:
            return cached
        forest = self._download(model_data_url)
        with self._lock:
            return self._models.setdefault(model_data_url, forest)

    def forget(self) -> None:
        """Drop every loaded model (e.g. when the emulator is reset)."""
        with self._lock:
            self._models.clear()

    # ------------------------------------------------------------------ helpers
    def _download(self, url: str) -> RandomCutForest:
        bucket, key = split_s3_uri(url)
        try:
            payload = self._client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as error:
            raise ModelNotServableError(f"cannot download model artifact {url}: {error}") from error
        self.downloads += 1
        try:
            return RandomCutForest.from_bytes(payload)
        except ModelArtifactError as error:
            raise ModelNotServableError(f"model artifact {url}: {error}") from error

    def _client(self, service: str) -> Any:
        """A client per service and per emulator URL: a process may start several emulators."""
        given = self._given.get(service)
        if given is not None:
            return given
        key = (service, os.environ.get("AWS_ENDPOINT_URL"))
        with self._lock:
            if key not in self._clients:
                self._clients[key] = local_client(service)
            return self._clients[key]


def split_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise ModelNotServableError(f"not an s3://bucket/key URI: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def _message(error: ClientError) -> str:
    detail = error.response.get("Error", {})
    return f"{detail.get('Code', 'Unknown')}: {detail.get('Message', '')}"


_default = ModelResolver()


def resolve(endpoint_name: str) -> Scorer:
    """The process-wide resolver (one model cache), as the local endpoint server uses it."""
    return _default(endpoint_name)
