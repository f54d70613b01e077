"""Workflows as subprocesses: the local stand-in for Step Functions and SageMaker training jobs.

Each workflow runs the same entry point a deployment runs (``python -m functions.workflows.run KIND
ARN``), in its own process, so a crash, a leak or a hung training run cannot take the service down.
The entry point records its own outcome; a process that dies before it could is recorded here.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

Command = Callable[[str, str], list[str]]
CrashRecorder = Callable[[str, str, str], None]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_TERMINATE_GRACE_S = 5.0


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def default_command(kind: str, arn: str) -> list[str]:
    return [sys.executable, "-m", "functions.workflows.run", kind, arn]


def record_crash_in_process(kind: str, arn: str, reason: str) -> None:
    # Resolved at call time: the workflow module is written separately and may not exist yet.
    run = importlib.import_module("functions.workflows.run")
    run.record_crash(kind, arn, reason)


def log_name(arn: str) -> str:
    return _UNSAFE.sub("_", arn).strip("_") or "job"


def _project_root() -> str:
    # The directory holding the ``functions`` package, so ``-m functions...`` resolves from any cwd.
    import functions

    return str(Path(functions.__file__).resolve().parent.parent)


@dataclass
class Job:
    kind: str
    arn: str
    log_path: Path
    status: str = "QUEUED"  # QUEUED | RUNNING | SUCCEEDED | FAILED | CANCELLED
    returncode: int | None = None
    reason: str | None = None
    queued_at: float = field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None
    future: Future[None] | None = field(default=None, repr=False)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "arn": self.arn,
            "status": self.status,
            "returncode": self.returncode,
            "reason": self.reason,
            "log": str(self.log_path),
        }


class JobRunner:
    """A ``WorkflowStarter`` that runs each workflow as a subprocess, ``max_workers`` at a time."""

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        *,
        env: Mapping[str, str] | None = None,
        max_workers: int = 2,
        command: Command = default_command,
        crash_recorder: CrashRecorder = record_crash_in_process,
        history: int = 50,
        on_success: Callable[[str, str], None] | None = None,
    ) -> None:
        self.log_dir = Path(state_dir) / "jobs"
        self._env = dict(env) if env is not None else None
        self._command = command
        self._record_crash = crash_recorder
        # What the service must do in its own process once a workflow succeeded (forget caches).
        self._on_success = on_success
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="tailor-job")
        self._lock = threading.Lock()
        self._processes: set[subprocess.Popen[bytes]] = set()
        self._jobs: deque[Job] = deque(maxlen=history)
        self._counts = {"started": 0, "succeeded": 0, "failed": 0, "cancelled": 0}
        self._stopping = False

    def start(self, kind: str, arn: str) -> None:
        """Queue the workflow and return at once, as ``StartExecution`` does."""
        with self._lock:
            if self._stopping:
                raise RuntimeError("the job runner is stopping")
            job = Job(kind, arn, self.log_dir / f"{log_name(arn)}.log")
            self._jobs.append(job)
            self._counts["started"] += 1
            job.future = self._pool.submit(self._run, job)

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ if self._env is None else self._env)
        root = _project_root()
        paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        if root not in paths:
            env["PYTHONPATH"] = os.pathsep.join([root, *paths])
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _run(self, job: Job) -> None:
        with self._lock:
            if self._stopping:
                job.status = "CANCELLED"
                self._counts["cancelled"] += 1
                return
            job.status = "RUNNING"
            job.started_at = time.time()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        last_stderr = ""
        try:
            with open(job.log_path, "ab") as log:
                log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} {job.kind} {job.arn}\n".encode())
                log.flush()
                process = subprocess.Popen(
                    self._command(job.kind, job.arn),
                    stdout=log,
                    stderr=subprocess.PIPE,
                    stdin=subprocess.DEVNULL,
                    env=self._environment(),
                    cwd=_project_root(),
                    # Its own process group, so that stopping it reaches what it started (the
                    # training process) and a Ctrl-C at the terminal reaches only the service.
                    start_new_session=True,
                )
                with self._lock:
                    self._processes.add(process)
                    # stop() may have run between this job starting and its process existing.
                    if self._stopping:
                        _signal_group(process, signal.SIGTERM)
                try:
                    assert process.stderr is not None
                    # stderr goes to the log too; its last line is the reason a crash is recorded with.
                    for line in process.stderr:
                        log.write(line)
                        log.flush()
                        text = line.decode("utf-8", "replace").strip()
                        if text:
                            last_stderr = text
                    returncode = process.wait()
                finally:
                    with self._lock:
                        self._processes.discard(process)
        except OSError as exc:
            returncode, last_stderr = -1, f"could not start the workflow process: {exc}"
        job.returncode = returncode
        job.ended_at = time.time()
        if returncode == 0:
            job.status = "SUCCEEDED"
            with self._lock:
                self._counts["succeeded"] += 1
            if self._on_success is not None:
                try:
                    self._on_success(job.kind, job.arn)
                except Exception:
                    logger.exception("after %s %s succeeded", job.kind, job.arn)
            return
        job.status = "FAILED"
        with self._lock:
            self._counts["failed"] += 1
            stopping = self._stopping
        if stopping:
            # Terminated by shutdown; the service's state goes with it, so there is nothing to record.
            job.reason = "terminated at shutdown"
            return
        job.reason = last_stderr or f"workflow process exited with status {returncode}"
        logger.error("workflow %s %s failed (%s): %s", job.kind, job.arn, returncode, job.reason)
        try:
            self._record_crash(job.kind, job.arn, job.reason)
        except Exception:
            logger.exception("could not record the crash of %s %s", job.kind, job.arn)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for every job queued so far; True when all finished in time (tests, scripts)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            futures = [j.future for j in self._jobs if j.future is not None]
        for future in futures:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                future.result(timeout=remaining)
            except TimeoutError:
                return False
            except CancelledError:
                continue
        return True

    def stop(self, grace_s: float = _TERMINATE_GRACE_S) -> None:
        """Cancel queued jobs, terminate running ones (kill after ``grace_s``) and wait for the pool."""
        with self._lock:
            self._stopping = True
            processes = list(self._processes)
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            for job in self._jobs:
                if job.status == "QUEUED" and job.future is not None and job.future.cancelled():
                    job.status = "CANCELLED"
                    self._counts["cancelled"] += 1
        for process in processes:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for process in processes:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            # Children of the workflow may outlive it; the group goes in any case.
            _signal_group(process, signal.SIGKILL)
            process.wait()
        self._pool.shutdown(wait=True)

    def health(self) -> dict[str, Any]:
        with self._lock:
            running = sum(1 for j in self._jobs if j.status == "RUNNING")
            queued = sum(1 for j in self._jobs if j.status == "QUEUED")
            return {
                **self._counts,
                "running": running,
                "queued": queued,
                "recent": [j.describe() for j in list(self._jobs)[-10:]],
            }
