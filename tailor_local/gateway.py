"""One port for everything: Personalize requests to the handlers, every other AWS request to moto.

Routing follows what a client can be told apart by without reading its body: the service in its SigV4
credential scope, then the declared routes. Requests for the Personalize API become the API Gateway
REST proxy events the deployed Lambdas receive, so the handlers cannot tell the two apart.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from io import BytesIO
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from functions import wiring
from functions.protocol.sigv4 import signing_scope
from tailor_local.handlers import DEFAULT_ACCOUNT_ID, HandlerRegistry

logger = logging.getLogger(__name__)

HEALTH_PATH = "/_tailor/health"
STAGE = "local"
PERSONALIZE_TARGET_PREFIX = "AmazonPersonalize."

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def credential_scope(authorization: str | None, query_string: str = "") -> tuple[str, str] | None:
    """(region, service) of the request's SigV4 credential, or None; never raises.

    A malformed signature must still reach a handler (or moto), which answers it with the precise
    AWS error.
    """
    scope = signing_scope({"authorization": authorization or ""}, query_string)
    return (scope[0], scope[1].lower()) if scope else None


@dataclass(frozen=True)
class Decision:
    """Where one request goes: a route's handler, the unknown-operation answer, or moto."""

    kind: str  # "handler" | "unknown" | "moto"
    route: wiring.Route | None = None


TO_MOTO = Decision("moto")
UNKNOWN_OPERATION = Decision("unknown")


def route_request(
    method: str,
    path: str,
    authorization: str | None,
    query_string: str,
    target: str | None,
    routes: Iterable[wiring.Route] = wiring.ROUTES,
) -> Decision:
    route = wiring.route_for(method, path, tuple(routes))
    scope = credential_scope(authorization, query_string)
    if scope is not None and scope[1] == wiring.SIGNING_SERVICE:
        return Decision("handler", route) if route else UNKNOWN_OPERATION
    if route is None:
        return TO_MOTO
    # The Personalize target names this API whatever the signature says; the handler judges the
    # signature and answers with Personalize's own errors.
    if (target or "").startswith(PERSONALIZE_TARGET_PREFIX):
        return Decision("handler", route)
    # Unsigned requests to the runtime and events paths belong to those APIs (the handler answers
    # MissingAuthenticationTokenException); signed for another service, the path is that service's
    # (an S3 bucket named "events", say).
    if scope is None and route.operation is not None:
        return Decision("handler", route)
    return TO_MOTO


def proxy_event(request: Request, route: wiring.Route, account_id: str, request_id: str) -> dict[str, Any]:
    """The API Gateway REST (v1) proxy event for ``request``."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    query_string = request.environ.get("QUERY_STRING", "")
    if isinstance(query_string, bytes):
        query_string = query_string.decode("latin-1")
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        query[key] = value
        multi_query.setdefault(key, []).append(value)
    raw = request.get_data(cache=False)
    body: str | None
    is_base64 = False
    if not raw:
        body = None
    else:
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            body = base64.b64encode(raw).decode("ascii")
            is_base64 = True
    now = time.time()
    return {
        "resource": route.path,
        "path": request.path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": account_id,
            "apiId": "tailor-local",
            "domainName": request.host,
            "httpMethod": request.method,
            "identity": {
                "sourceIp": request.remote_addr or "",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "path": request.path,
            "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "requestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "resourcePath": route.path,
            "stage": STAGE,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def _json_response(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status=status,
        headers=dict(headers or {}),
        content_type="application/json",
    )


def _api_gateway_error(status: int, message: str, error_type: str, request_id: str) -> Response:
    return _json_response(
        status,
        {"message": message},
        {"x-amzn-ErrorType": error_type, "x-amzn-RequestId": request_id},
    )


def proxy_response(result: Any, request_id: str) -> Response:
    """Turn a Lambda proxy result into HTTP as API Gateway does, 502 if it is malformed."""
    if not isinstance(result, Mapping) or "statusCode" not in result:
        logger.error("malformed Lambda proxy response: %r", result)
        return _api_gateway_error(502, "Internal server error", "InternalServerErrorException", request_id)
    try:
        status = int(result["statusCode"])
        body = result.get("body") or ""
        if result.get("isBase64Encoded"):
            data = base64.b64decode(body, validate=True)
        else:
            data = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
    except (TypeError, ValueError, binascii.Error):
        logger.exception("malformed Lambda proxy response")
        return _api_gateway_error(502, "Internal server error", "InternalServerErrorException", request_id)
    response = Response(data, status=status)
    response.headers.remove("Content-Type")
    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(name, str(value))
    for name, value in (result.get("headers") or {}).items():
        response.headers[name] = str(value)
    # API Gateway's default when the function names none.
    if "Content-Type" not in response.headers:
        response.headers["Content-Type"] = "application/json"
    if "x-amzn-RequestId" not in response.headers:
        response.headers["x-amzn-RequestId"] = request_id
    return response


class Gateway:
    """The WSGI application behind the one port."""

    def __init__(
        self,
        handlers: HandlerRegistry,
        moto_app: WSGIApp,
        health: Callable[[], dict[str, Any]] | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        routes: Iterable[wiring.Route] = wiring.ROUTES,
        function_threads: int = 32,
    ) -> None:
        self.handlers = handlers
        self._moto = moto_app
        self._health = health or (lambda: {"status": "ok"})
        self._account_id = account_id
        self._routes = tuple(routes)
        self.accepting = True
        # werkzeug serves every request on a fresh thread (and closes every connection), while the
        # functions cache their AWS clients per thread as a warm Lambda does: long-lived threads keep
        # those caches warm instead of rebuilding a boto3 client on every request.
        self._functions_pool = ThreadPoolExecutor(
            max_workers=function_threads, thread_name_prefix="tailor-fn"
        )
        # moto's Kinesis shards and DynamoDB tables are plain dicts with no locking: concurrent
        # PutRecord calls can draw the same sequence number (one record overwrites the other) and a
        # read can see a dict change size mid-iteration. Their calls are short, so one at a time.
        self._serialised = {service: threading.Lock() for service in ("kinesis", "dynamodb")}

    def send_in_process(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        """Answer a handler's own AWS call (S3, DynamoDB, Kinesis...) without a socket.

        Registered as botocore's ``before-send`` hook on the handlers' clients, the way moto's
        ``mock_aws`` answers in-process: the request still goes through this gateway (routing, moto's
        serialisation locks) but skips the HTTP round trip to our own port and the thread werkzeug
        starts per connection, which were most of the cost of a history read on the runtime's path.
        """
        parts = urlsplit(request.url)
        body = request.body
        if body is None:
            data = b""
        elif isinstance(body, bytes | bytearray):
            data = bytes(body)
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            data = body.read()
        headers = [
            (name, value.decode("latin-1") if isinstance(value, bytes) else str(value))
            for name, value in request.headers.items()
        ]
        environ = EnvironBuilder(
            path=parts.path or "/",
            base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query,
            method=request.method,
            headers=headers,
            data=data,
        ).get_environ()
        captured: dict[str, Any] = {}

        def start_response(
            status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
        ) -> None:
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = response_headers

        result = self(environ, start_response)
        try:
            payload = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return AWSResponse(
            request.url, captured["status"], HTTPHeaders.from_pairs(captured["headers"]), _RawBody(payload)
        )

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if not self.accepting:
            # Requests that raced the shutdown get a clear answer, not a half-stopped service.
            response = _json_response(503, {"message": "Tailor is shutting down"}, {"Connection": "close"})
            return response(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/") or "/"
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            return _json_response(200, self._health())(environ, start_response)
        decision = route_request(
            method,
            path,
            environ.get("HTTP_AUTHORIZATION"),
            environ.get("QUERY_STRING", ""),
            environ.get("HTTP_X_AMZ_TARGET"),
            self._routes,
        )
        if decision.kind == "moto":
            scope = credential_scope(environ.get("HTTP_AUTHORIZATION"), environ.get("QUERY_STRING", ""))
            lock = self._serialised.get(scope[1]) if scope else None
            if lock is None:
                return self._moto(environ, start_response)
            with lock:
                result = self._moto(environ, start_response)
                try:
                    return [b"".join(result)]
                finally:
                    close = getattr(result, "close", None)
                    if close is not None:
                        close()
        request_id = str(uuid.uuid4())
        if decision.kind == "unknown" or decision.route is None:
            response = _api_gateway_error(
                404,
                f"No Personalize operation at {method} {path}",
                "UnknownOperationException",
                request_id,
            )
            return response(environ, start_response)
        return self._invoke(Request(environ), decision.route, request_id)(environ, start_response)

    def _invoke(self, request: Request, route: wiring.Route, request_id: str) -> Response:
        event = proxy_event(request, route, self._account_id, request_id)
        try:
            result = self._functions_pool.submit(self.handlers.invoke, route.function, event, 29.0).result()
        except Exception:
            # What API Gateway answers when the integration fails; the traceback is for the operator.
            logger.exception("function %s failed on %s %s", route.function, route.method, route.path)
            return _api_gateway_error(
                502, "Internal server error", "InternalServerErrorException", request_id
            )
        return proxy_response(result, request_id)

    def close(self) -> None:
        self.accepting = False
        self._functions_pool.shutdown(wait=True, cancel_futures=True)


def _request_handler_base() -> type[WSGIRequestHandler]:
    # moto's handler keeps S3 metadata headers whose names contain underscores, which werkzeug drops.
    try:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
    except ImportError:  # pragma: no cover - moto[server] is a declared dependency
        return WSGIRequestHandler
    return MotoRequestHandler


class _QuietHandler(_request_handler_base()):  # type: ignore[misc]
    # Own subclass: werkzeug sets protocol_version on the handler class it is given, and moto's
    # class is shared with any ThreadedMotoServer in the process.
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logger.debug('"%s" %s %s', self.requestline, code, size)


class GatewayServer:
    """A threaded werkzeug server for ``app``, bound at construction (so port 0 is resolved)."""

    def __init__(self, app: WSGIApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=_QuietHandler
        )
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="tailor-gateway",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()


class _RawBody(BytesIO):
    """The ``raw`` botocore reads a response body from (it streams it in chunks)."""

    def stream(self, **_: Any) -> Iterable[bytes]:
        chunk = self.read()
        while chunk:
            yield chunk
            chunk = self.read()


def moto_wsgi_app() -> WSGIApp:
    """moto's server-mode application, as ``ThreadedMotoServer`` builds it, but without a socket.

    moto resolves the backend of every request by listing its service modules on disk and matching
    URL patterns (tens of thousands of calls per request, under one global lock); the answer for a
    host never changes, so it is remembered.
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class CachingDispatcher(DomainDispatcherApplication):  # type: ignore[misc]
        _backends: dict[str | None, Any]

        def get_backend_for_host(self, host: str | None) -> Any:
            cache = self.__dict__.setdefault("_backends", {})
            if host not in cache:
                cache[host] = super().get_backend_for_host(host)
            return cache[host]

    return CachingDispatcher(create_backend_app)
