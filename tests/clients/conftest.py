"""Other AWS clients against the local service: the AWS CLI and the AWS SDK for JavaScript v3.

boto3 is one implementation of the wire protocol; these are two more, written by other people, that
Personalize users' scripts run on. Each runs unchanged with only ``AWS_ENDPOINT_URL`` and credentials set.
The Makefile installs both (the CLI in its own venv, ``.venv-awscli``, because it pins its own botocore;
the SDK packages through ``package.json``). These tests start their own ``tailor serve``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tailor_local.launcher import LaunchError, start_service, stop_service

ROOT = Path(__file__).resolve().parents[2]
AWS_CLI = ROOT / ".venv-awscli" / "bin" / "aws"
NODE_SDK = ROOT / "node_modules" / "@aws-sdk" / "client-personalize"


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        process, url = start_service(tmp_path_factory.mktemp("tailor-clients"))
    except LaunchError as err:
        pytest.fail(str(err))
    try:
        yield url
    finally:
        stop_service(process)


@pytest.fixture(scope="session")
def client_env(endpoint: str) -> dict[str, str]:
    """The environment a user's script gets: the endpoint, credentials and region, nothing of Tailor's."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    return env
