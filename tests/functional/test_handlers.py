"""The Lambda handlers end to end in-process: control plane, workflows, runtime, events and ingest."""

from __future__ import annotations

import base64
import time

import boto3
import pytest

from functions.handlers import control, events, ingest, runtime
from tests.fixtures import INTERACTIONS_SCHEMA, interactions_csv
from tests.functional.conftest import REGION, call, control_op

pytestmark = pytest.mark.functional


def test_json11_errors_carry_type_and_status(aws):
    status, body = control_op(
        "DescribeDatasetGroup", datasetGroupArn="arn:aws:personalize:us-east-1:1:dataset-group/x"
    )
    assert status == 400 and body["__type"] == "ResourceNotFoundException"
    status, body = control_op("CreateDatasetGroup")
    assert status == 400 and body["__type"] == "InvalidInputException"
    status, body = call(control.handler, "/", {}, target="ListDatasetGroups", secret_key="wrong")
    assert status == 403 and body["__type"] == "InvalidSignatureException"
    status, body = call(control.handler, "/", {}, target="NoSuchOperation")
    assert status == 400 and body["__type"] == "UnknownOperationException"


def _kinesis_event() -> dict:
    kinesis = boto3.client("kinesis", region_name=REGION)
    shard = kinesis.list_shards(StreamName="tailor-events")["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(
        StreamName="tailor-events", ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = kinesis.get_records(ShardIterator=iterator)["Records"]
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": r["PartitionKey"],
                    "sequenceNumber": r["SequenceNumber"],
                    "data": base64.b64encode(r["Data"]).decode(),
                    "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"{shard}:{r['SequenceNumber']}",
                "eventName": "aws:kinesis:record",
                "awsRegion": REGION,
                "eventSourceARN": f"arn:aws:kinesis:{REGION}:123456789012:stream/tailor-events",
            }
            for r in records
        ]
    }


def test_workflow_through_handlers(aws):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="i.csv", Body=interactions_csv().encode())
    _, out = control_op("CreateSchema", name="s", schema=INTERACTIONS_SCHEMA)
    schema = out["schemaArn"]
    _, out = control_op("CreateDatasetGroup", name="g")
    group = out["datasetGroupArn"]
    _, out = control_op(
        "CreateDataset", name="d", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
    )
    dataset = out["datasetArn"]
    _, out = control_op(
        "CreateDatasetImportJob",
        jobName="j",
        datasetArn=dataset,
        dataSource={"dataLocation": "s3://data/i.csv"},
    )
    _, job = control_op("DescribeDatasetImportJob", datasetImportJobArn=out["datasetImportJobArn"])
    assert job["datasetImportJob"]["status"] == "ACTIVE", job

    _, out = control_op(
        "CreateSolution",
        name="pop",
        datasetGroupArn=group,
        recipeArn="arn:aws:personalize:::recipe/aws-popularity-count",
    )
    _, out = control_op("CreateSolutionVersion", solutionArn=out["solutionArn"])
    version = out["solutionVersionArn"]
    _, described = control_op("DescribeSolutionVersion", solutionVersionArn=version)
    assert described["solutionVersion"]["status"] == "ACTIVE", described
    _, out = control_op("CreateCampaign", name="c", solutionVersionArn=version)
    campaign = out["campaignArn"]
    _, described = control_op("DescribeCampaign", campaignArn=campaign)
    assert described["campaign"]["status"] == "ACTIVE", described

    status, recs = call(runtime.handler, "/recommendations", {"campaignArn": campaign, "userId": "user-3"})
    assert status == 200 and len(recs["itemList"]) == 25
    top = recs["itemList"][0]["itemId"]

    _, tracker = control_op("CreateEventTracker", name="t", datasetGroupArn=group)
    event = {"eventId": "e-1", "eventType": "click", "itemId": top, "sentAt": time.time()}
    body = {"trackingId": tracker["trackingId"], "userId": "user-3", "sessionId": "s", "eventList": [event]}
    assert call(events.handler, "/events", body)[0] == 200
    assert call(events.handler, "/events", body)[0] == 200  # a client retry: same eventId

    kinesis_event = _kinesis_event()
    assert len(kinesis_event["Records"]) == 2
    assert ingest.handler(kinesis_event, None) == {"batchItemFailures": []}
    assert ingest.handler(kinesis_event, None) == {"batchItemFailures": []}  # Kinesis redelivery

    from functions.stores.history import HistoryStore, history_key

    assert [e.item_id for e in HistoryStore().events(history_key(group, "user-3"))] == [top]
    _, recs = call(runtime.handler, "/recommendations", {"campaignArn": campaign, "userId": "user-3"})
    assert top not in [i["itemId"] for i in recs["itemList"]]


def test_poison_record_is_parked_in_the_dlq_with_its_reason(aws):
    good = {
        "kind": "event",
        "trackingId": "t",
        "datasetGroupArn": "arn:aws:personalize:us-east-1:1:dataset-group/g",
        "userId": "u",
        "sessionId": "s",
        "eventId": "ok-1",
        "eventType": "click",
        "itemId": "i",
        "sentAt": 1.0,
    }
    import json

    records = []
    for seq, data in (("1", json.dumps(good).encode()), ("2", b"not json")):
        records.append(
            {
                "kinesis": {
                    "partitionKey": "u",
                    "sequenceNumber": seq,
                    "data": base64.b64encode(data).decode(),
                    "kinesisSchemaVersion": "1.0",
                    "approximateArrivalTimestamp": 1.0,
                },
                "eventSource": "aws:kinesis",
                "eventID": f"shardId-0:{seq}",
                "eventName": "aws:kinesis:record",
                "eventVersion": "1.0",
                "awsRegion": REGION,
                "eventSourceARN": "arn:aws:kinesis:us-east-1:1:stream/s",
            }
        )
    # A record that can never be applied is parked in the DLQ with its reason, not retried.
    assert ingest.handler({"Records": records}, None) == {"batchItemFailures": []}
    from functions.config import settings
    from functions.stores.clients import client
    from functions.stores.history import HistoryStore, history_key

    assert [e.event_id for e in HistoryStore().events(history_key(good["datasetGroupArn"], "u"))] == ["ok-1"]
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=settings().dlq_queue)["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    parked = json.loads(messages[0]["Body"])
    assert parked["sequenceNumber"] == "2" and "not JSON" in parked["reason"]
    assert base64.b64decode(parked["data"]) == b"not json"
