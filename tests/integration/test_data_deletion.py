"""Data deletion jobs: the users a CSV lists leave the datasets, the recorded events and PutUsers records."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

import pytest

from tests.fixtures import INTERACTIONS_SCHEMA, USERS_SCHEMA, interactions_csv, users_csv
from tests.integration.conftest import (
    active_event_tracker,
    export_dataset,
    import_into,
    new_workspace,
    wait_for,
)

pytestmark = pytest.mark.integration

DONE = ("COMPLETED", "FAILED")


def _export(personalize, s3, ws, dataset: str, job: str, mode: str) -> list[dict[str, str]]:
    text = export_dataset(personalize, s3, ws, dataset, job, ingestionMode=mode)
    return list(csv.DictReader(io.StringIO(text)))


def _delete(personalize, s3, ws, name: str, body: str) -> dict[str, Any]:
    s3.put_object(Bucket=ws.bucket, Key=f"deletions/{name}.csv", Body=body.encode())
    arn = personalize.create_data_deletion_job(
        jobName=name,
        datasetGroupArn=ws.group,
        dataSource={"dataLocation": f"s3://{ws.bucket}/deletions/{name}.csv"},
        roleArn=ws.role,
    )["dataDeletionJobArn"]
    return wait_for(
        lambda: personalize.describe_data_deletion_job(dataDeletionJobArn=arn), "dataDeletionJob", final=DONE
    )


@pytest.fixture(scope="module")
def deleted(target, personalize, events, s3) -> dict[str, Any]:
    ws = new_workspace(target, personalize, s3, "forget")
    name = f"forget-{ws.suffix}"
    imported = import_into(
        personalize,
        s3,
        ws,
        name,
        {"Interactions": (INTERACTIONS_SCHEMA, interactions_csv()), "Users": (USERS_SCHEMA, users_csv())},
    )
    interactions, users = imported["Interactions"], imported["Users"]
    tracking = active_event_tracker(personalize, ws.group, f"{name}-tracker")
    for user in ("user-0", "user-1"):
        events.put_events(
            trackingId=tracking,
            userId=user,
            sessionId=f"s-{user}",
            eventList=[
                {"eventId": f"e-{user}", "eventType": "click", "itemId": "item-7", "sentAt": 1_800_000_000}
            ],
        )
    events.put_users(
        datasetArn=users,
        users=[
            {"userId": u, "properties": json.dumps({"membership": "gold"})} for u in ("user-0", "user-900")
        ],
    )
    # Events and records arrive through the stream: delete only once both are recorded.
    deadline, attempt = time.monotonic() + 120, 0
    while True:
        attempt += 1
        put_events = _export(personalize, s3, ws, interactions, f"{name}-events-{attempt}", "PUT")
        put_users = _export(personalize, s3, ws, users, f"{name}-users-{attempt}", "PUT")
        if (len(put_events), len(put_users)) == (2, 2) or time.monotonic() > deadline:
            break
        time.sleep(2)
    job = _delete(personalize, s3, ws, f"{name}-user-0", "USER_ID\nuser-0\n")
    return {"ws": ws, "name": name, "interactions": interactions, "users": users, "job": job}


def test_the_job_completes_and_counts_what_it_removed(deleted):
    job = deleted["job"]
    assert job["status"] == "COMPLETED", job.get("failureReason")
    # 25 imported interactions, one recorded event, one imported Users row and one PutUsers record.
    assert job["numDeleted"] == 25 + 1 + 1 + 1


def test_the_user_is_gone_from_every_dataset_and_the_others_stay(personalize, s3, deleted):
    ws, name = deleted["ws"], deleted["name"]
    interactions = _export(personalize, s3, ws, deleted["interactions"], f"{name}-after-i", "ALL")
    assert not [row for row in interactions if row["USER_ID"] == "user-0"]
    assert len(interactions) == len(interactions_csv().splitlines()) - 1 - 25 + 1
    assert {
        "USER_ID": "user-1",
        "ITEM_ID": "item-7",
        "TIMESTAMP": "1800000000",
        "EVENT_TYPE": "click",
    } in interactions
    users = _export(personalize, s3, ws, deleted["users"], f"{name}-after-u", "ALL")
    assert "user-0" not in {row["USER_ID"] for row in users} and "user-900" in {
        row["USER_ID"] for row in users
    }
    assert len(users) == 80 - 1 + 1


def test_jobs_are_listed_and_a_bad_file_fails_the_job(personalize, s3, deleted):
    ws, name = deleted["ws"], deleted["name"]
    failed = _delete(personalize, s3, ws, f"{name}-bad", "USER_ID,ITEM_ID\nuser-1,item-1\n")
    assert failed["status"] == "FAILED" and "single USER_ID column" in failed["failureReason"]
    listed = personalize.list_data_deletion_jobs(datasetGroupArn=ws.group)["dataDeletionJobs"]
    assert [j["jobName"] for j in listed] == [f"{name}-bad", f"{name}-user-0"]
    assert [j["status"] for j in listed] == ["FAILED", "COMPLETED"]


def test_bad_requests_are_refused(personalize, deleted):
    ws, name = deleted["ws"], deleted["name"]
    source = {"dataLocation": f"s3://{ws.bucket}/deletions/{name}-user-0.csv"}
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.create_data_deletion_job(
            jobName=f"{name}-x", datasetGroupArn=f"{ws.group}-missing", dataSource=source, roleArn=ws.role
        )
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_data_deletion_job(
            jobName=f"{name}-y",
            datasetGroupArn=ws.group,
            dataSource={"dataLocation": "users.csv"},
            roleArn=ws.role,
        )
    with pytest.raises(personalize.exceptions.ResourceAlreadyExistsException):
        personalize.create_data_deletion_job(
            jobName=f"{name}-user-0", datasetGroupArn=ws.group, dataSource=source, roleArn=ws.role
        )
