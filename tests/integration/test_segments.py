"""User segments as Personalize applications get them: USER_SEGMENTATION solutions and batch segment jobs.

One dataset group with Interactions (users favour one of four item clusters, user u in cluster u % 4),
Items (GENRE follows the cluster: Comedy, Drama, Action|Comedy, Horror) and Users (MEMBERSHIP gold for
odd users). aws-item-affinity and aws-item-attribute-affinity are trained on it; every segment a job
writes is checked against that structure.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures import (
    INTERACTIONS_SCHEMA,
    ITEMS_SCHEMA,
    USERS_SCHEMA,
    item_cluster,
    items_csv,
    typed_interactions_csv,
    users_csv,
)
from tests.integration.conftest import import_dataset, new_workspace, train_solutions, wait_for

pytestmark = pytest.mark.integration

RECIPES = ("aws-item-affinity", "aws-item-attribute-affinity", "aws-popularity-count")
METRICS = {
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
}


def user_cluster(user_id: str) -> int:
    return int(user_id.split("-")[1]) % 4


def takers() -> dict[str, set[str]]:
    """Item -> the users who interacted with it in the imported data."""
    found: dict[str, set[str]] = {}
    for line in typed_interactions_csv().splitlines()[1:]:
        user, item = line.split(",")[:2]
        found.setdefault(item, set()).add(user)
    return found


@pytest.fixture(scope="module")
def segments(target, personalize, s3) -> dict[str, Any]:
    workspace = new_workspace(target, personalize, s3, "seg")
    suffix, bucket, role, group = workspace.suffix, workspace.bucket, workspace.role, workspace.group
    for kind, schema, body in (
        ("Interactions", INTERACTIONS_SCHEMA, typed_interactions_csv()),
        ("Items", ITEMS_SCHEMA, items_csv()),
        ("Users", USERS_SCHEMA, users_csv()),
    ):
        import_dataset(personalize, s3, bucket, role, group, kind, schema, body, f"seg-{suffix}")
    _, versions = train_solutions(personalize, group, RECIPES, f"seg-{suffix}")
    filters = {
        name: personalize.create_filter(
            name=f"seg-{name}-{suffix}", datasetGroupArn=group, filterExpression=text
        )["filterArn"]
        for name, text in (
            ("gold", 'INCLUDE UserID WHERE Users.MEMBERSHIP IN ("gold")'),
            ("comedy", 'INCLUDE ItemID WHERE Items.GENRE IN ("Comedy")'),
        )
    }
    return {"suffix": suffix, "bucket": bucket, "role": role, "versions": versions, "filters": filters}


def _run_job(personalize, s3, segments, name: str, recipe: str, lines: list[str], **extra) -> dict:
    key = f"segments/{name}/input.json"
    s3.put_object(Bucket=segments["bucket"], Key=key, Body=("\n".join(lines) + "\n").encode())
    arn = personalize.create_batch_segment_job(
        jobName=f"seg-{name}-{segments['suffix']}",
        solutionVersionArn=segments["versions"][recipe],
        jobInput={"s3DataSource": {"path": f"s3://{segments['bucket']}/{key}"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{segments['bucket']}/segments/{name}/out/"}},
        roleArn=segments["role"],
        **extra,
    )["batchSegmentJobArn"]
    return wait_for(lambda: personalize.describe_batch_segment_job(batchSegmentJobArn=arn), "batchSegmentJob")


def _output(s3, segments, name: str) -> list[dict]:
    key = f"segments/{name}/out/input.json.out"
    body = s3.get_object(Bucket=segments["bucket"], Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def test_recipes_are_described_as_user_segmentation(personalize):
    for name in ("aws-item-affinity", "aws-item-attribute-affinity"):
        recipe = personalize.describe_recipe(recipeArn=f"arn:aws:personalize:::recipe/{name}")["recipe"]
        assert recipe["recipeType"] == "USER_SEGMENTATION"
        assert recipe["algorithmArn"] == f"arn:aws:personalize:::algorithm/{name}"
        assert recipe["featureTransformationArn"].endswith(name.removeprefix("aws-"))


def test_describe_algorithm_gives_the_documented_hyperparameters(personalize):
    for name in ("aws-item-affinity", "aws-item-attribute-affinity"):
        recipe = personalize.describe_recipe(recipeArn=f"arn:aws:personalize:::recipe/{name}")["recipe"]
        algorithm = personalize.describe_algorithm(algorithmArn=recipe["algorithmArn"])["algorithm"]
        assert algorithm["name"] == name and algorithm["defaultHyperParameters"]["hidden_dimension"] == "149"
        ranges = algorithm["defaultHyperParameterRanges"]["integerHyperParameterRanges"]
        hidden = next(r for r in ranges if r["name"] == "hidden_dimension")
        # Range [32, 256]; "You can't use hyperparameter optimization (HPO)" with these recipes.
        assert (hidden["minValue"], hidden["maxValue"], hidden["isTunable"]) == (32, 256, False)
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.describe_algorithm(algorithmArn="arn:aws:personalize:::algorithm/aws-no-such-thing")


def test_every_recipes_feature_transformation_is_described(personalize):
    recipes = personalize.list_recipes()["recipes"]
    for summary in recipes:
        recipe = personalize.describe_recipe(recipeArn=summary["recipeArn"])["recipe"]
        arn = recipe["featureTransformationArn"]
        transformation = personalize.describe_feature_transformation(featureTransformationArn=arn)[
            "featureTransformation"
        ]
        assert (transformation["featureTransformationArn"], transformation["status"]) == (arn, "ACTIVE")
        assert transformation["name"] == arn.rsplit("/", 1)[-1]
    v2 = personalize.describe_feature_transformation(
        featureTransformationArn="arn:aws:personalize:::feature-transformation/user-personalization-v2"
    )["featureTransformation"]
    # The data-preparation hyperparameters, at the defaults the training job uses.
    assert v2["defaultParameters"] == {
        "max_user_history_length_percentile": "0.99",
        "min_user_history_length_percentile": "0.0",
    }
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.describe_feature_transformation(
            featureTransformationArn="arn:aws:personalize:::feature-transformation/no-such-thing"
        )


def test_item_affinity_segments_line_by_line(personalize, s3, segments):
    lines = [
        json.dumps({"itemId": "item-3"}),
        "this is not json",
        json.dumps({"itemId": "never-seen"}),
        json.dumps({"itemAttributes": 'ITEMS.GENRE = "Horror"'}),
        json.dumps({"itemId": "item-6"}),
    ]
    doc = _run_job(personalize, s3, segments, "items", "aws-item-affinity", lines, numResults=30)
    assert doc["status"] == "ACTIVE", doc.get("failureReason")
    assert doc["numResults"] == 30 and doc["solutionVersionArn"] == segments["versions"]["aws-item-affinity"]
    out = _output(s3, segments, "items")
    assert len(out) == 5
    took = takers()
    for line, item in ((out[0], "item-3"), (out[4], "item-6")):
        users = line["output"]["recommendedUsers"]
        assert line["input"] == {"itemId": item} and line["error"] is None
        assert len(users) == 30 and len(set(users)) == 30
        # Users rarely take an item again in this data (2% of interactions), so the segment leads with
        # the users of the item's cluster who have not taken it yet.
        fresh = {f"user-{u}" for u in range(80) if u % 4 == item_cluster(item)} - took[item]
        assert len(set(users[: len(fresh)]) & fresh) >= 0.6 * len(fresh), (item, users)
    assert out[1]["input"] == "this is not json" and out[1]["output"] is None and out[1]["error"]
    assert "never-seen" in out[2]["error"] and out[2]["output"] is None
    assert "itemId" in out[3]["error"]  # an item-affinity job takes items, not attributes

    listed = personalize.list_batch_segment_jobs(solutionVersionArn=segments["versions"]["aws-item-affinity"])
    assert [j["jobName"] for j in listed["batchSegmentJobs"]] == [f"seg-items-{segments['suffix']}"]
    assert listed["batchSegmentJobs"][0]["status"] == "ACTIVE"


def test_item_attribute_affinity_with_a_user_filter(personalize, s3, segments):
    lines = [
        json.dumps({"itemAttributes": 'ITEMS.GENRE = "Horror"'}),
        json.dumps({"itemAttributes": 'ITEMS.GENRE = "Drama" AND ITEMS.YEAR < 1990'}),
        json.dumps({"itemAttributes": 'ITEMS.GENRE = "Comedy"'}),
        json.dumps({"itemAttributes": 'ITEMS.NO_SUCH_FIELD = "x"'}),
        json.dumps({"itemAttributes": 'ITEMS.GENRE = "Western"'}),
        json.dumps({"itemId": "item-3"}),
        json.dumps({"itemAttributes": 'Interactions.EVENT_TYPE IN ("click")'}),
    ]
    doc = _run_job(
        personalize, s3, segments, "attributes", "aws-item-attribute-affinity", lines,
        numResults=10, filterArn=segments["filters"]["gold"],
    )  # fmt: skip
    assert doc["status"] == "ACTIVE", doc.get("failureReason")
    assert doc["filterArn"] == segments["filters"]["gold"]
    horror, drama, comedy, unknown_field, western, by_item, interactions = _output(s3, segments, "attributes")
    # Personalize's output for this recipe keeps the query at the top level of the line.
    assert horror["itemAttributes"] == 'ITEMS.GENRE = "Horror"' and "input" not in horror
    for line, cluster in ((horror, 3), (drama, 1)):
        users = line["output"]["recommendedUsers"]
        assert len(users) == 10 and line["error"] is None
        assert sum(user_cluster(u) == cluster for u in users) >= 9, (cluster, users)
    # Comedy fans (clusters 0 and 2) are even users, whom the filter (gold = odd users) leaves out.
    assert len(comedy["output"]["recommendedUsers"]) == 10
    for line in (horror, drama, comedy):
        assert all(int(u.split("-")[1]) % 2 == 1 for u in line["output"]["recommendedUsers"]), line
    assert "NO_SUCH_FIELD" in unknown_field["error"] and unknown_field["output"] is None
    assert "Western" in western["error"]
    assert "itemAttributes" in by_item["error"]
    assert "ITEMS fields" in interactions["error"] and "Interactions.EVENT_TYPE" in interactions["error"]


def test_metrics_and_what_a_segmentation_model_cannot_do(personalize, segments):
    version = segments["versions"]["aws-item-affinity"]
    metrics = personalize.get_solution_metrics(solutionVersionArn=version)["metrics"]
    assert set(metrics) == METRICS and metrics["precision_at_10"] > 0
    errors = personalize.exceptions
    with pytest.raises(errors.InvalidInputException, match="CreateBatchSegmentJob"):
        personalize.create_campaign(name=f"seg-campaign-{segments['suffix']}", solutionVersionArn=version)
    with pytest.raises(errors.InvalidInputException, match="CreateBatchSegmentJob"):
        personalize.create_batch_inference_job(
            jobName=f"seg-inference-{segments['suffix']}",
            solutionVersionArn=version,
            jobInput={"s3DataSource": {"path": f"s3://{segments['bucket']}/x.json"}},
            jobOutput={"s3DataDestination": {"path": f"s3://{segments['bucket']}/out/"}},
            roleArn=segments["role"],
        )


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"solutionVersionArn": "popularity"}, "USER_SEGMENTATION"),
        ({"filterArn": "comedy"}, "UserID"),
        ({"numResults": 6_000_000}, "numResults"),
        ({"jobInput": {"s3DataSource": {"path": "not-an-s3-uri"}}}, "jobInput"),
    ],
)
def test_create_batch_segment_job_validation(personalize, segments, change, fragment):
    request: dict[str, Any] = {
        "jobName": f"seg-bad-{segments['suffix']}",
        "solutionVersionArn": segments["versions"]["aws-item-affinity"],
        "jobInput": {"s3DataSource": {"path": f"s3://{segments['bucket']}/x.json"}},
        "jobOutput": {"s3DataDestination": {"path": f"s3://{segments['bucket']}/out/"}},
        "roleArn": segments["role"],
    }
    if change.get("solutionVersionArn") == "popularity":
        change = {"solutionVersionArn": segments["versions"]["aws-popularity-count"]}
    if "filterArn" in change:
        change = {"filterArn": segments["filters"][change["filterArn"]]}
    with pytest.raises(personalize.exceptions.InvalidInputException, match=fragment):
        personalize.create_batch_segment_job(**{**request, **change})


def test_unknown_job_and_an_oversized_input(personalize, s3, segments):
    missing = f"arn:aws:personalize:us-east-1:000000000000:batch-segment-job/none-{segments['suffix']}"
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.describe_batch_segment_job(batchSegmentJobArn=missing)
    lines = [json.dumps({"itemAttributes": 'ITEMS.GENRE = "Drama"'})] * 11
    doc = _run_job(personalize, s3, segments, "too-many", "aws-item-attribute-affinity", lines)
    assert doc["status"] == "CREATE FAILED" and "at most 10" in doc["failureReason"]
