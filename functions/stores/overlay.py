"""Metadata records written at runtime (PutItems, PutUsers, PutActions), layered over the imported data.

An import replaces a dataset's CSV files; PutItems and friends must take effect within seconds without
one. Each dataset gets one DynamoDB item (in the history table, key ``overlay|<dataset ARN>``) holding a
map ``records`` of id -> JSON record and a ``version`` counter that every write increments. Readers (the
runtime) poll the counter, which is one small read, and fetch the map only when it moved.

A DynamoDB item is limited to 400 KB, so when the map grows past ``COMPACT_AT_BYTES`` the writer folds
it into an S3 snapshot (``overlays/...`` in the artifacts bucket) and empties the map; readers load the
snapshot named by ``snapshotKey`` when it changes. Writes are idempotent (setting a record to the same
value twice leaves the same state), so a Kinesis redelivery is harmless. Every record also carries the
time it was written so a reader can tell an item's age (exploration of new items).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from functions.config import settings
from functions.resources import artifacts
from functions.stores.blobs import BlobStore
from functions.stores.clients import client

# Below DynamoDB's 400 KB item limit with room for one more record of the largest size (32 KB).
COMPACT_AT_BYTES = 300_000


def overlay_key(dataset_arn: str) -> str:
    return f"overlay|{dataset_arn}"


@dataclass
class Overlay:
    version: int = 0
    snapshot_key: str | None = None
    records: dict[str, dict[str, Any]] = field(default_factory=dict)


class OverlayStore:
    def __init__(self, table: str | None = None) -> None:
        self.table = table or settings().history_table

    def _ddb(self) -> Any:
        return client("dynamodb")

    def upsert(self, dataset_arn: str, record_id: str, record: dict[str, Any]) -> None:
        """Set ``record_id``'s record (a JSON-able dict) and bump the version."""
        body = json.dumps(record, sort_keys=True)
        key = {"pk": {"S": overlay_key(dataset_arn)}}
        update = {
            "TableName": self.table,
            "Key": key,
            "UpdateExpression": "SET records.#id = :r ADD version :one, byteCount :size",
            "ExpressionAttributeNames": {"#id": record_id},
            "ExpressionAttributeValues": {
                ":r": {"S": body},
                ":one": {"N": "1"},
                ":size": {"N": str(len(body) + len(record_id))},
            },
            "ReturnValues": "UPDATED_NEW",
        }
        try:
            result = self._ddb().update_item(**update)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ValidationException":
                raise
            # The map does not exist yet: a nested SET needs its parent. Create it, then set the record.
            self._create_map(key)
            result = self._ddb().update_item(**update)
        size = int(result.get("Attributes", {}).get("byteCount", {}).get("N", "0"))
        if size > COMPACT_AT_BYTES:
            self.compact(dataset_arn)

    def _create_map(self, key: dict[str, Any]) -> None:
        try:
            self._ddb().update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET records = :empty",
                ConditionExpression="attribute_not_exists(records)",
                ExpressionAttributeValues={":empty": {"M": {}}},
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def compact(self, dataset_arn: str) -> None:
        """Fold the DynamoDB map into a new S3 snapshot, then empty the map if nothing changed meanwhile."""
        current = self.read(dataset_arn)
        merged = dict(self._snapshot_records(current.snapshot_key))
        merged.update(current.records)
        key = f"{artifacts.overlay_prefix(dataset_arn)}{uuid.uuid4().hex}.json"
        BlobStore().put(settings().artifacts_bucket, key, json.dumps(merged).encode())
        try:
            self._ddb().update_item(
                TableName=self.table,
                Key={"pk": {"S": overlay_key(dataset_arn)}},
                UpdateExpression=(
                    "SET records = :empty, snapshotKey = :key, byteCount = :zero ADD version :one"
                ),
                ConditionExpression="version = :seen",
                ExpressionAttributeValues={
                    ":empty": {"M": {}},
                    ":key": {"S": key},
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":seen": {"N": str(current.version)},
                },
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            # A write raced the fold: keep the map (it is still complete) and let the next write retry.
            BlobStore().delete(settings().artifacts_bucket, [key])
            return
        if current.snapshot_key:
            BlobStore().delete(settings().artifacts_bucket, [current.snapshot_key])

    def remove(self, dataset_arn: str, record_ids: set[str]) -> int:
        """Delete these records (map and snapshot) and bump the version; how many existed.

        The snapshot is rewritten under a new key without them; like ``compact``, the switch is
        conditional on the version it read, and a racing write makes it retry on the newer state."""
        for _ in range(10):
            current = self.read(dataset_arn)
            snapshot = self._snapshot_records(current.snapshot_key)
            in_map = sorted(record_ids & current.records.keys())
            in_snapshot = record_ids & snapshot.keys()
            if not in_map and not in_snapshot:
                return 0
            names = {f"#r{i}": record_id for i, record_id in enumerate(in_map)}
            removals = ", ".join(f"records.{name}" for name in names)
            values: dict[str, Any] = {":one": {"N": "1"}, ":seen": {"N": str(current.version)}}
            sets = ""
            new_key = None
            if in_snapshot:
                new_key = f"{artifacts.overlay_prefix(dataset_arn)}{uuid.uuid4().hex}.json"
                kept = {k: v for k, v in snapshot.items() if k not in record_ids}
                BlobStore().put(settings().artifacts_bucket, new_key, json.dumps(kept).encode())
                sets = "SET snapshotKey = :key "
                values[":key"] = {"S": new_key}
            update = {
                "TableName": self.table,
                "Key": {"pk": {"S": overlay_key(dataset_arn)}},
                "UpdateExpression": sets + (f"REMOVE {removals} " if removals else "") + "ADD version :one",
                "ConditionExpression": "version = :seen",
                "ExpressionAttributeValues": values,
            }
            if names:
                update["ExpressionAttributeNames"] = names
            try:
                self._ddb().update_item(**update)
            except ClientError as err:
                if new_key:
                    BlobStore().delete(settings().artifacts_bucket, [new_key])
                if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                continue
            if new_key and current.snapshot_key:
                BlobStore().delete(settings().artifacts_bucket, [current.snapshot_key])
            return len(set(in_map) | in_snapshot)
        raise RuntimeError(f"could not remove records of {dataset_arn}: writes kept racing the removal")

    def version(self, dataset_arn: str) -> tuple[int, str | None]:
        """The version counter and snapshot key: the cheap read a poller makes."""
        item = (
            self._ddb()
            .get_item(
                TableName=self.table,
                Key={"pk": {"S": overlay_key(dataset_arn)}},
                ProjectionExpression="version, snapshotKey",
            )
            .get("Item")
        )
        if not item:
            return 0, None
        return int(item["version"]["N"]), item.get("snapshotKey", {}).get("S")

    def read(self, dataset_arn: str) -> Overlay:
        """The map part only (records written since the last snapshot) with its version."""
        item = (
            self._ddb()
            .get_item(TableName=self.table, Key={"pk": {"S": overlay_key(dataset_arn)}}, ConsistentRead=True)
            .get("Item")
        )
        if not item:
            return Overlay()
        records = {k: json.loads(v["S"]) for k, v in item.get("records", {}).get("M", {}).items()}
        version = int(item.get("version", {}).get("N", "0"))
        return Overlay(version, item.get("snapshotKey", {}).get("S"), records)

    def all_records(self, dataset_arn: str) -> Overlay:
        """Snapshot and map merged: every record written since the dataset's last import."""
        overlay = self.read(dataset_arn)
        merged = dict(self._snapshot_records(overlay.snapshot_key))
        merged.update(overlay.records)
        return Overlay(overlay.version, overlay.snapshot_key, merged)

    @staticmethod
    def _snapshot_records(key: str | None) -> dict[str, dict[str, Any]]:
        if not key:
            return {}
        data: dict[str, dict[str, Any]] = json.loads(BlobStore().get(settings().artifacts_bucket, key))
        return data
