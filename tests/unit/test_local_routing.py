"""Where the local gateway sends a request, decided from its method, path and signature alone."""

from __future__ import annotations

import base64
import json

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from functions import wiring
from tailor_local.gateway import credential_scope, proxy_event, proxy_response, route_request

pytestmark = pytest.mark.unit


def auth(service: str, region: str = "us-east-1") -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential=test/20240101/{region}/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc"
    )


def test_credential_scope_from_header_and_presigned_query() -> None:
    assert credential_scope(auth("personalize", "eu-west-1")) == ("eu-west-1", "personalize")
    query = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20240101%2Fus-east-1%2Fs3%2Faws4_request"
    )
    assert credential_scope(None, query) == ("us-east-1", "s3")


@pytest.mark.parametrize("header", ["", "   ", "Bearer x", "AWS4-HMAC-SHA256 Credential=a/b", "AWS abc:def"])
def test_credential_scope_never_raises(header: str) -> None:
    assert credential_scope(header) is None


@pytest.mark.parametrize(
    ("method", "path", "authorization", "target", "expected"),
    [
        ("POST", "/", auth("personalize"), "AmazonPersonalize.ListDatasetGroups", ("handler", "control")),
        ("POST", "/recommendations", auth("personalize"), None, ("handler", "runtime")),
        ("POST", "/events", auth("personalize"), None, ("handler", "events")),
        # Signed for Personalize but nothing is served there.
        ("POST", "/nothing-here", auth("personalize"), None, ("unknown", None)),
        ("GET", "/recommendations", auth("personalize"), None, ("unknown", None)),
        # Unsigned requests to the Personalize API reach its handler, which answers them.
        ("POST", "/", None, "AmazonPersonalize.ListDatasetGroups", ("handler", "control")),
        ("POST", "/recommendations", None, None, ("handler", "runtime")),
        ("POST", "/users", None, None, ("handler", "events")),
        # The Personalize target wins over a signature for another service.
        ("POST", "/", auth("kinesis"), "AmazonPersonalize.ListDatasetGroups", ("handler", "control")),
        # Everything else is moto's.
        ("POST", "/", auth("kinesis"), "Kinesis_20131202.PutRecord", ("moto", None)),
        ("POST", "/", auth("dynamodb"), "DynamoDB_20120810.PutItem", ("moto", None)),
        ("POST", "/", None, None, ("moto", None)),
        ("PUT", "/bucket/key", auth("s3"), None, ("moto", None)),
        # An S3 bucket named like a Personalize path stays S3's (DeleteObjects is POST /bucket?delete).
        ("POST", "/events", auth("s3"), None, ("moto", None)),
        ("GET", "/items", None, None, ("moto", None)),
    ],
)
def test_route_request(
    method: str, path: str, authorization: str | None, target: str | None, expected: tuple[str, str | None]
) -> None:
    decision = route_request(method, path, authorization, "", target)
    assert (decision.kind, decision.route.function if decision.route else None) == expected


def test_every_declared_route_is_served_when_signed_for_personalize() -> None:
    for route in wiring.ROUTES:
        decision = route_request(route.method, route.path, auth("personalize"), "", None)
        assert decision.kind == "handler" and decision.route == route


def test_proxy_event_has_the_api_gateway_v1_shape() -> None:
    environ = EnvironBuilder(
        path="/recommendations",
        method="POST",
        query_string="a=1&a=2&b=",
        headers={"Authorization": auth("personalize"), "X-Amz-Date": "20240101T000000Z"},
        data=b'{"userId": "u1"}',
        content_type="application/json",
        environ_base={"REMOTE_ADDR": "10.1.2.3"},
    ).get_environ()
    route = wiring.route_for("POST", "/recommendations")
    assert route is not None
    event = proxy_event(Request(environ), route, "123456789012", "req-1")
    assert event["resource"] == "/recommendations"
    assert event["path"] == "/recommendations"
    assert event["httpMethod"] == "POST"
    assert event["headers"]["X-Amz-Date"] == "20240101T000000Z"
    assert event["multiValueHeaders"]["Content-Type"] == ["application/json"]
    assert event["queryStringParameters"] == {"a": "2", "b": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [""]}
    assert event["pathParameters"] is None and event["stageVariables"] is None
    context = event["requestContext"]
    assert context["requestId"] == "req-1"
    assert context["stage"] == "local"
    assert context["accountId"] == "123456789012"
    assert context["identity"]["sourceIp"] == "10.1.2.3"
    assert (context["path"], context["httpMethod"]) == ("/recommendations", "POST")
    assert json.loads(event["body"]) == {"userId": "u1"}
    assert event["isBase64Encoded"] is False


def test_proxy_event_base64_encodes_bodies_that_are_not_utf8() -> None:
    environ = EnvironBuilder(path="/events", method="POST", data=b"\xff\x00\xfe").get_environ()
    route = wiring.route_for("POST", "/events")
    assert route is not None
    event = proxy_event(Request(environ), route, "123456789012", "r")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\x00\xfe"
    assert event["queryStringParameters"] is None


def test_proxy_response_carries_status_headers_and_body() -> None:
    response = proxy_response(
        {"statusCode": 400, "headers": {"x-amzn-ErrorType": "InvalidInputException"}, "body": '{"m":1}'}, "r"
    )
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "InvalidInputException"
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_data() == b'{"m":1}'
    binary = proxy_response({"statusCode": 200, "body": "AAE=", "isBase64Encoded": True}, "r")
    assert binary.get_data() == b"\x00\x01"


@pytest.mark.parametrize(
    "result",
    [None, "text", {"body": "no status"}, {"statusCode": 200, "body": "%%", "isBase64Encoded": True}],
)
def test_malformed_proxy_response_is_a_502(result: object) -> None:
    response = proxy_response(result, "r")
    assert response.status_code == 502
    assert json.loads(response.get_data()) == {"message": "Internal server error"}
