"""One cached boto3 client per service and thread.

boto3 honours ``AWS_ENDPOINT_URL``, so the same code talks to AWS, to the embedded local service
and to LocalStack without knowing which.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config

_local = threading.local()
# The embedded local service answers the functions' AWS calls in-process (see tailor_local.gateway);
# everywhere else this stays None and calls go over HTTP to AWS_ENDPOINT_URL or AWS.
_before_send: Callable[..., Any] | None = None
_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60)


_generation = 0


def client(service: str) -> Any:
    cache: dict[str, Any] | None = getattr(_local, "clients", None)
    if cache is None or getattr(_local, "generation", -1) != _generation:
        cache = _local.clients = {}
        _local.generation = _generation
    if service not in cache:
        created = boto3.session.Session().client(service, config=_CONFIG)
        if _before_send is not None:
            created.meta.events.register("before-send", _before_send)
        cache[service] = created
    return cache[service]


def set_in_process_transport(hook: Callable[..., Any] | None) -> None:
    """Route every client's requests through ``hook`` (botocore's before-send), or stop doing so."""
    global _before_send
    _before_send = hook
    reset()


def reset() -> None:
    """Forget cached clients, on every thread (tests switch endpoints between cases)."""
    global _generation
    _generation += 1
    _local.clients = {}
