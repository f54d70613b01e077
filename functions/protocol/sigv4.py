"""AWS Signature Version 4 verification, answering failures as AWS's JSON services do.

Tailor verifies SigV4 itself (DESIGN.md, "Authentication"): the handler that holds the body checks
the ``Authorization`` header, or the ``X-Amz-*`` query parameters of a presigned request, against
the secret its ``KeyStore`` holds for the access key id.

Checks run in the order AWS's JSON front end runs them, as recorded from DynamoDB by mhart/dynalite
(``index.js``) and as dacut/scratchstack-aws-signature (``src/aws4.rs``) implements it. The clock is
checked *before* the access key is looked up, so a stale request with an unknown key reads "Signature
expired":

1. both header and query-string auth                              -> InvalidSignatureException
2. no auth, or an ``Authorization`` header that is not ``AWS4-*``  -> MissingAuthenticationTokenException
3. a component without ``=``, or missing components                -> IncompleteSignatureException
4. a date that is not ISO-8601 basic format                        -> IncompleteSignatureException
5. a date outside the 15 minute window (or a presigned URL past its X-Amz-Expires)
                                                                   -> InvalidSignatureException
6. ``host`` not among the signed headers                           -> InvalidSignatureException
7. an algorithm other than ``AWS4-HMAC-SHA256``                    -> IncompleteSignatureException
8. a credential that is not ``keyid/date/region/service/term``     -> IncompleteSignatureException
9. a scope for another service, terminator or date                 -> InvalidSignatureException
10. a signed header the request lacks                              -> IncompleteSignatureException
11. an access key id Tailor never issued                           -> UnrecognizedClientException
12. a signature that does not match                                -> InvalidSignatureException

Messages, and where each was seen (GitHub issues quote the service's response):

- "Request is missing Authentication Token": MissingAuthenticationTokenException from AWS's JSON
  front end (mhart/dynalite index.js; STS says the same, amzn/selling-partner-api-docs#3081).
  API Gateway says "Missing Authentication Token" instead (common-voice/common-voice#1599), but
  Personalize is not behind API Gateway, so Tailor answers as the service would.
- "The request signature we calculated does not match the signature you provided. Check your AWS
  Secret Access Key and signing method. Consult the service documentation for details."
  (aws/aws-sdk-js#168, teralytics/prometheus-ecs-discovery#7, smithy545/aws-apps-scripts#12). Some
  services append the canonical request and string-to-sign; Tailor does not.
- "The security token included in the request is invalid." (aws-sdk-php#2444, boto/botocore#1775,
  fluent-plugin-cloudwatch-logs#117).
- "Signature expired: 20140325T143453Z is now earlier than 20140325T143751Z (20140325T145251Z - 15
  min.)" (aws/aws-sdk-js#254, upmc-enterprises/registry-creds#24); the future side reads "Signature
  not yet current: 20181120T211543Z is still later than 20181120T211529Z (20181120T211029Z + 5 min.)"
  (serverless/enterprise#11). The presigned-expiry form reuses the first with the X-Amz-Expires span;
  that variant is inferred, not observed.
- "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature'
  parameter. Authorization header requires 'SignedHeaders' parameter. Authorization header requires
  existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=..." (aws/chalice#828;
  brendanhay/amazonka#316 shows only the sentences that apply); "'...' not a valid key=value pair
  (missing equal-sign) in Authorization header: '...'." (aws/aws-sdk-go#289,
  iann0036/cloud9-sync#10); "AWS query-string parameters must include '...'. Re-examine the
  query-string parameters.", "Date must be in ISO-8601 'basic format'. Got '...'. See
  http://en.wikipedia.org/wiki/ISO_8601", "Unsupported AWS 'algorithm': '...' (only
  AWS4-HMAC-SHA256 for now). ", "Credential must have exactly 5 slash-delimited elements, e.g.
  keyid/date/region/service/term, got '...'" and "Found both 'X-Amz-Algorithm' as a query-string
  param and 'Authorization' as HTTP header." (mhart/dynalite index.js).
- "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization." (aws/aws-sdk-php#2469).
- "Credential should be scoped to correct service: 'sagemaker'. " (aws/aws-sdk-ruby#431,
  disneystreaming/smithy4s#1568); with the region, terminator and date sentences as dynalite records.
- "'accept' is named as a SignedHeader, but it does not exist in the HTTP request."
  (awslabs/aws-mobile-appsync-sdk-js#702).
- X-Amz-Expires bounds use S3's AuthorizationQueryParametersError wording ("X-Amz-Expires should be
  a number", "... must be non-negative", "... must be less than a week (in seconds); that is, the
  given X-Amz-Expires must be less than 604800 seconds"), as MinIO reproduces it.

The canonical request follows the SigV4 documentation and botocore's ``SigV4Auth``: non-S3 paths
have dot segments and repeated slashes removed and are URI-encoded once more on top of their wire
form; the check vectors are AWS's SigV4 test suite as awslabs/aws-c-auth and
awslabs/aws-crt-python (test/test_auth.py) carry it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

from functions.protocol.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from functions.protocol.key_store import KeyStore

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
CLOCK_SKEW = timedelta(minutes=15)
MAX_PRESIGNED_EXPIRES = 604800  # a week, as S3 caps X-Amz-Expires

AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"

MSG_MISSING_TOKEN = "Request is missing Authentication Token"
MSG_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
MSG_UNKNOWN_KEY = "The security token included in the request is invalid."
MSG_BOTH_AUTH = "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
MSG_HOST_NOT_SIGNED = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."

QueryInput = Mapping[str, list[str]] | Mapping[str, str] | str | None

_AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")
_REGION = re.compile(r"^[a-z0-9][a-z0-9-]*$")
# Components of the Authorization header are separated by commas and/or spaces; AWS reports the
# first token without "=" (aws/aws-sdk-go#289 shows a stray space splitting Credential in two).
_AUTH_SEPARATORS = re.compile(r"[,\s]+")
_CREDENTIAL_IN_HEADER = re.compile(r"Credential=([^,\s]*)")

_QUERY_AUTH_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
    "X-Amz-Date",
)


@dataclass(frozen=True)
class Principal:
    """Who signed a request, and for which region and service the signature was scoped."""

    access_key_id: str
    account_id: str
    region: str
    service: str


@dataclass(frozen=True)
class _SignedParts:
    """The signature material of a request, whichever of the two places it came from."""

    algorithm: str
    credential: str
    signed_headers: tuple[str, ...]
    signature: str
    date_text: str
    # Presigned URLs may live longer than the clock-skew window; header auth never does.
    expires: timedelta | None
    presigned: bool


def verify_request(
    method: str,
    path: str,
    query: QueryInput,
    headers: Mapping[str, str],
    body: bytes,
    key_store: KeyStore,
    now: datetime | None = None,
    expected_service: str = "personalize",
) -> Principal:
    """Verify a SigV4-signed request and return who signed it, or raise the AWS error.

    ``path`` is the path as it came over the wire, still percent-encoded (what the client signed);
    ``query`` is either the raw query string (preferred: it is exactly what was signed) or the
    decoded parameters as API Gateway's ``multiValueQueryStringParameters`` give them. Header names
    are matched case-insensitively whatever mapping is passed.
    """
    lowered = _lower_headers(headers)
    params = _query_pairs(query)
    parts = _signed_parts(lowered, params)

    timestamp = _parse_date(parts.date_text)
    _check_clock(timestamp, parts.expires, _utc(now) if now is not None else datetime.now(UTC))

    if "host" not in parts.signed_headers:
        raise InvalidSignatureException(MSG_HOST_NOT_SIGNED)
    if parts.algorithm != ALGORITHM:
        raise IncompleteSignatureException(
            f"Unsupported AWS 'algorithm': '{parts.algorithm}' (only {ALGORITHM} for now). "
        )

    access_key_id, scope_date, region, service, terminator = _split_credential(parts.credential)
    _check_scope(scope_date, region, service, terminator, timestamp, expected_service)
    for name in parts.signed_headers:
        if name not in lowered:
            raise IncompleteSignatureException(
                f"'{name}' is named as a SignedHeader, but it does not exist in the HTTP request."
            )

    credential = key_store.secret_for(access_key_id)
    if credential is None:
        raise UnrecognizedClientException(MSG_UNKNOWN_KEY)

    canonical = canonical_request(
        method,
        path,
        [(k, v) for k, v in params if not (parts.presigned and k == "X-Amz-Signature")],
        lowered,
        parts.signed_headers,
        _payload_hash(lowered, body),
    )
    scope = f"{scope_date}/{region}/{service}/{TERMINATOR}"
    expected = signature(credential.secret_access_key, timestamp, scope, canonical)
    # Bytes, because compare_digest refuses non-ASCII str and a forged signature may contain any.
    if not hmac.compare_digest(expected.encode("ascii"), parts.signature.encode("utf-8", "replace")):
        raise InvalidSignatureException(MSG_SIGNATURE_MISMATCH)
    return Principal(credential.access_key_id, credential.account_id, region, service)


def signing_scope(headers: Mapping[str, str], query: QueryInput = None) -> tuple[str, str] | None:
    """The (region, service) a request's credential is scoped to, without verifying anything.

    The local gateway routes on this, so it must never raise: unsigned or unparseable requests give
    None and are left for ``verify_request`` to answer with the precise error.
    """
    lowered = _lower_headers(headers)
    credential: str | None = None
    authorization = lowered.get("authorization", "")
    if authorization.strip():
        match = _CREDENTIAL_IN_HEADER.search(authorization)
        credential = match.group(1) if match else None
    else:
        credential = _first(_query_pairs(query), "X-Amz-Credential")
    if not credential:
        return None
    pieces = credential.rstrip("/").split("/")
    if len(pieces) != 5 or not pieces[2] or not pieces[3]:
        return None
    return pieces[2], pieces[3]


def canonical_request(
    method: str,
    path: str,
    params: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    signed_headers: Iterable[str],
    payload_hash: str,
) -> str:
    """The SigV4 canonical request; ``headers`` must already have lower-case names."""
    names = sorted({name.lower() for name in signed_headers})
    canonical_headers = "".join(f"{name}:{_trim_all(headers.get(name, ''))}\n" for name in names)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query_string(params),
            canonical_headers,
            ";".join(names),
            payload_hash,
        ]
    )


def canonical_uri(path: str) -> str:
    """Normalise the wire path and encode it again, as AWS does for every service but S3."""
    return quote(_remove_dot_segments(path or "/"), safe="/~")


def canonical_query_string(params: Iterable[tuple[str, str]]) -> str:
    encoded = sorted((_uri_encode(key), _uri_encode(value)) for key, value in params)
    return "&".join(f"{key}={value}" for key, value in encoded)


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    key = _hmac(f"AWS4{secret_access_key}".encode(), date)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, TERMINATOR)


def string_to_sign(timestamp: datetime, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{_format(timestamp)}\n{scope}\n{digest}"


def signature(secret_access_key: str, timestamp: datetime, scope: str, canonical: str) -> str:
    date, region, service, _ = scope.split("/")
    key = signing_key(secret_access_key, date, region, service)
    to_sign = string_to_sign(timestamp, scope, canonical)
    return hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


# -- parsing -----------------------------------------------------------------------------------------


def _signed_parts(headers: Mapping[str, str], params: list[tuple[str, str]]) -> _SignedParts:
    authorization = headers.get("authorization", "")
    has_header = bool(authorization.strip())
    has_query = any(key == "X-Amz-Algorithm" for key, _ in params)
    if has_header and has_query:
        raise InvalidSignatureException(MSG_BOTH_AUTH)
    if has_query:
        return _query_parts(params)
    if not has_header or not authorization.strip().startswith("AWS4-"):
        raise MissingAuthenticationTokenException(MSG_MISSING_TOKEN)
    return _header_parts(authorization, headers)


def _header_parts(authorization: str, headers: Mapping[str, str]) -> _SignedParts:
    algorithm, _, rest = authorization.strip().partition(" ")
    fields: dict[str, str] = {}
    for token in (t for t in _AUTH_SEPARATORS.split(rest) if t):
        key, equals, value = token.partition("=")
        if not equals:
            raise IncompleteSignatureException(
                f"'{token}' not a valid key=value pair (missing equal-sign) in Authorization header: "
                f"'{authorization}'."
            )
        fields.setdefault(key, value)

    date_text = headers.get("x-amz-date") or headers.get("date") or ""
    problems = "".join(
        f"Authorization header requires '{name}' parameter. "
        for name in ("Credential", "Signature")
        if not fields.get(name)
    )
    # An empty SignedHeaders passes here on purpose: AWS then answers with the Host rule instead.
    if "SignedHeaders" not in fields:
        problems += "Authorization header requires 'SignedHeaders' parameter. "
    if not date_text:
        problems += "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
    if problems:
        raise IncompleteSignatureException(f"{problems}Authorization={authorization}")

    return _SignedParts(
        algorithm=algorithm,
        credential=fields["Credential"],
        signed_headers=_split_signed_headers(fields["SignedHeaders"]),
        signature=fields["Signature"],
        date_text=date_text,
        expires=None,
        presigned=False,
    )


def _query_parts(params: list[tuple[str, str]]) -> _SignedParts:
    missing = [name for name in _QUERY_AUTH_PARAMS if not _first(params, name)]
    if missing:
        problems = "".join(f"AWS query-string parameters must include '{name}'. " for name in missing)
        raise IncompleteSignatureException(f"{problems}Re-examine the query-string parameters.")

    expires: timedelta | None = None
    expires_text = _first(params, "X-Amz-Expires")
    if expires_text is not None:
        try:
            seconds = int(expires_text)
        except ValueError:
            raise IncompleteSignatureException("X-Amz-Expires should be a number") from None
        if seconds < 0:
            raise IncompleteSignatureException("X-Amz-Expires must be non-negative")
        if seconds > MAX_PRESIGNED_EXPIRES:
            raise IncompleteSignatureException(
                "X-Amz-Expires must be less than a week (in seconds); that is, the given "
                f"X-Amz-Expires must be less than {MAX_PRESIGNED_EXPIRES} seconds"
            )
        expires = timedelta(seconds=seconds)

    return _SignedParts(
        algorithm=_first(params, "X-Amz-Algorithm") or "",
        credential=_first(params, "X-Amz-Credential") or "",
        signed_headers=_split_signed_headers(_first(params, "X-Amz-SignedHeaders") or ""),
        signature=_first(params, "X-Amz-Signature") or "",
        date_text=_first(params, "X-Amz-Date") or "",
        expires=expires,
        presigned=True,
    )


def _split_signed_headers(value: str) -> tuple[str, ...]:
    return tuple(name.strip().lower() for name in value.split(";") if name.strip())


def _parse_date(text: str) -> datetime:
    if _AMZ_DATE.match(text):
        try:
            return datetime.strptime(text, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            pass
    elif "," in text or " " in text:
        # The HTTP Date header (RFC 7231) is the documented fallback when X-Amz-Date is absent.
        try:
            return _utc(parsedate_to_datetime(text))
        except (TypeError, ValueError, IndexError):
            pass
    raise IncompleteSignatureException(
        f"Date must be in ISO-8601 'basic format'. Got '{text}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )


def _check_clock(timestamp: datetime, expires: timedelta | None, now: datetime) -> None:
    if timestamp > now + CLOCK_SKEW:
        raise InvalidSignatureException(
            f"Signature not yet current: {_format(timestamp)} is still later than "
            f"{_format(now + CLOCK_SKEW)} ({_format(now)} + {_span(CLOCK_SKEW)}.)"
        )
    window = expires if expires is not None else CLOCK_SKEW
    if timestamp < now - window:
        raise InvalidSignatureException(
            f"Signature expired: {_format(timestamp)} is now earlier than "
            f"{_format(now - window)} ({_format(now)} - {_span(window)}.)"
        )


def _split_credential(credential: str) -> tuple[str, str, str, str, str]:
    # AWS ignores trailing slashes here (mhart/dynalite records it), so do we.
    pieces = credential.rstrip("/").split("/")
    if len(pieces) != 5:
        raise IncompleteSignatureException(
            "Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{credential}'"
        )
    access_key_id, date, region, service, terminator = pieces
    return access_key_id, date, region, service, terminator


def _check_scope(
    scope_date: str, region: str, service: str, terminator: str, timestamp: datetime, expected_service: str
) -> None:
    # Tailor serves whichever region the client names, so only the region's shape is checked.
    problems = ""
    if not _REGION.match(region):
        problems += f"Credential should be scoped to a valid region, not '{region}'. "
    if service != expected_service:
        problems += f"Credential should be scoped to correct service: '{expected_service}'. "
    if terminator != TERMINATOR:
        problems += (
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator}'. "
        )
    request_date = timestamp.strftime("%Y%m%d")
    if scope_date != request_date:
        problems += (
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope_date}' != '{request_date}', from '{_format(timestamp)}'."
        )
    if problems:
        raise InvalidSignatureException(problems)


def _payload_hash(headers: Mapping[str, str], body: bytes) -> str:
    actual = hashlib.sha256(body).hexdigest()
    claimed = headers.get("x-amz-content-sha256")
    # botocore signs the header's value when it is present. Tailor only accepts it when it is the
    # body's real hash: an UNSIGNED-PAYLOAD claim would let a replayed signature carry another body.
    if claimed is not None and claimed.strip().lower() != actual:
        raise InvalidSignatureException(MSG_SIGNATURE_MISMATCH)
    return claimed.strip() if claimed is not None else actual


# -- small helpers -----------------------------------------------------------------------------------


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        # Two spellings of one header in a plain dict are one header with two values.
        lowered[key] = f"{lowered[key]},{value}" if key in lowered else value
    return lowered


def _query_pairs(query: QueryInput) -> list[tuple[str, str]]:
    if query is None:
        return []
    if isinstance(query, str):
        pairs: list[tuple[str, str]] = []
        for piece in query.lstrip("?").split("&"):
            if not piece:
                continue
            key, _, value = piece.partition("=")
            # RFC 3986 decoding: "+" stays a plus, as SigV4 signers encode spaces as %20.
            pairs.append((unquote(key), unquote(value)))
        return pairs
    flat: list[tuple[str, str]] = []
    for key, values in query.items():
        if isinstance(values, str):
            flat.append((key, values))
        else:
            flat.extend((key, value) for value in values)
    return flat


def _first(params: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in params if key == name), None)


def _uri_encode(value: str) -> str:
    return quote(value, safe="-_.~")


def _trim_all(value: str) -> str:
    return " ".join(value.split())


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 section 5.2.4, plus the collapse of repeated slashes that AWS applies to non-S3 paths.
    output: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if output:
                output.pop()
        else:
            output.append(segment)
    leading = "/" if path.startswith("/") else ""
    trailing = "/" if path.endswith("/") and output else ""
    return leading + "/".join(output) + trailing or "/"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _format(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(AMZ_DATE_FORMAT)


def _span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} sec"
