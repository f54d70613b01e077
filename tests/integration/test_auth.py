"""The four authentication failures, as AWS answers them (HTTP 403, botocore error codes)."""

from __future__ import annotations

import datetime as dt

import botocore.auth
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration


def _error(call) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as err:
        call()
    response = err.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_wrong_secret_is_an_invalid_signature(target):
    client = target.client("personalize", aws_secret_access_key="not-the-secret")
    code, status, message = _error(client.list_dataset_groups)
    assert (code, status) == ("InvalidSignatureException", 403)
    assert message.startswith(
        "The request signature we calculated does not match the signature you provided."
    )


def test_unknown_access_key_is_unrecognized(target):
    client = target.client("personalize-runtime", aws_access_key_id="AKIAUNKNOWN0000000000")
    code, status, message = _error(
        lambda: client.get_recommendations(
            campaignArn="arn:aws:personalize:us-east-1:1:campaign/x", userId="u"
        )
    )
    assert (code, status, message) == (
        "UnrecognizedClientException",
        403,
        "The security token included in the request is invalid.",
    )


def test_unsigned_request_is_missing_a_token(target):
    client = target.client("personalize-events", config=Config(signature_version=UNSIGNED))
    code, status, message = _error(
        lambda: client.put_events(
            trackingId="t", sessionId="s", eventList=[{"eventType": "click", "sentAt": 1_700_000_000}]
        )
    )
    assert (code, status) == ("MissingAuthenticationTokenException", 403)
    assert "Authentication Token" in message


def test_clock_skew_over_15_minutes_is_signature_expired(target, monkeypatch):
    skewed = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=16)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: skewed)
    client = target.client("personalize")
    code, status, message = _error(client.list_schemas)
    assert (code, status) == ("InvalidSignatureException", 403)
    assert message.startswith("Signature expired: ") and message.endswith(" - 15 min.)")


def test_correctly_signed_request_succeeds(personalize):
    assert "datasetGroups" in personalize.list_dataset_groups()
