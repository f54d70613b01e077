"""Where Tailor finds the secret behind an access key id.

Tailor issues its own keys (as MinIO does for S3), so the verifier only needs one question answered:
"which secret and account belong to this access key id?". ``KeyStore`` is that question and nothing
more, so that a Secrets-Manager-backed store can stand in for ``StaticKeyStore`` later.

``TAILOR_ACCESS_KEYS`` holds ``AKID:SECRET[:ACCOUNT]`` entries separated by commas. Unset (or blank,
as ``VAR=`` in a compose file leaves it), the local service accepts the documented pair ``test`` /
``test`` in account ``123456789012``, the account moto uses by default, so boto3 pointed at a local
Tailor with moto's usual credentials works unchanged.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

ENV_VAR = "TAILOR_ACCESS_KEYS"
DEFAULT_ACCESS_KEY_ID = "test"
DEFAULT_SECRET_ACCESS_KEY = "test"
DEFAULT_ACCOUNT_ID = "123456789012"

_ACCOUNT_ID = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class Credential:
    access_key_id: str
    # Kept out of repr so that logging a credential (or a Principal built from it) never leaks it.
    secret_access_key: str = field(repr=False)
    account_id: str = DEFAULT_ACCOUNT_ID


@runtime_checkable
class KeyStore(Protocol):
    def secret_for(self, access_key_id: str) -> Credential | None:
        """The credential for ``access_key_id``, or None when Tailor never issued it."""
        ...


class StaticKeyStore:
    """Keys fixed at start-up: the local service, tests, and a deployment's bootstrap key."""

    def __init__(self, credentials: Mapping[str, Credential]) -> None:
        for key, credential in credentials.items():
            # A mapping whose key disagrees with its credential would sign as one id and report another.
            if key != credential.access_key_id:
                raise ValueError(
                    f"key store entry {key!r} holds the credential of {credential.access_key_id!r}"
                )
        self._credentials = dict(credentials)

    @classmethod
    def of(cls, *credentials: Credential) -> StaticKeyStore:
        store: dict[str, Credential] = {}
        for credential in credentials:
            if credential.access_key_id in store:
                raise ValueError(f"access key id {credential.access_key_id!r} is given twice")
            store[credential.access_key_id] = credential
        return cls(store)

    def secret_for(self, access_key_id: str) -> Credential | None:
        return self._credentials.get(access_key_id)

    def __len__(self) -> int:
        return len(self._credentials)


def default_credential() -> Credential:
    return Credential(DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY, DEFAULT_ACCOUNT_ID)


def parse_access_keys(spec: str) -> list[Credential]:
    """Parse ``AKID:SECRET[:ACCOUNT],...``; a typo fails start-up rather than every request."""
    credentials: list[Credential] = []
    for position, entry in enumerate(spec.split(","), start=1):
        entry = entry.strip()
        if not entry:
            continue
        parts = entry.split(":")
        # Never echo the entry itself: it contains a secret.
        if len(parts) not in (2, 3):
            raise ValueError(
                f"{ENV_VAR} entry {position} must be AKID:SECRET or AKID:SECRET:ACCOUNT "
                f"(found {len(parts)} colon-separated fields)"
            )
        access_key_id, secret = parts[0].strip(), parts[1].strip()
        account_id = parts[2].strip() if len(parts) == 3 else DEFAULT_ACCOUNT_ID
        if not access_key_id or not secret:
            raise ValueError(f"{ENV_VAR} entry {position} has an empty access key id or secret")
        if not _ACCOUNT_ID.match(account_id):
            raise ValueError(
                f"{ENV_VAR} entry {position} ({access_key_id}): account id must be 12 digits, "
                f"got {account_id!r}"
            )
        credentials.append(Credential(access_key_id, secret, account_id))
    return credentials


def key_store_from_env(environ: Mapping[str, str] | None = None) -> StaticKeyStore:
    env = os.environ if environ is None else environ
    spec = env.get(ENV_VAR, "")
    if not spec.strip():
        return StaticKeyStore.of(default_credential())
    credentials = parse_access_keys(spec)
    if not credentials:
        raise ValueError(f"{ENV_VAR} is set but names no keys")
    return StaticKeyStore.of(*credentials)
