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


def _channels(group: str, recipe: str) -> dict[str, str]:
    _, solution = control_op("CreateSolution", name=recipe.replace("aws-", ""), datasetGroupArn=group,
                           recipeArn=f"arn:aws:personalize:::recipe/{recipe}")  # fmt: skip
    _, version = control_op("CreateSolutionVersion", solutionArn=solution["solutionArn"])
    job = steps.prepare_training(version["solutionVersionArn"])
    return {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["inputDataConfig"]}


def _files(uri: str) -> dict[str, str]:
    bucket, prefix = uri.removeprefix("s3://").split("/", 1)
    blobs = BlobStore()
    return {key.removeprefix(prefix): blobs.get(bucket, key).decode() for key in blobs.keys(bucket, prefix)}


def test_deepfm_gets_the_users_channel_and_the_context_of_recorded_events(aws):
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

    channels = _channels(group, "aws-deepfm")
    assert set(channels) == {"interactions", "users"}
    interactions = _files(channels["interactions"])
    assert json.loads(interactions["schema.json"])["fields"][-1] == json.loads(INTERACTIONS)["fields"][-1]
    [recorded] = list(csv.DictReader(io.StringIO(interactions["events.csv"])))
    assert (recorded["USER_ID"], recorded["DEVICE"]) == (users[0], "tablet")
    user_files = _files(channels["users"])
    assert "schema.json" in user_files and f"{users[0]},a" in user_files["part-0000.csv"]

    assert set(_channels(group, "aws-sims")) == {"interactions"}
