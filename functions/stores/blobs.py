"""Objects in S3: imported datasets, the event archive and model artifacts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from functions.stores.clients import client


def split_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"{uri!r} is not an s3://bucket/key URI")
    return parsed.netloc, parsed.path.lstrip("/")


class BlobStore:
    def _s3(self) -> Any:
        return client("s3")

    def get(self, bucket: str, key: str) -> bytes:
        return self._s3().get_object(Bucket=bucket, Key=key)["Body"].read()

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self._s3().put_object(Bucket=bucket, Key=key, Body=data)

    def exists(self, bucket: str, key: str) -> bool:
        try:
            self._s3().head_object(Bucket=bucket, Key=key)
            return True
        except ClientError:
            return False

    def keys(self, bucket: str, prefix: str) -> list[str]:
        found: list[str] = []
        paginator = self._s3().get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            found.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(found)

    def delete(self, bucket: str, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": k} for k in keys[start : start + 1000]]
            self._s3().delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})

    def upload_dir(self, directory: Path, bucket: str, prefix: str) -> None:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                self.put(bucket, f"{prefix}{path.relative_to(directory).as_posix()}", path.read_bytes())

    def download_prefix(self, bucket: str, prefix: str, directory: Path) -> None:
        for key in self.keys(bucket, prefix):
            target = directory / key[len(prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(target.suffix + ".part")
            tmp.write_bytes(self.get(bucket, key))
            os.replace(tmp, target)
