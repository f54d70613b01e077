"""Start `tailor serve` as a child process and wait for its ready line.

Used by the demo, the benchmarks and the integration tests, which all want a real service in its
own process, exactly as a user runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

READY = "Tailor ready at "


class LaunchError(RuntimeError):
    pass


def start_service(
    state_dir: Path, env: Mapping[str, str] | None = None, timeout_s: float = 60.0
) -> tuple[subprocess.Popen[str], str]:
    """The running service and its URL; its stderr goes to ``state_dir/serve.log``."""
    state_dir.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    # The service is the endpoint; an inherited endpoint would point its own clients elsewhere.
    environment.pop("AWS_ENDPOINT_URL", None)
    log = open(state_dir / "serve.log", "w+")  # noqa: SIM115 - lives as long as the service
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("tailor")),
            "serve",
            "--port",
            "0",
            "--state-dir",
            str(state_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=environment,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith(READY):
            return process, line[len(READY) :].strip()
    process.kill()
    log.seek(0)
    raise LaunchError(f"tailor serve did not start:\n{log.read()[-4000:]}")


def stop_service(process: subprocess.Popen[str], timeout_s: float = 30.0) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
