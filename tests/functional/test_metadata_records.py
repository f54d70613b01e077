"""PutItems / PutUsers records from the events handler through Kinesis and the ingest handler to the
overlay the runtime reads, under moto; and the overlay's compaction into S3."""

from __future__ import annotations

import json

import pytest

from functions.handlers import control, events, ingest
from functions.resources import lifecycle as lc
from functions.serving.catalog import GroupCatalog
from functions.stores import overlay as overlay_module
from functions.stores.overlay import OverlayStore
from functions.stores.resources import ResourceStore
from tests.fixtures import ITEMS_SCHEMA
from tests.functional.conftest import call
from tests.functional.test_handlers import _kinesis_event

pytestmark = pytest.mark.functional


def _control(operation: str, **body) -> dict:
    status, out = call(control.handler, "/", body, target=operation)
    assert status == 200, out
    return out


@pytest.fixture
def items_dataset(aws) -> tuple[str, str]:
    group = _control("CreateDatasetGroup", name="g")["datasetGroupArn"]
    schema = _control("CreateSchema", name="items", schema=ITEMS_SCHEMA)["schemaArn"]
    dataset = _control(
        "CreateDataset", name="items", schemaArn=schema, datasetGroupArn=group, datasetType="Items"
    )["datasetArn"]
    return group, dataset


def test_put_items_reach_the_overlay_once_even_when_redelivered(items_dataset):
    group, dataset = items_dataset
    body = {
        "datasetArn": dataset,
        "items": [
            {
                "itemId": "a",
                "properties": json.dumps({"genre": "Comedy|Drama", "year": "1999", "creationTimestamp": 5}),
            },
            {"itemId": "b", "properties": json.dumps({"genre": "Horror", "creationTimestamp": 6})},
        ],
    }
    status, out = call(events.handler, "/items", body)
    assert status == 200, out
    batch = _kinesis_event()
    assert ingest.handler(batch, None) == {"batchItemFailures": []}
    version_once = OverlayStore().version(dataset)[0]
    assert ingest.handler(batch, None) == {"batchItemFailures": []}  # Kinesis redelivers the batch
    records = OverlayStore().all_records(dataset).records
    assert records["a"]["GENRE"] == "Comedy|Drama" and records["a"]["YEAR"] == "1999"
    assert "YEAR" not in records["b"]  # a put replaces the record: fields it leaves out are missing
    assert set(records) == {"a", "b"}
    assert OverlayStore().version(dataset)[0] == 2 * version_once  # same values, counted, harmless

    view = GroupCatalog(group).view("ITEMS")
    assert view is not None and set(view.rows) == {"a", "b"}
    assert view.field_value("a", "genre") == "Comedy|Drama"
    assert view.creation_time("b") == 6.0


def test_put_items_validation_rejects_the_whole_request(items_dataset):
    _, dataset = items_dataset
    body = {
        "datasetArn": dataset,
        "items": [
            {"itemId": "ok", "properties": json.dumps({"genre": "Comedy", "creationTimestamp": 1})},
            {"itemId": "bad", "properties": json.dumps({"year": "nineteen", "creationTimestamp": 1})},
        ],
    }
    status, out = call(events.handler, "/items", body)
    assert status == 400 and out["message"].startswith("items.2.properties")
    assert _kinesis_event()["Records"] == []  # nothing of the request was written
    status, out = call(events.handler, "/items", {**body, "datasetArn": dataset.replace("ITEMS", "USERS")})
    assert status == 404


def test_put_users_into_an_items_dataset_is_invalid(items_dataset):
    _, dataset = items_dataset
    status, out = call(events.handler, "/users", {"datasetArn": dataset, "users": [{"userId": "u"}]})
    assert status == 400 and "writes to a USERS dataset" in out["message"]


def test_overlay_compacts_into_s3_and_keeps_every_record(items_dataset, monkeypatch):
    _, dataset = items_dataset
    monkeypatch.setattr(overlay_module, "COMPACT_AT_BYTES", 300)
    store = OverlayStore()
    for index in range(12):
        store.upsert(dataset, f"item-{index}", {"GENRE": "Comedy", "N": str(index)})
    version, snapshot = store.version(dataset)
    assert snapshot is not None  # the map was folded at least once
    assert len(store.read(dataset).records) < 12  # what is left in DynamoDB is only the tail
    merged = store.all_records(dataset).records
    assert sorted(merged) == sorted(f"item-{i}" for i in range(12))
    assert merged["item-11"]["N"] == "11"
    assert version >= 12


def test_import_then_catalog_reload_keeps_the_overlay(items_dataset):
    group, dataset = items_dataset
    OverlayStore().upsert(dataset, "streamed", {"GENRE": "Drama", "CREATION_TIMESTAMP": "9"})
    catalog = GroupCatalog(group)
    assert set(catalog.view("ITEMS").rows) == {"streamed"}
    # A FULL import repoints the dataset; individually imported records survive it, as in Personalize.
    ResourceStore().update(dataset, lambda doc: {**doc, "tailorDataKeys": []})
    assert ResourceStore().get(dataset, lc.DATASET)["datasetArn"] == dataset
    assert set(GroupCatalog(group).view("ITEMS").rows) == {"streamed"}
