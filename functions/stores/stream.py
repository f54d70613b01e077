"""The Kinesis stream between the events API and the ingest function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from functions.config import settings
from functions.protocol.errors import InternalFailure
from functions.stores.clients import client


@dataclass(frozen=True)
class StreamRecord:
    partition_key: str
    data: bytes


class EventStream:
    def __init__(self, stream: str | None = None) -> None:
        self.stream = stream or settings().events_stream

    def put(self, records: list[StreamRecord]) -> None:
        """Write all records or raise: the caller answers the client only after Kinesis accepted them."""
        pending = records
        for _ in range(3):
            result: Any = client("kinesis").put_records(
                StreamName=self.stream,
                Records=[{"PartitionKey": r.partition_key, "Data": r.data} for r in pending],
            )
            if not result.get("FailedRecordCount"):
                return
            pending = [r for r, out in zip(pending, result["Records"], strict=True) if "ErrorCode" in out]
        raise InternalFailure(f"Kinesis rejected {len(pending)} event records; nothing was lost, retry.")
