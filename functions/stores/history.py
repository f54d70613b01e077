"""Real-time interaction history per user, written by the ingest function, read by the runtime.

One DynamoDB item per (dataset group, user or session); events are appended in one conditional-free
update, so concurrent batches for the same user never overwrite each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.config import settings
from functions.stores.clients import client

# Serving only needs the recent past: models read at most a few hundred items of history.
MAX_EVENTS_KEPT = 500


@dataclass(frozen=True)
class HistoryEvent:
    item_id: str
    timestamp: float
    event_type: str


def history_key(dataset_group_arn: str, user_id: str) -> str:
    return f"{dataset_group_arn}|user|{user_id}"


def session_key(dataset_group_arn: str, session_id: str) -> str:
    return f"{dataset_group_arn}|session|{session_id}"


class HistoryStore:
    def __init__(self, table: str | None = None) -> None:
        self.table = table or settings().history_table

    def _ddb(self) -> Any:
        return client("dynamodb")

    def append(self, key: str, events: list[HistoryEvent]) -> None:
        if not events:
            return
        new = {
            "L": [
                {"M": {"i": {"S": e.item_id}, "t": {"N": repr(e.timestamp)}, "e": {"S": e.event_type}}}
                for e in events
            ]
        }
        result = self._ddb().update_item(
            TableName=self.table,
            Key={"pk": {"S": key}},
            UpdateExpression="SET events = list_append(if_not_exists(events, :empty), :new)",
            ExpressionAttributeValues={":empty": {"L": []}, ":new": new},
            ReturnValues="UPDATED_NEW",
        )
        stored = result.get("Attributes", {}).get("events", {}).get("L", [])
        if len(stored) > MAX_EVENTS_KEPT:
            # Trimming is rare and loses only the oldest events, which serving no longer reads.
            self._ddb().update_item(
                TableName=self.table,
                Key={"pk": {"S": key}},
                UpdateExpression="SET events = :kept",
                ExpressionAttributeValues={":kept": {"L": stored[-MAX_EVENTS_KEPT:]}},
            )

    def events(self, key: str) -> list[HistoryEvent]:
        item = self._ddb().get_item(TableName=self.table, Key={"pk": {"S": key}}).get("Item")
        if not item:
            return []
        return [
            HistoryEvent(e["M"]["i"]["S"], float(e["M"]["t"]["N"]), e["M"]["e"]["S"])
            for e in item.get("events", {}).get("L", [])
        ]


class IdempotencyStore:
    """Remembers processed event ids so a redelivered Kinesis record is not counted twice."""

    def __init__(self, table: str | None = None) -> None:
        self.table = table or settings().idempotency_table

    def claim(self, key: str, expires_at: int) -> bool:
        """True the first time ``key`` is seen, False on every later call."""
        from botocore.exceptions import ClientError

        try:
            client("dynamodb").put_item(
                TableName=self.table,
                Item={"pk": {"S": key}, "expiresAt": {"N": str(expires_at)}},
                ConditionExpression="attribute_not_exists(pk)",
            )
            return True
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
