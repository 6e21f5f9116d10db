"""Storms of drift signals, any source mix: one retraining per episode of drift (moto, real handler).

Retraining executions the handler starts really run on moto's Step Functions engine and end (a
retraining with no pipeline to run fails quickly): the cool-down after them is measured from the
stop time Step Functions reports, as in AWS.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from anomaly_sentinel import drift, monitoring, storms
from tests.support.monitoring import (
    DRIFTED,
    drift_event,
    executions,
    monitoring_run,
    put_report,
    window_report,
)
from tests.support.retrain import (
    AlertsInbox,
    drift_alarm_event,
    monitoring_event,
    wait_for_all_executions,
)


@pytest.fixture
def handler(stack, lambda_function):
    # Drift alarms alert only by default (they say the data moved): an operator who lets them retrain
    # too (RetrainOnDriftAlarm=true) gets every source folded into one episode.
    yield lambda_function("MonitoringAlertFunction", RETRAIN_ON_ALARM="true")
    wait_for_all_executions(stack)


@pytest.fixture
def inbox(stack):
    return AlertsInbox(stack, kinds=["model-drift", "monitoring-failed"])


def window(stack, hour: int) -> dict[str, Any]:
    """The drift monitor's event for the window starting at ``hour`` o'clock on 30 November."""
    path = f"2026/11/30/{hour:02d}"
    return drift_event(stack, path, report_uri=window_report(stack, path, DRIFTED))


def alarm(stack, feature: str = "_c0") -> dict[str, Any]:
    name = f"{stack.parameters['DriftAlarmPrefix']}{feature}"
    return drift_alarm_event(name, endpoint=stack.parameters["EndpointName"], feature=feature)


def model_monitor_run(stack, world) -> dict[str, Any]:
    put_report(stack, drift.dumps(drift.violations_document(DRIFTED)))
    return monitoring_event(monitoring_run(stack, world.extras))


def responder(handler, clock) -> monitoring.MonitoringResponder:
    m = handler.module
    return monitoring.MonitoringResponder(
        m.settings, sagemaker=m.sagemaker, s3=m.s3, sns=m.sns, sfn=m.sfn, dynamodb=m.dynamodb, clock=clock
    )


def test_twenty_distinct_windows_in_a_row_start_one_retraining_and_send_one_alert(stack, handler, inbox):
    # GIVEN no retraining running WHEN twenty distinct windows with counted violations arrive in turn
    results = [handler(window(stack, hour)) for hour in range(20)]
    # THEN the first opens the episode and starts the one retraining; the others are folded into it
    (execution,) = executions(stack)
    assert [bool(r["execution"]) for r in results] == [True] + [False] * 19
    assert {r["episode"] for r in results} == {execution["name"]}
    assert results[-1]["retraining"].startswith(
        f"not started: retraining {execution['name']} of this episode "
    )
    assert "; signal 20 of this episode" in results[-1]["retraining"]
    # AND one alert says so (the others of the hour are counted on its digest)
    (alert,) = inbox.messages()
    assert f"Retraining: started execution {execution['name']}" in alert["message"]


def test_the_retraining_metric_counts_executions_started_not_signals_or_redeliveries(stack, handler, capsys):
    # GIVEN five distinct windows with violations in a row, the first delivered twice
    events = [window(stack, hour) for hour in range(5)]
    results = [handler(event) for event in (events[0], events[0], *events[1:])]
    # WHEN their metrics are read (EMF on stdout)
    output = capsys.readouterr().out
    counted = [
        value
        for line in output.splitlines()
        if line.startswith("{") and '"_aws"' in line
        for value in json.loads(line).get("RetrainingRequested", [])
    ]
    # THEN every signal asked to retrain, one execution started, and the metric counts that one
    assert all(r["retrain"] for r in results)
    assert len(executions(stack)) == 1
    assert sum(counted) == 1


def test_model_monitor_drift_monitor_and_a_drift_alarm_about_the_same_drift_start_one_retraining(
    stack, world, handler, inbox
):
    # GIVEN the same drift seen at once by Model Monitor, the drift monitor and a drift alarm
    events = [model_monitor_run(stack, world), window(stack, 1), alarm(stack)]
    # WHEN the three signals are handled
    results = [handler(event) for event in events]
    # THEN one retraining starts, and the other two sources are folded into its episode
    assert [r["retrain"] for r in results] == [True, True, True]
    (execution,) = executions(stack)
    assert {r["episode"] for r in results} == {execution["name"]}
    assert len(inbox.messages()) == 1


def test_persistent_drift_retrains_once_per_cool_down_not_every_window(stack, handler):
    # GIVEN a retraining started by one window, which then ended
    now = [datetime.now(UTC)]
    respond = responder(handler, lambda: now[0])
    first = respond.handle(monitoring.signal_from_event(window(stack, 1))).model_dump()
    wait_for_all_executions(stack)
    # WHEN the drift persists: the next windows, an hour apart, within the cool-down
    later = []
    for hour in range(2, 5):
        now[0] += timedelta(hours=1)
        later.append(respond.handle(monitoring.signal_from_event(window(stack, hour))).model_dump())
    # THEN they start nothing, saying the episode cools down until the end of the cool-down
    assert first["execution"] is not None
    assert all(r["execution"] is None for r in later)
    assert all("cooling down until" in r["retraining"] for r in later)
    # AND once the cool-down (24 h by default) is over, the next window opens a new episode
    now[0] += timedelta(hours=respond.settings.retrain_cooldown_hours)
    fresh = respond.handle(monitoring.signal_from_event(window(stack, 5))).model_dump()
    assert fresh["execution"] is not None
    assert fresh["episode"] != first["episode"]
    assert len(executions(stack)) == 2


def test_a_signal_that_lost_the_race_to_open_the_episode_is_folded(stack, handler):
    # GIVEN two windows handled at the same moment: both read "no episode", then both try to open it
    clock = lambda: datetime.now(UTC)  # noqa: E731
    first, second = responder(handler, clock), responder(handler, clock)
    read = storms.Episodes.read
    both_read = threading.Barrier(2, timeout=20)
    waited: set[int] = set()

    def read_then_wait(self: storms.Episodes, endpoint: str) -> storms.Episode | None:
        """Each thread's first read waits for the other's: both saw no episode before either claims."""
        found = read(self, endpoint)
        if threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            both_read.wait()
        return found

    storms.Episodes.read = read_then_wait  # type: ignore[method-assign]
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [
                pool.submit(r.handle, monitoring.signal_from_event(window(stack, hour)))
                for r, hour in ((first, 1), (second, 2))
            ]
            results = [f.result(timeout=30).model_dump() for f in futures]
    finally:
        storms.Episodes.read = read  # type: ignore[method-assign]
    # THEN exactly one started the retraining; the other was folded into it, saying why
    started = [r for r in results if r["execution"]]
    folded = [r for r in results if not r["execution"]]
    assert (len(started), len(folded)) == (1, 1)
    assert folded[0]["episode"] == started[0]["episode"]
    assert "was started by a signal of the same moment" in folded[0]["retraining"]
    assert len(executions(stack)) == 1


def test_a_retraining_that_could_not_start_leaves_no_episode_behind(stack, handler):
    # GIVEN Step Functions refusing the start (botocore's Stubber on the handler's client)
    from botocore.stub import Stubber

    from anomaly_sentinel.exceptions import RetrainStartError

    event = window(stack, 1)
    with Stubber(handler.module.sfn) as stub:
        stub.add_client_error("start_execution", service_error_code="ExecutionLimitExceeded")
        with pytest.raises(RetrainStartError):
            handler(event)
    # WHEN the event is delivered again THEN it opens the episode and starts the retraining
    assert handler(event)["execution"]["already_started"] is False


def test_each_decision_is_logged_with_its_reason(stack, handler, caplog):
    # GIVEN one window that retrains and one folded into its episode
    handler(window(stack, 1))
    handler(window(stack, 2))
    # THEN each handled signal logged what happened to its retraining request, and why (log records
    # are read with their extras: Powertools binds its stream once per process)
    logged = [vars(r) for r in caplog.records if r.getMessage() == "monitoring signal handled"]
    assert [entry["retraining"].split(" ", 2)[:2] for entry in logged] == [
        ["started", "execution"],
        ["not", "started:"],
    ]
    assert logged[1]["episode"] == logged[0]["episode"]
    assert "counted violations" in logged[1]["retraining"]


def test_the_episode_is_one_item_per_endpoint_whatever_the_source(stack, world, handler):
    handler(alarm(stack))
    handler(model_monitor_run(stack, world))
    items = boto3.client("dynamodb").scan(TableName=stack.ref("IdempotencyTable"))["Items"]
    episodes = [i for i in items if i["id"]["S"].startswith(storms.EPISODE_PREFIX)]
    assert [i["id"]["S"] for i in episodes] == [f"{storms.EPISODE_PREFIX}{stack.parameters['EndpointName']}"]
    assert episodes[0]["signals"] == {"N": "2"}
