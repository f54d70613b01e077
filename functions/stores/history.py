"""Real-time interaction history per user, written by the ingest function, read by the runtime.

One DynamoDB item per (dataset group, user or session). Each append is a single conditional update
that also records the event id, so a redelivered Kinesis record is never counted twice and
concurrent batches for the same user never overwrite each other.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from functions.config import settings
from functions.stores.clients import client

# Serving only needs the recent past: models read at most a few hundred items of history.
MAX_EVENTS_KEPT = 500


@dataclass(frozen=True)
class HistoryEvent:
    event_id: str
    item_id: str
    timestamp: float
    event_type: str


def history_key(dataset_group_arn: str, user_id: str) -> str:
    return f"{dataset_group_arn}|user|{user_id}"


def action_history_key(dataset_group_arn: str, user_id: str) -> str:
    return f"{dataset_group_arn}|action-user|{user_id}"


def session_key(dataset_group_arn: str, session_id: str) -> str:
    return f"{dataset_group_arn}|session|{session_id}"


def _as_item(e: HistoryEvent) -> dict[str, Any]:
    return {
        "M": {
            "d": {"S": e.event_id},
            "i": {"S": e.item_id},
            "t": {"N": repr(e.timestamp)},
            "e": {"S": e.event_type},
        }
    }


class LocalMirror:
    """A read-through, write-through copy of the history table, for one process that makes every write.

    The embedded local service runs the ingest consumer in the same process as the runtime, so it
    can keep each user's history in memory and spare the runtime a DynamoDB read per request (in
    moto, that read was most of a GetRecommendations' cost). A deployment never enables it: there
    the ingest and runtime Lambdas are different processes and the table is the only truth.

    A read that misses loads the item and installs it only if no append to that key happened while
    it was reading (``_written`` holds the sequence number of each key's last append; keys evicted
    from it raise ``_floor``, which then stands for them), so a racing append is never lost.
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._events: OrderedDict[str, list[HistoryEvent]] = OrderedDict()
        self._written: OrderedDict[str, int] = OrderedDict()
        self._sequence = 0
        self._floor = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> tuple[list[HistoryEvent] | None, int]:
        with self._lock:
            found = self._events.get(key)
            if found is not None:
                self._events.move_to_end(key)
                return list(found), self._sequence
            return None, self._sequence

    def install(self, key: str, events: list[HistoryEvent], read_at: int) -> None:
        with self._lock:
            if self._written.get(key, self._floor) > read_at:
                return  # an append raced the read: the next read loads the newer item
            self._events[key] = list(events)
            self._events.move_to_end(key)
            while len(self._events) > self.capacity:
                self._events.popitem(last=False)

    def clear(self) -> None:
        """Forget every cached history (another process deleted some); a read that started before
        cannot install what it read."""
        with self._lock:
            self._sequence += 1
            self._floor = self._sequence
            self._events.clear()
            self._written.clear()

    def appended(self, key: str, event: HistoryEvent) -> None:
        with self._lock:
            self._sequence += 1
            self._written[key] = self._sequence
            self._written.move_to_end(key)
            while len(self._written) > self.capacity:
                _, evicted = self._written.popitem(last=False)
                self._floor = max(self._floor, evicted)
            cached = self._events.get(key)
            if cached is not None:
                cached.append(event)
                del cached[:-MAX_EVENTS_KEPT]


_mirror: LocalMirror | None = None


def clear_local_mirror() -> None:
    """Drop the process-local copy's contents (after a data deletion job); nothing without one."""
    if _mirror is not None:
        _mirror.clear()


def set_local_mirror(mirror: LocalMirror | None) -> None:
    """Enable (the embedded local service) or disable the process-local history copy."""
    global _mirror
    _mirror = mirror


class HistoryStore:
    def __init__(self, table: str | None = None) -> None:
        self.table = table or settings().history_table

    def _ddb(self) -> Any:
        return client("dynamodb")

    def append(self, key: str, event: HistoryEvent) -> bool:
        """Append ``event`` unless its id was appended before; True when it was new."""
        try:
            result = self._ddb().update_item(
                TableName=self.table,
                Key={"pk": {"S": key}},
                UpdateExpression=(
                    "SET events = list_append(if_not_exists(events, :empty), :new) ADD eventIds :ids"
                ),
                ConditionExpression="attribute_not_exists(eventIds) OR NOT contains(eventIds, :id)",
                ExpressionAttributeValues={
                    ":empty": {"L": []},
                    ":new": {"L": [_as_item(event)]},
                    ":ids": {"SS": [event.event_id]},
                    ":id": {"S": event.event_id},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        stored = result.get("Attributes", {}).get("events", {}).get("L", [])
        if len(stored) > MAX_EVENTS_KEPT:
            self._trim(key, stored[-MAX_EVENTS_KEPT:])
        if _mirror is not None:
            _mirror.appended(key, event)
        return True

    def delete(self, key: str) -> bool:
        """Remove the history under ``key``; True when there was one."""
        result = self._ddb().delete_item(TableName=self.table, Key={"pk": {"S": key}}, ReturnValues="ALL_OLD")
        return bool(result.get("Attributes"))

    def _trim(self, key: str, kept: list[dict[str, Any]]) -> None:
        # Rare, and loses only the oldest events, which serving no longer reads.
        ids = [e["M"]["d"]["S"] for e in kept]
        self._ddb().update_item(
            TableName=self.table,
            Key={"pk": {"S": key}},
            UpdateExpression="SET events = :kept, eventIds = :ids",
            ExpressionAttributeValues={":kept": {"L": kept}, ":ids": {"SS": ids}},
        )

    def events(self, key: str) -> list[HistoryEvent]:
        mirror = _mirror
        if mirror is None:
            return self._read(key)
        cached, read_at = mirror.get(key)
        if cached is not None:
            return cached
        events = self._read(key)
        mirror.install(key, events, read_at)
        return events

    def _read(self, key: str) -> list[HistoryEvent]:
        item = self._ddb().get_item(TableName=self.table, Key={"pk": {"S": key}}).get("Item")
        if not item:
            return []
        return [
            HistoryEvent(e["M"]["d"]["S"], e["M"]["i"]["S"], float(e["M"]["t"]["N"]), e["M"]["e"]["S"])
            for e in item.get("events", {}).get("L", [])
        ]
