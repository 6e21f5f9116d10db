"""Run a function's real handler in-process with the environment template.yaml gives it.

This is what ``sentinel invoke`` (a Docker-free ``sam local invoke``), the event router and the
tests use: the handler module is imported from its ``CodeUri`` under a unique module name, with
the function's environment applied while it imports (settings are validated then) and runs.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from time import monotonic
from types import ModuleType
from typing import Any, TextIO

from sentinel.template import FunctionSpec

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LocalContext:
    """The parts of the Lambda context object that Powertools and our handlers read."""

    function_name: str
    memory_limit_in_mb: int = 256
    timeout_s: int = 30
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    region: str = "us-east-1"
    account: str = "123456789012"
    _started: float = field(default_factory=monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (monotonic() - self._started)) * 1000))


class SharedEnvironment:
    """``os.environ`` for handlers running on several threads at once (see :class:`SharedStdout`).

    Saving and restoring per block leaks when blocks overlap: A saves, B saves A's variables, A
    restores, B restores A's variables — a later function then read another's STATISTICS_PREFIX at
    import. Here the first block to enter saves the environment and the last to leave restores it;
    each block entering sets exactly the saved environment plus its own variables, so a function
    imported meanwhile never sees another function's variables.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: dict[str, str] = {}

    @contextmanager
    def apply(self, variables: Mapping[str, str]) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._saved = dict(os.environ)
            self._depth += 1
            for name in [n for n in os.environ if n not in self._saved and n not in variables]:
                del os.environ[name]
            os.environ.update({**self._saved, **variables})
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    os.environ.clear()
                    os.environ.update(self._saved)


_ENVIRONMENT = SharedEnvironment()


def environment(variables: Mapping[str, str]) -> AbstractContextManager[None]:
    """Apply ``variables`` to os.environ for the duration, then restore it exactly (thread-safe)."""
    return _ENVIRONMENT.apply(variables)


class SharedStdout:
    """``redirect_stdout`` for handlers running on several threads at once.

    ``redirect_stdout`` saves and restores ``sys.stdout`` per block, so two overlapping blocks on
    two threads (a state machine's Lambda task beside the router) can restore each other's target:
    the process was left writing to a function log closed at the end of the run. Here the first
    block to enter swaps ``sys.stdout``, the last to leave restores it; blocks entered meanwhile
    write where the first one pointed (one pool, one log).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: TextIO | None = None

    @contextmanager
    def to(self, target: TextIO) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                self._saved, sys.stdout = sys.stdout, target
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0 and self._saved is not None:
                    sys.stdout, self._saved = self._saved, None


_STDOUT = SharedStdout()


class LocalFunction:
    """One function of the template, imported once and invoked many times."""

    def __init__(
        self, spec: FunctionSpec, overrides: Mapping[str, str] | None = None, stdout: TextIO | None = None
    ) -> None:
        self.spec = spec
        self.environ = {**spec.environment, **(overrides or {})}
        #: Where the handler's stdout (Powertools logs and EMF metrics) goes; None = this process's.
        self.stdout = stdout
        self._module: ModuleType | None = None

    def _output(self) -> AbstractContextManager[object]:
        return _STDOUT.to(self.stdout) if self.stdout is not None else nullcontext()

    @property
    def module(self) -> ModuleType:
        if self._module is None:
            name = f"lambda_{self.spec.logical_id}_{uuid.uuid4().hex[:8]}"
            path = self.spec.module_path
            module_spec = importlib.util.spec_from_file_location(name, path)
            if module_spec is None or module_spec.loader is None:
                raise ImportError(f"cannot load handler module {path}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            with environment(self.environ), self._output():
                module_spec.loader.exec_module(module)
            self._module = module
        return self._module

    def __call__(self, event: dict[str, Any], context: LocalContext | None = None) -> Any:
        handler: Handler = getattr(self.module, self.spec.function_name)
        ctx = context or LocalContext(
            function_name=self.spec.logical_id,
            memory_limit_in_mb=self.spec.memory_mb,
            timeout_s=self.spec.timeout,
        )
        with environment(self.environ), self._output():
            return handler(event, ctx)


class FunctionPool:
    """The template's functions, each imported once, run with local credentials and overrides.

    The router and the state machines' Lambda tasks share one pool, so a function is warm (and
    its idempotency state and clients shared) whichever path invokes it, as on AWS.
    """

    def __init__(
        self,
        template: Any,
        overrides: Mapping[str, Mapping[str, str]] | None = None,
        stdout: TextIO | None = None,
        base: Mapping[str, str] | None = None,
    ) -> None:
        self.template = template
        self.overrides = dict(overrides or {})
        self.stdout = stdout
        self.base = dict(base or {})
        self._functions: dict[str, LocalFunction] = {}

    def __call__(self, logical_id: str) -> LocalFunction:
        if logical_id not in self._functions:
            environ = {**self.base, **self.overrides.get(logical_id, {})}
            spec = self.template.function(logical_id)
            self._functions[logical_id] = LocalFunction(spec, environ, stdout=self.stdout)
        return self._functions[logical_id]
