"""Where the integration suite points: the one place that builds every client for the target under test.

``TAILOR_TARGET`` picks the target; the suite itself is the same for all three:

- ``embedded`` (default): the ``tailor serve`` the session starts. Every client uses its endpoint
  (``AWS_ENDPOINT_URL`` style: one port for Personalize and the moto-backed services).
- ``localstack``: the CDK stack deployed into LocalStack (``make test-localstack``). Personalize
  clients go to the deployed API Gateway stage, signed with the admin key read from the deployed
  Secrets Manager secret; S3, IAM, DynamoDB, ... come from ``localstack-client``'s ``Session``
  (which honours ``AWS_ENDPOINT_URL`` / ``LOCALSTACK_HOST``).
- ``deployed``: a real AWS deployment (``make test-deployed``): plain boto3 with the caller's AWS
  credentials for everything but Personalize, which goes to the stack's API URL with its admin key.
  ``TAILOR_STACK_NAME`` names the stack (default ``Tailor``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import boto3
from botocore.config import Config

PERSONALIZE_SERVICES = frozenset({"personalize", "personalize-runtime", "personalize-events"})
# Service settings the suite relies on (a quota low enough to reach); the embedded service gets them
# as environment, a LocalStack deployment as the stack's functionEnv (tools/localstack/deploy.sh).
TEST_SERVICE_ENV = {"TAILOR_QUOTA_DATASET_GROUPS": "40"}
TARGET_ENV = "TAILOR_TARGET"
TARGETS = ("embedded", "localstack", "deployed")


@dataclass(frozen=True)
class Target:
    endpoint_url: str  # where Personalize requests go
    region: str = "us-east-1"
    access_key: str = "test"
    secret_key: str = "test"
    # The DynamoDB table of user histories (read directly by the deduplication test).
    history_table: str = "tailor-history"
    # Clients of every other service (S3, IAM, DynamoDB); None: the Personalize endpoint serves them too.
    aws_clients: Callable[..., Any] | None = field(default=None, compare=False)
    # LocalStack's execute-api host names do not resolve here: connect to this address instead,
    # keeping the signed Host header (see _connect_via).
    connect_address: str | None = None
    kind: str = "embedded"

    def client(self, service: str, **overrides: Any) -> Any:
        if service not in PERSONALIZE_SERVICES and self.aws_clients is not None:
            return self.aws_clients(service, **overrides)
        kwargs: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "config": Config(retries={"max_attempts": 1}),
        }
        kwargs.update(overrides)
        client = boto3.client(service, **kwargs)
        if self.connect_address and service in PERSONALIZE_SERVICES:
            _connect_via(client, self.connect_address)
        return client


def _connect_via(client: Any, address: str) -> None:
    """Send to ``address`` while signing and sending the endpoint's own host name.

    The request is signed for ``https://<api>.execute-api.localhost.localstack.cloud:4566/prod``, which
    is how LocalStack (like AWS) routes to an API Gateway stage; only the TCP connection goes to
    LocalStack's address, because that wildcard name has no DNS on machines without internet.
    """

    def before_send(request: Any, **_: Any) -> None:
        parts = urlsplit(request.url)
        request.headers["Host"] = parts.netloc
        request.url = urlunsplit(parts._replace(scheme="http", netloc=address))

    client.meta.events.register("before-send", before_send)


def target_kind() -> str:
    kind = os.environ.get(TARGET_ENV, "embedded").strip() or "embedded"
    if kind not in TARGETS:
        raise ValueError(f"{TARGET_ENV} must be one of {TARGETS}, got {kind!r}")
    return kind


def embedded_target(url: str) -> Target:
    return Target(url)


def _outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def _admin_key(secretsmanager: Any, secret_name: str) -> tuple[str, str]:
    doc = json.loads(secretsmanager.get_secret_value(SecretId=secret_name)["SecretString"])
    return doc["accessKeyId"], doc["secretAccessKey"]


def localstack_target(stack_name: str) -> Target:
    from localstack_client.session import Session

    session = Session(aws_access_key_id="test", aws_secret_access_key="test")

    def aws_clients(service: str, **overrides: Any) -> Any:
        return session.client(service, **overrides)

    outputs = _outputs(aws_clients("cloudformation"), stack_name)
    access_key, secret_key = _admin_key(aws_clients("secretsmanager"), outputs["AdminKeySecretName"])
    gateway = urlsplit(aws_clients("s3").meta.endpoint_url).netloc  # LocalStack's host:port
    api = urlsplit(outputs["ApiUrl"])
    return Target(
        endpoint_url=urlunsplit(api._replace(path=api.path.rstrip("/"))),
        access_key=access_key,
        secret_key=secret_key,
        history_table=outputs["TailorHistoryTable"],
        aws_clients=aws_clients,
        connect_address=gateway,
        kind="localstack",
    )


def deployed_target(stack_name: str, region: str | None = None) -> Target:
    session = boto3.session.Session(region_name=region)

    def aws_clients(service: str, **overrides: Any) -> Any:
        return session.client(service, **overrides)

    outputs = _outputs(aws_clients("cloudformation"), stack_name)
    access_key, secret_key = _admin_key(aws_clients("secretsmanager"), outputs["AdminKeySecretName"])
    return Target(
        endpoint_url=outputs["ApiUrl"].rstrip("/"),
        region=session.region_name or "us-east-1",
        access_key=access_key,
        secret_key=secret_key,
        history_table=outputs["TailorHistoryTable"],
        aws_clients=aws_clients,
        kind="deployed",
    )
