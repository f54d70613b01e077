"""UpdateDataset: an Items dataset's schema replaced by one with a new column, and what it may not change."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.fixtures import ITEMS_SCHEMA, avro_schema, interactions_and_items
from tests.integration.conftest import import_into, new_workspace

pytestmark = pytest.mark.integration

FIELDS = json.loads(ITEMS_SCHEMA)["fields"]


def _schema(personalize, name: str, fields: list[dict[str, Any]]) -> str:
    return personalize.create_schema(name=name, schema=avro_schema("Items", fields))["schemaArn"]


@pytest.fixture(scope="module")
def group(target, personalize, s3) -> dict[str, Any]:
    ws = new_workspace(target, personalize, s3, "update")
    name = f"update-{ws.suffix}"
    imported = import_into(personalize, s3, ws, name, interactions_and_items())
    interactions, items = imported["Interactions"], imported["Items"]
    solution = personalize.create_solution(
        name=f"{name}-before",
        datasetGroupArn=ws.group,
        recipeArn="arn:aws:personalize:::recipe/aws-hrnn-metadata",
    )["solutionArn"]
    return {
        "name": name,
        "group": ws.group,
        "items": items,
        "interactions": interactions,
        "solution": solution,
    }


def test_a_new_nullable_column_replaces_the_schema(personalize, events, group):
    price = {"name": "PRICE", "type": ["null", "float"]}
    schema = _schema(personalize, f"{group['name']}-priced", [*FIELDS, price])
    assert (
        personalize.update_dataset(datasetArn=group["items"], schemaArn=schema)["datasetArn"]
        == group["items"]
    )
    dataset = personalize.describe_dataset(datasetArn=group["items"])["dataset"]
    assert dataset["schemaArn"] == schema
    assert (dataset["latestDatasetUpdate"]["schemaArn"], dataset["latestDatasetUpdate"]["status"]) == (
        schema,
        "ACTIVE",
    )
    # The solution created before trains without the new column until its configuration says otherwise.
    config = personalize.describe_solution(solutionArn=group["solution"])["solution"]["solutionConfig"]
    assert config["trainingDataConfig"]["excludedDatasetColumns"] == {"ITEMS": ["PRICE"]}
    # The new column is a field now: filters and PutItems take it.
    personalize.create_filter(
        name=f"{group['name']}-cheap",
        datasetGroupArn=group["group"],
        filterExpression="INCLUDE ItemID WHERE Items.PRICE < 5",
    )
    deadline = time.monotonic() + 30  # the events API re-reads a dataset's schema every few seconds
    while True:
        try:
            events.put_items(
                datasetArn=group["items"],
                items=[
                    {"itemId": "item-1", "properties": json.dumps({"price": 4.5, "creationTimestamp": 1})}
                ],
            )
            break
        except events.exceptions.InvalidInputException:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda fields: [f for f in fields if f["name"] != "TITLE"], "drops field TITLE"),
        (
            lambda fields: [{**f, "categorical": False} if f["name"] == "GENRE" else f for f in fields],
            "changes field GENRE",
        ),
        (lambda fields: [*fields, {"name": "COLOUR", "type": "string"}], "New field COLOUR must accept null"),
    ],
)
def test_a_replacement_may_only_add_nullable_columns(personalize, group, change, message):
    current = personalize.describe_dataset(datasetArn=group["items"])["dataset"]["schemaArn"]
    fields = json.loads(personalize.describe_schema(schemaArn=current)["schema"]["schema"])["fields"]
    schema = _schema(personalize, f"{group['name']}-bad-{message.split()[-1].lower()}", change(fields))
    with pytest.raises(personalize.exceptions.InvalidInputException) as refused:
        personalize.update_dataset(datasetArn=group["items"], schemaArn=schema)
    assert message in str(refused.value)
    assert personalize.describe_dataset(datasetArn=group["items"])["dataset"]["schemaArn"] == current


def test_interactions_and_missing_datasets_are_refused(personalize, group):
    schema = personalize.describe_dataset(datasetArn=group["interactions"])["dataset"]["schemaArn"]
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.update_dataset(datasetArn=group["interactions"], schemaArn=schema)
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.update_dataset(datasetArn=f"{group['items']}-missing", schemaArn=schema)
