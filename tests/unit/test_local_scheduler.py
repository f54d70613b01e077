"""The local stand-in for EventBridge: runs the scheduled work on its interval and survives failures."""

from __future__ import annotations

import threading
import time

from tailor_local.scheduler import INTERVAL_ENV, Scheduler


def test_runs_the_work_on_its_interval_until_stopped():
    ran = threading.Event()
    calls: list[int] = []

    def work() -> list[str]:
        calls.append(1)
        if len(calls) >= 3:
            ran.set()
        return []

    scheduler = Scheduler(work, interval_s=0.01)
    scheduler.start()
    assert ran.wait(5)
    scheduler.stop()
    count = len(calls)
    assert scheduler.health()["runs"] >= 3
    time.sleep(0.05)
    assert len(calls) == count  # nothing runs after stop


def test_a_failing_run_is_recorded_and_the_next_one_still_runs():
    outcomes = iter([RuntimeError("table gone"), ["arn:v"]])

    def work() -> list[str]:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    scheduler = Scheduler(work, interval_s=60)
    scheduler.run_once()
    assert scheduler.health()["last_error"] == "RuntimeError: table gone"
    scheduler.run_once()
    assert scheduler.health() == {"interval_s": 60, "runs": 2, "last_error": None}


def test_interval_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(INTERVAL_ENV, "2.5")
    assert Scheduler(list).interval_s == 2.5
