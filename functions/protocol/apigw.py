"""API Gateway REST proxy events in and out: the only place that knows their shape."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


class Headers(Mapping[str, str]):
    """Case-insensitive header view, as HTTP defines them."""

    def __init__(self, raw: Mapping[str, str] | None) -> None:
        self._items = {k.lower(): v for k, v in (raw or {}).items()}

    def __getitem__(self, key: str) -> str:
        return self._items[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str  # the path the client signed, including any stage prefix
    route_path: str  # the path the route matched, without the stage
    headers: Headers
    query: dict[str, list[str]]
    body: bytes
    request_id: str


def parse_event(event: Mapping[str, Any]) -> HttpRequest:
    raw_body = event.get("body") or ""
    body = base64.b64decode(raw_body) if event.get("isBase64Encoded") else raw_body.encode("utf-8")
    headers = Headers(event.get("headers"))
    context = event.get("requestContext") or {}
    query = {k: list(v) for k, v in (event.get("multiValueQueryStringParameters") or {}).items()}
    route_path = event.get("path") or "/"
    return HttpRequest(
        method=event.get("httpMethod", "POST"),
        # API Gateway puts the stage-prefixed path the client signed in requestContext.path.
        path=context.get("path") or route_path,
        route_path=route_path,
        headers=headers,
        query=query,
        body=body,
        request_id=context.get("requestId", ""),
    )


def response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    return {
        "statusCode": status,
        "headers": dict(headers or {}),
        "body": text,
        "isBase64Encoded": False,
    }
