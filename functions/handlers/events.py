"""Events Lambda: personalize-events' rest-json operations."""

from __future__ import annotations

from typing import Any

from functions import wiring
from functions.ingestion.events_api import Events
from functions.protocol.dispatch import handle_restjson
from functions.protocol.service_model import EVENTS

OPERATIONS = {r.path: r.operation for r in wiring.ROUTES if r.function == "events" and r.operation}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_restjson(event, EVENTS, OPERATIONS, Events)
