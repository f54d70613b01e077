"""personalize-events operations: accept, validate, and hand records to Kinesis.

The client gets its 200 only after Kinesis has accepted every record, so an acknowledged event is
never lost; the ingest function applies it. Every request is validated completely before the first
record is written, so a bad record rejects the whole request and nothing of it lands.

Stream payloads carry a ``kind``: ``event`` (PutEvents), ``action-interaction``
(PutActionInteractions), and ``record`` (PutItems, PutUsers, PutActions: a metadata record for one
dataset). Metadata records are partitioned by dataset, so one shard applies them in request order.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime
from typing import Any

from functions.ingestion.records import check_record
from functions.protocol.dispatch import RequestContext
from functions.protocol.errors import InvalidInputException, ResourceNotFoundException
from functions.resources import lifecycle as lc
from functions.resources.schema_rules import ParsedSchema, parse_schema
from functions.stores.resources import ResourceStore
from functions.stores.stream import EventStream, StreamRecord

# Trackers and datasets are re-read at most this often: a deleted tracker stops accepting events, and a
# re-created dataset's schema applies, within this many seconds.
CACHE_TTL_S = 10.0
_trackers: dict[str, tuple[float, dict[str, Any]]] = {}
_datasets: dict[str, tuple[float, dict[str, Any], ParsedSchema]] = {}

# PutItems -> ITEMS dataset, keyed by ITEM_ID, and so on.
RECORD_KINDS = {
    "items": ("ITEMS", "ITEM_ID", "itemId"),
    "users": ("USERS", "USER_ID", "userId"),
    "actions": ("ACTIONS", "ACTION_ID", "actionId"),
}


def reset() -> None:
    """Forget cached trackers and datasets (tests that recreate the AWS backend between cases)."""
    _trackers.clear()
    _datasets.clear()


def tracker_for(tracking_id: str) -> dict[str, Any]:
    cached = _trackers.get(tracking_id)
    if cached and time.monotonic() - cached[0] < CACHE_TTL_S:
        return cached[1]
    doc = ResourceStore().find(f"{lc.TRACKING_ID}/{tracking_id}")
    if doc is None:
        raise ResourceNotFoundException(
            f"Could not find an event tracker with trackingId {tracking_id}", status=404
        )
    _trackers[tracking_id] = (time.monotonic(), doc)
    return doc


def dataset_for(dataset_arn: str, expected_type: str) -> tuple[dict[str, Any], ParsedSchema]:
    cached = _datasets.get(dataset_arn)
    if cached and time.monotonic() - cached[0] < CACHE_TTL_S:
        doc, schema = cached[1], cached[2]
    else:
        store = ResourceStore()
        found = store.find(dataset_arn)
        if found is None or "datasetType" not in found:
            _datasets.pop(dataset_arn, None)
            raise ResourceNotFoundException(f"Could not find resource: {dataset_arn}", status=404)
        doc, schema = found, parse_schema(store.get(found["schemaArn"], lc.SCHEMA)["schema"])
        _datasets[dataset_arn] = (time.monotonic(), doc, schema)
    if doc["datasetType"].upper() != expected_type:
        raise InvalidInputException(
            f"Dataset {dataset_arn} is of type {doc['datasetType']}; this operation writes to a "
            f"{expected_type} dataset."
        )
    return doc, schema


def _properties(raw: str | None, where: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        properties = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInputException(f"{where}.properties is not valid JSON: {exc.msg}.") from exc
    if not isinstance(properties, dict):
        raise InvalidInputException(f"{where}.properties must be a JSON object.")
    return properties


def _epoch(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


class Events:
    def __init__(self, ctx: RequestContext) -> None:
        self.ctx = ctx

    def put_events(
        self, trackingId: str, sessionId: str, eventList: list[dict[str, Any]], userId: str | None = None
    ) -> None:
        tracker = tracker_for(trackingId)
        records: list[StreamRecord] = []
        for index, event in enumerate(eventList):
            where = f"eventList.{index + 1}"
            properties = _properties(event.get("properties"), where)
            item_id = event.get("itemId") or properties.get("itemId")
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
                "itemId": str(item_id) if item_id is not None else None,
                "sentAt": _epoch(event["sentAt"]),
                "recommendationId": event.get("recommendationId"),
                "impression": event.get("impression"),
                "metricAttribution": event.get("metricAttribution"),
                "properties": properties or None,
            }
            records.append(StreamRecord(userId or sessionId, json.dumps(payload).encode()))
        EventStream().put(records)

    def put_action_interactions(self, trackingId: str, actionInteractions: list[dict[str, Any]]) -> None:
        tracker = tracker_for(trackingId)
        records: list[StreamRecord] = []
        for index, interaction in enumerate(actionInteractions):
            where = f"actionInteractions.{index + 1}"
            properties = _properties(interaction.get("properties"), where)
            payload = {
                "kind": "action-interaction",
                "trackingId": trackingId,
                "datasetGroupArn": tracker["datasetGroupArn"],
                "userId": interaction.get("userId"),
                "sessionId": interaction["sessionId"],
                "eventId": interaction.get("eventId") or str(uuid.uuid4()),
                "eventType": interaction["eventType"],
                "actionId": interaction["actionId"],
                "itemId": interaction["actionId"],
                "sentAt": _epoch(interaction["timestamp"]),
                "recommendationId": interaction.get("recommendationId"),
                "impression": interaction.get("impression"),
                "properties": properties or None,
            }
            key = interaction.get("userId") or interaction["sessionId"]
            records.append(StreamRecord(key, json.dumps(payload).encode()))
        EventStream().put(records)

    def _put_records(self, kind: str, datasetArn: str, entries: list[dict[str, Any]]) -> None:
        dataset_type, id_field, id_member = RECORD_KINDS[kind]
        dataset, schema = dataset_for(datasetArn, dataset_type)
        records: list[StreamRecord] = []
        for index, entry in enumerate(entries):
            fields = check_record(schema, id_field, entry.get("properties"), f"{kind}.{index + 1}")
            payload = {
                "kind": "record",
                "datasetArn": datasetArn,
                "datasetGroupArn": dataset["datasetGroupArn"],
                "datasetType": dataset_type,
                "id": entry[id_member],
                "fields": fields,
                "writtenAt": time.time(),
            }
            records.append(StreamRecord(datasetArn, json.dumps(payload).encode()))
        EventStream().put(records)

    def put_items(self, datasetArn: str, items: list[dict[str, Any]]) -> None:
        self._put_records("items", datasetArn, items)

    def put_users(self, datasetArn: str, users: list[dict[str, Any]]) -> None:
        self._put_records("users", datasetArn, users)

    def put_actions(self, datasetArn: str, actions: list[dict[str, Any]]) -> None:
        self._put_records("actions", datasetArn, actions)
