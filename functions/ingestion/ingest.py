"""Kinesis consumer: applies events to user history and archives them for the next training.

Records are processed one by one with Powertools' BatchProcessor, so one bad record is reported as a
batch item failure (and ends in the DLQ after the mapping's retries) instead of blocking the shard.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from functions.config import settings
from functions.resources import artifacts
from functions.stores.blobs import BlobStore
from functions.stores.history import HistoryEvent, HistoryStore, history_key, session_key


class PoisonRecord(ValueError):
    """A record that can never be applied: retrying it will not help."""


def _decode(record: KinesisStreamRecord) -> dict[str, Any]:
    try:
        payload = json.loads(record.kinesis.data_as_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise PoisonRecord(f"record {record.kinesis.sequence_number} is not JSON: {exc}") from exc
    required = ("datasetGroupArn", "eventId", "eventType", "sentAt", "sessionId")
    if not isinstance(payload, dict) or any(payload.get(k) in (None, "") for k in required):
        raise PoisonRecord(f"record {record.kinesis.sequence_number} lacks one of {', '.join(required)}")
    return payload


class Ingest:
    def __init__(self) -> None:
        self.history = HistoryStore()
        self.applied: list[dict[str, Any]] = []

    def apply(self, record: KinesisStreamRecord) -> None:
        payload = _decode(record)
        if not payload.get("itemId"):
            # Events without an item still count for the archive (e.g. impressions-only); no history.
            self.applied.append(payload)
            return
        group = payload["datasetGroupArn"]
        key = (
            history_key(group, payload["userId"])
            if payload.get("userId")
            else session_key(group, payload["sessionId"])
        )
        event = HistoryEvent(
            payload["eventId"], payload["itemId"], float(payload["sentAt"]), payload["eventType"]
        )
        if self.history.append(key, event):
            self.applied.append(payload)

    def archive(self) -> None:
        by_group: dict[str, list[dict[str, Any]]] = {}
        for payload in self.applied:
            by_group.setdefault(payload["datasetGroupArn"], []).append(payload)
        for group, payloads in by_group.items():
            body = "".join(json.dumps(p) + "\n" for p in payloads).encode()
            key = f"{artifacts.event_archive_prefix(group)}{uuid.uuid4()}.jsonl"
            BlobStore().put(settings().artifacts_bucket, key, body)


def process(event: dict[str, Any]) -> dict[str, Any]:
    ingest = Ingest()
    processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
    result = process_partial_response(event=event, record_handler=ingest.apply, processor=processor)
    ingest.archive()
    return result
