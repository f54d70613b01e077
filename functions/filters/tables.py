"""Columnar, read-optimised Items / Users metadata for evaluating filters.

Why columnar: a filter condition is evaluated over every candidate at once, so each filterable field is a
numpy column (numbers: float64, NaN = missing) or, for strings, the per-row values plus a lazily built
inverted index (value -> row numbers) from which per-value boolean masks are made and kept in a small LRU.
``Items.GENRE IN ("Comedy")`` is then one cached mask, whatever the number of items.

Rules followed (Amazon Personalize developer guide):
- "Preparing item metadata" / "Preparing user metadata": categorical string values hold several values
  separated by ``|`` (``Action|Comedy``); a field filters on each of them. Non-categorical strings are one
  value. Matching is exact and case-sensitive ("Amazon Personalize ignores case only when matching event
  types").
- Textual and boolean fields can't be filtered on ("Guidelines and requirements"), so they aren't stored.
- PutItems / PutUsers ``properties`` keys are the schema field names in camel case (``numberOfRatings`` for
  ``NUMBER_OF_RATINGS``), and a put replaces the whole record.  Row keys are therefore resolved exactly, then
  ignoring case and non-alphanumerics (schema names are unique under that folding, per the schema rules).

Incremental updates: ``upsert`` of an existing id rewrites its cells; only the changed values' cached masks
are dropped and only the changed columns' versions move.  A new id is appended; cached masks are extended
by the new rows on their next use instead of being rebuilt.  Not thread-safe (one table per process, used
by one request at a time, as in a Lambda).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from functions.filters.expression import FieldType

DEFAULT_MASK_CACHE_SIZE = 256
_UIDS = itertools.count(1)
_NOT_ALNUM = re.compile(r"[^0-9a-z]")


def _fold(name: str) -> str:
    return _NOT_ALNUM.sub("", name.lower())


def _to_float(raw: Any) -> float:
    if raw is None or isinstance(raw, bool):
        return math.nan
    if isinstance(raw, int | float):
        return float(raw)
    try:
        return float(str(raw).strip())
    except ValueError:
        return math.nan


def split_values(raw: Any, categorical: bool) -> tuple[str, ...]:
    """The string values of one cell: () when missing, split on ``|`` when categorical."""
    if raw is None:
        return ()
    if isinstance(raw, tuple | list):
        return tuple(str(v) for v in raw if v is not None and str(v) != "")
    text = raw if isinstance(raw, str) else str(raw)
    if text == "":
        return ()
    if categorical:
        return tuple(dict.fromkeys(part for part in text.split("|") if part))
    return (text,)


class _NumericColumn:
    def __init__(self, values: list[float]) -> None:
        self.data = np.array(values, dtype=np.float64) if values else np.empty(16, dtype=np.float64)
        self.size = len(values)
        self.version = 0

    def value(self, row: int) -> float:
        return float(self.data[row])

    def set(self, row: int, raw: Any) -> None:
        new = _to_float(raw)
        old = self.data[row]
        if new == old or (math.isnan(new) and math.isnan(old)):
            return
        self.data[row] = new
        self.version += 1

    def append(self, raw: Any) -> None:
        if self.size == len(self.data):
            grown = np.empty(max(16, 2 * len(self.data)), dtype=np.float64)
            grown[: self.size] = self.data[: self.size]
            self.data = grown
        self.data[self.size] = _to_float(raw)
        self.size += 1

    def view(self) -> np.ndarray:
        out = self.data[: self.size]
        out.flags.writeable = False
        return out


class _StringColumn:
    def __init__(self, categorical: bool, tokens: list[tuple[str, ...]], mask_cache_size: int) -> None:
        self.categorical = categorical
        self.tokens = tokens
        self.version = 0
        self._postings: dict[str, list[int]] | None = None
        self._masks: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = mask_cache_size

    def value(self, row: int) -> tuple[str, ...]:
        return self.tokens[row]

    def _index(self) -> dict[str, list[int]]:
        if self._postings is None:
            postings: dict[str, list[int]] = {}
            for row, values in enumerate(self.tokens):
                for value in values:
                    postings.setdefault(value, []).append(row)
            self._postings = postings
        return self._postings

    def set(self, row: int, raw: Any) -> None:
        new = split_values(raw, self.categorical)
        old = self.tokens[row]
        if new == old:
            return
        self.tokens[row] = new
        changed = set(old).symmetric_difference(new)
        if self._postings is not None:
            for value in set(old) - set(new):
                rows = self._postings[value]
                rows.remove(row)
                if not rows:
                    del self._postings[value]
            for value in set(new) - set(old):
                self._postings.setdefault(value, []).append(row)
        for value in changed:
            self._masks.pop(value, None)
        self.version += 1

    def append(self, raw: Any) -> None:
        values = split_values(raw, self.categorical)
        row = len(self.tokens)
        self.tokens.append(values)
        if self._postings is not None:
            for value in values:
                self._postings.setdefault(value, []).append(row)

    def mask(self, value: str) -> np.ndarray:
        size = len(self.tokens)
        cached = self._masks.get(value)
        if cached is not None and len(cached) == size:
            self._masks.move_to_end(value)
            return cached
        if cached is not None:
            # Rows were appended since: extend with the new rows only.
            mask = np.zeros(size, dtype=bool)
            mask[: len(cached)] = cached
            for row in range(len(cached), size):
                if value in self.tokens[row]:
                    mask[row] = True
        else:
            mask = np.zeros(size, dtype=bool)
            rows = self._index().get(value)
            if rows:
                mask[np.fromiter(rows, dtype=np.intp, count=len(rows))] = True
        mask.flags.writeable = False
        self._masks[value] = mask
        self._masks.move_to_end(value)
        while len(self._masks) > self._cache_size:
            self._masks.popitem(last=False)
        return mask

    def present(self) -> np.ndarray:
        return np.fromiter((bool(values) for values in self.tokens), dtype=bool, count=len(self.tokens))


class MetadataTable:
    """Rows keyed by id with one column per filterable schema field.  See the module docstring."""

    id_field = "ID"

    def __init__(
        self,
        ids: Iterable[str] = (),
        rows: Iterable[Mapping[str, Any] | None] | None = None,
        fields: Mapping[str, FieldType | str] | None = None,
        *,
        mask_cache_size: int = DEFAULT_MASK_CACHE_SIZE,
    ) -> None:
        self.uid = next(_UIDS)
        self.version = 0
        self._field_types: dict[str, FieldType] = {}
        self._names: dict[str, str] = {}
        self._folded: dict[str, str] = {}
        for name, declared in (fields or {}).items():
            field_type = declared if isinstance(declared, FieldType) else FieldType(base_type=declared)
            upper = name.upper()
            if upper == self.id_field or field_type.textual:
                continue
            if field_type.base_type != "string" and not field_type.is_numeric:
                continue
            self._field_types[upper] = field_type
            self._names[upper] = name
            self._folded[_fold(name)] = upper

        id_list = [str(i) for i in ids]
        row_list: list[Mapping[str, Any] | None] = list(rows) if rows is not None else [None] * len(id_list)
        if len(row_list) != len(id_list):
            raise ValueError(f"{len(id_list)} ids but {len(row_list)} rows")
        # A repeated id keeps its last row, as a later PutItems would.
        last: dict[str, int] = {}
        for position, item_id in enumerate(id_list):
            last[item_id] = position
        self._ids: list[str] = list(last)
        self._index: dict[str, int] = {item_id: row for row, item_id in enumerate(self._ids)}
        resolved = [self._resolve(row_list[last[item_id]]) for item_id in self._ids]

        self._columns: dict[str, _NumericColumn | _StringColumn] = {}
        for upper, field_type in self._field_types.items():
            if field_type.is_numeric:
                self._columns[upper] = _NumericColumn([_to_float(row.get(upper)) for row in resolved])
            else:
                tokens = [split_values(row.get(upper), field_type.categorical) for row in resolved]
                self._columns[upper] = _StringColumn(field_type.categorical, tokens, mask_cache_size)

    # -- identity and shape
    def __len__(self) -> int:
        return len(self._ids)

    @property
    def ids(self) -> Sequence[str]:
        """Ids in row order (the order of every mask).  Read-only: use upsert / add_ids to change."""
        return self._ids

    def index_of(self, item_id: str) -> int | None:
        return self._index.get(item_id)

    def indices(self, ids: Iterable[str]) -> np.ndarray:
        """Row numbers of ``ids``; -1 for ids not in the table."""
        get = self._index.get
        return np.fromiter((get(i, -1) for i in ids), dtype=np.intp)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._index

    # -- schema
    @property
    def fields(self) -> dict[str, FieldType]:
        """Filterable fields by their schema names."""
        return {self._names[upper]: field_type for upper, field_type in self._field_types.items()}

    def field_type(self, name: str) -> FieldType | None:
        return self._field_types.get(name.upper())

    def column_version(self, name: str) -> int:
        column = self._columns.get(name.upper())
        return column.version if column is not None else 0

    # -- reads
    def numeric(self, name: str) -> np.ndarray:
        """A numeric column as float64, NaN = missing; all-NaN for an unknown or non-numeric field.

        The array is a live read-only view: later upserts show through (copy it to keep a snapshot).
        """
        column = self._columns.get(name.upper())
        if isinstance(column, _NumericColumn):
            return column.view()
        out = np.full(len(self), np.nan)
        out.flags.writeable = False
        return out

    def value_mask(self, name: str, value: str) -> np.ndarray:
        """Read-only mask of rows whose ``name`` holds ``value`` (one of its values, when categorical)."""
        column = self._columns.get(name.upper())
        if isinstance(column, _StringColumn):
            return column.mask(value)
        out = np.zeros(len(self), dtype=bool)
        out.flags.writeable = False
        return out

    def values_mask(self, name: str, values: Iterable[str]) -> np.ndarray:
        """Rows holding any of ``values`` (read-only when a single cached mask is returned)."""
        unique = list(dict.fromkeys(values))
        if len(unique) == 1:
            return self.value_mask(name, unique[0])
        out = np.zeros(len(self), dtype=bool)
        for value in unique:
            out |= self.value_mask(name, value)
        return out

    def has_value(self, name: str) -> np.ndarray:
        """Rows where ``name`` is present (not null / empty)."""
        column = self._columns.get(name.upper())
        if isinstance(column, _NumericColumn):
            return ~np.isnan(column.view())
        if isinstance(column, _StringColumn):
            return column.present()
        return np.zeros(len(self), dtype=bool)

    def record(self, item_id: str) -> dict[str, tuple[str, ...] | float | None] | None:
        """One row as ``{FIELD: values | float | None}``, for CurrentItem / CurrentUser; None if absent."""
        row = self._index.get(item_id)
        if row is None:
            return None
        out: dict[str, tuple[str, ...] | float | None] = {}
        for upper, column in self._columns.items():
            if isinstance(column, _NumericColumn):
                number = column.value(row)
                out[upper] = None if math.isnan(number) else number
            else:
                out[upper] = column.value(row) or None
        return out

    # -- writes
    def upsert(self, item_id: str, row: Mapping[str, Any] | None) -> None:
        """Insert or replace one record (a put replaces every field; absent fields become missing)."""
        resolved = self._resolve(row)
        existing = self._index.get(item_id)
        if existing is None:
            self._index[item_id] = len(self._ids)
            self._ids.append(item_id)
            for upper, column in self._columns.items():
                column.append(resolved.get(upper))
        else:
            for upper, column in self._columns.items():
                column.set(existing, resolved.get(upper))
        self.version += 1

    def upsert_many(self, records: Iterable[tuple[str, Mapping[str, Any] | None]]) -> None:
        for item_id, row in records:
            self.upsert(item_id, row)

    def add_ids(self, ids: Iterable[str]) -> None:
        """Append ids that have no metadata (e.g. items known to the model but absent from the dataset)."""
        for item_id in ids:
            if item_id not in self._index:
                self.upsert(item_id, None)

    def _resolve(self, row: Mapping[str, Any] | None) -> dict[str, Any]:
        if not row:
            return {}
        out: dict[str, Any] = {}
        for key, value in row.items():
            upper = key.upper()
            if upper not in self._field_types:
                upper = self._folded.get(_fold(key), "")
            if upper:
                out[upper] = value
        return out


class ItemTable(MetadataTable):
    """Items metadata; ``ids`` is the order of ``item_mask`` results."""

    id_field = "ITEM_ID"


class UserTable(MetadataTable):
    """Users metadata; ``ids`` is the order of ``user_mask`` results."""

    id_field = "USER_ID"


class ActionTable(MetadataTable):
    """Actions metadata; ``ids`` is the order of ``action_mask`` results."""

    id_field = "ACTION_ID"
