"""Recipes and the datasets they need, through the handlers: CreateSolution's checks and the items channel.

An unknown recipe, or a dataset group without a dataset the recipe requires, is an InvalidInputException at
CreateSolution (never another model). A recipe that reads item metadata gets the Items dataset in its
training job (``functions/workflows/run.py`` writes the ``items`` channel): aws-hrnn-coldstart then serves
items that have no interactions at all, ranked by their genre.
"""

from __future__ import annotations

import boto3
import pytest

from functions.handlers import runtime
from tests.fixtures import INTERACTIONS_SCHEMA, ITEMS_SCHEMA, interactions_csv, item_cluster, items_csv
from tests.functional.conftest import REGION, call, control_op

pytestmark = pytest.mark.functional

RECIPE = "arn:aws:personalize:::recipe/"


def _dataset(group: str, kind: str, schema_text: str, key: str, body: str) -> None:
    boto3.client("s3", region_name=REGION).put_object(Bucket="data", Key=key, Body=body.encode())
    _, out = control_op("CreateSchema", name=f"s-{kind}", schema=schema_text)
    _, out = control_op(
        "CreateDataset", name=f"d-{kind}", schemaArn=out["schemaArn"], datasetGroupArn=group, datasetType=kind
    )
    _, out = control_op(
        "CreateDatasetImportJob",
        jobName=f"j-{kind}",
        datasetArn=out["datasetArn"],
        dataSource={"dataLocation": f"s3://data/{key}"},
    )
    _, job = control_op("DescribeDatasetImportJob", datasetImportJobArn=out["datasetImportJobArn"])
    assert job["datasetImportJob"]["status"] == "ACTIVE", job


def _group() -> str:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="data")
    _, out = control_op("CreateDatasetGroup", name="g")
    group = out["datasetGroupArn"]
    _dataset(group, "Interactions", INTERACTIONS_SCHEMA, "i.csv", interactions_csv())
    return group


def test_create_solution_refuses_unknown_recipes_and_missing_datasets(aws):
    group = _group()
    for name in ("aws-semantic-similarity", "aws-no-such-recipe"):
        status, body = control_op("CreateSolution", name="x", datasetGroupArn=group, recipeArn=RECIPE + name)
        assert status == 400 and body["__type"] == "InvalidInputException", body
        assert "does not exist" in body["message"]
    for name in ("aws-hrnn-coldstart", "aws-hrnn-metadata", "aws-item-attribute-affinity"):
        status, body = control_op("CreateSolution", name="x", datasetGroupArn=group, recipeArn=RECIPE + name)
        assert status == 400 and body["__type"] == "InvalidInputException", body
        assert "ITEMS" in body["message"]
    usable = (
        "aws-hrnn",
        "aws-ffnn",
        "aws-trending-now",
        "aws-similar-items",
        "aws-personalized-ranking-v2",
        "aws-item-affinity",
        "aws-deepfm",
    )
    for name in usable:
        status, body = control_op("CreateSolution", name=name, datasetGroupArn=group, recipeArn=RECIPE + name)
        assert status == 200, body
    _dataset(group, "Items", ITEMS_SCHEMA, "items.csv", items_csv())
    status, body = control_op(
        "CreateSolution", name="cold", datasetGroupArn=group, recipeArn=RECIPE + "aws-hrnn-coldstart"
    )
    assert status == 200, body


def test_hrnn_coldstart_serves_items_without_interactions_by_genre(aws):
    group = _group()
    # Items 120-129 are in the Items dataset only: no interaction mentions them.
    _dataset(group, "Items", ITEMS_SCHEMA, "items.csv", items_csv(items=130))
    _, out = control_op(
        "CreateSolution",
        name="cold",
        datasetGroupArn=group,
        recipeArn=RECIPE + "aws-hrnn-coldstart",
        solutionConfig={"algorithmHyperParameters": {"epochs": "4", "hidden_dimension": "64"}},
    )
    _, out = control_op("CreateSolutionVersion", solutionArn=out["solutionArn"])
    _, described = control_op("DescribeSolutionVersion", solutionVersionArn=out["solutionVersionArn"])
    assert described["solutionVersion"]["status"] == "ACTIVE", described
    _, out = control_op("CreateCampaign", name="c", solutionVersionArn=out["solutionVersionArn"])
    campaign = out["campaignArn"]

    cold = {f"item-{i}" for i in range(120, 130)}
    wins = 0
    users = [f"user-{u}" for u in range(8)]
    for user in users:
        status, recs = call(
            runtime.handler, "/recommendations", {"campaignArn": campaign, "userId": user, "numResults": 500}
        )
        assert status == 200, recs
        ranked = [r["itemId"] for r in recs["itemList"] if r["itemId"] in cold]
        assert set(ranked) == cold  # never interacted with, yet in the served catalogue
        # Users of cluster c favour genre c (item i has cluster i % 4): the best cold item shares it.
        wins += item_cluster(ranked[0]) == int(user.split("-")[1]) % 4
    assert wins >= 6, f"the best cold item had the user's genre for {wins} of {len(users)} users"
