"""Where the integration suite points: one place that builds every client for the target under test.

Today the target is the embedded local service started by the test session; the same suite is meant
to run against a LocalStack or a real AWS deployment by changing only this module's inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config


@dataclass(frozen=True)
class Target:
    endpoint_url: str
    region: str = "us-east-1"
    access_key: str = "test"
    secret_key: str = "test"

    def client(self, service: str, **overrides: Any) -> Any:
        kwargs: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "region_name": self.region,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "config": Config(retries={"max_attempts": 1}),
        }
        kwargs.update(overrides)
        return boto3.client(service, **kwargs)
