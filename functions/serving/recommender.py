"""One solution version's model joined with its dataset group's live data: the serving core.

GetRecommendations, GetPersonalizedRanking and batch inference all come here, so a filter, a
promotion or an exploration setting means the same thing in each.

Per dataset group a ``GroupState`` keeps the filter tables (``functions.filters``) in step with the
group's catalogue (``catalog.GroupCatalog``): rebuilt after an import, updated in place for the ids a
PutItems/PutUsers changed. Per model a ``CandidateSpace`` lists the candidates: the model's items, then
cold items (in the Items dataset, unknown to the model), with their rows in the item table. The tables
are not thread-safe, and the local service runs handlers on threads, so a group's state is used under
its lock; the work under it is numpy over arrays, a fraction of a millisecond.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from functions.filters import (
    ActionTable,
    FilterExpressionError,
    FilterValuesError,
    ItemTable,
    UserTable,
    action_mask,
    compile_filter,
    field_types,
    item_mask,
    parse_filter,
)
from functions.protocol.errors import InvalidInputException
from functions.serving.catalog import DatasetView, GroupCatalog, catalog_for
from functions.serving.catalog import reset as catalog_reset
from functions.serving.model_artifact import ITEM_NEIGHBORS, LoadedModel
from functions.serving.selection import Candidates, Chosen, Exploration, Promotion, select

DEFAULT_EXPLORATION_WEIGHT = 0.3
NO_METADATA_ROW = "\x00tailor:no-metadata"
DEFAULT_EXPLORATION_AGE_DAYS = 30.0
# Recipes that explore cold items (Personalize: User-Personalization and its v2).
EXPLORING_RECIPES = frozenset({"aws-user-personalization", "aws-user-personalization-v2"})


@dataclass(frozen=True)
class FilterRequest:
    expression: str
    values: Mapping[str, str] | None = None


@dataclass(frozen=True)
class PromotionRequest:
    name: str
    percent: int
    filter: FilterRequest


@dataclass
class _Synced:
    table: Any = None
    revision: int = -1
    view: DatasetView | None = None


class GroupState:
    """The filter tables of one dataset group, kept in step with its catalogue."""

    def __init__(self, group_arn: str) -> None:
        self.group = group_arn
        self.catalog: GroupCatalog = catalog_for(group_arn)
        self.lock = threading.RLock()
        self._items = _Synced()
        self._users = _Synced()
        self._actions = _Synced()
        self._compiled: dict[str, Any] = {}

    def _sync(self, synced: _Synced, dataset_type: str, table_class: type) -> tuple[Any, DatasetView | None]:
        view = self.catalog.view(dataset_type)
        if view is None:
            if synced.table is None or synced.view is not None:
                synced.table, synced.revision, synced.view = table_class(), -1, None
            return synced.table, None
        if synced.view is view and synced.revision == view.revision:
            return synced.table, view
        changed = view.changed_since(synced.revision) if synced.view is view else None
        if changed is None:
            fields = field_types(view.schema.fields)
            previous = synced.table
            synced.table = table_class(list(view.rows), list(view.rows.values()), fields)
            if previous is not None:
                synced.table.add_ids(previous.ids)  # model items without metadata stay addressable
        else:
            synced.table.upsert_many((row_id, view.rows.get(row_id)) for row_id in changed)
        synced.revision, synced.view = view.revision, view
        return synced.table, view

    def items(self) -> tuple[ItemTable, DatasetView | None]:
        return self._sync(self._items, "ITEMS", ItemTable)

    def users(self) -> tuple[UserTable, DatasetView | None]:
        return self._sync(self._users, "USERS", UserTable)

    def actions(self) -> tuple[ActionTable, DatasetView | None]:
        return self._sync(self._actions, "ACTIONS", ActionTable)

    def compiled(self, expression: str) -> Any:
        found = self._compiled.get(expression)
        if found is None:
            _, users_view = self.users()
            users_fields = field_types(users_view.schema.fields) if users_view else None
            try:
                found = compile_filter(parse_filter(expression), users_fields=users_fields)
            except FilterExpressionError as exc:  # a filter that was valid at creation always parses
                raise InvalidInputException(f"The filter expression is invalid: {exc}") from exc
            self._compiled[expression] = found
        return found


_groups: dict[str, GroupState] = {}
_groups_lock = threading.Lock()


def group_state(group_arn: str) -> GroupState:
    state = _groups.get(group_arn)
    if state is None:
        with _groups_lock:
            state = _groups.setdefault(group_arn, GroupState(group_arn))
    return state


def reset() -> None:
    """Forget every group's tables and catalogue (tests that recreate the AWS backend between cases)."""
    with _groups_lock:
        _groups.clear()
    catalog_reset()


@dataclass
class CandidateSpace:
    ids: list[str]
    rows: np.ndarray  # row of each candidate in the item table
    n_model: int
    created: np.ndarray  # creation time of each candidate (NaN unknown)
    table_uid: int = -1
    table_version: int = -1
    view_revision: int = -1
    popularity: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _positions: dict[str, int] | None = None

    def position(self, item_id: str) -> int | None:
        if self._positions is None:
            self._positions = {item: index for index, item in enumerate(self.ids)}
        return self._positions.get(item_id)


class Recommender:
    def __init__(self, model: LoadedModel, group_arn: str) -> None:
        self.model = model
        self.state = group_state(group_arn)
        self._space: CandidateSpace | None = None

    # -- candidates --------------------------------------------------------------------------
    def _candidates(self, table: ItemTable, view: DatasetView | None) -> CandidateSpace:
        space = self._space
        revision = view.revision if view is not None else -1
        if (
            space is not None
            and space.table_uid == table.uid
            and space.table_version == table.version
            and space.view_revision == revision
        ):
            return space
        model_items = self.model.items
        table.add_ids(model_items)
        known = self.model.item_index
        cold = [row_id for row_id in (view.rows if view is not None else ()) if row_id not in known]
        ids = [*model_items, *cold]
        created = np.full(len(ids), np.nan)
        if view is not None:
            for position, row_id in enumerate(cold, start=len(model_items)):
                stamp = view.creation_time(row_id)
                created[position] = stamp if stamp is not None else np.nan
        popularity = np.zeros(len(ids))
        popularity[: len(model_items)] = self.model.popularity_vector()
        space = CandidateSpace(
            ids=ids,
            rows=table.indices(ids),
            n_model=len(model_items),
            created=created,
            table_uid=table.uid,
            table_version=table.version,
            view_revision=revision,
            popularity=popularity,
        )
        self._space = space
        return space

    def _mask(
        self,
        request: FilterRequest,
        table: ItemTable,
        space: CandidateSpace,
        interactions: Sequence[tuple[str, str]],
        user_id: str | None,
        item_id: str | None = None,
    ) -> np.ndarray:
        mask = self._table_mask(request, table, interactions, user_id, item_id)
        return mask[space.rows]

    def _table_mask(
        self,
        request: FilterRequest,
        table: ItemTable,
        interactions: Sequence[tuple[str, str]],
        user_id: str | None,
        item_id: str | None = None,
    ) -> np.ndarray:
        compiled = self.state.compiled(request.expression)
        _, users_view = self.state.users()
        current_user = users_view.rows.get(user_id) if users_view is not None and user_id else None
        _, items_view = self.state.items()
        current_item = items_view.rows.get(item_id) if items_view is not None and item_id else None
        try:
            mask = item_mask(compiled, table, request.values or {}, interactions, current_user, current_item)
        except FilterValuesError as exc:
            raise InvalidInputException(str(exc)) from exc
        return np.asarray(mask, dtype=bool)

    def allowed_actions(
        self,
        request: FilterRequest,
        actions: Sequence[str],
        user_id: str,
        live_events: Sequence[tuple[str, str]],
    ) -> set[str]:
        """Which of ``actions`` an ActionID filter lets GetActionRecommendations return. ``live_events``:
        the user's PutActionInteractions (action id, event type), oldest first; the imported Action
        interactions come first, as the item filters take imported interactions."""
        imported_view = self.state.catalog.interactions("ACTION_INTERACTIONS")
        history = [(action, event_type) for action, event_type, _ in imported_view.by_user.get(user_id, [])]
        history += live_events
        with self.state.lock:  # the tables are shared by the group's requests
            table, _ = self.state.actions()
            table.add_ids(actions)
            compiled = self.state.compiled(request.expression)
            _, users_view = self.state.users()
            current_user = users_view.rows.get(user_id) if users_view is not None else None
            try:
                mask = action_mask(compiled, table, request.values or {}, history, current_user)
            except FilterValuesError as exc:
                raise InvalidInputException(str(exc)) from exc
            rows = table.indices(list(actions))
        return {action for action, row in zip(actions, rows, strict=True) if row >= 0 and mask[row]}

    # -- requests ----------------------------------------------------------------------------
    def _user_scores(
        self, user_id: str | None, live_events: Sequence[tuple[str, str]], context: Mapping[str, str] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        record = None
        if self.model.features is not None and self.model.features.fields and user_id:
            with self.state.lock:  # the Users view is shared with the filter tables
                _, users_view = self.state.users()
                record = dict(users_view.rows.get(user_id) or {}) if users_view is not None else None
        return self.model.user_scores(user_id, [item for item, _ in live_events], record, context)

    def recommend(
        self,
        n: int,
        user_id: str | None = None,
        item_id: str | None = None,
        live_events: Sequence[tuple[str, str]] = (),
        imported_interactions: Sequence[tuple[str, str]] | None = None,
        filter_request: FilterRequest | None = None,
        promotion: PromotionRequest | None = None,
        exploration_config: Mapping[str, str] | None = None,
        rng: random.Random | None = None,
        context: Mapping[str, str] | None = None,
    ) -> list[Chosen]:
        """Top ``n`` for a user (sequence models) or an item (neighbour models).

        ``live_events`` are (item id, event type) of the user's events since training, oldest first;
        ``imported_interactions`` the user's imported ones for interaction filters (read from the
        catalogue when None and a filter needs them); ``context`` the request's context map."""
        model = self.model
        # The model runs outside the group's lock: only the shared filter tables need it.
        if model.contract == ITEM_NEIGHBORS:
            model_scores, history = model.neighbor_scores(item_id or ""), None
        else:
            model_scores, history = self._user_scores(user_id, live_events, context)
        with self.state.lock:
            table, view = self.state.items()
            space = self._candidates(table, view)
            interactions = self._interactions(
                user_id, live_events, imported_interactions, filter_request, promotion
            )
            allowed = (
                self._mask(filter_request, table, space, interactions, user_id, item_id)
                if filter_request
                else None
            )
            promo = None
            if promotion is not None:
                count = round(n * promotion.percent / 100)
                mask = self._mask(promotion.filter, table, space, interactions, user_id, item_id)
                promo = Promotion(promotion.name, count, mask)
        total = len(space.ids)
        scores = np.full(total, -np.inf)
        scores[: space.n_model] = model_scores
        blocked = np.zeros(total, dtype=bool)
        if history is None:
            own = model.item_index.get(item_id or "")
            if own is None and item_id is not None:
                own = space.position(item_id)
            if own is not None:
                blocked[own] = True
        else:
            blocked[history] = True
            for item, _ in live_events:
                if item not in model.item_index:
                    position = space.position(item)
                    if position is not None:
                        blocked[position] = True
        candidates = Candidates(space.ids, scores, space.popularity, blocked)
        exploration = self._exploration(space, n, exploration_config)
        return select(candidates, n, allowed, promo, exploration, rng)

    def rank(
        self,
        user_id: str,
        input_list: Sequence[str],
        live_events: Sequence[tuple[str, str]] = (),
        filter_request: FilterRequest | None = None,
        context: Mapping[str, str] | None = None,
    ) -> list[Chosen]:
        """``input_list`` re-ranked for the user; items the model does not know follow, unscored."""
        model = self.model
        model_scores, _ = self._user_scores(user_id, live_events, context)
        allowed_ids: set[str] | None = None
        with self.state.lock:
            table, _ = self.state.items()
            if filter_request is not None:
                interactions = self._interactions(user_id, live_events, None, filter_request, None)
                mask = self._mask_for_ids(filter_request, table, input_list, interactions, user_id)
                allowed_ids = {item for item, keep in zip(input_list, mask, strict=True) if keep}
        seen: set[str] = set()
        known: list[tuple[str, float]] = []
        unknown: list[str] = []
        for item in input_list:
            if item in seen or (allowed_ids is not None and item not in allowed_ids):
                continue
            seen.add(item)
            index = model.item_index.get(item)
            if index is None:
                unknown.append(item)
            else:
                known.append((item, float(model_scores[index])))
        total = sum(score for _, score in known) or 1.0
        # Scores are renormalised over the input list, so they say how the listed items compare.
        known.sort(key=lambda pair: (-pair[1], input_list.index(pair[0])))
        return [Chosen(item, score / total) for item, score in known] + [
            Chosen(item, None) for item in unknown
        ]

    def _mask_for_ids(
        self,
        request: FilterRequest,
        table: ItemTable,
        ids: Sequence[str],
        interactions: Sequence[tuple[str, str]],
        user_id: str | None,
    ) -> np.ndarray:
        # Ids the table has never seen (a caller's inputList can name anything) are judged as an item
        # without metadata: one shared empty row, so requests cannot grow the table.
        table.add_ids([NO_METADATA_ROW])
        rows = table.indices(ids)
        rows[rows < 0] = table.index_of(NO_METADATA_ROW)
        return self._table_mask(request, table, interactions, user_id)[rows]

    def _interactions(
        self,
        user_id: str | None,
        live_events: Sequence[tuple[str, str]],
        imported: Sequence[tuple[str, str]] | None,
        filter_request: FilterRequest | None,
        promotion: PromotionRequest | None,
    ) -> list[tuple[str, str]]:
        expressions = [r.expression for r in (filter_request, promotion.filter if promotion else None) if r]
        if not any("interactions." in e.lower() for e in expressions):
            return list(live_events)
        if imported is None:
            events = self.state.catalog.interactions().by_user.get(user_id or "", []) if user_id else []
            imported = [(item, event_type) for item, event_type, _ in events]
        return [*imported, *live_events]

    def _exploration(
        self, space: CandidateSpace, n: int, config: Mapping[str, str] | None
    ) -> Exploration | None:
        if self.model.recipe not in EXPLORING_RECIPES or space.n_model == len(space.ids):
            return None
        config = config or {}
        weight = float(config.get("explorationWeight", DEFAULT_EXPLORATION_WEIGHT))
        cutoff_days = float(config.get("explorationItemAgeCutOff", DEFAULT_EXPLORATION_AGE_DAYS))
        count = round(n * weight)
        if count <= 0:
            return None
        created = space.created
        known = created[np.isfinite(created)]
        # The newest item stands for "now" in the data's own clock (imported data may be years old).
        reference = float(known.max()) if known.size else 0.0
        age_days = np.where(np.isfinite(created), (reference - created) / 86400.0, 0.0)
        eligible = np.zeros(len(space.ids), dtype=bool)
        eligible[space.n_model :] = age_days[space.n_model :] <= cutoff_days
        weights = 1.0 / (1.0 + np.maximum(age_days, 0.0))
        return Exploration(count, eligible, weights)


def metadata_for(view: DatasetView | None, item_id: str, columns: Sequence[str]) -> dict[str, str]:
    """The requested Items columns of one item, keyed by lower-case column name as Personalize returns."""
    out: dict[str, str] = {}
    for column in columns:
        value = view.field_value(item_id, column) if view is not None else None
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            out[column.lower()] = str(value)
    return out
