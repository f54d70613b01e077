"""The local stand-in for EventBridge schedules: a thread that runs each scheduled function's work.

A deployment invokes the ``scheduler`` Lambda on a rate (``functions.wiring.SCHEDULES``); ``tailor
serve`` calls the same function (``start_due_training``) every ``local_interval_s`` seconds, or every
``TAILOR_SCHEDULER_INTERVAL_S`` when set. A failing run is logged and retried at the next tick.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from functions import wiring

logger = logging.getLogger(__name__)

INTERVAL_ENV = "TAILOR_SCHEDULER_INTERVAL_S"


def _default_work() -> list[str]:
    from functions.resources.auto_training import start_due_training

    return start_due_training()


class Scheduler:
    def __init__(self, work: Callable[[], Any] = _default_work, interval_s: float | None = None) -> None:
        configured = os.environ.get(INTERVAL_ENV)
        default = min(s.local_interval_s for s in wiring.SCHEDULES)
        self.interval_s = interval_s if interval_s is not None else float(configured or default)
        self._work = work
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0
        self.last_error: str | None = None
        self.last_run_at: float | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="tailor-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def run_once(self) -> None:
        try:
            created = self._work()
            self.last_error = None
            if created:
                logger.info("automatic training started: %s", ", ".join(created))
        except Exception as exc:  # noqa: BLE001 - the next tick tries again
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.warning("scheduled run failed: %s", self.last_error)
        self.runs += 1
        self.last_run_at = time.time()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.run_once()

    def health(self) -> dict[str, Any]:
        return {"interval_s": self.interval_s, "runs": self.runs, "last_error": self.last_error}
