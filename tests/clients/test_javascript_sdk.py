"""Personalize's workflow through the AWS SDK for JavaScript v3 (``sdk_workflow.mjs``, run by Node.js)."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.resources.recipes import listed_recipes
from tests.clients.conftest import NODE_SDK, ROOT
from tests.fixtures import ASSUME_ROLE_POLICY, INTERACTIONS_SCHEMA, interactions_csv, item_cluster

pytestmark = pytest.mark.clients

SCRIPT = Path(__file__).with_name("sdk_workflow.mjs")


@pytest.fixture(scope="module")
def sdk_run(tmp_path_factory: pytest.TempPathFactory, endpoint: str, client_env: dict[str, str]) -> Any:
    node = shutil.which("node")
    if node is None or not NODE_SDK.exists():
        pytest.fail("Node.js and node_modules/@aws-sdk are needed: `make test` runs `npm ci`")
    suffix = uuid.uuid4().hex[:8]
    aws = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
    }
    bucket = f"tailor-js-{suffix}"
    boto3.client("s3", **aws).create_bucket(Bucket=bucket)
    boto3.client("s3", **aws).put_object(
        Bucket=bucket, Key="interactions.csv", Body=interactions_csv().encode()
    )
    role = boto3.client("iam", **aws).create_role(
        RoleName=f"PersonalizeJs-{suffix}", AssumeRolePolicyDocument=ASSUME_ROLE_POLICY
    )["Role"]["Arn"]
    schema = tmp_path_factory.mktemp("js") / "schema.json"
    schema.write_text(INTERACTIONS_SCHEMA)
    result = subprocess.run(
        [node, str(SCRIPT), f"s3://{bucket}/interactions.csv", role, str(schema), suffix],
        # The script imports the SDK from the repository's node_modules.
        cwd=ROOT,
        env=client_env,
        capture_output=True,
        text=True,
        timeout=480,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr[-4000:]}"
    return json.loads(result.stdout)


def test_related_items_come_from_the_items_cluster(sdk_run: Any) -> None:
    items = [entry["itemId"] for entry in sdk_run["related"]["itemList"]]
    assert len(items) == 10 and "item-4" not in items
    # Co-watched items share a cluster (tests/fixtures.py); item-4 is in cluster 0.
    assert sum(item_cluster(item) == 0 for item in items) >= 8, items
    assert sdk_run["related"]["recommendationId"].startswith("RID-")


def test_timestamps_parse_as_dates_and_metrics_as_numbers(sdk_run: Any) -> None:
    assert sdk_run["groupCreatedIsADate"] is True
    assert -5_000 < sdk_run["groupCreatedMsAgo"] < 600_000
    metrics = sdk_run["metrics"]
    assert {"coverage", "mean_reciprocal_rank_at_25", "normalized_discounted_cumulative_gain_at_10"} <= set(
        metrics
    )
    assert all(isinstance(value, float | int) for value in metrics.values())


def test_a_metric_attribution_round_trips(sdk_run: Any) -> None:
    assert sdk_run["attribution"] == {
        "status": "ACTIVE",
        "createdIsADate": True,
        "metrics": [{"eventType": "click", "expression": "SAMPLECOUNT()", "metricName": "CLICKS"}],
    }


def test_events_are_accepted_and_the_paginator_sees_every_recipe(sdk_run: Any) -> None:
    assert sdk_run["putEventsStatus"] == 200
    assert sorted(sdk_run["recipes"]) == sorted(r["name"] for r in listed_recipes())


@pytest.mark.parametrize(
    ("call", "name", "status"),
    [
        ("describeMissingCampaign", "ResourceNotFoundException", 400),
        ("badFilterExpression", "InvalidInputException", 400),
        ("recommendFromMissingCampaign", "ResourceNotFoundException", 404),
        ("putEventsUnknownTracker", "ResourceNotFoundException", 404),
    ],
)
def test_errors_reach_the_sdk_as_the_models_exception_classes(
    sdk_run: Any, call: str, name: str, status: int
) -> None:
    error = sdk_run["errors"][call]
    assert (error["name"], error["status"]) == (name, status), error
    assert error["message"] and error["message"] != "UnknownError"
