"""Ingest Lambda: the Kinesis event-source mapping's consumer (partial batch responses)."""

from __future__ import annotations

from typing import Any

from functions.ingestion.ingest import process


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process(event)
