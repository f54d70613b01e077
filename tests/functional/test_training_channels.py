"""What the control plane hands a training job that reads user fields and context, under moto.

An aws-deepfm version of a group with Interactions (DEVICE marked categorical), Users and an event
recorded after the import with ``properties`` {"device": ...}: the SageMaker prepare step uploads the
``interactions`` channel with the schema and the event's DEVICE in its column, and the ``users`` channel;
a recipe that reads neither (aws-sims) gets no ``users`` channel.
"""

from __future__ import annotations

import csv
import io
import itertools
import json

import boto3
import pytest

from functions.config import settings
from functions.resources import artifacts
from functions.stores import workflows
from functions.stores.blobs import BlobStore
from functions.workflows import steps
from tests.fixtures import CONTEXT_INTERACTIONS_SCHEMA, avro_schema, interactions_csv
from tests.functional.conftest import REGION, RecordingStarter, control_op

pytestmark = pytest.mark.functional
_JOBS = itertools.count()

INTERACTIONS = CONTEXT_INTERACTIONS_SCHEMA
USERS = avro_schema(
    "Users",
    [{"name": "USER_ID", "type": "string"}, {"name": "SEGMENT", "type": "string", "categorical": True}],
)


def _dataset(group: str, kind: str, schema: str, body: str) -> str:
    boto3.client("s3", region_name=REGION).put_object(Bucket="data", Key=f"{kind}.csv", Body=body.encode())
    _, out = control_op("CreateSchema", name=f"s-{kind}", schema=schema)
    _, dataset = control_op("CreateDataset", name=f"d-{kind}", schemaArn=out["schemaArn"],
                          datasetGroupArn=group, datasetType=kind)  # fmt: skip
    source = {"dataLocation": f"s3://data/{kind}.csv"}
    _, job = control_op("CreateDatasetImportJob", jobName=f"job-{next(_JOBS)}",
                      datasetArn=dataset["datasetArn"], dataSource=source)  # fmt: skip
    _, done = control_op("DescribeDatasetImportJob", datasetImportJobArn=job["datasetImportJobArn"])
    assert done["datasetImportJob"]["status"] == "ACTIVE", done
    return dataset["datasetArn"]


def _channels(group: str, recipe: str, name: str | None = None, **config: object) -> dict[str, str]:
    extra = {"solutionConfig": config} if config else {}
    _, solution = control_op("CreateSolution", name=name or recipe.replace("aws-", ""), datasetGroupArn=group,
                           recipeArn=f"arn:aws:personalize:::recipe/{recipe}", **extra)  # fmt: skip
    _, version = control_op("CreateSolutionVersion", solutionArn=solution["solutionArn"])
    job = steps.prepare_training(version["solutionVersionArn"])
    return {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["inputDataConfig"]}


def _files(uri: str) -> dict[str, str]:
    bucket, prefix = uri.removeprefix("s3://").split("/", 1)
    blobs = BlobStore()
    return {key.removeprefix(prefix): blobs.get(bucket, key).decode() for key in blobs.keys(bucket, prefix)}


def _group_with_context_and_users() -> tuple[str, list[str]]:
    workflows.set_starter(RecordingStarter())
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="data")
    _, out = control_op("CreateDatasetGroup", name="g")
    group = out["datasetGroupArn"]
    rows = interactions_csv().splitlines()
    body = "\n".join([rows[0] + ",DEVICE", *(f"{row},mobile" for row in rows[1:])]) + "\n"
    _dataset(group, "Interactions", INTERACTIONS, body)
    users = sorted({row.split(",")[0] for row in rows[1:]})
    _dataset(group, "Users", USERS, "USER_ID,SEGMENT\n" + "".join(f"{u},a\n" for u in users))
    event = {"kind": "event", "eventId": "e-1", "userId": users[0], "itemId": "item-1", "sentAt": 1.7e9,
             "eventType": "click", "properties": {"device": "tablet"}}  # fmt: skip
    key = f"{artifacts.event_archive_prefix(group)}recorded.jsonl"
    BlobStore().put(settings().artifacts_bucket, key, (json.dumps(event) + "\n").encode())
    return group, users


def test_deepfm_gets_the_users_channel_and_the_context_of_recorded_events(aws):
    group, users = _group_with_context_and_users()
    channels = _channels(group, "aws-deepfm")
    assert set(channels) == {"interactions", "users"}
    interactions = _files(channels["interactions"])
    assert json.loads(interactions["schema.json"])["fields"][-1] == json.loads(INTERACTIONS)["fields"][-1]
    [recorded] = list(csv.DictReader(io.StringIO(interactions["events.csv"])))
    assert (recorded["USER_ID"], recorded["DEVICE"]) == (users[0], "tablet")
    user_files = _files(channels["users"])
    assert "schema.json" in user_files and f"{users[0]},a" in user_files["part-0000.csv"]

    assert set(_channels(group, "aws-sims")) == {"interactions"}


def test_training_data_config_leaves_columns_out_of_the_channels(aws):
    group, users = _group_with_context_and_users()
    channels = _channels(
        group,
        "aws-deepfm",
        "deepfm-without-device",
        trainingDataConfig={
            "excludedDatasetColumns": {"INTERACTIONS": ["DEVICE"]},
            "includedDatasetColumns": {"users": []},  # only what Users cannot do without: USER_ID
        },
    )
    interactions = _files(channels["interactions"])
    assert [f["name"] for f in json.loads(interactions["schema.json"])["fields"]] == [
        "USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"
    ]  # fmt: skip
    assert interactions["part-0000.csv"].splitlines()[0] == "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE"
    [recorded] = list(csv.DictReader(io.StringIO(interactions["events.csv"])))
    assert recorded == {
        "USER_ID": users[0],
        "ITEM_ID": "item-1",
        "TIMESTAMP": "1700000000",
        "EVENT_TYPE": "click",
    }
    user_files = _files(channels["users"])
    assert user_files["part-0000.csv"].splitlines()[:2] == ["USER_ID", users[0]]
    _, solution = control_op(
        "DescribeSolution", solutionArn=channels_solution(group, "deepfm-without-device")
    )
    assert solution["solution"]["solutionConfig"]["trainingDataConfig"]["excludedDatasetColumns"] == {
        "INTERACTIONS": ["DEVICE"]
    }


def channels_solution(group: str, name: str) -> str:
    _, listed = control_op("ListSolutions", datasetGroupArn=group)
    return next(s["solutionArn"] for s in listed["solutions"] if s["name"] == name)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"excludedDatasetColumns": {"CLICKS": ["DEVICE"]}}, "'CLICKS' is not a dataset type"),
        ({"excludedDatasetColumns": {"INTERACTIONS": ["COLOUR"]}}, "has no column COLOUR"),
        ({"excludedDatasetColumns": {"INTERACTIONS": ["ITEM_ID"]}}, "ITEM_ID is required"),
        (
            {
                "excludedDatasetColumns": {"USERS": ["SEGMENT"]},
                "includedDatasetColumns": {"USERS": ["SEGMENT"]},
            },
            "SEGMENT of the USERS dataset is both included and excluded",
        ),
    ],
)
def test_training_data_config_is_checked_at_create_solution(aws, config, message):
    group, _ = _group_with_context_and_users()
    status, out = control_op(
        "CreateSolution",
        name="refused",
        datasetGroupArn=group,
        recipeArn="arn:aws:personalize:::recipe/aws-deepfm",
        solutionConfig={"trainingDataConfig": config},
    )
    assert (status, out["__type"]) == (400, "InvalidInputException") and message in out["message"], out
