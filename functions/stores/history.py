"""Real-time interaction history per user, written by the ingest function, read by the runtime.

One DynamoDB item per (dataset group, user or session). Each append is a single conditional update
that also records the event id, so a redelivered Kinesis record is never counted twice and
concurrent batches for the same user never overwrite each other.
"""

from __future__ import annotations

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
        return True

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
        item = self._ddb().get_item(TableName=self.table, Key={"pk": {"S": key}}).get("Item")
        if not item:
            return []
        return [
            HistoryEvent(e["M"]["d"]["S"], e["M"]["i"]["S"], float(e["M"]["t"]["N"]), e["M"]["e"]["S"])
            for e in item.get("events", {}).get("L", [])
        ]
