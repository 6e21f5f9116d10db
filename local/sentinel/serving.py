"""Which model answers an endpoint locally: the one its *current* endpoint config points to.

SageMaker serves ``DescribeEndpoint → EndpointConfigName → first ProductionVariant's ModelName →
DescribeModel PrimaryContainer.ModelDataUrl``. The resolver follows the same chain on the
emulator at every call (a few cheap describes), so when the retraining state machine puts a new
endpoint config in service, the next request is answered by the new model. Artifacts are
downloaded and loaded once per ModelDataUrl.

A :class:`ModelResolver` is what :class:`sentinel.endpoint.EndpointServer` takes: an unknown
endpoint raises :class:`EndpointNotFoundError` (a ``LookupError``, which the server answers with
ValidationError); a model that cannot be loaded raises :class:`ModelNotServableError`.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from anomaly_sentinel.contracts import S3UriError, parse_s3_uri
from anomaly_sentinel.contracts.served import ServedModel, served_model
from sentinel.emulator import ACCOUNT, local_client
from sentinel.endpoint import Scorer
from sentinel.errors import LocalError
from sentinel.rcf import ModelArtifactError, RandomCutForest


class ServingError(LocalError):
    """The endpoint cannot be answered; ``code`` and ``status`` say how SageMaker's runtime would."""

    code = "ModelError"
    status = 424


class EndpointNotFoundError(ServingError, LookupError):
    """No such endpoint: the local endpoint answers 400 ValidationError "Endpoint … not found"."""

    code = "ValidationError"
    status = 400


class ModelNotServableError(ServingError):
    """The endpoint exists but its config, model or artifact cannot be turned into a scorer."""


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
        url = self.served(endpoint_name).model_data_url
        assert url is not None  # served() refuses a model without one
        return self.model(url)

    def served(self, endpoint_name: str) -> ServedModel:
        """What the endpoint serves now (contracts.served.served_model), errors as the runtime names them."""
        try:
            served = served_model(self._client("sagemaker"), endpoint_name)
        except ClientError as error:
            detail = error.response.get("Error", {})
            operation = error.operation_name
            if operation == "DescribeEndpoint" and detail.get("Code") == "ValidationException":
                raise EndpointNotFoundError(
                    f"Endpoint {endpoint_name} of account {ACCOUNT} not found."
                ) from error
            message = f"{detail.get('Code', 'Unknown')}: {detail.get('Message', '')}"
            raise ModelNotServableError(f"endpoint {endpoint_name}: {operation}: {message}") from error
        except BotoCoreError as error:
            raise ModelNotServableError(f"endpoint {endpoint_name}: {error}") from error
        if served.model_name is None:
            raise ModelNotServableError(
                f"endpoint config {served.endpoint_config_name} has no production variant"
            )
        if not served.model_data_url:
            raise ModelNotServableError(f"model {served.model_name} has no ModelDataUrl")
        return served

    def model(self, model_data_url: str) -> RandomCutForest:
        """The forest stored at ``model_data_url``, downloaded once."""
        with self._lock:
            cached = self._models.get(model_data_url)
        if cached is not None:
            return cached
        forest = self._download(model_data_url)
        with self._lock:
            return self._models.setdefault(model_data_url, forest)

    def _download(self, url: str) -> RandomCutForest:
        try:
            bucket, key = parse_s3_uri(url)
            payload = self._client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError, S3UriError) as error:
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
