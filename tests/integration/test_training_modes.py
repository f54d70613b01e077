"""Training modes, automatic-training settings and training progress through the public API.

Runs against every target (embedded, LocalStack, deployed), so it uses only Personalize's API: progress
is read with ListTagsForResource while the version trains.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.fixtures import INTERACTIONS_SCHEMA, interactions_csv
from tests.integration.conftest import import_dataset, new_workspace, wait_for

pytestmark = pytest.mark.integration

PROGRESS_TAG = "tailor:trainingProgress"
UP = "arn:aws:personalize:::recipe/aws-user-personalization"


def _progress(personalize, arn: str) -> str | None:
    tags = personalize.list_tags_for_resource(resourceArn=arn)["tags"]
    return next((t["tagValue"] for t in tags if t["tagKey"] == PROGRESS_TAG), None)


def _train_watching_progress(personalize, version: str) -> tuple[dict[str, Any], list[str]]:
    """Wait for the version, reading its progress tag whenever it is CREATE IN_PROGRESS."""
    seen: list[str] = []
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        doc = personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"]
        if doc["status"] in ("ACTIVE", "CREATE FAILED", "CREATE STOPPED"):
            return doc, seen
        if doc["status"] == "CREATE IN_PROGRESS":
            value = _progress(personalize, version)
            if value and (not seen or seen[-1] != value):
                seen.append(value)
        time.sleep(0.2)
    raise AssertionError(f"{version} did not finish")


@pytest.fixture(scope="module")
def trained(target, personalize, s3) -> dict[str, Any]:
    workspace = new_workspace(target, personalize, s3, "modes")
    suffix, bucket, role, group = workspace.suffix, workspace.bucket, workspace.role, workspace.group
    import_dataset(personalize, s3, bucket, role, group, "Interactions", INTERACTIONS_SCHEMA,
                   interactions_csv(), f"modes-{suffix}")  # fmt: skip
    solution = personalize.create_solution(name=f"modes-up-{suffix}", datasetGroupArn=group, recipeArn=UP)[
        "solutionArn"
    ]
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    doc, seen = _train_watching_progress(personalize, version)
    assert doc["status"] == "ACTIVE", doc.get("failureReason")
    return {"suffix": suffix, "group": group, "solution": solution, "version": version, "seen": seen}


def test_training_progress_is_a_tag_while_in_progress_and_done_at_the_end(personalize, trained):
    assert trained["seen"], "no progress tag was readable while the version was CREATE IN_PROGRESS"
    assert all(value.startswith("phase=") for value in trained["seen"])
    assert any(value.split()[0] != "phase=done" for value in trained["seen"])
    final = _progress(personalize, trained["version"])
    assert final is not None and final.startswith("phase=done seconds=")
    described = personalize.describe_solution_version(solutionVersionArn=trained["version"])[
        "solutionVersion"
    ]
    assert (described["trainingMode"], described["trainingType"]) == ("FULL", "MANUAL")


def test_update_starts_from_the_active_version(personalize, trained):
    update = personalize.create_solution_version(solutionArn=trained["solution"], trainingMode="UPDATE")[
        "solutionVersionArn"
    ]
    doc = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=update), "solutionVersion", 600
    )
    assert doc["status"] == "ACTIVE", doc.get("failureReason")
    assert doc["trainingMode"] == "UPDATE"
    listed = personalize.list_solution_versions(solutionArn=trained["solution"])["solutionVersions"]
    assert {v["solutionVersionArn"]: v["trainingMode"] for v in listed}[update] == "UPDATE"
    # The update does not re-run the held-out evaluation: it reports the metrics of its base.
    metrics = [
        personalize.get_solution_metrics(solutionVersionArn=a)["metrics"]
        for a in (trained["version"], update)
    ]
    assert metrics[0] == metrics[1]


def test_update_is_refused_where_personalize_refuses_it(personalize, trained):
    group, suffix = trained["group"], trained["suffix"]
    sims = personalize.create_solution(
        name=f"modes-sims-{suffix}", datasetGroupArn=group, recipeArn="arn:aws:personalize:::recipe/aws-sims"
    )["solutionArn"]
    fresh = personalize.create_solution(name=f"modes-fresh-{suffix}", datasetGroupArn=group, recipeArn=UP)[
        "solutionArn"
    ]
    for solution, needle in ((sims, "aws-user-personalization"), (fresh, "ACTIVE solution version")):
        with pytest.raises(ClientError) as error:
            personalize.create_solution_version(solutionArn=solution, trainingMode="UPDATE")
        assert error.value.response["Error"]["Code"] == "InvalidInputException"
        assert needle in error.value.response["Error"]["Message"]


def test_update_solution_changes_automatic_training(personalize, trained):
    solution = personalize.create_solution(
        name=f"modes-auto-{trained['suffix']}", datasetGroupArn=trained["group"], recipeArn=UP,
        solutionConfig={"autoTrainingConfig": {"schedulingExpression": "rate(5 days)"}},
    )["solutionArn"]  # fmt: skip
    described = personalize.describe_solution(solutionArn=solution)["solution"]
    assert described["performAutoTraining"] is True
    assert described["solutionConfig"]["autoTrainingConfig"] == {"schedulingExpression": "rate(5 days)"}
    assert "latestSolutionUpdate" not in described

    daily = {"autoTrainingConfig": {"schedulingExpression": "rate(1 day)"}}
    personalize.update_solution(solutionArn=solution, performAutoTraining=True, solutionUpdateConfig=daily)
    described = personalize.describe_solution(solutionArn=solution)["solution"]
    assert described["solutionConfig"]["autoTrainingConfig"] == {"schedulingExpression": "rate(1 day)"}
    update = described["latestSolutionUpdate"]
    assert update["status"] == "ACTIVE" and update["performAutoTraining"] is True
    assert update["solutionUpdateConfig"]["autoTrainingConfig"] == {"schedulingExpression": "rate(1 day)"}

    personalize.update_solution(solutionArn=solution, performAutoTraining=False)
    described = personalize.describe_solution(solutionArn=solution)["solution"]
    assert described["performAutoTraining"] is False
    assert described["latestSolutionUpdate"]["performAutoTraining"] is False

    with pytest.raises(ClientError) as error:
        monthly = {"autoTrainingConfig": {"schedulingExpression": "rate(31 days)"}}
        personalize.update_solution(solutionArn=solution, solutionUpdateConfig=monthly)
    assert error.value.response["Error"]["Code"] == "InvalidInputException"
    with pytest.raises(ClientError) as error:
        personalize.update_solution(solutionArn=solution + "-missing", performAutoTraining=True)
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
