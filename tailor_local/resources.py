"""The storage the functions expect, created in the embedded moto from the declared wiring."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from functions import wiring
from functions.config import Settings

logger = logging.getLogger(__name__)


def resource_name(env: str, settings: Settings) -> str:
    """The name a function will use for the resource behind ``env``: its setting, default included.

    ``Settings`` names each field after its variable (``TAILOR_HISTORY_TABLE`` -> ``history_table``);
    reading it from there keeps the defaults in one place, functions/config.py.
    """
    attribute = env.removeprefix("TAILOR_").lower()
    value = getattr(settings, attribute, None) or os.environ.get(env, "").strip()
    if not value:
        raise KeyError(f"{env} has no value and no default in functions.config.Settings.{attribute}")
    return str(value)


@dataclass
class Provisioned:
    """What exists now, and which of it already existed (moto's state is per process, not per service)."""

    tables: list[str] = field(default_factory=list)
    buckets: list[str] = field(default_factory=list)
    streams: list[str] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)
    existing: set[str] = field(default_factory=set)

    def describe(self) -> dict[str, list[str]]:
        return {
            "tables": self.tables,
            "buckets": self.buckets,
            "streams": self.streams,
            "queues": self.queues,
        }


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def provision(client: Any, settings: Settings, region: str) -> Provisioned:
    """Create the tables, buckets, streams and queues of the wiring; existing ones are kept as they are."""
    out = Provisioned()
    dynamodb = client("dynamodb")
    for table in wiring.TABLES:
        name = resource_name(table.env, settings)
        try:
            dynamodb.create_table(
                TableName=name,
                AttributeDefinitions=[{"AttributeName": table.partition_key, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": table.partition_key, "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
        except ClientError as exc:
            if _code(exc) != "ResourceInUseException":
                raise
            out.existing.add(name)
        if table.ttl_attribute:
            try:
                dynamodb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
                )
            except ClientError as exc:
                # Enabling TTL twice is an error in DynamoDB; the table is as wanted either way.
                if _code(exc) not in ("ValidationException",):
                    raise
        out.tables.append(name)

    s3 = client("s3")
    for env in wiring.BUCKET_ENVS:
        name = resource_name(env, settings)
        args: dict[str, Any] = {"Bucket": name}
        if region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            s3.create_bucket(**args)
        except ClientError as exc:
            if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
            out.existing.add(name)
        out.buckets.append(name)

    kinesis = client("kinesis")
    for env in wiring.STREAM_ENVS:
        name = resource_name(env, settings)
        try:
            kinesis.create_stream(StreamName=name, ShardCount=1)
        except ClientError as exc:
            if _code(exc) != "ResourceInUseException":
                raise
            out.existing.add(name)
        waiter = kinesis.get_waiter("stream_exists")
        waiter.wait(StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
        out.streams.append(name)

    sqs = client("sqs")
    for env in wiring.QUEUE_ENVS:
        name = resource_name(env, settings)
        # CreateQueue with the same attributes is idempotent.
        sqs.create_queue(QueueName=name)
        out.queues.append(name)
    logger.info("provisioned %s", out.describe())
    return out
