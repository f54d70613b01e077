"""A dataset export job: a dataset's data as one CSV file under the job's S3 output path.

``ingestionMode`` picks the data, as Personalize defines it: ``BULK`` is what dataset import jobs brought
in (the files the dataset points at now), ``PUT`` what arrived one record at a time since (PutEvents or
PutActionInteractions for an interactions dataset, PutItems / PutUsers / PutActions for the others), and
``ALL`` both, bulk rows first. The header is the schema's field names in the schema's order; a field a
row does not have is empty. Personalize does not document its output file names, so Tailor writes
``<path>/<jobName>_<UTC time>/<dataset type>.csv`` (e.g. ``interactions.csv``), in one piece, once every
row is read, and the job's data never changes the dataset.
"""

from __future__ import annotations

import csv
import io
import time
from typing import Any

from functions.config import settings
from functions.resources import lifecycle as lc
from functions.resources.schema_rules import parse_schema
from functions.serving.catalog import ID_FIELDS
from functions.stores.blobs import BlobStore
from functions.stores.overlay import OverlayStore
from functions.stores.resources import ResourceStore
from functions.workflows.csv_validation import PersonalizeCsvDialect
from functions.workflows.run import PENDING, _set, archived_events, event_row, write_output

INTERACTION_TYPES = {"INTERACTIONS": False, "ACTION_INTERACTIONS": True}  # -> archived as actions


def _bulk_rows(dataset: dict[str, Any], header: list[str]) -> list[list[str]]:
    blobs, bucket = BlobStore(), settings().artifacts_bucket
    rows: list[list[str]] = []
    for key in dataset.get("tailorDataKeys", []):
        reader = csv.reader(
            io.StringIO(blobs.get(bucket, key).decode("utf-8-sig")), dialect=PersonalizeCsvDialect
        )
        columns = [column.upper() for column in next(reader, [])]
        where = {column: index for index, column in enumerate(columns)}
        for line in reader:
            rows.append([line[where[c.upper()]] if c.upper() in where else "" for c in header])
    return rows


def _put_rows(dataset: dict[str, Any], dataset_type: str, header: list[str]) -> list[list[str]]:
    if dataset_type in INTERACTION_TYPES:
        events = archived_events(dataset["datasetGroupArn"], actions=INTERACTION_TYPES[dataset_type])
        return [event_row(event, header) for event in sorted(events, key=lambda e: float(e["sentAt"]))]
    id_field = ID_FIELDS[dataset_type]
    records = OverlayStore().all_records(dataset["datasetArn"]).records
    rows = []
    for record_id, record in sorted(records.items()):
        values = {name.upper(): value for name, value in record.items() if not name.startswith("_")}
        values[id_field] = record_id
        rows.append(["" if values.get(c.upper()) is None else str(values[c.upper()]) for c in header])
    return rows


def run_dataset_export(job_arn: str) -> None:
    store = ResourceStore()
    job = _set(job_arn, lc.CREATE_IN_PROGRESS, expect=PENDING)
    dataset = store.get(job["datasetArn"], lc.DATASET)
    schema = parse_schema(store.get(dataset["schemaArn"], lc.SCHEMA)["schema"])
    header = list(schema.field_names)
    dataset_type = str(dataset["datasetType"]).upper()
    mode = job["ingestionMode"]  # CreateDatasetExportJob stores the default
    rows = []
    if mode in ("BULK", "ALL"):
        rows += _bulk_rows(dataset, header)
    if mode in ("PUT", "ALL"):
        rows += _put_rows(dataset, dataset_type, header)
    out = io.StringIO()
    writer = csv.writer(out, dialect=PersonalizeCsvDialect)
    writer.writerow(header)
    writer.writerows(rows)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(job["creationDateTime"]))
    name = f"{job['jobName']}_{stamp}/{dataset_type.lower()}.csv"
    write_output(job["jobOutput"]["s3DataDestination"]["path"], name, out.getvalue().encode("utf-8"))
    _set(job_arn, lc.ACTIVE)
