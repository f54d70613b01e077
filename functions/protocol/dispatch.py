"""From API Gateway event to operation and back: authentication, validation, error serialisation.

The control plane speaks AWS JSON 1.1 (one POST / with ``X-Amz-Target``), the runtime and events APIs
speak rest-json (one path per operation). Both share authentication, model validation and the one
mapping from ``TailorError`` to the wire.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from functions.protocol import service_model
from functions.protocol.apigw import HttpRequest, parse_event, response
from functions.protocol.errors import InternalFailure, InvalidInputException, TailorError
from functions.protocol.key_store import KeyStore, key_store_from_env
from functions.protocol.sigv4 import verify_request

logger = Logger(service="tailor")

JSON11_TARGET_PREFIX = "AmazonPersonalize."
JSON11_CONTENT_TYPE = "application/x-amz-json-1.1"


@dataclass(frozen=True)
class RequestContext:
    """Who is calling and where: every operation gets one."""

    account_id: str
    region: str
    request_id: str


Operation = Callable[[RequestContext, dict[str, Any]], dict[str, Any] | None]

_key_store: KeyStore | None = None


def key_store() -> KeyStore:
    global _key_store
    if _key_store is None:
        _key_store = key_store_from_env()
    return _key_store


def set_key_store(store: KeyStore | None) -> None:
    """Replace the key store (tests, or a deployment with Secrets Manager)."""
    global _key_store
    _key_store = store


_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake_case(operation: str) -> str:
    return _CAMEL.sub("_", operation).lower()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _error(err: TailorError, request_id: str, json11: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"message": err.message}
    if json11:
        body = {"__type": err.code, "message": err.message}
    headers = {
        "x-amzn-RequestId": request_id,
        "x-amzn-ErrorType": err.code,
        "Content-Type": JSON11_CONTENT_TYPE if json11 else "application/json",
    }
    return response(err.status, body, headers)


def _authenticate(request: HttpRequest) -> RequestContext:
    principal = verify_request(
        request.method, request.path, request.query, request.headers, request.body, key_store()
    )
    return RequestContext(principal.account_id, principal.region, request.request_id)


def _parse_body(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInputException(f"The request body is not valid JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise InvalidInputException("The request body must be a JSON object.")
    return parsed


def _run(
    event: Mapping[str, Any],
    service: str,
    resolve: Callable[[HttpRequest], str],
    operations: Callable[[RequestContext], object],
    json11: bool,
) -> dict[str, Any]:
    request_id = str(uuid.uuid4())
    try:
        request = parse_event(event)
        request_id = request.request_id or request_id
        ctx = _authenticate(request)
        operation = resolve(request)
        params = service_model.validate_input(service, operation, _parse_body(request.body))
        impl = getattr(operations(ctx), snake_case(operation), None)
        if impl is None:
            raise InvalidInputException(f"Operation {operation} is not supported by Tailor yet.")
        result = impl(**params) or {}
        headers = {
            "x-amzn-RequestId": request_id,
            "Content-Type": JSON11_CONTENT_TYPE if json11 else "application/json",
        }
        return response(200, json.dumps(result, default=_json_default), headers)
    except TailorError as err:
        if err.status >= 500:
            logger.exception("internal failure")
        return _error(err, request_id, json11)
    except Exception:  # a bug must still answer as AWS does, never as a crashed handler
        logger.exception("unhandled error")
        failure = InternalFailure("The request processing has failed because of an unknown error.")
        return _error(failure, request_id, json11)


def handle_json11(
    event: Mapping[str, Any], service: str, operations: Callable[[RequestContext], object]
) -> dict[str, Any]:
    def resolve(request: HttpRequest) -> str:
        target = request.headers.get("x-amz-target", "")
        if not target.startswith(JSON11_TARGET_PREFIX):
            raise service_model.UnknownOperationException(f"Unknown operation target {target!r}.")
        operation = target[len(JSON11_TARGET_PREFIX) :]
        service_model.operation_model(service, operation)
        return operation

    return _run(event, service, resolve, operations, json11=True)


def handle_restjson(
    event: Mapping[str, Any],
    service: str,
    operation_for_path: Mapping[str, str],
    operations: Callable[[RequestContext], object],
) -> dict[str, Any]:
    def resolve(request: HttpRequest) -> str:
        operation = operation_for_path.get(request.route_path)
        if operation is None:
            raise service_model.UnknownOperationException(f"No operation at {request.route_path}.")
        return operation

    return _run(event, service, resolve, operations, json11=False)
