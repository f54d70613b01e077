"""Starts one `tailor serve` for the integration session, exactly as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.targets import Target

READY = "Tailor ready at "
# Low enough that the LimitExceededException test reaches it quickly.
QUOTA_DATASET_GROUPS = 40


@pytest.fixture(scope="session")
def tailor_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    state = tmp_path_factory.mktemp("tailor-state")
    env = {
        **os.environ,
        "TAILOR_QUOTA_DATASET_GROUPS": str(QUOTA_DATASET_GROUPS),
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(name, None)
    tailor = Path(sys.executable).with_name("tailor")
    log = open(state / "serve.log", "w+")  # noqa: SIM115 - kept open for the server's lifetime
    process = subprocess.Popen(
        [str(tailor), "serve", "--port", "0", "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    url = None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith(READY):
            url = line[len(READY) :].strip()
            break
    if url is None:
        process.kill()
        log.seek(0)
        pytest.fail(f"tailor serve did not start:\n{log.read()[-4000:]}")
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def target(tailor_url: str) -> Target:
    return Target(tailor_url)


@pytest.fixture(scope="session")
def personalize(target: Target):
    return target.client("personalize")


@pytest.fixture(scope="session")
def runtime(target: Target):
    return target.client("personalize-runtime")


@pytest.fixture(scope="session")
def events(target: Target):
    return target.client("personalize-events")


@pytest.fixture(scope="session")
def s3(target: Target):
    return target.client("s3")


def wait_for(describe, key: str, timeout: float = 300, final=("ACTIVE", "CREATE FAILED", "CREATE STOPPED")):
    """Poll a Describe call the way Personalize notebooks do, until a final status."""
    deadline = time.monotonic() + timeout
    while True:
        doc = describe()[key]
        if doc["status"] in final or time.monotonic() > deadline:
            return doc
        time.sleep(0.3)
