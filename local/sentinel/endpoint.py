"""A local SageMaker runtime: ``POST /endpoints/{name}/invocations`` with the real wire format.

boto3 reaches it through the standard ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` variable, so the
Lambda code has no special path: ``invoke_endpoint`` returns the same body and raises the same
exceptions as on AWS (error shapes from botocore's sagemaker-runtime service model):

- unknown endpoint → ``ValidationError`` (400) "Endpoint X of account N not found.";
- a request the model cannot read (bad CSV/JSON, wrong feature count, no rows, unsupported
  content type) → ``ModelError`` (424) with ``OriginalStatusCode`` 400/415 and ``OriginalMessage``,
  as SageMaker wraps a container's 4xx; a scorer that crashes → ``ModelError`` with 500;
- more concurrent requests than ``max_concurrency`` (a serverless endpoint's MaxConcurrency) →
  ``ThrottlingException`` (400);
- a scorer may raise :class:`EndpointBusy` for ``ModelNotReadyException`` (429),
  ``ServiceUnavailable`` (503) or ``InternalFailure`` (500).

The model is pluggable: ``EndpointServer(resolve)`` where ``resolve(endpoint_name)`` returns a
:class:`Scorer` (raise ``LookupError`` for an unknown endpoint). ``sentinel.serving`` resolves
the model an endpoint's current config points to; :class:`MeanScorer` and
:class:`ConstantScorer` are simple deterministic stand-ins, and :class:`FaultyScorer` wraps any
scorer with injected faults (kept out of the wire-format code above it).

Run one from a shell (the benchmark does, in its own process)::

    python -m sentinel.endpoint --name anomaly-sentinel-rcf --scorer mean --latency-ms 50
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from math import isfinite
from typing import Any, Protocol, runtime_checkable
from urllib.parse import unquote

from anomaly_sentinel.contracts import SERVERLESS_PAYLOAD_LIMIT
from sentinel.errors import LocalError

ACCOUNT = "123456789012"
REGION = "us-east-1"
ENDPOINT_URL_VARIABLE = "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"
_PATH = re.compile(r"^/endpoints/([^/]+)/invocations$")


@runtime_checkable
class Scorer(Protocol):
    """A model behind an endpoint: one score per row, same order."""

    def score(self, rows: list[list[float]]) -> list[float]: ...


Resolver = Callable[[str], Scorer]


class ModelFailure(LocalError):
    """The model container answered an error: the runtime reports ``ModelError`` (424)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Refusal(LocalError):
    """The runtime refuses a request with ``code`` (the x-amzn-ErrorType) and HTTP ``status``."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


class EndpointBusy(Refusal):
    """The endpoint, not the model, cannot take the request now (throttled, not ready, 5xx)."""


def static_resolver(scorers: Mapping[str, Scorer]) -> Resolver:
    """Endpoints by name; any other name is unknown (→ ValidationError)."""

    def resolve(name: str) -> Scorer:
        return scorers[name]

    return resolve


# ---------------------------------------------------------------------------- request parsing


def parse_rows(body: bytes, content_type: str) -> list[list[float]]:
    """Rows of a ``text/csv`` or ``application/json`` request; ModelFailure as RCF would answer."""
    media = content_type.split(";", 1)[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ModelFailure(400, "request body is not UTF-8") from None
    if media == "text/csv":
        # Rows end at a line feed (CR LF too), as in CSV: a form feed or a vertical tab is not a
        # line break there (str.splitlines would cut a row at one).
        lines = (line.removesuffix("\r") for line in text.split("\n"))
        rows = [_csv_row(line, n) for n, line in enumerate(lines, 1) if line.strip()]
    elif media in ("application/json", "application/jsonlines"):
        rows = _json_rows(text, lines=media == "application/jsonlines")
    else:
        raise ModelFailure(415, f"content type {media!r} is not supported: use text/csv or application/json")
    if not rows:
        raise ModelFailure(400, "request holds no rows")
    return rows


def _csv_row(line: str, number: int) -> list[float]:
    try:
        values = [float(token) for token in line.split(",")]
    except ValueError:
        raise ModelFailure(400, f"unable to parse CSV row {number}: not a number") from None
    if not all(isfinite(v) for v in values):
        raise ModelFailure(400, f"CSV row {number} has a NaN or infinite value")
    return values


def _json_rows(text: str, *, lines: bool) -> list[list[float]]:
    try:
        docs = (
            [json.loads(line) for line in text.splitlines() if line.strip()] if lines else [json.loads(text)]
        )
    except ValueError:
        raise ModelFailure(400, "unable to parse JSON request") from None
    rows = []
    for doc in docs:
        instances = doc.get("instances") if isinstance(doc, dict) and "instances" in doc else [doc]
        if not isinstance(instances, list):
            raise ModelFailure(400, "instances must be an array")
        for instance in instances:
            features = instance.get("features") if isinstance(instance, dict) else None
            if not isinstance(features, list) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in features
            ):
                raise ModelFailure(400, 'each instance must be {"features": [numbers]}')
            rows.append([float(v) for v in features])
    return rows


# ---------------------------------------------------------------------------- the server


@dataclass
class ServerStats:
    """What the server saw (tests and the benchmark read it)."""

    requests: int = 0
    rows: int = 0
    peak_concurrency: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    by_endpoint: Counter[str] = field(default_factory=Counter)


class EndpointServer:
    """Threaded HTTP server on a free loopback port; a context manager (start on enter)."""

    def __init__(
        self,
        resolve: Resolver,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_concurrency: int | None = None,
        max_payload_bytes: int = SERVERLESS_PAYLOAD_LIMIT,
        account: str = ACCOUNT,
        region: str = REGION,
    ) -> None:
        self.resolve = resolve
        self.max_concurrency = max_concurrency
        self.max_payload_bytes = max_payload_bytes
        self.account = account
        self.region = region
        self.stats = ServerStats()
        self._lock = threading.Lock()
        self._active = 0
        self._httpd = ThreadingHTTPServer((host, port), _handler_class(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def environ(self) -> dict[str, str]:
        """The variable that points boto3's sagemaker-runtime clients here."""
        return {ENDPOINT_URL_VARIABLE: self.url}

    def start(self) -> EndpointServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="endpoint", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> EndpointServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ one request
    def invoke(self, name: str, body: bytes, content_type: str) -> tuple[int, dict[str, str], bytes]:
        """The runtime's behaviour for one invocation → (status, headers, body)."""
        try:
            scorer = self._admit(name, body)
        except Refusal as refused:
            return self._error(refused.code, refused.status, refused.message)
        except ModelFailure as failure:
            return self._model_error(name, failure.status, failure.message)
        try:
            rows = parse_rows(body, content_type)
            dim = getattr(scorer, "feature_dim", None)
            if dim is not None and any(len(row) != dim for row in rows):
                raise ModelFailure(400, f"each row must have feature_dim={dim} values")
            scores = scorer.score(rows)
        except ModelFailure as failure:
            return self._model_error(name, failure.status, failure.message)
        except Refusal as refused:
            return self._error(refused.code, refused.status, refused.message)
        except Exception as exc:  # noqa: BLE001 - a crashing model: SageMaker reports the container's 500
            return self._model_error(name, 500, f"{type(exc).__name__} while scoring")
        finally:
            self._leave()
        with self._lock:
            self.stats.rows += len(rows)
            self.stats.by_endpoint[name] += 1
        payload = json.dumps({"scores": [{"score": float(s)} for s in scores]}).encode()
        headers = {"Content-Type": "application/json", "x-Amzn-Invoked-Production-Variant": "AllTraffic"}
        return 200, headers, payload

    def _admit(self, name: str, body: bytes) -> Scorer:
        """Checks made before the model sees the request; on success a concurrency slot is held."""
        with self._lock:
            self.stats.requests += 1
        if len(body) > self.max_payload_bytes:
            raise Refusal(
                "ValidationError",
                400,
                f"Received payload of {len(body)} bytes; the maximum for this endpoint is "
                f"{self.max_payload_bytes} bytes.",
            )
        try:
            scorer = self.resolve(name)
        except LookupError:
            raise Refusal(
                "ValidationError", 400, f"Endpoint {name} of account {self.account} not found."
            ) from None
        except Exception as exc:  # the resolver could not produce a model
            raise _resolver_failure(exc) from exc
        if not self._enter():
            raise Refusal("ThrottlingException", 400, "Rate exceeded: the endpoint's MaxConcurrency")
        return scorer

    def _enter(self) -> bool:
        with self._lock:
            if self.max_concurrency is not None and self._active >= self.max_concurrency:
                return False
            self._active += 1
            self.stats.peak_concurrency = max(self.stats.peak_concurrency, self._active)
            return True

    def _leave(self) -> None:
        with self._lock:
            self._active -= 1

    def _error(self, code: str, status: int, message: str) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.stats.errors[code] += 1
        return (
            status,
            {"Content-Type": "application/json", "x-amzn-ErrorType": code},
            _dump({"message": message}),
        )

    def _model_error(self, name: str, original: int, message: str) -> tuple[int, dict[str, str], bytes]:
        """Shaped as SageMaker wraps a container's error (botocore parses the modeled fields)."""
        with self._lock:
            self.stats.errors["ModelError"] += 1
        kind = "CLIENT" if original < 500 else "SERVER"
        log_stream = f"arn:aws:logs:{self.region}:{self.account}:log-group:/aws/sagemaker/Endpoints/{name}"
        body = {
            "ErrorCode": f"{kind}_ERROR_FROM_MODEL",
            "LogStreamArn": log_stream,
            "Message": f'Received {kind.lower()} error ({original}) from primary with message "{message}".',
            "OriginalMessage": message,
            "OriginalStatusCode": original,
        }
        return 424, {"Content-Type": "application/json", "x-amzn-ErrorType": "ModelError"}, _dump(body)


def _resolver_failure(exc: Exception) -> Refusal | ModelFailure:
    """How to answer a resolver error: its ``code``/``status`` when it says (sentinel.serving's
    errors do); otherwise the model could not be loaded, which SageMaker reports as a 500 from
    the container."""
    code, status = getattr(exc, "code", None), getattr(exc, "status", None)
    if isinstance(code, str) and isinstance(status, int) and code != "ModelError":
        return Refusal(code, status, str(exc))
    return ModelFailure(500, f"model could not be loaded: {exc}"[:500])


def _dump(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def _handler_class(server: EndpointServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: boto3 reuses connections
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms ACK stall

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            match = _PATH.match(self.path.split("?", 1)[0])
            if match is None:
                status, headers, payload = server._error("UnknownOperationException", 404, "Not Found")
            else:
                content_type = self.headers.get("Content-Type") or "application/octet-stream"
                status, headers, payload = server.invoke(unquote(match.group(1)), body, content_type)
            self.send_response(status)
            for name, value in {**headers, "x-amzn-RequestId": str(uuid.uuid4())}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: request lines would flood test output (and payloads are never logged)."""

    return Handler


@contextmanager
def serving(resolve: Resolver, **options: Any) -> Iterator[EndpointServer]:
    """``with serving(resolver) as server:`` — started, and stopped on exit."""
    server = EndpointServer(resolve, **options).start()
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------- simple scorers


@dataclass
class MeanScorer:
    """Deterministic stand-in: a row's score is the mean of its values (big values → anomalies)."""

    feature_dim: int | None = None

    def score(self, rows: list[list[float]]) -> list[float]:
        return [sum(row) / len(row) for row in rows]


@dataclass
class ConstantScorer:
    """Every row scores ``value`` (for throughput measurements: no model cost)."""

    value: float = 1.0
    feature_dim: int | None = None

    def score(self, rows: list[list[float]]) -> list[float]:
        return [self.value] * len(rows)


# ---------------------------------------------------------------------------- fault injection


@dataclass
class Faults:
    """Faults to inject, consumed call by call (counters go down as they fire)."""

    throttle: int = 0  # the next N calls: ThrottlingException
    not_ready: int = 0  # the next N calls: ModelNotReadyException (429)
    unavailable: int = 0  # the next N calls: ServiceUnavailable (503), a 5xx burst
    model_crash: int = 0  # the next N calls: ModelError with the container's 500
    wrong_count: int = 0  # the next N successful calls answer one score too few
    poison_value: float | None = None  # any row holding this value → ModelError (400)
    crash_value: float | None = None  # any row holding this value crashes the model → ModelError (500)
    echo_rows: bool = False  # error messages quote the request's first row, as some containers do
    latency_s: float = 0.0  # added to every call


class FaultyScorer:
    """Wraps a scorer with :class:`Faults`; thread-safe; counts the calls it saw."""

    def __init__(
        self, inner: Scorer, faults: Faults | None = None, sleep: Callable[[float], None] = time.sleep
    ):
        self.inner = inner
        self.faults = faults or Faults()
        self.sleep = sleep
        self.calls = 0
        self._lock = threading.Lock()

    @property
    def feature_dim(self) -> int | None:
        return getattr(self.inner, "feature_dim", None)

    def _take(self, name: str) -> bool:
        with self._lock:
            left = int(getattr(self.faults, name))
            if left > 0:
                setattr(self.faults, name, left - 1)
                return True
            return False

    def score(self, rows: list[list[float]]) -> list[float]:
        with self._lock:
            self.calls += 1
        if self.faults.latency_s:
            self.sleep(self.faults.latency_s)
        if self._take("throttle"):
            raise EndpointBusy("ThrottlingException", 400, "Rate exceeded")
        if self._take("not_ready"):
            raise EndpointBusy("ModelNotReadyException", 429, "Model is not ready: still provisioning")
        if self._take("unavailable"):
            raise EndpointBusy("ServiceUnavailable", 503, "Service unavailable")
        if self._take("model_crash"):
            raise ModelFailure(500, "model server crashed")
        echo = f": {rows[0]}" if self.faults.echo_rows and rows else ""
        crash = self.faults.crash_value
        if crash is not None and any(crash in row for row in rows):
            raise ModelFailure(500, f"model server crashed{echo}")
        poison = self.faults.poison_value
        if poison is not None and any(poison in row for row in rows):
            raise ModelFailure(400, f"unable to score a row{echo}")
        scores = self.inner.score(rows)
        if self._take("wrong_count"):
            return scores[:-1]
        return scores


# ---------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """Serve until stdin closes or the process is terminated; prints ``{"url": ...}`` first."""
    parser = argparse.ArgumentParser(prog="python -m sentinel.endpoint", description=__doc__.split("\n")[0])
    parser.add_argument("--name", action="append", required=True, help="endpoint name (repeatable)")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--scorer", choices=["mean", "constant"], default="mean")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--max-concurrency", type=int, default=None)
    args = parser.parse_args(argv)
    base: Scorer = MeanScorer() if args.scorer == "mean" else ConstantScorer()
    scorer = FaultyScorer(base, Faults(latency_s=args.latency_ms / 1000))
    server = EndpointServer(
        static_resolver(dict.fromkeys(args.name, scorer)),
        port=args.port,
        max_concurrency=args.max_concurrency,
    )
    with server:
        print(json.dumps({"url": server.url}), flush=True)
        sys.stdin.read()  # the parent closes our stdin (or kills us) to stop
        print(json.dumps({"requests": server.stats.requests, "rows": server.stats.rows}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
