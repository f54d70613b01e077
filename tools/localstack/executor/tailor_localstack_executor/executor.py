"""LocalStack's Lambda runtime executor for machines without Docker.

LocalStack's community executor runs each execution environment in a Docker container. This one runs
it as a host process of the interpreter named by ``TAILOR_LAMBDA_PYTHON`` (the project's venv, which
has every dependency), with the environment LocalStack computed for the function and the function's
unzipped code first on ``sys.path``. Like a warm Lambda, the process imports the handler once and
serves invocations one at a time until LocalStack stops the environment. Test infrastructure only:
there is no isolation between functions beyond separate processes.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import subprocess
import threading
from pathlib import Path
from typing import IO

from localstack import config
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import RuntimeExecutor

LOG = logging.getLogger(__name__)
WORKER = Path(__file__).with_name("worker.py")
PYTHON_ENV = "TAILOR_LAMBDA_PYTHON"
# Where worker logs and the process-group files of live workers go (start.sh sets it).
STATE_ENV = "TAILOR_LAMBDA_STATE"
# Host variables a function process inherits; everything else comes from LocalStack, as in Lambda.
HOST_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "SSL_CERT_FILE")
HOST_ENV_PREFIXES = ("OPENBLAS_",)  # numerical-library settings this machine needs for correct results


def _host_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in HOST_ENV or k.startswith(HOST_ENV_PREFIXES)}


def _python() -> str:
    return os.environ.get(PYTHON_ENV, "")


class HostRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:  # noqa: A002 - LocalStack's name
        super().__init__(id, function_version)
        self._lock = threading.Lock()
        self._env: dict[str, str] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._results: IO[str] | None = None
        state = Path(os.environ.get(STATE_ENV) or config.dirs.tmp)
        log_dir = state / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self._log_path = log_dir / f"{function_version.id.function_name}-{id}.log"
        # One file per live worker, named by its process group: stop.sh ends any group LocalStack
        # did not (when LocalStack itself was killed).
        self._groups_dir = state / "groups"
        self._groups_dir.mkdir(parents=True, exist_ok=True)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, env_vars: dict[str, str]) -> None:
        self._env = {k: str(v) for k, v in env_vars.items()}
        with self._lock:
            self._spawn()

    def _spawn(self) -> None:
        code_dir = str(self.function_version.config.code.get_unzipped_code_location())
        read_fd, write_fd = os.pipe()
        env = {
            **_host_env(),
            **self._env,
            "LAMBDA_TASK_ROOT": code_dir,
            "PYTHONPATH": code_dir,
            "PYTHONUNBUFFERED": "1",
            "TAILOR_WORKER_RESULT_FD": str(write_fd),
        }
        log = open(self._log_path, "ab")  # noqa: SIM115 - owned by the child from here on
        try:
            self._process = subprocess.Popen(
                [_python(), "-u", str(WORKER)],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=code_dir,
                env=env,
                pass_fds=(write_fd,),
                # Its own process group: stopping the environment also stops what the handler
                # started (the training subprocess).
                start_new_session=True,
            )
        finally:
            os.close(write_fd)
            log.close()
        self._results = os.fdopen(read_fd, "r")
        (self._groups_dir / str(self._process.pid)).write_text(self.function_version.id.function_name)

    def stop(self) -> None:
        with self._lock:
            self._kill()

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            (self._groups_dir / str(process.pid)).unlink(missing_ok=True)
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait()
        if self._results is not None:
            self._results.close()
            self._results = None

    # -- addresses (the host process reaches LocalStack on the gateway's own address) -------------
    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return "127.0.0.1"

    def get_runtime_endpoint(self) -> str:
        return f"http://127.0.0.1:{config.GATEWAY_LISTEN[0].port}/_localstack_lambda/{self.id}"

    # -- invocations -----------------------------------------------------------------------------
    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        timeout_s = float(self.function_version.config.timeout)
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                # The previous invocation timed out or crashed the process: a fresh environment,
                # as Lambda gives after a runtime exit.
                self._kill()
                self._spawn()
            assert self._process is not None and self._process.stdin is not None
            assert self._results is not None
            log_start = self._log_path.stat().st_size
            request = {**payload, "timeout_s": timeout_s}
            try:
                self._process.stdin.write((json.dumps(request) + "\n").encode())
                self._process.stdin.flush()
            except BrokenPipeError:
                return self._failed(request_id, "Runtime.ExitError", "The runtime exited.", log_start)
            ready, _, _ = select.select([self._results], [], [], timeout_s)
            if not ready:
                self._kill()
                return self._failed(
                    request_id, "Sandbox.Timedout", f"Task timed out after {timeout_s:.2f} seconds", log_start
                )
            line = self._results.readline()
            if not line:
                self._kill()
                return self._failed(request_id, "Runtime.ExitError", "The runtime exited.", log_start)
            reply = json.loads(line)
            logs = self._logs_since(log_start)
        if "error" in reply:
            return InvocationResult(request_id, json.dumps(reply["error"]).encode(), True, logs)
        return InvocationResult(request_id, reply["result"].encode(), False, logs)

    def _failed(self, request_id: str, error_type: str, message: str, log_start: int) -> InvocationResult:
        body = json.dumps({"errorType": error_type, "errorMessage": message}).encode()
        return InvocationResult(request_id, body, True, self._logs_since(log_start))

    def _logs_since(self, offset: int) -> str:
        with open(self._log_path, "rb") as log:
            log.seek(offset)
            return log.read().decode("utf-8", "replace")

    def get_logs(self) -> str:
        try:
            return self._log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- versions --------------------------------------------------------------------------------
    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        if not function_version.config.code:
            raise RuntimeError(
                f"{function_version.id.function_name}: the tailor-host executor runs zip functions only"
            )
        function_version.config.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        """Nothing to clean: the unzipped code belongs to LocalStack."""

    @classmethod
    def validate_environment(cls) -> bool:
        python = _python()
        if not python or not os.access(python, os.X_OK):
            LOG.error("%s must name the interpreter that runs Lambda handlers (got %r)", PYTHON_ENV, python)
            return False
        return True
