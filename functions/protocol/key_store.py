"""Where Tailor finds the secret behind an access key id.

Tailor issues its own keys (as MinIO does for S3), so the verifier only needs one question answered:
"which secret and account belong to this access key id?". ``KeyStore`` is that question and nothing
more: ``StaticKeyStore`` answers it from the environment (the local service, tests),
``SecretsManagerKeyStore`` from a deployment's admin-key secret.

``TAILOR_ACCESS_KEYS`` holds ``AKID:SECRET[:ACCOUNT]`` entries separated by commas. Unset (or blank,
as ``VAR=`` in a compose file leaves it), the local service accepts the documented pair ``test`` /
``test`` in account ``123456789012``, the account moto uses by default, so boto3 pointed at a local
Tailor with moto's usual credentials works unchanged.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

ENV_VAR = "TAILOR_ACCESS_KEYS"
# Same name as functions.wiring.ENV_ADMIN_KEY_SECRET; repeated so that the protocol layer needs no wiring.
ENV_ADMIN_KEY_SECRET = "TAILOR_ADMIN_KEY_SECRET"
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


def credential_from_secret(secret_string: str) -> Credential:
    """The admin key as the deployment stores it: ``{"accessKeyId", "secretAccessKey", "accountId"}``."""
    try:
        doc = json.loads(secret_string)
        credential = Credential(str(doc["accessKeyId"]), str(doc["secretAccessKey"]), str(doc["accountId"]))
    except (ValueError, KeyError, TypeError) as exc:
        # Never echo the secret string itself.
        raise ValueError(
            "the admin key secret must be a JSON object with accessKeyId, secretAccessKey and accountId"
        ) from exc
    if not credential.access_key_id or not credential.secret_access_key:
        raise ValueError("the admin key secret has an empty accessKeyId or secretAccessKey")
    if not _ACCOUNT_ID.match(credential.account_id):
        raise ValueError(f"the admin key secret's accountId must be 12 digits, got {credential.account_id!r}")
    return credential


class SecretsManagerKeyStore:
    """The deployment's admin key, read from Secrets Manager and cached.

    A warm Lambda answers from memory; the secret is read again after ``ttl_s`` so that a rotated key
    takes effect without a redeploy, and at most every ``miss_refresh_s`` when an unknown key id
    arrives (a client may have the new key before this process does), so that a flood of bad keys
    cannot turn into a flood of Secrets Manager calls.
    """

    def __init__(
        self,
        secret_id: str,
        fetch: Callable[[str], str] | None = None,
        ttl_s: float = 300.0,
        miss_refresh_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret_id = secret_id
        self._fetch = fetch or _fetch_secret_string
        self._ttl_s = ttl_s
        self._miss_refresh_s = miss_refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._credential: Credential | None = None
        self._fetched_at = float("-inf")

    def _refresh(self) -> Credential:
        credential = credential_from_secret(self._fetch(self._secret_id))
        self._credential, self._fetched_at = credential, self._clock()
        return credential

    def secret_for(self, access_key_id: str) -> Credential | None:
        with self._lock:
            age = self._clock() - self._fetched_at
            credential = self._credential
            if credential is None or age >= self._ttl_s:
                credential = self._refresh()
            elif credential.access_key_id != access_key_id and age >= self._miss_refresh_s:
                credential = self._refresh()
        return credential if credential.access_key_id == access_key_id else None


def _fetch_secret_string(secret_id: str) -> str:
    from functions.stores.clients import client

    return client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]


class ChainedKeyStore:
    """Asks each store in turn: a deployment's admin key plus any keys given in TAILOR_ACCESS_KEYS."""

    def __init__(self, *stores: KeyStore) -> None:
        self._stores = stores

    def secret_for(self, access_key_id: str) -> Credential | None:
        for store in self._stores:
            credential = store.secret_for(access_key_id)
            if credential is not None:
                return credential
        return None


def key_store_from_env(environ: Mapping[str, str] | None = None) -> KeyStore:
    env = os.environ if environ is None else environ
    spec = env.get(ENV_VAR, "")
    secret_id = env.get(ENV_ADMIN_KEY_SECRET, "").strip()
    if secret_id:
        # A deployment: no default key, ever; extra keys only when given explicitly.
        admin = SecretsManagerKeyStore(secret_id)
        if not spec.strip():
            return admin
        return ChainedKeyStore(admin, StaticKeyStore.of(*parse_access_keys(spec)))
    if not spec.strip():
        return StaticKeyStore.of(default_credential())
    credentials = parse_access_keys(spec)
    if not credentials:
        raise ValueError(f"{ENV_VAR} is set but names no keys")
    return StaticKeyStore.of(*credentials)
