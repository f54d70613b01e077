"""Users-dataset fields and interaction context as one vocabulary of feature tokens.

Personalize's DeepFM-style and HRNN-metadata models read "user, item and context metadata". Tailor turns
the user and context side into tokens that an embedding bag pools:

- a categorical field value gives ``<SOURCE>.<FIELD>=<value>`` per ``|``-separated part (as Personalize
  splits categorical values); SOURCE is ``USERS`` (a Users-dataset field) or ``CONTEXT`` (a field of
  the Interactions schema beyond the key facts, e.g. DEVICE, which GetRecommendations' ``context`` and
  PutEvents' ``properties`` also carry);
- a numerical field gives ``<SOURCE>.<FIELD>#<bin>``: its quantile bin (``NUMERIC_BINS`` equal-count
  bins over the users for a Users field, over the interactions for a context field such as DISTANCE;
  edges kept in the vocabulary file), so AGE 23 and AGE 24 share what they share. Personalize trains on
  every numerical field of a schema; a value that is not a finite number gives no token.

Tokens seen on fewer than ``MIN_TOKEN_COUNT`` users (context: interactions) are not in the vocabulary: one
user's postcode cannot teach the model about anyone else. A row's tokens are sorted by index, at most
``width`` of them (the widest training row), 0-padded.

The runtime imports this module (it needs numpy only) to encode a request's user record and context
with the model's ``features.json``; ``training/ARTIFACT.md`` states the same rules for other servers.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from training.item_metadata import read_metadata_rows

FEATURES_FILE = "features.json"
USERS_CHANNEL = "users"
USERS, CONTEXT = "USERS", "CONTEXT"
CATEGORICAL, NUMERIC = "categorical", "numeric"
NUMERIC_BINS = 5
MIN_TOKEN_COUNT = 2
MAX_TOKENS_PER_FIELD = 1000

Row = Mapping[str, Any]


@dataclass(frozen=True)
class FeatureField:
    source: str  # USERS | CONTEXT
    name: str  # upper case, as the schema's field name
    kind: str  # categorical | numeric
    edges: tuple[float, ...] = ()  # numeric only: bin b holds values in [edges[b - 1], edges[b])

    def tokens(self, value: Any) -> list[str]:
        if value is None:
            return []
        text = str(value).strip()
        if not text:
            return []
        if self.kind == NUMERIC:
            try:
                number = float(text)
            except ValueError:
                return []
            if not math.isfinite(number):
                return []
            return [f"{self.source}.{self.name}#{bisect_right(self.edges, number)}"]
        return [f"{self.source}.{self.name}={part.strip()}" for part in text.split("|") if part.strip()]


@dataclass(frozen=True)
class FeatureSpace:
    """The fields a model reads, its token vocabulary (token ``i + 1`` is ``vocabulary[i]``) and the row
    width of its ``feature_tokens`` input."""

    fields: tuple[FeatureField, ...] = ()
    vocabulary: tuple[str, ...] = ()
    width: int = 1
    _index: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._index.update({token: i + 1 for i, token in enumerate(self.vocabulary)})

    @property
    def n_tokens(self) -> int:
        return len(self.vocabulary)

    @property
    def context_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.source == CONTEXT]

    def token_fields(self) -> np.ndarray:
        """int64 [n_tokens + 1]: the position in ``fields`` of each token's field (0 for padding), so a
        model can pool each field on its own."""
        position = {f"{spec.source}.{spec.name}": i for i, spec in enumerate(self.fields)}
        return np.asarray([0, *(position[_field_of(token)] for token in self.vocabulary)], dtype=np.int64)

    def row_tokens(self, user: Row | None, context: Row | None) -> list[int]:
        """Token indices of one user record (Users dataset, upper-case keys) and one context map."""
        found: set[int] = set()
        for spec in self.fields:
            source = user if spec.source == USERS else context
            if not source:
                continue
            for token in spec.tokens(_get(source, spec.name)):
                index = self._index.get(token)
                if index is not None:
                    found.add(index)
        return sorted(found)[: self.width]

    def encode(self, users: Sequence[Row | None], contexts: Sequence[Row | None] | None = None) -> np.ndarray:
        """``feature_tokens`` [len(users), width] int64 for parallel user records and context maps."""
        out = np.zeros((len(users), self.width), dtype=np.int64)
        for row, user in enumerate(users):
            tokens = self.row_tokens(user, contexts[row] if contexts is not None else None)
            out[row, : len(tokens)] = tokens
        return out

    def to_json(self) -> dict[str, Any]:
        fields = [{"source": f.source, "name": f.name, "kind": f.kind} for f in self.fields]
        for spec, f in zip(fields, self.fields, strict=True):
            if f.kind == NUMERIC:
                spec["edges"] = list(f.edges)
        return {
            "fields": fields,
            "vocabulary": list(self.vocabulary),
            "width": self.width,
        }

    def write(self, model_dir: Path) -> None:
        (model_dir / FEATURES_FILE).write_text(json.dumps(self.to_json()), encoding="utf-8")

    @classmethod
    def fit(
        cls,
        users: Mapping[str, Row] | None = None,
        user_kinds: Mapping[str, str] | None = None,
        contexts: Sequence[Row] | None = None,
        context_kinds: Mapping[str, str] | None = None,
    ) -> FeatureSpace:
        """The vocabulary of ``users`` (id -> record; ``user_kinds`` field -> categorical | numeric) and of
        the interactions' ``contexts`` (one map per interaction; ``context_kinds`` field -> kind, the
        fields read). A numerical field's bins are its quantiles over the users (USERS) or over the
        interactions (CONTEXT)."""
        fields: list[FeatureField] = []
        for source, kinds, rows in (
            (USERS, user_kinds, list((users or {}).values())),
            (CONTEXT, context_kinds, list(contexts or ())),
        ):
            for name, kind in sorted((kinds or {}).items()):
                if kind == NUMERIC:
                    edges = _quantile_edges(_number(_get(row, name)) for row in rows)
                    if edges is not None:
                        fields.append(FeatureField(source, name, NUMERIC, edges))
                elif kind == CATEGORICAL:
                    fields.append(FeatureField(source, name, CATEGORICAL))

        counts: Counter[str] = Counter()
        for spec in fields:
            rows: Iterable[Row] = (users or {}).values() if spec.source == USERS else (contexts or ())
            for row in rows:
                counts.update(set(spec.tokens(_get(row, spec.name))))
        vocabulary: list[str] = []
        for spec in fields:
            prefix = f"{spec.source}.{spec.name}"
            ranked = sorted(
                ((n, t) for t, n in counts.items() if n >= MIN_TOKEN_COUNT and _field_of(t) == prefix),
                key=lambda pair: (-pair[0], pair[1]),
            )[:MAX_TOKENS_PER_FIELD]
            vocabulary.extend(sorted(token for _, token in ranked))
        used = {_field_of(token) for token in vocabulary}
        kept = [spec for spec in fields if f"{spec.source}.{spec.name}" in used]
        unbounded = cls(tuple(kept), tuple(vocabulary), 1 << 30)
        widest = max((len(unbounded.row_tokens(user, None)) for user in (users or {}).values()), default=0)
        widest += max((len(unbounded.row_tokens(None, ctx)) for ctx in (contexts or ())), default=0)
        return cls(tuple(kept), tuple(vocabulary), max(1, widest))

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> FeatureSpace:
        fields = tuple(
            FeatureField(f["source"], f["name"], f["kind"], tuple(float(e) for e in f.get("edges", ())))
            for f in document["fields"]
        )
        return cls(fields, tuple(document["vocabulary"]), int(document["width"]))


def load_users(channel_dir: str | Path) -> tuple[dict[str, dict[str, str]], dict[str, str]] | None:
    """The ``users`` channel (the Users dataset's CSV files and schema.json): records by user id and each
    field's kind (categorical | numeric); None without the channel."""
    found = read_metadata_rows(channel_dir, "USER_ID", "Users")
    if found is None:
        return None
    rows, kinds = found
    return rows, {name: NUMERIC if kind == "numeric" else CATEGORICAL for name, kind in kinds.items()}


@runtime_checkable
class UsesFeatureTokens(Protocol):
    """A recipe that reads the Users dataset and interaction context; the entrypoint hands it both."""

    def set_user_metadata(self, users: Mapping[str, Row] | None, kinds: Mapping[str, str]) -> None: ...


def _field_of(token: str) -> str:
    cut = min((i for i in (token.find("="), token.find("#")) if i >= 0), default=len(token))
    return token[:cut]


def _get(row: Row, name: str) -> Any:
    if name in row:
        return row[name]
    for key, value in row.items():  # request context keys and CSV headers may use any case
        if str(key).upper() == name:
            return value
    return None


def _quantile_edges(values: Iterable[float | None]) -> tuple[float, ...] | None:
    """The inner edges of ``NUMERIC_BINS`` equal-count bins over the present values; None without any."""
    present = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if present.size == 0:
        return None
    edges = np.unique(np.quantile(present, np.linspace(0, 1, NUMERIC_BINS + 1)[1:-1]))
    return tuple(float(e) for e in edges)


def _number(value: Any) -> float | None:
    try:
        number = float(str(value).strip()) if value is not None else math.nan
    except ValueError:
        return None
    return number if math.isfinite(number) else None
