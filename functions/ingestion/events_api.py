"""personalize-events operations: accept, validate, and hand events to Kinesis.

The client gets its 200 only after Kinesis has accepted every record, so an acknowledged event is
never lost; the ingest function applies it to the user's history.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from typing import Any

from functions.protocol.dispatch import RequestContext
from functions.protocol.errors import InvalidInputException, ResourceNotFoundException
from functions.resources import lifecycle as lc
from functions.stores.resources import ResourceStore
from functions.stores.stream import EventStream, StreamRecord

TRACKER_TTL_S = 30.0
_trackers: dict[str, tuple[float, dict[str, Any]]] = {}


def tracker_for(tracking_id: str) -> dict[str, Any]:
    cached = _trackers.get(tracking_id)
    if cached and time.monotonic() - cached[0] < TRACKER_TTL_S:
        return cached[1]
    doc = ResourceStore().find(f"{lc.TRACKING_ID}/{tracking_id}")
    if doc is None:
        raise ResourceNotFoundException(
            f"Could not find an event tracker with trackingId {tracking_id}", status=404
        )
    _trackers[tracking_id] = (time.monotonic(), doc)
    return doc


def _item_id(event: dict[str, Any], index: int) -> str | None:
    if event.get("itemId"):
        return str(event["itemId"])
    raw = event.get("properties")
    if not raw:
        return None
    try:
        properties = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInputException(f"eventList.{index + 1}.properties is not valid JSON: {exc}") from exc
    if not isinstance(properties, dict):
        raise InvalidInputException(f"eventList.{index + 1}.properties must be a JSON object.")
    value = properties.get("itemId")
    return str(value) if value is not None else None


class Events:
    def __init__(self, ctx: RequestContext) -> None:
        self.ctx = ctx

    def put_events(
        self, trackingId: str, sessionId: str, eventList: list[dict[str, Any]], userId: str | None = None
    ) -> None:
        tracker = tracker_for(trackingId)
        records: list[StreamRecord] = []
        for index, event in enumerate(eventList):
            item_id = _item_id(event, index)
            payload = {
                "kind": "event",
                "trackingId": trackingId,
                "datasetGroupArn": tracker["datasetGroupArn"],
                "userId": userId,
                "sessionId": sessionId,
                # A generated id makes a redelivered Kinesis record recognisable as the same event.
                "eventId": event.get("eventId") or str(uuid.uuid4()),
                "eventType": event["eventType"],
                "eventValue": event.get("eventValue"),
                "itemId": item_id,
                "sentAt": _epoch(event["sentAt"]),
                "recommendationId": event.get("recommendationId"),
                "impression": event.get("impression"),
                "properties": event.get("properties"),
            }
            records.append(StreamRecord(userId or sessionId, json.dumps(payload).encode()))
        EventStream().put(records)


def _epoch(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
