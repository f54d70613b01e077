"""Starts one `tailor serve` for the integration session, exactly as a user would."""

from __future__ import annotations

import json
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


def _undeclared(value, shape, path: str) -> list[str]:
    """Paths in a raw JSON response that the model's output shape does not declare."""
    if shape is None:
        return []
    if shape.type_name == "structure" and isinstance(value, dict):
        found = []
        for key, item in value.items():
            if key not in shape.members:
                found.append(f"{path}.{key}")
            else:
                found.extend(_undeclared(item, shape.members[key], f"{path}.{key}"))
        return found
    if shape.type_name == "list" and isinstance(value, list):
        return [p for item in value for p in _undeclared(item, shape.member, f"{path}[]")]
    if shape.type_name == "map" and isinstance(value, dict):
        return [p for k, item in value.items() for p in _undeclared(item, shape.value, f"{path}.{k}")]
    return []


def _checked(client):
    """A client whose every successful response must use only members of the declared output shape."""

    def check(http_response, parsed, model, **_):
        if http_response.status_code != 200 or not http_response.content:
            return
        extra = _undeclared(json.loads(http_response.content), model.output_shape, model.name)
        assert not extra, f"response members not in botocore's model: {extra}"

    client.meta.events.register("after-call", check)
    return client


@pytest.fixture(scope="session")
def personalize(target: Target):
    return _checked(target.client("personalize"))


@pytest.fixture(scope="session")
def runtime(target: Target):
    return _checked(target.client("personalize-runtime"))


@pytest.fixture(scope="session")
def events(target: Target):
    return _checked(target.client("personalize-events"))


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
