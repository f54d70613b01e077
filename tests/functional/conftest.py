"""Handlers in-process under moto's ``mock_aws``, fed with signed API Gateway proxy events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto import mock_aws

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "TAILOR_ACCESS_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("TAILOR_MODEL_CACHE_DIR", str(tmp_path / "models"))
    from functions.config import settings
    from functions.protocol import dispatch
    from functions.stores import clients, workflows

    settings.cache_clear()
    clients.reset()
    dispatch.set_key_store(None)
    # Per-process caches of the runtime and events functions (a warm Lambda's) hold documents of the
    # previous case's moto state under the same ARNs.
    from functions.ingestion import events_api
    from functions.serving import recommender, runtime_api

    runtime_api.reset()
    recommender.reset()
    events_api.reset()
    workflows.set_starter(workflows.InlineStarter())
    with mock_aws():
        from tailor_local.resources import provision

        provision(lambda service: boto3.client(service, region_name=REGION), settings(), REGION)
        yield
    workflows.set_starter(None)
    clients.reset()
    settings.cache_clear()


def signed_event(
    path: str,
    body: dict[str, Any],
    target: str | None = None,
    access_key: str = "test",
    secret_key: str = "test",
) -> dict[str, Any]:
    """An API Gateway REST proxy event for a request boto3 would have signed."""
    host = f"personalize.{REGION}.amazonaws.com"
    headers = {"Host": host, "Content-Type": "application/x-amz-json-1.1" if target else "application/json"}
    if target:
        headers["X-Amz-Target"] = f"AmazonPersonalize.{target}"
    data = json.dumps(body)
    request = AWSRequest(method="POST", url=f"https://{host}{path}", data=data, headers=headers)
    SigV4Auth(Credentials(access_key, secret_key), "personalize", REGION).add_auth(request)
    return {
        "resource": path,
        "path": path,
        "httpMethod": "POST",
        "headers": dict(request.headers.items()),
        "multiValueHeaders": {k: [v] for k, v in request.headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "requestContext": {"requestId": "req-1", "path": path, "httpMethod": "POST", "stage": "test"},
        "body": data,
        "isBase64Encoded": False,
    }


def call(
    handler, path: str, body: dict[str, Any], target: str | None = None, **kwargs: Any
) -> tuple[int, dict]:
    result = handler(signed_event(path, body, target, **kwargs), None)
    return result["statusCode"], (json.loads(result["body"]) if result["body"] else {})


def control_op(operation: str, **body: Any) -> tuple[int, dict]:
    """One control-plane operation through the control Lambda handler, signed as boto3 signs it."""
    from functions.handlers import control

    return call(control.handler, "/", body, target=operation)


class RecordingStarter:
    """A workflow starter that records training starts (solution versions and recommenders stay CREATE
    PENDING, for tests that drive or inspect training themselves) and runs every other workflow (imports)
    inline."""

    def __init__(self) -> None:
        self.started: list[tuple[str, str]] = []

    def start(self, kind: str, arn: str) -> None:
        from functions.stores import workflows

        if kind in (workflows.SOLUTION_VERSION, workflows.RECOMMENDER):
            self.started.append((kind, arn))
        else:
            workflows.InlineStarter().start(kind, arn)
