"""The Items dataset (the training job's ``items`` channel) as model features.

The control plane writes the Items dataset's CSV files into ``<input>/data/items/`` and, next to them,
the dataset's Avro schema as ``schema.json``. Personalize's item metadata kinds become features:

- categorical string fields: one token per value; a multi-valued field (``Action|Comedy``) gives one token
  per value, as Personalize splits categorical values on ``|``;
- textual fields (one at most, e.g. a description): one token per lower-cased word;
- numerical fields: standardised values (mean 0, standard deviation 1; missing values are 0).

Without ``schema.json`` (a hand-made channel), a field whose every non-empty value parses as a number is
numerical and any other field is categorical. ``ITEM_ID`` is the key; ``CREATION_TIMESTAMP`` is not a
feature (it describes when, not what). Tokens seen fewer than ``MIN_TOKEN_COUNT`` times or beyond the
``MAX_TOKENS_PER_FIELD`` most frequent of their field are dropped: a token on one item cannot tell the model
anything about any other item.

``ItemFeatures`` aligns the metadata with a model's item indices: a padded token matrix (0 = no token) for
an embedding lookup and a dense numeric matrix.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from training.errors import TrainingDataError

ITEMS_CHANNEL = "items"
SCHEMA_FILE = "schema.json"
MIN_TOKEN_COUNT = 2
MAX_TOKENS_PER_FIELD = 1000
# Tokens kept per item (the most frequent ones): bounds the token matrix for items with long texts.
MAX_TOKENS_PER_ITEM = 32
_NOT_FEATURES = {"ITEM_ID", "CREATION_TIMESTAMP"}
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class ItemMetadata:
    """Per item id: its feature tokens (``FIELD=value``) and numeric field values (NaN = missing)."""

    item_ids: list[str]
    tokens: list[list[str]]
    numeric_fields: list[str]
    numeric: np.ndarray  # float64 [n_items, n_numeric]

    def features(self, item_ids: Sequence[str]) -> ItemFeatures:
        """Features for a model's item vocabulary (items without a metadata row get none)."""
        row_of = {item: row for row, item in enumerate(self.item_ids)}
        counts = Counter(token for tokens in self.tokens for token in set(tokens))
        by_field: dict[str, list[tuple[int, str]]] = {}
        for token, count in counts.items():
            if count >= MIN_TOKEN_COUNT:
                by_field.setdefault(token.split("=", 1)[0], []).append((count, token))
        vocabulary: list[str] = []
        for field in sorted(by_field):
            ranked = sorted(by_field[field], key=lambda pair: (-pair[0], pair[1]))[:MAX_TOKENS_PER_FIELD]
            vocabulary.extend(sorted(token for _, token in ranked))
        index = {token: i + 1 for i, token in enumerate(vocabulary)}  # 0 is padding

        rows = [row_of.get(item) for item in item_ids]
        per_item: list[list[int]] = []
        for row in rows:
            kept = [] if row is None else sorted({index[t] for t in self.tokens[row] if t in index})
            if len(kept) > MAX_TOKENS_PER_ITEM:
                kept = sorted(kept, key=lambda t: (-counts[vocabulary[t - 1]], t))[:MAX_TOKENS_PER_ITEM]
            per_item.append(kept)
        width = max((len(t) for t in per_item), default=0)
        token_matrix = np.zeros((len(item_ids), max(width, 1)), dtype=np.int64)
        for i, kept in enumerate(per_item):
            token_matrix[i, : len(kept)] = kept

        numeric = np.zeros((len(item_ids), len(self.numeric_fields)), dtype=np.float32)
        if self.numeric_fields:
            mean = np.nanmean(self.numeric, axis=0)
            std = np.nanstd(self.numeric, axis=0)
            scaled = (self.numeric - mean) / np.where(std > 0, std, 1.0)
            scaled = np.nan_to_num(scaled, nan=0.0)
            for i, row in enumerate(rows):
                if row is not None:
                    numeric[i] = scaled[row]
        return ItemFeatures(vocabulary, token_matrix, numeric, tuple(self.numeric_fields))

    @classmethod
    def from_columns(
        cls,
        item_ids: Sequence[str],
        categorical: Mapping[str, Sequence[str]] | None = None,
        numerical: Mapping[str, Sequence[float]] | None = None,
    ) -> ItemMetadata:
        """Build metadata in memory (tests, benchmarks): categorical values may hold ``|``."""
        tokens: list[list[str]] = [[] for _ in item_ids]
        for field, values in (categorical or {}).items():
            for row, value in enumerate(values):
                tokens[row].extend(_categorical_tokens(field, value))
        fields = sorted(numerical or {})
        numeric = np.full((len(item_ids), len(fields)), np.nan)
        for column, field in enumerate(fields):
            numeric[:, column] = np.asarray((numerical or {})[field], dtype=np.float64)
        return cls(list(item_ids), tokens, fields, numeric)


@dataclass(frozen=True)
class ItemFeatures:
    vocabulary: list[str]  # token i + 1 of ``tokens`` is vocabulary[i]
    tokens: np.ndarray  # int64 [n_items, width], 0 = padding
    numeric: np.ndarray  # float32 [n_items, n_numeric]
    numeric_fields: tuple[str, ...] = ()  # the name of each ``numeric`` column

    @property
    def n_tokens(self) -> int:
        return len(self.vocabulary)

    @property
    def n_numeric(self) -> int:
        return int(self.numeric.shape[1])

    @property
    def empty(self) -> bool:
        return self.n_tokens == 0 and self.n_numeric == 0


@runtime_checkable
class UsesItemMetadata(Protocol):
    """A recipe that reads the Items dataset; the entrypoint hands it the channel before ``fit``."""

    def set_item_metadata(self, metadata: ItemMetadata | None) -> None: ...


def pool_item_metadata(token_embedding: Any, numeric_map: Any, tokens: Any, numeric: Any) -> Any:
    """One metadata vector per item: the mean of its token embeddings (padding tokens, 0, left out) plus
    the linear map of its numerical fields. ``tokens`` [*S, T] and ``numeric`` [*S, F] are
    ``ItemFeatures`` rows (as torch tensors) for items of any shape S; the result is [*S, D]."""
    present = (tokens > 0).float()
    pooled = (token_embedding(tokens) * present[..., None]).sum(dim=-2)
    pooled = pooled / present.sum(dim=-1, keepdim=True).clamp(min=1.0)
    if numeric.shape[-1]:
        pooled = pooled + numeric_map(numeric)
    return pooled


def _categorical_tokens(field: str, value: str) -> list[str]:
    return [f"{field}={part.strip()}" for part in value.split("|") if part.strip()]


def _textual_tokens(field: str, value: str) -> list[str]:
    return [f"{field}={word}" for word in sorted(set(_WORD.findall(value.lower())))]


def schema_kinds(channel: Path) -> dict[str, str]:
    """Field name (upper case) -> "categorical" | "textual" | "numeric" | "plain", from schema.json."""
    path = channel / SCHEMA_FILE
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(document, str):  # the CreateSchema ``schema`` string, stored as a JSON string
            document = json.loads(document)
        fields: list[dict[str, Any]] = document["fields"]
    except (ValueError, KeyError, TypeError) as error:
        raise TrainingDataError(f"The schema {path.name} is not an Avro record: {error}.") from None
    kinds: dict[str, str] = {}
    for spec in fields:
        types = spec.get("type")
        names = [t for t in (types if isinstance(types, list) else [types]) if t != "null"]
        base = names[0] if names else "string"
        if spec.get("categorical"):
            kinds[str(spec["name"]).upper()] = "categorical"
        elif spec.get("textual"):
            kinds[str(spec["name"]).upper()] = "textual"
        elif base in ("int", "long", "float", "double"):
            kinds[str(spec["name"]).upper()] = "numeric"
        else:
            kinds[str(spec["name"]).upper()] = "plain"
    return kinds


def inferred_kind(values: Iterable[str]) -> str:
    """A column's kind without a schema: "numeric" when its non-empty values are all numbers (and it has
    one), else "categorical"."""
    present = [value for value in values if value]
    return "numeric" if present and all(is_number(value) for value in present) else "categorical"


def is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def read_metadata_rows(
    channel_dir: str | Path, id_field: str, dataset: str
) -> tuple[dict[str, dict[str, str]], dict[str, str]] | None:
    """A metadata channel's rows (id -> upper-case field -> raw value) and each feature field's kind
    (categorical | textual | numeric, from ``schema.json`` or guessed from the values); None when there is
    no channel or no CSV file in it. A later row for the same id replaces the earlier one, as a re-import
    does."""
    channel = Path(channel_dir)
    if not channel.is_dir():
        return None
    files = sorted(p for p in channel.rglob("*") if p.is_file() and p.suffix.lower() == ".csv")
    if not files:
        return None
    declared = schema_kinds(channel)
    rows: dict[str, dict[str, str]] = {}
    for path in files:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [name.strip().upper() for name in next(reader, [])]
            if not header:
                continue
            if id_field not in header:
                raise TrainingDataError(f"{dataset} file {path.name} has no {id_field} column.")
            key = header.index(id_field)
            for row in reader:
                if len(row) != len(header) or not row[key].strip():
                    continue
                rows[row[key].strip()] = dict(zip(header, row, strict=True))
    kinds: dict[str, str] = {}
    for name in sorted({name for row in rows.values() for name in row} - _NOT_FEATURES - {id_field}):
        kind = declared.get(name)
        if kind is None:
            kind = inferred_kind(row.get(name, "").strip() for row in rows.values())
        kinds[name] = "categorical" if kind == "plain" else kind
    return rows, kinds


def load_item_metadata(channel_dir: str | Path) -> ItemMetadata | None:
    """Read the ``items`` channel; None when there is no channel or no CSV file in it."""
    found = read_metadata_rows(channel_dir, "ITEM_ID", "Items")
    if found is None:
        return None
    rows, kinds = found
    item_ids = sorted(rows)
    numeric_fields: list[str] = []
    tokens: list[list[str]] = [[] for _ in item_ids]
    for field, kind in kinds.items():
        values = [rows[item].get(field, "").strip() for item in item_ids]
        if kind == "numeric":
            numeric_fields.append(field)
            continue
        split = _textual_tokens if kind == "textual" else _categorical_tokens
        for row, value in enumerate(values):
            if value:
                tokens[row].extend(split(field, value))
    numeric = np.full((len(item_ids), len(numeric_fields)), np.nan)
    for column, field in enumerate(numeric_fields):
        for row, item in enumerate(item_ids):
            text = rows[item].get(field, "").strip()
            if text and is_number(text):
                numeric[row, column] = float(text)
    return ItemMetadata(item_ids, tokens, numeric_fields, numeric)
