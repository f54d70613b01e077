"""What the runtime knows about a dataset group besides the model: metadata and imported interactions.

Filters (``Items.GENRE``, ``Users.AGE``, ``Interactions.EVENT_TYPE``), ``metadataColumns``, promotions and
exploration of new items all read the group's current data, not the data the model was trained on:
PutItems must make an item recommendable and filterable within seconds, without retraining.

A ``DatasetView`` is one dataset as the runtime sees it: the rows of its imported CSV files (those the
dataset document points at, ``tailorDataKeys``) with the PutItems/PutUsers/PutActions overlay on top
(``functions.stores.overlay``). Views are kept in memory per process and refreshed at most every
``REFRESH_S``: one read of the dataset document and one of the overlay's version counter; the rows are
re-read only when either moved. Each view counts its ``revision`` and remembers which ids changed in
which revision, so derived structures (filter tables) can update in place instead of rebuilding.

The Interactions dataset (and the Action interactions dataset) is loaded only when a filter needs it, and
only the newest ``INTERACTIONS_PER_USER`` (``ACTION_INTERACTIONS_PER_USER``) interactions of each user
are kept: that is all Personalize's interaction filters consider.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from functions.config import settings
from functions.filters import MAX_ACTION_INTERACTIONS_PER_EVENT_TYPE, MAX_INTERACTIONS_PER_EVENT_TYPE
from functions.resources import arns
from functions.resources import lifecycle as lc
from functions.resources.schema_rules import ParsedSchema, parse_schema
from functions.stores.blobs import BlobStore
from functions.stores.overlay import OverlayStore
from functions.stores.resources import ResourceStore
from functions.workflows.csv_validation import PersonalizeCsvDialect

REFRESH_S = 1.0
INTERACTIONS_PER_USER = MAX_INTERACTIONS_PER_EVENT_TYPE
# Action interactions filters read up to 300 per event type ("Filter expressions"); keep that many in all.
ACTION_INTERACTIONS_PER_USER = MAX_ACTION_INTERACTIONS_PER_EVENT_TYPE
# dataset type -> (the column an interaction names its item by, how many of each user's to keep)
INTERACTION_COLUMNS = {
    "INTERACTIONS": ("ITEM_ID", INTERACTIONS_PER_USER),
    "ACTION_INTERACTIONS": ("ACTION_ID", ACTION_INTERACTIONS_PER_USER),
}
ID_FIELDS = {"ITEMS": "ITEM_ID", "USERS": "USER_ID", "ACTIONS": "ACTION_ID"}

Row = dict[str, str | None]


def _read_rows(keys: list[str], id_field: str) -> Iterator[Row]:
    blobs, bucket = BlobStore(), settings().artifacts_bucket
    for key in keys:
        reader = csv.reader(
            io.StringIO(blobs.get(bucket, key).decode("utf-8"), newline=""), PersonalizeCsvDialect
        )
        header = next(reader, [])
        for values in reader:
            row: Row = {
                name: (value if value != "" else None) for name, value in zip(header, values, strict=False)
            }
            if row.get(id_field):
                yield row


def _creation_time(row: Row) -> float | None:
    value = row.get("CREATION_TIMESTAMP")
    if value is None:
        written = row.get("_writtenAt")
        return float(written) if written is not None else None
    try:
        return float(value)
    except ValueError:
        return None


@dataclass
class DatasetView:
    dataset_arn: str
    dataset_type: str
    schema: ParsedSchema
    id_field: str
    rows: dict[str, Row] = field(default_factory=dict)
    revision: int = 0
    # revision -> ids changed in it; ``None`` marks a full reload (every id may have changed)
    changes: list[tuple[int, list[str] | None]] = field(default_factory=list)
    data_keys: tuple[str, ...] = ()
    overlay_version: int = -1
    snapshot_key: str | None = None
    schema_arn: str = ""  # UpdateDataset replaces the schema without new data: reload on either

    def changed_since(self, revision: int) -> list[str] | None:
        """Ids changed after ``revision``, or None when the caller must rebuild (a full reload happened)."""
        changed: list[str] = []
        for rev, ids in self.changes:
            if rev <= revision:
                continue
            if ids is None:
                return None
            changed.extend(ids)
        return changed

    def _record(self, ids: list[str] | None) -> None:
        self.revision += 1
        self.changes.append((self.revision, ids))
        del self.changes[:-64]  # a reader that far behind rebuilds

    def creation_time(self, row_id: str) -> float | None:
        row = self.rows.get(row_id)
        return _creation_time(row) if row else None

    def field_value(self, row_id: str, column: str) -> str | None:
        row = self.rows.get(row_id)
        if row is None:
            return None
        spec = self.schema.field(column)
        return row.get(spec.name) if spec else None


@dataclass
class InteractionsView:
    data_keys: tuple[str, ...]
    by_user: dict[str, list[tuple[str, str, float]]]  # user -> [(item, event type, timestamp)], oldest first


class GroupCatalog:
    """The metadata datasets of one dataset group, refreshed lazily."""

    def __init__(self, dataset_group_arn: str) -> None:
        self.group = dataset_group_arn
        self._views: dict[str, DatasetView | None] = {}
        self._checked: dict[str, float] = {}
        # dataset type -> (view, when checked)
        self._interactions: dict[str, tuple[InteractionsView, float]] = {}
        self._lock = threading.Lock()

    def view(self, dataset_type: str) -> DatasetView | None:
        """The current view of the group's ``ITEMS`` / ``USERS`` / ``ACTIONS`` dataset (None if absent)."""
        now = time.monotonic()
        if now - self._checked.get(dataset_type, -REFRESH_S) < REFRESH_S:
            return self._views.get(dataset_type)
        with self._lock:
            if time.monotonic() - self._checked.get(dataset_type, -REFRESH_S) >= REFRESH_S:
                self._views[dataset_type] = self._refresh(dataset_type, self._views.get(dataset_type))
                self._checked[dataset_type] = time.monotonic()
        return self._views.get(dataset_type)

    def _refresh(self, dataset_type: str, view: DatasetView | None) -> DatasetView | None:
        dataset_arn = arns.dataset_arn(self.group, dataset_type)
        store = ResourceStore()
        doc = store.find(dataset_arn)
        if doc is None:
            return None
        keys = tuple(doc.get("tailorDataKeys", []))
        overlays = OverlayStore()
        if view is None or view.data_keys != keys or view.schema_arn != doc["schemaArn"]:
            schema = parse_schema(store.get(doc["schemaArn"], lc.SCHEMA)["schema"])
            fresh = DatasetView(
                dataset_arn, dataset_type, schema, ID_FIELDS[dataset_type], schema_arn=doc["schemaArn"]
            )
            if view is not None:
                fresh.revision, fresh.changes = view.revision, view.changes
            id_field = fresh.id_field
            fresh.rows = {str(row[id_field]): row for row in _read_rows(list(keys), id_field)}
            overlay = overlays.all_records(dataset_arn)
            for record_id, record in overlay.records.items():
                fresh.rows[record_id] = {id_field: record_id, **record}
            fresh.data_keys, fresh.overlay_version, fresh.snapshot_key = (
                keys,
                overlay.version,
                overlay.snapshot_key,
            )
            fresh._record(None)
            return fresh
        version, snapshot = overlays.version(dataset_arn)
        if version == view.overlay_version:
            return view
        overlay = (
            overlays.all_records(dataset_arn) if snapshot != view.snapshot_key else overlays.read(dataset_arn)
        )
        changed = []
        for record_id, record in overlay.records.items():
            row = {view.id_field: record_id, **record}
            if view.rows.get(record_id) != row:
                view.rows[record_id] = row
                changed.append(record_id)
        view.overlay_version, view.snapshot_key = overlay.version, overlay.snapshot_key
        if changed:
            view._record(changed)
        return view

    def interactions(self, dataset_type: str = "INTERACTIONS") -> InteractionsView:
        """The newest interactions of every user in the imported Interactions dataset (or, with
        ``ACTION_INTERACTIONS``, Action interactions dataset: the item of each is its action)."""
        now = time.monotonic()
        cached = self._interactions.get(dataset_type)
        if cached is not None and now - cached[1] < REFRESH_S:
            return cached[0]
        item_column, per_user = INTERACTION_COLUMNS[dataset_type]
        with self._lock:
            doc = ResourceStore().find(arns.dataset_arn(self.group, dataset_type))
            keys = tuple(doc.get("tailorDataKeys", [])) if doc else ()
            view = cached[0] if cached is not None else None
            if view is None or view.data_keys != keys:
                by_user: dict[str, list[tuple[str, str, float]]] = {}
                for row in _read_rows(list(keys), "USER_ID"):
                    if row.get(item_column) is None:
                        continue
                    stamp = float(row.get("TIMESTAMP") or 0)
                    by_user.setdefault(str(row["USER_ID"]), []).append(
                        (str(row[item_column]), str(row.get("EVENT_TYPE") or ""), stamp)
                    )
                for user, events in by_user.items():
                    events.sort(key=lambda e: e[2])
                    by_user[user] = events[-per_user:]
                view = InteractionsView(keys, by_user)
            self._interactions[dataset_type] = (view, time.monotonic())
            return view


_catalogs: dict[str, GroupCatalog] = {}
_catalogs_lock = threading.Lock()


def catalog_for(dataset_group_arn: str) -> GroupCatalog:
    catalog = _catalogs.get(dataset_group_arn)
    if catalog is None:
        with _catalogs_lock:
            catalog = _catalogs.setdefault(dataset_group_arn, GroupCatalog(dataset_group_arn))
    return catalog


def reset() -> None:
    """Forget every cached catalog (tests that recreate the AWS backend between cases)."""
    with _catalogs_lock:
        _catalogs.clear()
