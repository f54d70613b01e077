"""Runtime Lambda: personalize-runtime's rest-json operations."""

from __future__ import annotations

from typing import Any

from functions import wiring
from functions.protocol.dispatch import handle_restjson
from functions.protocol.service_model import RUNTIME
from functions.serving.runtime_api import Runtime

OPERATIONS = {r.path: r.operation for r in wiring.ROUTES if r.function == "runtime" and r.operation}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_restjson(event, RUNTIME, OPERATIONS, Runtime)
