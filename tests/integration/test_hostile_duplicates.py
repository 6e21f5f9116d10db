"""Duplicates and concurrency on the deployed stack (moto): real handlers, real clients, one pause.

EventBridge delivers at least once, and a second delivery can arrive while the first is still
running. The second must be acknowledged (not raised: a raise means retries, then the DLQ alarm),
in every function guarded by the idempotency table. To hold the first delivery mid-flight, one AWS
call of the handler's own client waits until the test releases it (:class:`Paused`); nothing else
is stubbed.

A delivery can also be cut off by its function's timeout: nothing after that moment runs, and its
record stays "in progress". The retry must be processed once the first invocation's time is up,
not acknowledged as a duplicate of a run that no longer exists (:class:`CutOff`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from time import monotonic
from typing import Any

import pytest

from anomaly_sentinel.idempotency import DUPLICATE_IN_PROGRESS
from sentinel.endpoint import EndpointServer, MeanScorer, static_resolver
from sentinel.invoke import LocalContext
from tests.support import s3_object_created
from tests.support.capture import jsonl, put_capture, record
from tests.support.monitoring import DRIFTED, Deployment, drift_event, rows, scheduled_event, window_report
from tests.support.pipeline_runs import failed_run, status_event
from tests.support.retrain import create_pipeline, wait_for_all_executions

WAIT_S = 20


class Paused:
    """A client whose first call of ``operation`` waits for :meth:`release` (a delivery mid-flight)."""

    def __init__(self, client: Any, operation: str) -> None:
        self.client, self.operation = client, operation
        self.reached, self._released = threading.Event(), threading.Event()

    def release(self) -> None:
        self._released.set()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if name != self.operation:
            return attribute

        def call(**kwargs: Any) -> Any:
            if not self.reached.is_set():
                self.reached.set()
                self._released.wait(WAIT_S)
            return attribute(**kwargs)

        return call


def deliver_twice(handler: Callable[[dict[str, Any]], Any], event: dict[str, Any], paused: Paused) -> tuple:
    """The event delivered, and delivered again while the first delivery is paused."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(handler, event)
        assert paused.reached.wait(WAIT_S), "the first delivery never reached the paused call"
        try:
            duplicate = handler(event)
        finally:
            paused.release()
        return first.result(timeout=WAIT_S), duplicate


def acknowledged(result: dict[str, Any]) -> bool:
    return result["status"] == "ignored" and result["reason"] == DUPLICATE_IN_PROGRESS


def test_a_monitoring_signal_delivered_again_while_the_first_runs_is_acknowledged(stack, lambda_function):
    # GIVEN a drift window with violations, whose first delivery is publishing its alert
    handler = lambda_function("MonitoringAlertFunction")
    paused = handler.module.responder.sns = Paused(handler.module.responder.sns, "publish")
    event = drift_event(stack, report_uri=window_report(stack, "2026/11/30/01", DRIFTED))
    # WHEN the same event is delivered again meanwhile
    first, duplicate = deliver_twice(handler, event, paused)
    wait_for_all_executions(stack)
    # THEN the duplicate is acknowledged and the first completes
    assert acknowledged(duplicate)
    assert (first["status"], first["alert"]["kind"]) == ("CompletedWithViolations", "model-drift")


def test_a_schedule_tick_delivered_again_while_the_first_runs_is_acknowledged(stack, lambda_function):
    # GIVEN a window to monitor, whose first tick is putting its event
    deployment = Deployment(stack)
    deployment.capture_statistics("capture-0", rows(1_200, 2))
    handler = lambda_function("DriftMonitorFunction")
    paused = handler.module.monitor.events = Paused(handler.module.monitor.events, "put_events")
    # WHEN the same tick is delivered again meanwhile
    first, duplicate = deliver_twice(handler, scheduled_event(), paused)
    # THEN the duplicate is acknowledged and the first completes
    assert acknowledged(duplicate)
    assert (first["status"], first["records"]) == ("Completed", 1_200)


def test_a_run_end_delivered_again_while_the_first_runs_is_acknowledged(stack, world, lambda_function):
    # GIVEN a failed pipeline run, whose first end event is describing the run
    execution = failed_run(stack, world.extras)
    handler = lambda_function("PipelineRunsFunction")
    paused = handler.module.sagemaker = Paused(handler.module.sagemaker, "describe_pipeline_execution")
    # WHEN the same end is delivered again meanwhile
    first, duplicate = deliver_twice(handler, status_event(execution, "Failed"), paused)
    # THEN the duplicate is acknowledged and the first completes, alerting once
    assert acknowledged(duplicate)
    assert first["status"] == "Failed"
    assert first["alert"]


class TimedOut(BaseException):
    """The Lambda runtime stopping an invocation at its timeout: no handler code runs after it
    (a BaseException, so no ``except Exception`` of the handler or of Powertools sees it)."""


class CutOff:
    """A client whose first call of ``operation`` is where the invocation's time runs out."""

    def __init__(self, client: Any, operation: str) -> None:
        self.client, self.operation, self.cut = client, operation, False

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.client, name)
        if name != self.operation or self.cut:
            return attribute

        def call(**kwargs: Any) -> Any:
            self.cut = True
            raise TimedOut(name)

        return call


def cut_off_then_retried(handler: Any, event: dict[str, Any]) -> dict[str, Any]:
    """The event's first delivery runs out of time (0.2 s left when it starts); the retry comes
    after that and gets the whole timeout."""
    nearly_over = LocalContext(function_name=handler.spec.logical_id, timeout_s=1, _started=monotonic() - 0.8)
    with pytest.raises(TimedOut):
        handler(event, nearly_over)
    time.sleep(0.3)
    result: dict[str, Any] = handler(event)
    return result


def test_a_monitoring_signal_cut_off_by_the_timeout_is_handled_by_the_retry(stack, lambda_function):
    # GIVEN a drift window with violations whose first delivery times out publishing its alert
    handler = lambda_function("MonitoringAlertFunction")
    handler.module.responder.sns = CutOff(handler.module.responder.sns, "publish")
    event = drift_event(stack, report_uri=window_report(stack, "2026/11/30/01", DRIFTED))
    # WHEN it is retried THEN the retry does the work (and alerts) instead of being acknowledged
    result = cut_off_then_retried(handler, event)
    assert (result["status"], result["alert"]["kind"]) == ("CompletedWithViolations", "model-drift")


def test_a_schedule_tick_cut_off_by_the_timeout_is_handled_by_the_retry(stack, lambda_function):
    deployment = Deployment(stack)
    deployment.capture_statistics("capture-0", rows(1_200, 2))
    handler = lambda_function("DriftMonitorFunction")
    handler.module.monitor.events = CutOff(handler.module.monitor.events, "put_events")
    result = cut_off_then_retried(handler, scheduled_event())
    assert (result["status"], result["records"]) == ("Completed", 1_200)


def test_a_run_end_cut_off_by_the_timeout_is_handled_by_the_retry(stack, world, lambda_function):
    execution = failed_run(stack, world.extras)
    handler = lambda_function("PipelineRunsFunction")
    handler.module.sagemaker = CutOff(handler.module.sagemaker, "describe_pipeline_execution")
    result = cut_off_then_retried(handler, status_event(execution, "Failed"))
    assert result["status"] == "Failed"
    assert result["alert"]


def test_an_upload_cut_off_by_the_timeout_starts_the_pipeline_on_the_retry(stack, lambda_function):
    create_pipeline(stack)
    handler = lambda_function("StartPipelineFunction")
    handler.module.sagemaker = CutOff(handler.module.sagemaker, "start_pipeline_execution")
    event = s3_object_created(stack.ref("DataBucket"), "training/nyc_taxi.csv")
    result = cut_off_then_retried(handler, event)
    assert result["status"] == "started"


def test_a_capture_file_cut_off_by_the_timeout_is_scored_by_the_retry(stack, lambda_function):
    scorer = MeanScorer(feature_dim=7)
    with EndpointServer(static_resolver({stack.parameters["EndpointName"]: scorer})) as server:
        handler = lambda_function("ScoreCaptureFunction", **server.environ())
        handler.module.scorer.store.s3 = CutOff(handler.module.scorer.store.s3, "put_object")
        event = put_capture(stack.ref("DataBucket"), body=jsonl([record("1,2,3,4,5,6,7")] * 20))
        result = cut_off_then_retried(handler, event)
    assert (result["status"], result["scored"]) == ("scored", 20)


class Interleaved:
    """The endpoint client's runtime, ordering two files' requests: the failing file's first request
    waits until the good file has started; the good file's first request waits until the failing
    file has finished (so the failing file's whole run happens while the good file is mid-flight)."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.bad_waiting, self.good_started, self.bad_finished = (threading.Event() for _ in range(3))

    def invoke_endpoint(self, **kwargs: Any) -> Any:
        first_row = kwargs["Body"].split(b"\n", 1)[0]
        if first_row.count(b",") == 2:  # the failing file's 3-feature rows
            self.bad_waiting.set()
            self.good_started.wait(WAIT_S)
        elif not self.good_started.is_set():
            self.good_started.set()
            self.bad_finished.wait(WAIT_S)
        return self.runtime.invoke_endpoint(**kwargs)


def test_two_files_scored_at_once_in_one_container_keep_their_own_failures(stack, lambda_function):
    # GIVEN one warm ScoreCapture container and an endpoint whose model takes 7 features;
    # a file of 3-feature rows (every request refused) and a good file of 7-feature rows
    bucket = stack.ref("DataBucket")
    scorer = MeanScorer(feature_dim=7)
    with EndpointServer(static_resolver({stack.parameters["EndpointName"]: scorer})) as server:
        handler = lambda_function("ScoreCaptureFunction", **server.environ(), MAX_REQUEST_BYTES="2000")
        client = handler.module.scorer.client
        client.runtime = runtime = Interleaved(client.runtime)
        bad = put_capture(
            bucket, "capture/e/AllTraffic/2026/11/21/10/bad.jsonl", jsonl([record("1,2,3")] * 200)
        )
        good_rows = [record(",".join(f"{i}.{'1' * 12}" for i in range(7))) for _ in range(200)]
        good = put_capture(bucket, "capture/e/AllTraffic/2026/11/21/10/good.jsonl", jsonl(good_rows))
        # WHEN both are scored at the same time
        with ThreadPoolExecutor(max_workers=2) as pool:
            failing = pool.submit(handler, bad)
            assert runtime.bad_waiting.wait(WAIT_S)
            scoring = pool.submit(handler, good)
            bad_result = failing.result(timeout=60)
            runtime.bad_finished.set()
            good_result = scoring.result(timeout=60)
    # THEN the failing file failed on its own reason, and the good file is scored in full
    assert bad_result["status"] == "failed"
    assert bad_result["failure"].startswith("the endpoint failed every request the same way")
    assert (good_result["status"], good_result["scored"], good_result["rejected"]) == ("scored", 200, 0)


@pytest.fixture(autouse=True)
def _executions_end(stack):
    yield
    wait_for_all_executions(stack)
