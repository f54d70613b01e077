"""``nextToken``/``maxResults`` over a list: one helper for every List operation.

Tokens are opaque to clients but bound to the listing that issued them, so a token from one List call
cannot be replayed against another.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from functions.protocol.errors import InvalidNextTokenException

T = TypeVar("T")
DEFAULT_MAX_RESULTS = 100


def _scope_digest(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:12]


def encode_token(offset: int, scope: str) -> str:
    raw = json.dumps({"o": offset, "s": _scope_digest(scope)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(token: str, scope: str) -> int:
    try:
        data: Any = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(data["o"])
        ok = data["s"] == _scope_digest(scope) and offset >= 0
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidNextTokenException("The nextToken is not valid.") from exc
    if not ok:
        raise InvalidNextTokenException("The nextToken is not valid for this request.")
    return offset


def paginate(
    items: Sequence[T], scope: str, next_token: str | None, max_results: int | None
) -> tuple[list[T], str | None]:
    """One page of ``items`` and the token for the next page (None on the last)."""
    start = decode_token(next_token, scope) if next_token else 0
    size = max_results or DEFAULT_MAX_RESULTS
    page = list(items[start : start + size])
    end = start + len(page)
    return page, (encode_token(end, scope) if end < len(items) else None)
