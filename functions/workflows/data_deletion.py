"""A data deletion job: every reference to the listed users removed from a dataset group.

The input is a CSV file (or a folder of them) with a single USER_ID column, as Personalize's "Preparing
your data deletion file" describes. The job removes those users' rows from the Interactions, Action
interactions and Users datasets (the imported files are rewritten without them under new keys, and the
dataset switches to the new files in one write, as an import does), their recorded PutEvents and
PutActionInteractions events, their PutUsers records and their real-time histories. ``numDeleted``
counts the rows, events and records removed. Models already trained keep what they learnt until the
next training, as in Personalize ("After a job completes, Amazon Personalize no longer trains on the
users' data").
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

from functions.config import settings
from functions.resources import arns, artifacts
from functions.resources import lifecycle as lc
from functions.stores.blobs import BlobStore
from functions.stores.history import HistoryStore, action_history_key, history_key
from functions.stores.overlay import OverlayStore
from functions.stores.resources import ResourceStore
from functions.workflows.csv_validation import PersonalizeCsvDialect
from functions.workflows.run import WorkflowFailed, _set, object_keys

USER_DATASETS = ("INTERACTIONS", "ACTION_INTERACTIONS", "USERS")


def _user_ids(location: str) -> set[str]:
    bucket, keys = object_keys(location, lambda k: k.lower().endswith(".csv"), "no CSV file of USER_IDs")
    users: set[str] = set()
    for key in keys:
        text = BlobStore().get(bucket, key).decode("utf-8-sig")
        reader = csv.reader(io.StringIO(text), dialect=PersonalizeCsvDialect)
        header = [column.strip().upper() for column in next(reader, [])]
        if header != ["USER_ID"]:
            raise WorkflowFailed(
                f"s3://{bucket}/{key} must have a single USER_ID column; its header is {','.join(header)!r}."
            )
        users.update(row[0].strip() for row in reader if row and row[0].strip())
    return users


def _without_users(data: bytes, users: set[str]) -> tuple[bytes, int]:
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig")), dialect=PersonalizeCsvDialect)
    header = next(reader, [])
    column = [c.upper() for c in header].index("USER_ID")
    out = io.StringIO()
    writer = csv.writer(out, dialect=PersonalizeCsvDialect)
    writer.writerow(header)
    removed = 0
    for row in reader:
        if row[column] in users:
            removed += 1
        else:
            writer.writerow(row)
    return out.getvalue().encode("utf-8"), removed


def _delete_rows(store: ResourceStore, dataset: dict[str, Any], users: set[str]) -> int:
    """The dataset's files rewritten without the users' rows; the dataset points at them in one write."""
    blobs, bucket = BlobStore(), settings().artifacts_bucket
    old_keys = list(dataset.get("tailorDataKeys", []))
    new_keys, removed = [], 0
    for key in old_keys:
        data, count = _without_users(blobs.get(bucket, key), users)
        removed += count
        if count:
            key = f"{artifacts.dataset_prefix(dataset['datasetArn'])}{uuid.uuid4().hex[:12]}-kept.csv"
            blobs.put(bucket, key, data)
        new_keys.append(key)
    if not removed:
        return 0

    def repoint(doc: dict[str, Any]) -> dict[str, Any]:
        if doc.get("tailorDataKeys", []) != old_keys:
            raise WorkflowFailed(
                f"Dataset {dataset['datasetArn']} was imported again while the users were being removed; "
                "run the data deletion job again."
            )
        doc["tailorDataKeys"] = new_keys
        doc["lastUpdatedDateTime"] = lc.now()
        return doc

    try:
        store.update(dataset["datasetArn"], repoint)
    except WorkflowFailed:
        blobs.delete(bucket, [k for k in new_keys if k not in old_keys])
        raise
    blobs.delete(bucket, [k for k in old_keys if k not in new_keys])
    return removed


def _delete_events(group_arn: str, users: set[str]) -> int:
    blobs, bucket = BlobStore(), settings().artifacts_bucket
    removed = 0
    for key in blobs.keys(bucket, artifacts.event_archive_prefix(group_arn)):
        lines = blobs.get(bucket, key).decode().splitlines()
        kept = [line for line in lines if json.loads(line).get("userId") not in users]
        if len(kept) == len(lines):
            continue
        removed += len(lines) - len(kept)
        if kept:
            blobs.put(bucket, key, ("\n".join(kept) + "\n").encode())
        else:
            blobs.delete(bucket, [key])
    return removed


def run_data_deletion(job_arn: str) -> None:
    store = ResourceStore()
    job = _set(job_arn, lc.IN_PROGRESS, expect=frozenset({lc.PENDING}))
    group = job["datasetGroupArn"]
    try:
        users = _user_ids(job["dataSource"]["dataLocation"])
    except ValueError as exc:
        raise WorkflowFailed(str(exc)) from exc
    deleted = _delete_events(group, users)
    for dataset_type in USER_DATASETS:
        dataset = store.find(arns.dataset_arn(group, dataset_type))
        if dataset is None:
            continue
        deleted += _delete_rows(store, dataset, users)
        if dataset_type == "USERS":  # PutUsers records live beside the imported rows
            deleted += OverlayStore().remove(dataset["datasetArn"], users)
    histories = HistoryStore()
    for user in sorted(users):
        histories.delete(history_key(group, user))
        histories.delete(action_history_key(group, user))
    _set(job_arn, lc.COMPLETED, numDeleted=deleted)
