"""Loading the interactions channel into index arrays.

The CSV files are the ones the control plane exported from the dataset import: a header row with the
schema's field names (matched case-insensitively), one interaction per row. String ids are mapped to
contiguous indices in sorted id order, so the mapping does not depend on file order and two runs on the
same data agree.

Rows are ordered by user, then timestamp, then item index. Ties on the timestamp are common (MovieLens
users rate many movies in the same second, and the Personalize sample preparation writes a ``click`` and a
``watch`` row with the same timestamp for one rating): ordering ties by item keeps the rows of one item
adjacent, so the sequence model can collapse them into one step whatever order the files were written in.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.errors import TrainingDataError
from training.item_metadata import inferred_kind, is_number, schema_kinds

REQUIRED_FIELDS = ("USER_ID", "ITEM_ID", "TIMESTAMP")
OPTIONAL_FIELDS = ("EVENT_TYPE", "EVENT_VALUE", "IMPRESSION")
# Interactions-schema fields that are neither an interaction's key facts nor context.
_NOT_CONTEXT = {*REQUIRED_FIELDS, *OPTIONAL_FIELDS, "RECOMMENDATION_ID", "EVENT_ATTRIBUTION_SOURCE"}

# Amazon Personalize's minimum data rules for training a solution version.
MIN_INTERACTIONS = 1000
MIN_USERS_WITH_TWO_INTERACTIONS = 25


@dataclass(frozen=True)
class DataFilter:
    """The solution's row filters: Personalize trains only on the rows these keep."""

    event_type: str | None = None
    event_value_threshold: float | None = None

    def describe(self) -> str:
        parts = []
        if self.event_value_threshold is not None:
            parts.append(f"eventValueThreshold {self.event_value_threshold:g}")
        if self.event_type is not None:
            parts.append(f"eventType {self.event_type!r}")
        return " and ".join(parts)


@dataclass(frozen=True)
class Interactions:
    """Interactions sorted by (user, timestamp, item), with per-user offsets into the arrays.

    ``user_ids[i]`` / ``item_ids[j]`` are the external ids of user index ``i`` / item index ``j``. A
    subset of users (see ``subset``) keeps the full id lists, so item indices stay comparable between
    the evaluation split and the full data set.
    """

    user_ids: list[str]
    item_ids: list[str]
    user: np.ndarray  # int64 [n]
    item: np.ndarray  # int64 [n]
    timestamp: np.ndarray  # float64 [n], Unix epoch seconds
    event_type: np.ndarray | None  # str [n]
    event_value: np.ndarray | None  # float64 [n]
    user_offsets: np.ndarray  # int64 [n_users + 1]; rows of user u are [offsets[u], offsets[u + 1])
    # Fields of the Interactions schema beyond the key facts (Personalize's contextual metadata, e.g.
    # DEVICE): field name (upper case) -> str [n] ("" = none) for a categorical field, float64 [n] (NaN =
    # none) for a numerical one.
    context: dict[str, np.ndarray] | None = None

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_interactions(self) -> int:
        return int(self.item.shape[0])

    def history(self, user: int) -> np.ndarray:
        return self.item[self.user_offsets[user] : self.user_offsets[user + 1]]

    def history_lengths(self) -> np.ndarray:
        return np.diff(self.user_offsets)

    def histories(self) -> list[np.ndarray]:
        """Item indices per user index, chronological (empty for users not in this subset)."""
        return np.split(self.item, self.user_offsets[1:-1])

    def timestamps_by_user(self) -> list[np.ndarray]:
        return np.split(self.timestamp, self.user_offsets[1:-1])

    def active_users(self) -> np.ndarray:
        """Indices of users with at least one interaction in this subset."""
        return np.flatnonzero(self.history_lengths() > 0)

    def item_counts(self) -> np.ndarray:
        return np.bincount(self.item, minlength=self.n_items).astype(np.int64)

    def select_rows(self, keep: np.ndarray) -> Interactions:
        """The rows where the boolean ``keep`` is True, with the same id vocabularies."""
        return _assemble(
            self.user_ids,
            self.item_ids,
            self.user[keep],
            self.item[keep],
            self.timestamp[keep],
            None if self.event_type is None else self.event_type[keep],
            None if self.event_value is None else self.event_value[keep],
            _rows(self.context, keep),
        )

    def context_rows(self, rows: np.ndarray | None = None) -> list[dict[str, str]]:
        """One context map per row, or per row of ``rows`` (field -> value as text, missing values left
        out); empty maps without context."""
        if not self.context:
            return [{} for _ in range(self.n_interactions if rows is None else len(rows))]
        names = sorted(self.context)
        columns = [
            _as_text(self.context[name] if rows is None else self.context[name][rows]) for name in names
        ]
        return [
            {name: value for name, value in zip(names, values, strict=True) if value}
            for values in zip(*columns, strict=True)
        ]

    def context_kinds(self) -> dict[str, str]:
        """Context field -> "numeric" (a float column) or "categorical"."""
        return {name: _kind(column) for name, column in (self.context or {}).items()}

    def subset(self, users: Iterable[int]) -> Interactions:
        """The interactions of ``users`` only, with the same id vocabularies."""
        keep = np.zeros(self.n_users, dtype=bool)
        keep[np.fromiter(users, dtype=np.int64)] = True
        rows = keep[self.user]
        return _assemble(
            self.user_ids,
            self.item_ids,
            self.user[rows],
            self.item[rows],
            self.timestamp[rows],
            None if self.event_type is None else self.event_type[rows],
            None if self.event_value is None else self.event_value[rows],
            _rows(self.context, rows),
        )


def _rows(context: dict[str, np.ndarray] | None, selector: np.ndarray) -> dict[str, np.ndarray] | None:
    return None if context is None else {name: column[selector] for name, column in context.items()}


def _kind(column: np.ndarray) -> str:
    return "numeric" if column.dtype.kind == "f" else "categorical"


def _as_text(column: np.ndarray) -> list[str]:
    if _kind(column) == "categorical":
        return [str(value) for value in column]
    return [repr(float(value)) if math.isfinite(value) else "" for value in column]


def _context_column(values: Sequence[Any]) -> np.ndarray:
    """A context column as given: numbers stay a float column (NaN = none), anything else is text."""
    column = np.asarray(values)
    if column.dtype.kind in "iuf":
        return column.astype(np.float64)
    return column.astype(str)


def _assemble(
    user_ids: list[str],
    item_ids: list[str],
    user: np.ndarray,
    item: np.ndarray,
    timestamp: np.ndarray,
    event_type: np.ndarray | None,
    event_value: np.ndarray | None,
    context: dict[str, np.ndarray] | None = None,
) -> Interactions:
    order = np.lexsort((item, timestamp, user))
    user = user[order]
    offsets = np.zeros(len(user_ids) + 1, dtype=np.int64)
    np.cumsum(np.bincount(user, minlength=len(user_ids)), out=offsets[1:])
    return Interactions(
        user_ids=user_ids,
        item_ids=item_ids,
        user=user,
        item=item[order],
        timestamp=timestamp[order],
        event_type=None if event_type is None else event_type[order],
        event_value=None if event_value is None else event_value[order],
        user_offsets=offsets,
        context=_rows(context, order) or None,
    )


def from_records(
    user_ids: Sequence[str],
    item_ids: Sequence[str],
    timestamps: Sequence[float],
    event_types: Sequence[str] | None = None,
    event_values: Sequence[float] | None = None,
    context: Mapping[str, Sequence[Any]] | None = None,
) -> Interactions:
    """Build ``Interactions`` from parallel columns (no filtering, no minimum-size check); ``context``
    holds a context field's value per row: numbers for a numerical field, text for a categorical one."""
    users, user_index = np.unique(np.asarray(user_ids, dtype=str), return_inverse=True)
    items, item_index = np.unique(np.asarray(item_ids, dtype=str), return_inverse=True)
    return _assemble(
        [str(u) for u in users],
        [str(i) for i in items],
        user_index.astype(np.int64),
        item_index.astype(np.int64),
        np.asarray(timestamps, dtype=np.float64),
        None if event_types is None else np.asarray(event_types, dtype=str),
        None if event_values is None else np.asarray(event_values, dtype=np.float64),
        None if context is None else {str(k).upper(): _context_column(v) for k, v in context.items()},
    )


def with_items(data: Interactions, item_ids: Iterable[str]) -> Interactions:
    """The same interactions over a catalogue that also holds ``item_ids`` (items without interactions).

    Recipes that recommend items nobody has interacted with yet (aws-hrnn-coldstart) need those items of
    the Items dataset in the vocabulary, so they appear in ``items.json``. The vocabulary stays sorted.
    """
    vocabulary = sorted(set(data.item_ids).union(item_ids))
    if len(vocabulary) == data.n_items:
        return data
    index = {item: i for i, item in enumerate(vocabulary)}
    remap = np.asarray([index[i] for i in data.item_ids], dtype=np.int64)
    return _assemble(
        data.user_ids,
        vocabulary,
        data.user,
        remap[data.item],
        data.timestamp,
        data.event_type,
        data.event_value,
        data.context,
    )


def _parse_number(value: str, field: str, where: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise TrainingDataError(
            f"{where}: {field} {value!r} is not a number"
            + (" (Unix epoch seconds expected)." if field == "TIMESTAMP" else ".")
        ) from None
    if not math.isfinite(number):
        raise TrainingDataError(f"{where}: {field} {value!r} is not a finite number.")
    return number


@dataclass
class _Columns:
    user: list[str] = field(default_factory=list)
    item: list[str] = field(default_factory=list)
    timestamp: list[float] = field(default_factory=list)
    event_type: list[str] = field(default_factory=list)
    event_value: list[float] = field(default_factory=list)
    # per row, the values of its non-key columns (candidates for context, decided once all are read)
    extra: list[dict[str, str]] = field(default_factory=list)
    # Whether the files carry EVENT_TYPE / EVENT_VALUE; None until the first header is read.
    has_type: bool | None = None
    has_value: bool | None = None


def _read_csv(path: Path, columns: _Columns) -> None:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        position = {name.strip().upper(): i for i, name in enumerate(header)}
        missing = [field for field in REQUIRED_FIELDS if field not in position]
        if missing:
            raise TrainingDataError(
                f"{path.name}: the header has no {', '.join(missing)} column (found {', '.join(header)}). "
                f"Interactions data needs {', '.join(REQUIRED_FIELDS)}."
            )
        has_type = "EVENT_TYPE" in position
        has_value = "EVENT_VALUE" in position
        if columns.has_type is None:
            columns.has_type, columns.has_value = has_type, has_value
        elif (columns.has_type, columns.has_value) != (has_type, has_value):
            raise TrainingDataError(
                f"{path.name}: the interaction files do not share one schema "
                "(EVENT_TYPE/EVENT_VALUE present in some files only)."
            )
        u, i, t = position["USER_ID"], position["ITEM_ID"], position["TIMESTAMP"]
        e = position.get("EVENT_TYPE")
        v = position.get("EVENT_VALUE")
        width = max(position.values()) + 1
        extras = [(name, index) for name, index in position.items() if name not in _NOT_CONTEXT]
        for line, row in enumerate(reader, start=2):
            if not row:
                continue
            where = f"{path.name} line {line}"
            if len(row) < width:
                raise TrainingDataError(f"{where}: expected {width} fields, found {len(row)}.")
            user, item = row[u].strip(), row[i].strip()
            if not user or not item:
                raise TrainingDataError(f"{where}: USER_ID and ITEM_ID must not be empty.")
            columns.user.append(user)
            columns.item.append(item)
            columns.timestamp.append(_parse_number(row[t], "TIMESTAMP", where))
            if e is not None:
                columns.event_type.append(row[e])
            if v is not None:
                raw = row[v].strip()
                columns.event_value.append(_parse_number(raw, "EVENT_VALUE", where) if raw else math.nan)
            columns.extra.append({name: row[index].strip() for name, index in extras if row[index].strip()})


def load_interactions(channel_dir: str | Path, data_filter: DataFilter | None = None) -> Interactions:
    """Read every CSV under ``channel_dir``, apply the solution's filters and check the minimum size."""
    data_filter = data_filter or DataFilter()
    channel = Path(channel_dir)
    files = sorted(p for p in channel.rglob("*") if p.is_file() and p.suffix.lower() == ".csv")
    if not files:
        raise TrainingDataError(
            f"No interactions data: no CSV file in {channel}. Import an interactions dataset before training."
        )
    columns = _Columns()
    for path in files:
        _read_csv(path, columns)
    user = np.asarray(columns.user, dtype=str)
    item = np.asarray(columns.item, dtype=str)
    timestamp = np.asarray(columns.timestamp, dtype=np.float64)
    event_type = np.asarray(columns.event_type, dtype=str) if columns.has_type else None
    event_value = np.asarray(columns.event_value, dtype=np.float64) if columns.has_value else None
    total = user.shape[0]
    context = _context_columns(channel, columns.extra)

    keep = np.ones(total, dtype=bool)
    if data_filter.event_type is not None:
        if event_type is None:
            raise TrainingDataError(
                f"The solution trains on eventType {data_filter.event_type!r}, but the interactions data has "
                "no EVENT_TYPE column. Remove the eventType or import data with event types."
            )
        keep &= event_type == data_filter.event_type
    if data_filter.event_value_threshold is not None:
        if event_value is None:
            raise TrainingDataError(
                "The solution sets eventValueThreshold, but the interactions data has no EVENT_VALUE column. "
                "Remove the threshold or import data with event values."
            )
        # NaN (an empty EVENT_VALUE) compares False, so rows without a value are dropped by a threshold.
        keep &= event_value >= data_filter.event_value_threshold
    if not keep.all():
        user, item, timestamp = user[keep], item[keep], timestamp[keep]
        event_type = None if event_type is None else event_type[keep]
        event_value = None if event_value is None else event_value[keep]
        context = _rows(context, keep)

    data = from_records(user, item, timestamp, event_type, event_value, context) if user.size else None
    check_minimum_size(data, total_rows=total, data_filter=data_filter)
    assert data is not None
    return data


def _context_columns(channel: Path, extra: list[dict[str, str]]) -> dict[str, np.ndarray] | None:
    """The non-key columns Personalize trains on: those schema.json marks categorical (text) or types as
    numbers (floats, NaN where empty or not a number). Without a schema, a column whose values are all
    numbers is numerical and any other is categorical."""
    names = sorted({name for row in extra for name in row})
    kinds = schema_kinds(channel)
    columns: dict[str, np.ndarray] = {}
    for name in names:
        values = [row.get(name, "") for row in extra]
        kind = kinds.get(name) if kinds else inferred_kind(values)
        if kind == "categorical":
            columns[name] = np.asarray(values, dtype=str)
        elif kind == "numeric":
            columns[name] = np.asarray([float(v) if is_number(v) else math.nan for v in values])
    return columns or None


def check_minimum_size(data: Interactions | None, *, total_rows: int, data_filter: DataFilter) -> None:
    """Personalize's rule: >= 1000 interactions and >= 25 users with >= 2 interactions each."""
    filters = data_filter.describe()
    after = f" after applying {filters} ({total_rows} rows before filtering)" if filters else ""
    found = 0 if data is None else data.n_interactions
    if found < MIN_INTERACTIONS:
        raise TrainingDataError(
            f"There are not enough interactions: found {found}, need at least {MIN_INTERACTIONS}{after}. "
            "Import more interactions data" + (" or relax the filters." if filters else ".")
        )
    assert data is not None
    users_with_two = int((data.history_lengths() >= 2).sum())
    if users_with_two < MIN_USERS_WITH_TWO_INTERACTIONS:
        raise TrainingDataError(
            f"There are not enough users with at least 2 interactions: found {users_with_two}, need at least "
            f"{MIN_USERS_WITH_TWO_INTERACTIONS}{after}. Import interactions for more users"
            + (" or relax the filters." if filters else ".")
        )
