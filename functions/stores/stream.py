"""The Kinesis stream between the events API and the ingest function.

Concurrent requests in one process share PutRecords calls (group commit): the first caller to find
no write in flight sends everything queued so far, up to Kinesis' 500 records per call, while later
callers wait for the call that carries their records. A lone request sends its own records at once,
so nothing waits on a timer; under load, one call carries many requests' records, which is what lifts
PutEvents throughput where each call is expensive (the embedded service's moto). Every caller still
returns only after Kinesis accepted all of its own records, or raises.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from functions.config import settings
from functions.protocol.errors import InternalFailure
from functions.stores.clients import client

MAX_RECORDS_PER_CALL = 500
ATTEMPTS = 3


@dataclass(frozen=True)
class StreamRecord:
    partition_key: str
    data: bytes


@dataclass
class _Request:
    records: list[StreamRecord]
    done: Future[None]


class _GroupCommit:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: dict[str, list[_Request]] = {}
        self._writing: set[str] = set()

    def put(self, stream: str, records: list[StreamRecord]) -> None:
        request = _Request(records, Future())
        with self._lock:
            self._queue.setdefault(stream, []).append(request)
            if stream in self._writing:
                leader = False
            else:
                self._writing.add(stream)
                leader = True
        if leader:
            self._drain(stream)
        request.done.result()

    def _drain(self, stream: str) -> None:
        while True:
            with self._lock:
                queued = self._queue.get(stream, [])
                batch: list[_Request] = []
                count = 0
                while queued and (not batch or count + len(queued[0].records) <= MAX_RECORDS_PER_CALL):
                    count += len(queued[0].records)
                    batch.append(queued.pop(0))
                if not batch:
                    self._writing.discard(stream)
                    return
            try:
                failed = _put_records(stream, [r for request in batch for r in request.records])
            except Exception as exc:  # noqa: BLE001 - every waiting request learns of it
                for request in batch:
                    request.done.set_exception(exc)
                continue
            for request in batch:
                lost = sum(1 for r in request.records if id(r) in failed)
                if lost:
                    request.done.set_exception(
                        InternalFailure(f"Kinesis rejected {lost} event records; nothing was lost, retry.")
                    )
                else:
                    request.done.set_result(None)


def _put_records(stream: str, records: list[StreamRecord]) -> set[int]:
    """Send ``records`` with retries of the failed ones; the ids of records still failed at the end."""
    pending = records
    for _ in range(ATTEMPTS):
        result: Any = client("kinesis").put_records(
            StreamName=stream,
            Records=[{"PartitionKey": r.partition_key, "Data": r.data} for r in pending],
        )
        if not result.get("FailedRecordCount"):
            return set()
        pending = [r for r, out in zip(pending, result["Records"], strict=True) if "ErrorCode" in out]
    return {id(r) for r in pending}


_GROUP = _GroupCommit()


class EventStream:
    def __init__(self, stream: str | None = None) -> None:
        self.stream = stream or settings().events_stream

    def put(self, records: list[StreamRecord]) -> None:
        """Write all records or raise: the caller answers the client only after Kinesis accepted them."""
        _GROUP.put(self.stream, records)
