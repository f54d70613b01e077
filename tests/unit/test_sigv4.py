"""SigV4 verification against botocore's own signer, AWS's test-suite vectors, and AWS's error texts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.auth
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from functions.protocol.errors import (
    AuthError,
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from functions.protocol.key_store import (
    DEFAULT_ACCOUNT_ID,
    Credential,
    KeyStore,
    StaticKeyStore,
    key_store_from_env,
    parse_access_keys,
)
from functions.protocol.sigv4 import Principal, signing_scope, verify_request

pytestmark = pytest.mark.unit

SIGNED_AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
ENDPOINT = "http://localhost:8080"
OTHER_ACCOUNT = "210987654321"

MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

KEYS = StaticKeyStore.of(
    Credential("test", "test", DEFAULT_ACCOUNT_ID),
    Credential("AKIDTAILOR", "s3cr3t/With+Slash=", OTHER_ACCOUNT),
)


@dataclass
class Signed:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes

    def verify(self, **overrides: Any) -> Principal:
        args: dict[str, Any] = {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
            "key_store": KEYS,
            "now": SIGNED_AT,
        }
        args.update(overrides)
        return verify_request(**args)


@pytest.fixture(autouse=True)
def signing_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore stamps X-Amz-Date from this clock; freezing it makes the expected messages literal."""

    def frozen(remove_tzinfo: bool = True) -> datetime:
        return SIGNED_AT.replace(tzinfo=None) if remove_tzinfo else SIGNED_AT

    monkeypatch.setattr(botocore.auth, "get_current_datetime", frozen)


def _with_host(url: str, headers: Any) -> dict[str, str]:
    # botocore signs the host it derives from the URL; the HTTP client then sends it as Host. Prepared
    # requests hold header values as bytes, which a server only ever sees decoded.
    result = {name: value.decode() if isinstance(value, bytes) else value for name, value in headers.items()}
    result.setdefault("Host", urlsplit(url).netloc)
    return result


def sign(
    method: str,
    url: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    key: tuple[str, str] = ("test", "test"),
    service: str = "personalize",
    region: str = "us-east-1",
) -> Signed:
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(*key), service, region).add_auth(request)
    parts = urlsplit(request.url)
    return Signed(method, parts.path, parts.query, _with_host(url, request.headers), body)


def presign(method: str, url: str, expires: int = 300, key: tuple[str, str] = ("test", "test")) -> Signed:
    request = AWSRequest(method=method, url=url)
    SigV4QueryAuth(Credentials(*key), "personalize", "us-east-1", expires=expires).add_auth(request)
    parts = urlsplit(request.url)
    return Signed(method, parts.path, parts.query, _with_host(url, request.headers), b"")


def json11(body: dict[str, Any] | None = None, **kwargs: Any) -> Signed:
    return sign(
        "POST",
        f"{ENDPOINT}/",
        json.dumps(body or {"maxResults": 5}).encode(),
        {"X-Amz-Target": "AmazonPersonalize.ListDatasets", "Content-Type": "application/x-amz-json-1.1"},
        **kwargs,
    )


@contextmanager
def raises(exc: type[AuthError], message: str) -> Iterator[None]:
    with pytest.raises(exc) as info:
        yield
    # Exact class, not a subclass, and the exact text: clients match on both.
    assert type(info.value) is exc
    assert info.value.message == message
    assert info.value.status == 403


# -- requests botocore signs verify ------------------------------------------------------------------


def test_json11_post_to_root_verifies() -> None:
    assert json11().verify() == Principal("test", DEFAULT_ACCOUNT_ID, "us-east-1", "personalize")


def test_principal_carries_account_and_region_of_the_signer() -> None:
    signed = json11(key=("AKIDTAILOR", "s3cr3t/With+Slash="), region="eu-west-1")
    assert signed.verify() == Principal("AKIDTAILOR", OTHER_ACCOUNT, "eu-west-1", "personalize")


def test_restjson_post_to_recommendations_verifies() -> None:
    body = json.dumps(
        {"campaignArn": "arn:aws:personalize:us-east-1:123456789012:campaign/c", "userId": "u1"}
    )
    signed = sign("POST", f"{ENDPOINT}/recommendations", body.encode(), {"Content-Type": "application/json"})
    assert signed.verify().access_key_id == "test"


def test_path_with_characters_that_need_encoding_verifies() -> None:
    # The wire path is already percent-encoded; non-S3 SigV4 encodes it once more (%20 -> %2520).
    signed = sign("GET", f"{ENDPOINT}/items/it%2Fem%20one/caf%C3%A9:*+x/")
    assert signed.path == "/items/it%2Fem%20one/caf%C3%A9:*+x/"
    assert signed.verify().service == "personalize"


def test_decoded_path_is_not_what_the_client_signed() -> None:
    # The contract: callers pass the wire path. A decoded one loses a layer of encoding and fails.
    signed = sign("GET", f"{ENDPOINT}/items/it%20em")
    with raises(InvalidSignatureException, MISMATCH):
        signed.verify(path="/items/it em")


def test_dot_segments_and_repeated_slashes_are_normalised_like_botocore() -> None:
    signed = sign("GET", f"{ENDPOINT}//a/./b/../recommendations")
    signed.verify()


def test_query_string_verifies_raw_and_decoded() -> None:
    signed = sign("GET", f"{ENDPOINT}/recommendations?b=2&a=1&a=0&space=a%20b&plus=a%2Bb&empty=")
    signed.verify()
    decoded = {"b": ["2"], "a": ["1", "0"], "space": ["a b"], "plus": ["a+b"], "empty": [""]}
    signed.verify(query=decoded)


def test_header_names_are_matched_case_insensitively() -> None:
    signed = json11()
    signed.verify(headers={k.upper(): v for k, v in signed.headers.items()})


def test_signed_content_sha256_header_matching_the_body_verifies() -> None:
    import hashlib

    body = b'{"x": 1}'
    digest = hashlib.sha256(body).hexdigest()
    signed = sign("POST", f"{ENDPOINT}/events", body, {"X-Amz-Content-SHA256": digest})
    signed.verify()


def test_exactly_fifteen_minutes_either_way_is_still_accepted() -> None:
    signed = json11()
    signed.verify(now=SIGNED_AT + timedelta(minutes=15))
    signed.verify(now=SIGNED_AT - timedelta(minutes=15))


def test_naive_now_is_taken_as_utc() -> None:
    json11().verify(now=SIGNED_AT.replace(tzinfo=None) + timedelta(minutes=5))


def test_presigned_query_auth_verifies() -> None:
    signed = presign("GET", f"{ENDPOINT}/recommendations?campaignArn=arn%3Ax&numResults=5", expires=300)
    assert "X-Amz-Signature=" in signed.query
    assert "Authorization" not in signed.headers
    signed.verify(now=SIGNED_AT + timedelta(seconds=299))


def _capture(service: str, call: str, params: dict[str, Any]) -> Signed:
    """Sign with a real boto3 client and stop before anything goes on the wire."""
    client = boto3.client(
        service,
        region_name="us-west-2",
        endpoint_url=ENDPOINT,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 0}),
    )
    captured: list[Any] = []

    class Sent(Exception):
        pass

    def stop(request: Any, **_: Any) -> None:
        captured.append(request)
        raise Sent

    client.meta.events.register("before-send", stop)
    with pytest.raises(Sent):
        getattr(client, call)(**params)
    request = captured[0]
    body = request.body or b""
    parts = urlsplit(request.url)
    return Signed(
        request.method,
        parts.path,
        parts.query,
        _with_host(request.url, request.headers),
        body.encode() if isinstance(body, str) else body,
    )


@pytest.mark.parametrize(
    ("service", "call", "params"),
    [
        ("personalize", "list_datasets", {"maxResults": 10}),
        (
            "personalize-runtime",
            "get_recommendations",
            {"campaignArn": "arn:aws:personalize:us-west-2:123456789012:campaign/c", "userId": "u 1"},
        ),
        (
            "personalize-events",
            "put_events",
            {
                "trackingId": "t",
                "sessionId": "s",
                "eventList": [{"eventType": "click", "sentAt": SIGNED_AT, "itemId": "i"}],
            },
        ),
    ],
)
def test_requests_from_real_boto3_clients_verify(service: str, call: str, params: dict[str, Any]) -> None:
    signed = _capture(service, call, params)
    principal = signed.verify()
    assert principal == Principal("test", DEFAULT_ACCOUNT_ID, "us-west-2", "personalize")
    assert signing_scope(signed.headers) == ("us-west-2", "personalize")


# -- AWS's SigV4 test suite ----------------------------------------------------------------------------
# Vectors from awslabs/aws-c-auth tests/aws-signing-test-suite/v4 (get-vanilla is also in
# awslabs/aws-crt-python test/test_auth.py); the 2011 Date-header case is the older suite, as
# grpc/grpc's aws_request_signer_test carries it.

SUITE_KEYS = StaticKeyStore.of(
    Credential("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "000000000000")
)
SUITE_NOW = datetime(2015, 8, 30, 12, 36, 0, tzinfo=UTC)
SUITE_HEADERS = {"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"}
UNRESERVED = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _suite_auth(signature: str, signed_headers: str = "host;x-amz-date") -> str:
    return (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )


@pytest.mark.parametrize(
    ("name", "path", "query", "extra_headers", "signed_headers", "signature"),
    [
        (
            "get-vanilla",
            "/",
            "",
            {},
            "host;x-amz-date",
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ),
        (
            "get-vanilla-query-order-key-case",
            "/",
            "Param2=value2&Param1=value1",
            {},
            "host;x-amz-date",
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        ),
        (
            "get-vanilla-query-unreserved",
            "/",
            f"{UNRESERVED}={UNRESERVED}",
            {},
            "host;x-amz-date",
            "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
        ),
        (
            "get-utf8",
            "/ሴ",
            "",
            {},
            "host;x-amz-date",
            "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
        ),
        (
            "get-header-value-trim",
            "/",
            "",
            {"My-Header1": " value1", "My-Header2": ' "a   b   c"'},
            "host;my-header1;my-header2;x-amz-date",
            "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
        ),
    ],
)
def test_aws_signature_test_suite_header_vectors(
    name: str, path: str, query: str, extra_headers: dict[str, str], signed_headers: str, signature: str
) -> None:
    headers = {**SUITE_HEADERS, **extra_headers, "Authorization": _suite_auth(signature, signed_headers)}
    principal = verify_request(
        "GET", path, query, headers, b"", SUITE_KEYS, SUITE_NOW, expected_service="service"
    )
    assert principal == Principal("AKIDEXAMPLE", "000000000000", "us-east-1", "service")
    # One changed hex digit of the published signature must fail: the vector is not passing by accident.
    forged = {
        **headers,
        "Authorization": _suite_auth(("0" if signature[0] != "0" else "1") + signature[1:], signed_headers),
    }
    with raises(InvalidSignatureException, MISMATCH):
        verify_request("GET", path, query, forged, b"", SUITE_KEYS, SUITE_NOW, expected_service="service")


_PRESIGNED_BASE = (
    "Param2=value2&Param1=value1&X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fservice%2Faws4_request"
    "&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=host"
)


@pytest.mark.parametrize(
    "query",
    [
        _PRESIGNED_BASE + "&X-Amz-Signature=99fe619ddc7883a0738f7e90dc36a30badef2b551412ad283fd7338128bc73ac",
        _PRESIGNED_BASE
        + "&X-Amz-Expires=3600"
        + "&X-Amz-Signature=86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5",
    ],
    ids=["without-expires", "with-expires"],
)
def test_aws_signature_test_suite_presigned_vectors(query: str) -> None:
    principal = verify_request(
        "GET", "/", query, SUITE_HEADERS, b"", SUITE_KEYS, SUITE_NOW, expected_service="service"
    )
    assert principal.access_key_id == "AKIDEXAMPLE"


def test_aws_2011_suite_get_vanilla_with_date_header() -> None:
    headers = {
        "Host": "host.foo.com",
        "Date": "Mon, 09 Sep 2011 23:36:00 GMT",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20110909/us-east-1/host/aws4_request, "
        "SignedHeaders=date;host, Signature=b27ccfbfa7df52a200ff74193ca6e32d4b48b8856fab7ebf1c595d0670a7e470",
    }
    now = datetime(2011, 9, 9, 23, 40, tzinfo=UTC)
    assert (
        verify_request("GET", "/", "", headers, b"", SUITE_KEYS, now, expected_service="host").service
        == "host"
    )


# -- failures, with AWS's classes and texts -------------------------------------------------------------


def test_wrong_secret_is_a_signature_mismatch() -> None:
    with raises(InvalidSignatureException, MISMATCH):
        json11(key=("test", "not-the-secret")).verify()


def test_unknown_access_key_is_unrecognized_client() -> None:
    with raises(UnrecognizedClientException, "The security token included in the request is invalid."):
        json11(key=("AKIDNOBODY", "test")).verify()


def test_unsigned_request_is_missing_authentication_token() -> None:
    signed = json11()
    headers = {k: v for k, v in signed.headers.items() if k != "Authorization"}
    with raises(MissingAuthenticationTokenException, "Request is missing Authentication Token"):
        signed.verify(headers=headers)


def test_non_sigv4_authorization_is_missing_authentication_token() -> None:
    signed = json11()
    with raises(MissingAuthenticationTokenException, "Request is missing Authentication Token"):
        signed.verify(headers={**signed.headers, "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"})


def test_sixteen_minutes_late_is_signature_expired() -> None:
    message = (
        "Signature expired: 20240501T120000Z is now earlier than 20240501T120100Z "
        "(20240501T121600Z - 15 min.)"
    )
    with raises(InvalidSignatureException, message):
        json11().verify(now=SIGNED_AT + timedelta(minutes=16))


def test_sixteen_minutes_early_is_signature_not_yet_current() -> None:
    message = (
        "Signature not yet current: 20240501T120000Z is still later than 20240501T115900Z "
        "(20240501T114400Z + 15 min.)"
    )
    with raises(InvalidSignatureException, message):
        json11().verify(now=SIGNED_AT - timedelta(minutes=16))


def test_tampered_body_is_a_signature_mismatch() -> None:
    signed = json11({"maxResults": 5})
    with raises(InvalidSignatureException, MISMATCH):
        signed.verify(body=json.dumps({"maxResults": 50}).encode())


def test_tampered_signed_header_is_a_signature_mismatch() -> None:
    signed = json11()
    with raises(InvalidSignatureException, MISMATCH):
        signed.verify(headers={**signed.headers, "X-Amz-Target": "AmazonPersonalize.DeleteDataset"})


def test_tampered_path_and_query_are_signature_mismatches() -> None:
    signed = sign("GET", f"{ENDPOINT}/recommendations?numResults=5")
    with raises(InvalidSignatureException, MISMATCH):
        signed.verify(path="/personalize-ranking")
    with raises(InvalidSignatureException, MISMATCH):
        signed.verify(query="numResults=500")


def test_content_sha256_header_that_is_not_the_body_hash_is_a_mismatch() -> None:
    signed = sign("POST", f"{ENDPOINT}/events", b"{}", {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"})
    with raises(InvalidSignatureException, MISMATCH):
        signed.verify()


def _drop_component(authorization: str, name: str) -> str:
    algorithm, rest = authorization.split(" ", 1)
    kept = [part for part in rest.split(", ") if not part.startswith(f"{name}=")]
    return f"{algorithm} {', '.join(kept)}"


def test_missing_signed_headers_is_incomplete_signature() -> None:
    signed = json11()
    authorization = _drop_component(signed.headers["Authorization"], "SignedHeaders")
    message = f"Authorization header requires 'SignedHeaders' parameter. Authorization={authorization}"
    with raises(IncompleteSignatureException, message):
        signed.verify(headers={**signed.headers, "Authorization": authorization})


def test_several_missing_components_are_reported_together() -> None:
    # The shape brendanhay/amazonka#316 quotes from SES, date header present.
    signed = json11()
    authorization = "AWS4-HMAC-SHA256 Credential=ABCDEF"
    message = (
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization=AWS4-HMAC-SHA256 Credential=ABCDEF"
    )
    with raises(IncompleteSignatureException, message):
        signed.verify(headers={**signed.headers, "Authorization": authorization})


def test_missing_date_header_is_incomplete_signature() -> None:
    signed = json11()
    headers = {k: v for k, v in signed.headers.items() if k != "X-Amz-Date"}
    message = (
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        f"Authorization={signed.headers['Authorization']}"
    )
    with raises(IncompleteSignatureException, message):
        signed.verify(headers=headers)


def test_component_without_equal_sign_is_incomplete_signature() -> None:
    signed = json11()
    authorization = signed.headers["Authorization"].replace("Credential=test/", "Credential=test /")
    message = (
        "'/20240501/us-east-1/personalize/aws4_request' not a valid key=value pair (missing equal-sign) "
        f"in Authorization header: '{authorization}'."
    )
    with raises(IncompleteSignatureException, message):
        signed.verify(headers={**signed.headers, "Authorization": authorization})


def test_malformed_date_is_incomplete_signature() -> None:
    signed = json11()
    message = "Date must be in ISO-8601 'basic format'. Got '2024-05-01T12:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601"
    with raises(IncompleteSignatureException, message):
        signed.verify(headers={**signed.headers, "X-Amz-Date": "2024-05-01T12:00:00Z"})


def test_host_must_be_signed() -> None:
    signed = json11()
    authorization = _drop_host(signed.headers["Authorization"])
    assert "host" not in _split_signed_headers(authorization)[1].split(";")
    with raises(
        InvalidSignatureException, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
    ):
        signed.verify(headers={**signed.headers, "Authorization": authorization})


def _drop_host(authorization: str) -> str:
    head, signed_headers, tail = _split_signed_headers(authorization)
    return head + ";".join(h for h in signed_headers.split(";") if h != "host") + tail


def _split_signed_headers(authorization: str) -> tuple[str, str, str]:
    start = authorization.index("SignedHeaders=") + len("SignedHeaders=")
    end = authorization.index(",", start)
    return authorization[:start], authorization[start:end], authorization[end:]


def test_unsupported_algorithm_is_incomplete_signature() -> None:
    signed = json11()
    authorization = signed.headers["Authorization"].replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", 1)
    message = "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). "
    with raises(IncompleteSignatureException, message):
        signed.verify(headers={**signed.headers, "Authorization": authorization})


def test_credential_with_four_elements_is_incomplete_signature() -> None:
    signed = json11()
    authorization = signed.headers["Authorization"].replace("/personalize/aws4_request", "/personalize")
    message = (
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
        "got 'test/20240501/us-east-1/personalize'"
    )
    with raises(IncompleteSignatureException, message):
        signed.verify(headers={**signed.headers, "Authorization": authorization})


def test_credential_for_another_service_is_invalid_signature() -> None:
    signed = json11(service="dynamodb")
    with raises(InvalidSignatureException, "Credential should be scoped to correct service: 'personalize'. "):
        signed.verify()


def test_scope_problems_are_reported_together() -> None:
    signed = json11()
    authorization = signed.headers["Authorization"].replace(
        "test/20240501/us-east-1/personalize/aws4_request", "test/20240430/US_EAST/kinesis/aws5_request"
    )
    message = (
        "Credential should be scoped to a valid region, not 'US_EAST'. "
        "Credential should be scoped to correct service: 'personalize'. "
        "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. "
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
        "'20240430' != '20240501', from '20240501T120000Z'."
    )
    with raises(InvalidSignatureException, message):
        signed.verify(headers={**signed.headers, "Authorization": authorization})


def test_expected_service_is_configurable() -> None:
    json11(service="kinesis").verify(expected_service="kinesis")


def test_signed_header_absent_from_request_is_incomplete_signature() -> None:
    signed = sign("POST", f"{ENDPOINT}/", b"{}", {"X-Custom": "1"})
    headers = {k: v for k, v in signed.headers.items() if k != "X-Custom"}
    with raises(
        IncompleteSignatureException,
        "'x-custom' is named as a SignedHeader, but it does not exist in the HTTP request.",
    ):
        signed.verify(headers=headers)


def test_header_and_query_auth_together_is_invalid_signature() -> None:
    signed = json11()
    message = "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
    with raises(InvalidSignatureException, message):
        signed.verify(query="X-Amz-Algorithm=AWS4-HMAC-SHA256")


def test_presigned_without_signature_is_incomplete_signature() -> None:
    signed = presign("GET", f"{ENDPOINT}/recommendations")
    query = "&".join(p for p in signed.query.split("&") if not p.startswith("X-Amz-Signature="))
    message = (
        "AWS query-string parameters must include 'X-Amz-Signature'. Re-examine the query-string parameters."
    )
    with raises(IncompleteSignatureException, message):
        signed.verify(query=query)


def test_presigned_past_its_expiry_is_signature_expired() -> None:
    signed = presign("GET", f"{ENDPOINT}/recommendations", expires=300)
    signed.verify(now=SIGNED_AT + timedelta(seconds=300))
    message = (
        "Signature expired: 20240501T120000Z is now earlier than 20240501T120001Z (20240501T120501Z - 5 min.)"
    )
    with raises(InvalidSignatureException, message):
        signed.verify(now=SIGNED_AT + timedelta(seconds=301))


def test_presigned_with_bad_expires_is_incomplete_signature() -> None:
    signed = presign("GET", f"{ENDPOINT}/recommendations", expires=300)
    with raises(IncompleteSignatureException, "X-Amz-Expires should be a number"):
        signed.verify(query=signed.query.replace("X-Amz-Expires=300", "X-Amz-Expires=soon"))
    with raises(
        IncompleteSignatureException,
        "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less "
        "than 604800 seconds",
    ):
        signed.verify(query=signed.query.replace("X-Amz-Expires=300", "X-Amz-Expires=604801"))


def test_tampered_presigned_query_is_a_signature_mismatch() -> None:
    signed = presign("GET", f"{ENDPOINT}/recommendations?numResults=5")
    with raises(InvalidSignatureException, MISMATCH):
        signed.verify(query=signed.query.replace("numResults=5", "numResults=6"))


def test_non_ascii_signature_is_a_mismatch_not_a_crash() -> None:
    signed = json11()
    authorization = signed.headers["Authorization"].rsplit("=", 1)[0] + "=é" * 64
    with raises(InvalidSignatureException, MISMATCH):
        signed.verify(headers={**signed.headers, "Authorization": authorization})


# -- order of checks, as AWS runs them ------------------------------------------------------------------


def test_clock_is_checked_before_the_access_key() -> None:
    # dynalite's record of DynamoDB: expiry is judged before the key id is looked up.
    signed = json11(key=("AKIDNOBODY", "x"))
    with pytest.raises(InvalidSignatureException, match="^Signature expired"):
        signed.verify(now=SIGNED_AT + timedelta(hours=1))


def test_malformed_header_is_reported_before_the_access_key() -> None:
    signed = json11(key=("AKIDNOBODY", "x"))
    authorization = _drop_component(signed.headers["Authorization"], "Signature")
    with pytest.raises(IncompleteSignatureException):
        signed.verify(headers={**signed.headers, "Authorization": authorization})


def test_unknown_key_is_reported_before_the_signature() -> None:
    signed = json11(key=("AKIDNOBODY", "x"))
    with pytest.raises(UnrecognizedClientException):
        signed.verify(body=b"tampered")


# -- signing_scope ------------------------------------------------------------------------------------


def test_signing_scope_reads_the_credential_without_verifying() -> None:
    assert signing_scope(json11(key=("nobody", "wrong"), region="ap-south-1").headers) == (
        "ap-south-1",
        "personalize",
    )
    assert signing_scope(
        {"authorization": sign("GET", f"{ENDPOINT}/", service="kinesis").headers["Authorization"]}
    ) == (
        "us-east-1",
        "kinesis",
    )


def test_signing_scope_of_presigned_requests_reads_the_query() -> None:
    signed = presign("GET", f"{ENDPOINT}/recommendations")
    assert signing_scope(signed.headers) is None
    assert signing_scope(signed.headers, signed.query) == ("us-east-1", "personalize")
    assert signing_scope({}, {"X-Amz-Credential": ["k/20240501/eu-west-1/s3/aws4_request"]}) == (
        "eu-west-1",
        "s3",
    )


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer token"},
        {"Authorization": "AWS4-HMAC-SHA256 Credential=onlykey"},
        {"Authorization": "AWS4-HMAC-SHA256 Credential=k/d//svc/aws4_request"},
    ],
)
def test_signing_scope_is_none_for_unsigned_or_unparseable(headers: dict[str, str]) -> None:
    assert signing_scope(headers) is None


# -- key store ------------------------------------------------------------------------------------------


def test_default_key_store_is_the_local_test_pair() -> None:
    store = key_store_from_env({})
    assert isinstance(store, KeyStore)
    assert store.secret_for("test") == Credential("test", "test", "123456789012")
    assert store.secret_for("AKIDOTHER") is None
    assert key_store_from_env({"TAILOR_ACCESS_KEYS": "  "}).secret_for("test") is not None


def test_key_store_from_env_reads_every_entry() -> None:
    store = key_store_from_env({"TAILOR_ACCESS_KEYS": "AKID1:sec/ret+1:111111111111, AKID2:secret2"})
    assert store.secret_for("AKID1") == Credential("AKID1", "sec/ret+1", "111111111111")
    assert store.secret_for("AKID2") == Credential("AKID2", "secret2", DEFAULT_ACCOUNT_ID)
    # Setting keys replaces the default pair rather than adding to it.
    assert store.secret_for("test") is None


@pytest.mark.parametrize(
    "spec",
    ["AKID", "AKID:secret:123:extra", "AKID:secret:12345", ":secret", "AKID:", "A:s,A:t", ","],
)
def test_bad_access_key_specs_fail_at_start_up(spec: str) -> None:
    with pytest.raises(ValueError):
        key_store_from_env({"TAILOR_ACCESS_KEYS": spec})


def test_parse_errors_never_echo_the_secret() -> None:
    with pytest.raises(ValueError) as info:
        parse_access_keys("AKID:topsecret:notanaccount")
    assert "topsecret" not in str(info.value)


def test_credential_repr_hides_the_secret() -> None:
    assert "s3cr3t" not in repr(KEYS.secret_for("AKIDTAILOR"))


def test_static_key_store_rejects_mismatched_entries() -> None:
    with pytest.raises(ValueError):
        StaticKeyStore({"AKID1": Credential("AKID2", "s")})


def test_requests_verify_against_the_env_key_store() -> None:
    store = key_store_from_env({"TAILOR_ACCESS_KEYS": "AKIDENV:envsecret:333333333333"})
    principal = json11(key=("AKIDENV", "envsecret")).verify(key_store=store)
    assert principal.account_id == "333333333333"
