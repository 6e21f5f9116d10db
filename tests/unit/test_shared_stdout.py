"""Handlers' stdout in the local twin: overlapping runs on two threads restore stdout once."""

from __future__ import annotations

import io
import os
import sys
import threading

from sentinel.invoke import SharedStdout


def test_overlapping_runs_on_two_threads_write_to_the_log_and_leave_stdout_as_it_was():
    # GIVEN a function log and two handler runs on two threads that overlap:
    # A enters, B enters, A leaves, B leaves (a state machine task beside the router)
    shared, log, before = SharedStdout(), io.StringIO(), sys.stdout
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def run_a() -> None:
        with shared.to(log):
            print("a")
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def run_b() -> None:
        a_in.wait(5)
        with shared.to(log):
            b_in.set()
            a_out.wait(5)
            print("b")

    threads = [threading.Thread(target=run_a), threading.Thread(target=run_b)]
    # WHEN both run
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    # THEN both wrote to the log, and stdout is what it was (not the log, closed after the run)
    assert log.getvalue() == "a\nb\n"
    assert sys.stdout is before


def test_overlapping_functions_on_two_threads_see_only_their_own_variables_and_leave_none_behind():
    # GIVEN two functions with different environments (only A sets STATISTICS_PREFIX) whose runs
    # overlap on two threads: A enters, B enters, A leaves, B leaves
    from sentinel.invoke import environment

    before = dict(os.environ)
    seen: dict[str, str | None] = {}
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def run_a() -> None:
        with environment({"STATISTICS_PREFIX": "statistics/", "ROLE": "a"}):
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def run_b() -> None:
        a_in.wait(5)
        with environment({"ROLE": "b"}):
            seen["b"] = os.environ.get("STATISTICS_PREFIX")
            b_in.set()
            a_out.wait(5)
            seen["b_role"] = os.environ.get("ROLE")

    threads = [threading.Thread(target=run_a), threading.Thread(target=run_b)]
    # WHEN both run
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    # THEN B never saw A's variable, kept its own, and the environment is what it was
    assert seen == {"b": None, "b_role": "b"}
    assert dict(os.environ) == before
