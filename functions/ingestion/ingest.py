"""Kinesis consumer: applies events to user history, metadata records to their dataset's overlay, and
archives events for the next training.

Records are processed one by one with Powertools' BatchProcessor. Two kinds of failure differ:
- a record that can never be applied (not JSON, missing fields, unknown kind) is a ``PoisonRecord``:
  it goes to the dead-letter queue at once, with its reason and its data, and the rest of the batch
  is kept. Retrying it would only delay its batch-mates.
- anything else (a DynamoDB or S3 error) is reported as a batch item failure, so the event-source
  mapping retries it, bisecting the batch, and after its retries sends it to the on-failure destination.
Every write is idempotent (history appends are conditional on the event id, overlay writes set a
record to a value), so a redelivered record changes nothing. Metric attribution reports (CloudWatch)
follow each batch: a redelivered event counts again there, and a reporting failure fails nothing.

Anonymous sessions: events sent with a ``sessionId`` and no ``userId`` are kept under the session.
When an event arrives with both, the session's events are copied into the user's history (each once,
by event id), as Personalize joins a session to the user who signs in during it.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

from functions.attribution.reports import report_events
from functions.config import settings
from functions.resources import artifacts
from functions.stores.blobs import BlobStore
from functions.stores.clients import client
from functions.stores.history import (
    HistoryEvent,
    HistoryStore,
    action_history_key,
    history_key,
    session_key,
)
from functions.stores.overlay import OverlayStore

_REQUIRED = {
    "event": ("datasetGroupArn", "eventId", "eventType", "sentAt", "sessionId"),
    "action-interaction": ("datasetGroupArn", "eventId", "eventType", "sentAt", "sessionId", "actionId"),
    "record": ("datasetArn", "datasetGroupArn", "id", "fields"),
}

logger = logging.getLogger(__name__)

# (session key, user id) pairs already joined by this process: joining costs a read per event.
_joined: set[tuple[str, str]] = set()


class PoisonRecord(ValueError):
    """A record that can never be applied: retrying it will not help."""


def _decode(record: KinesisStreamRecord) -> dict[str, Any]:
    sequence = record.kinesis.sequence_number
    try:
        payload = json.loads(record.kinesis.data_as_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise PoisonRecord(f"record {sequence} is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise PoisonRecord(f"record {sequence} is not a JSON object")
    kind = payload.get("kind", "event")
    required = _REQUIRED.get(kind)
    if required is None:
        raise PoisonRecord(f"record {sequence} has an unknown kind {kind!r}")
    missing = [k for k in required if payload.get(k) in (None, "")]
    if missing:
        raise PoisonRecord(f"record {sequence} ({kind}) lacks {', '.join(missing)}")
    return payload


class Ingest:
    def __init__(self) -> None:
        self.history = HistoryStore()
        self.overlays = OverlayStore()
        self.applied: list[dict[str, Any]] = []
        self.poisoned: list[dict[str, Any]] = []

    def apply(self, record: KinesisStreamRecord) -> None:
        try:
            payload = _decode(record)
        except PoisonRecord as poison:
            self.poisoned.append(
                {
                    "reason": str(poison),
                    "sequenceNumber": record.kinesis.sequence_number,
                    "partitionKey": record.kinesis.partition_key,
                    "data": record.kinesis.data,
                    "eventSourceARN": record.event_source_arn,
                }
            )
            return
        kind = payload.get("kind", "event")
        if kind == "record":
            record = {**payload["fields"], "_writtenAt": payload.get("writtenAt")}
            self.overlays.upsert(payload["datasetArn"], str(payload["id"]), record)
            return
        if kind == "action-interaction":
            self._append(payload, action_history_key, payload["actionId"])
            return
        self._event(payload)

    def _event(self, payload: dict[str, Any]) -> None:
        group, user, session = payload["datasetGroupArn"], payload.get("userId"), payload["sessionId"]
        if user:
            self._join_session(group, session, user)
        if not payload.get("itemId"):
            # Events without an item still count for the archive (e.g. impressions-only); no history.
            self.applied.append(payload)
            return
        self._append(payload, history_key, payload["itemId"])

    def _append(self, payload: dict[str, Any], user_key: Any, item_id: str) -> None:
        group = payload["datasetGroupArn"]
        key = (
            user_key(group, payload["userId"])
            if payload.get("userId")
            else session_key(group, payload["sessionId"])
        )
        event = HistoryEvent(payload["eventId"], str(item_id), float(payload["sentAt"]), payload["eventType"])
        self.history.append(key, event)
        # Archived even when the history already had it: a redelivery after a failed archive write must
        # not lose the event from training data; training de-duplicates by event id.
        self.applied.append(payload)

    def _join_session(self, group: str, session: str, user: str) -> None:
        anonymous = session_key(group, session)
        if (anonymous, user) in _joined:
            return
        for event in self.history.events(anonymous):
            self.history.append(history_key(group, user), event)
        _joined.add((anonymous, user))

    def archive(self) -> None:
        by_group: dict[str, list[dict[str, Any]]] = {}
        for payload in self.applied:
            by_group.setdefault(payload["datasetGroupArn"], []).append(payload)
        for group, payloads in by_group.items():
            body = "".join(json.dumps(p) + "\n" for p in payloads).encode()
            key = f"{artifacts.event_archive_prefix(group)}{uuid.uuid4()}.jsonl"
            BlobStore().put(settings().artifacts_bucket, key, body)

    def dead_letter(self) -> None:
        if not self.poisoned:
            return
        sqs = client("sqs")
        url = sqs.get_queue_url(QueueName=settings().dlq_queue)["QueueUrl"]
        for start in range(0, len(self.poisoned), 10):
            chunk = self.poisoned[start : start + 10]
            sqs.send_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "MessageBody": json.dumps(p)} for i, p in enumerate(chunk)],
            )


def process(event: dict[str, Any]) -> dict[str, Any]:
    ingest = Ingest()
    processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
    result = process_partial_response(event=event, record_handler=ingest.apply, processor=processor)
    # Poison records are parked before the batch is acknowledged: if this fails, the whole batch is
    # retried and nothing is lost (re-applying the good records is idempotent).
    ingest.dead_letter()
    ingest.archive()
    _report_metrics(ingest.applied)
    return result


def _report_metrics(applied: list[dict[str, Any]]) -> None:
    """Metric attribution reports for the batch. The events are already applied and archived, and a
    retry would apply them again: a reporting failure is logged, never a failed batch."""
    try:
        report_events(applied)
    except Exception:  # noqa: BLE001 - reports must not cost events
        logger.exception("metric attribution reports for %d events were not sent", len(applied))
