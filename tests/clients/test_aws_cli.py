"""Personalize's getting-started workflow as an AWS CLI shell script (``personalize_workflow.sh``)."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from functions.resources.recipes import listed_recipes
from tests.clients.conftest import AWS_CLI
from tests.fixtures import ASSUME_ROLE_POLICY, INTERACTIONS_SCHEMA, interactions_csv, item_cluster

pytestmark = pytest.mark.clients

SCRIPT = Path(__file__).with_name("personalize_workflow.sh")


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory, client_env: dict[str, str]) -> Path:
    if not AWS_CLI.exists():
        pytest.fail(f"{AWS_CLI} is missing: `make test` installs the AWS CLI into .venv-awscli")
    work = tmp_path_factory.mktemp("cli")
    (work / "interactions.csv").write_text(interactions_csv())
    (work / "schema.json").write_text(INTERACTIONS_SCHEMA)
    (work / "trust.json").write_text(ASSUME_ROLE_POLICY)
    result = subprocess.run(
        ["bash", str(SCRIPT), str(work), uuid.uuid4().hex[:8]],
        env={**client_env, "AWS_CLI": str(AWS_CLI)},
        capture_output=True,
        text=True,
        timeout=480,
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr[-4000:]}"
    return work


def read(work: Path, name: str):
    return json.loads((work / name).read_text())


def test_the_campaign_recommends_the_users_cluster(cli_run: Path) -> None:
    items = [entry["itemId"] for entry in read(cli_run, "recommendations.json")["itemList"]]
    assert len(items) == 5
    # user-0 favours cluster 0 (tests/fixtures.py); a model that learned anything stays in it.
    assert sum(item_cluster(item) == 0 for item in items) >= 4, items
    assert read(cli_run, "recommendations.json")["recommendationId"].startswith("RID-")


def test_metrics_and_versions_come_back_in_personalizes_shapes(cli_run: Path) -> None:
    metrics = read(cli_run, "metrics.json")["metrics"]
    assert {"coverage", "mean_reciprocal_rank_at_25", "normalized_discounted_cumulative_gain_at_10"} <= set(
        metrics
    )
    versions = read(cli_run, "versions.json")["solutionVersions"]
    assert [(v["status"], v["trainingMode"]) for v in versions] == [("ACTIVE", "FULL")]


def test_the_event_and_the_filter_reach_the_next_request(cli_run: Path) -> None:
    items = [entry["itemId"] for entry in read(cli_run, "filtered.json")["itemList"]]
    assert len(items) == 5 and "item-1" not in items


def test_the_guides_metric_attribution_commands_run_unchanged(cli_run: Path) -> None:
    metrics = read(cli_run, "attribution-metrics.json")["metrics"]
    assert metrics == [{"eventType": "click", "expression": "SAMPLECOUNT()", "metricName": "CLICKS"}]


def test_the_cli_pages_through_every_recipe(cli_run: Path) -> None:
    # --page-size 3 makes the CLI follow nextToken across six pages.
    assert sorted(read(cli_run, "recipes.json")) == sorted(r["name"] for r in listed_recipes())


def test_failures_exit_255_with_the_service_error_code(cli_run: Path) -> None:
    errors = (cli_run / "errors.txt").read_text()
    assert errors.count("exit 255 from:") == 4, errors
    for code, operation in (
        ("ResourceNotFoundException", "DescribeCampaign"),
        ("ResourceAlreadyExistsException", "CreateDatasetGroup"),
        ("InvalidInputException", "GetRecommendations"),
        ("InvalidInputException", "CreateSolution"),
    ):
        assert f"An error occurred ({code}) when calling the {operation} operation: " in errors
