"""Dataset export jobs: a dataset's imported (BULK) and incrementally added (PUT) data back in S3 as CSV."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any

import pytest

from tests.fixtures import interactions_and_items, interactions_csv
from tests.integration.conftest import (
    Workspace,
    active_event_tracker,
    export_dataset,
    import_into,
    new_workspace,
)

pytestmark = pytest.mark.integration

EVENT_TIMES = (1_800_000_000, 1_800_000_060)


@pytest.fixture(scope="module")
def exported(target, personalize, events, s3) -> dict[str, Any]:
    ws = new_workspace(target, personalize, s3, "export")
    name = f"export-{ws.suffix}"
    imported = import_into(personalize, s3, ws, name, interactions_and_items())
    datasets = {"interactions": imported["Interactions"], "items": imported["Items"]}
    tracking = active_event_tracker(personalize, ws.group, f"{name}-tracker")
    events.put_events(
        trackingId=tracking,
        userId="user-0",
        sessionId="export-session",
        eventList=[
            {"eventId": f"e{i}", "eventType": "click", "itemId": f"item-{i * 4}", "sentAt": at}
            for i, at in enumerate(EVENT_TIMES)
        ],
    )
    events.put_items(
        datasetArn=datasets["items"],
        items=[{"itemId": "item-new", "properties": json.dumps({"genre": "Horror", "creationTimestamp": 5})}],
    )
    return {"ws": ws, "datasets": datasets, "name": name}


def _export(personalize, s3, ws: Workspace, dataset: str, job: str, **mode: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(export_dataset(personalize, s3, ws, dataset, job, **mode))))


def _exported_once_arrived(personalize, s3, exported, dataset: str, tag: str, expected: int, **mode):
    """PutEvents and PutItems arrive through the event stream: export again until they are all in."""
    deadline = time.monotonic() + 120
    attempt = 0
    while True:
        attempt += 1
        rows = _export(
            personalize, s3, exported["ws"], dataset, f"{exported['name']}-{tag}-{attempt}", **mode
        )
        if len(rows) - 1 >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(2)


def test_bulk_export_gives_back_the_imported_rows(personalize, s3, exported):
    rows = _export(
        personalize,
        s3,
        exported["ws"],
        exported["datasets"]["interactions"],
        f"{exported['name']}-bulk",
        ingestionMode="BULK",
    )
    imported = list(csv.reader(io.StringIO(interactions_csv())))
    assert rows[0] == ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"]  # the schema's order
    # The import file's column order differs (TIMESTAMP before EVENT_TYPE): rows follow the schema.
    by_schema = sorted((u, i, t, e) for u, i, t, e in imported[1:])
    assert sorted(tuple(r) for r in rows[1:]) == by_schema


def test_put_export_gives_the_events_and_all_gives_both(personalize, s3, exported):
    dataset = exported["datasets"]["interactions"]
    put = _exported_once_arrived(personalize, s3, exported, dataset, "put", 2)  # PUT is the default
    assert put[1:] == [
        ["user-0", "item-0", str(EVENT_TIMES[0]), "click"],
        ["user-0", "item-4", str(EVENT_TIMES[1]), "click"],
    ]
    both = _export(personalize, s3, exported["ws"], dataset, f"{exported['name']}-all", ingestionMode="ALL")
    assert len(both) - 1 == len(interactions_csv().splitlines()) - 1 + 2
    assert both[-2:] == put[1:]


def test_put_export_of_items_gives_the_put_items_records(personalize, s3, exported):
    rows = _exported_once_arrived(personalize, s3, exported, exported["datasets"]["items"], "items", 1)
    assert rows[0] == ["ITEM_ID", "GENRE", "YEAR", "TITLE", "CREATION_TIMESTAMP"]
    assert rows[1:] == [["item-new", "Horror", "", "", "5"]]


def test_jobs_are_described_and_listed(personalize, s3, exported):
    ws, dataset = exported["ws"], exported["datasets"]["items"]
    _export(personalize, s3, ws, dataset, f"{exported['name']}-listed", ingestionMode="BULK")
    jobs = personalize.list_dataset_export_jobs(datasetArn=dataset)["datasetExportJobs"]
    assert jobs and all(j["status"] == "ACTIVE" for j in jobs)
    assert [j["creationDateTime"] for j in jobs] == sorted(
        (j["creationDateTime"] for j in jobs), reverse=True
    )
    listed = next(j for j in jobs if j["jobName"] == f"{exported['name']}-listed")
    doc = personalize.describe_dataset_export_job(datasetExportJobArn=listed["datasetExportJobArn"])[
        "datasetExportJob"
    ]
    assert doc["datasetArn"] == dataset and doc["ingestionMode"] == "BULK"
    assert doc["jobOutput"] == {"s3DataDestination": {"path": f"s3://{ws.bucket}/exports/"}}


def test_bad_requests_are_refused(personalize, exported):
    ws, dataset = exported["ws"], exported["datasets"]["interactions"]
    output = {"s3DataDestination": {"path": f"s3://{ws.bucket}/exports/"}}
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.create_dataset_export_job(
            jobName=f"{exported['name']}-nothing",
            datasetArn=f"{dataset}-missing",
            roleArn=ws.role,
            jobOutput=output,
        )
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_dataset_export_job(
            jobName=f"{exported['name']}-nowhere",
            datasetArn=dataset,
            roleArn=ws.role,
            jobOutput={"s3DataDestination": {"path": "https://example.com/exports/"}},
        )
    twice = {
        "jobName": f"{exported['name']}-twice",
        "datasetArn": dataset,
        "roleArn": ws.role,
        "jobOutput": output,
    }
    personalize.create_dataset_export_job(**twice)
    with pytest.raises(personalize.exceptions.ResourceAlreadyExistsException):
        personalize.create_dataset_export_job(**twice)
