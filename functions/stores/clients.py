"""One cached boto3 client per service and thread.

boto3 honours ``AWS_ENDPOINT_URL``, so the same code talks to AWS, to the embedded local service
and to LocalStack without knowing which.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

_local = threading.local()
_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60)


def client(service: str) -> Any:
    cache: dict[str, Any] | None = getattr(_local, "clients", None)
    if cache is None:
        cache = _local.clients = {}
    if service not in cache:
        cache[service] = boto3.session.Session().client(service, config=_CONFIG)
    return cache[service]


def reset() -> None:
    """Forget cached clients (tests switch endpoints between cases)."""
    _local.clients = {}
