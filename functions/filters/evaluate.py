"""Evaluate a parsed filter over an ItemTable (item recommendations), a UserTable (user segments) or an
ActionTable (action recommendations).

Semantics and their sources (Amazon Personalize developer guide):
- "Combining multiple expressions": each ``|`` part is evaluated on its own; the result is the union of
  the INCLUDE parts minus the union of the EXCLUDE parts, whatever their order.  A filter with only
  EXCLUDE parts starts from every item.
- GetRecommendations ``filterValues`` (botocore personalize-runtime): every parameter of an INCLUDE part
  must be given (else ``FilterValuesError``); an EXCLUDE part whose values are omitted "isn't used".
  Tailor reads "that portion of the expression" as the condition holding the parameter: that condition
  matches nothing.  In ``A AND $P`` the part then excludes nothing, and in ``A OR $P`` it excludes by ``A``
  alone; a missing parameter in the IF of an EXCLUDE makes the IF false, so the part isn't applied.
  (Parameters can't be used with NOT IN, so "matches nothing" never turns into "matches everything".)
- "Filter expressions": for Interactions filters Personalize considers up to 100 of the most recent
  interactions per user per event type (``MAX_INTERACTIONS_PER_EVENT_TYPE``), for Action_Interactions
  filters up to 300 (``MAX_ACTION_INTERACTIONS_PER_EVENT_TYPE``), and "ignores case only when matching
  event types"; ``"*"`` matches every event type.
- "Filter expression elements": an IF condition checks the current user; an expression whose IF is false
  doesn't apply (an INCLUDE whose IF is false restricts nothing; an EXCLUDE whose IF is false removes
  nothing).  With no current user, or when the user lacks the field, the IF is false.

Choices where the guide is silent:
- ``Interactions.EVENT_TYPE IN (...)`` selects the items the user interacted with through one of those
  event types; ``NOT IN (...)`` selects the items the user interacted with through some other event type
  (it is a condition on interaction records, so items never interacted with don't match either way).
- For Items / Users fields ``NOT IN`` is the complement of ``IN``: a row with no value is "not in".
  Range operators and ``=`` never match a missing number.
- Interactions whose item id isn't a row of the ItemTable are ignored: a mask can only say something about
  rows it has.  The runtime should add every recommendable item (``ItemTable.add_ids``) so that items
  without metadata can still be filtered by interactions.  Likewise for user segments.

Caching: the mask of a part of a WHERE that doesn't depend on the request (only Items / Users fields and
literal values) is kept on the CompiledFilter, keyed by the table, its row count and the versions of the
columns it reads, so an upsert invalidates only what it changed.  Per-value masks are cached by the table.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from functions.filters.expression import (
    CURRENT_ITEM,
    INTERACTION_DATASETS,
    RANGE_OPERATORS,
    WILDCARD,
    BoolOp,
    Condition,
    Expression,
    FieldRef,
    FieldType,
    FilterExpression,
    FilterValuesError,
    Literal,
    Node,
    Parameter,
    iter_conditions,
    lookup_field,
    parameters,
    parse_filter,
    parse_filter_values,
)
from functions.filters.tables import ActionTable, ItemTable, MetadataTable, UserTable, split_values

MAX_INTERACTIONS_PER_EVENT_TYPE = 100
MAX_ACTION_INTERACTIONS_PER_EVENT_TYPE = 300
_STATIC_CACHE_SIZE = 64


@dataclass(eq=False)
class CompiledFilter:
    """A parsed filter plus what evaluation needs to know once (parameters, static parts, caches)."""

    expression: FilterExpression
    parameters: frozenset[str]
    include_parameters: frozenset[str]
    users_fields: Mapping[str, FieldType] | None = None
    _static: dict[int, bool] = field(default_factory=dict, repr=False)
    _cache: OrderedDict[tuple[Any, ...], np.ndarray] = field(default_factory=OrderedDict, repr=False)

    @property
    def target(self) -> str:
        return self.expression.target

    @property
    def uses_current_item(self) -> bool:
        return any(
            isinstance(value, FieldRef) and value.dataset == CURRENT_ITEM
            for part in self.expression.expressions
            for condition in iter_conditions(part.where)
            for value in condition.values
        )


def compile_filter(
    expr: FilterExpression | str, *, users_fields: Mapping[str, FieldType] | None = None
) -> CompiledFilter:
    """Compile a filter (parsed, or text to parse).  ``users_fields`` tells IF conditions which
    CurrentUser fields are categorical and numeric; without it a string is split on ``|``."""
    parsed = parse_filter(expr) if isinstance(expr, str) else expr
    include = frozenset(name for part in parsed.includes for name in parameters(part))
    compiled = CompiledFilter(parsed, frozenset(parameters(parsed)), include, users_fields)
    for part in parsed.expressions:
        _mark_static(part.where, compiled._static)
    return compiled


def _mark_static(node: Node, static: dict[int, bool]) -> bool:
    if isinstance(node, Condition):
        result = node.field.dataset not in INTERACTION_DATASETS and all(
            isinstance(v, Literal) for v in node.values
        )
    else:
        results = [_mark_static(operand, static) for operand in node.operands]
        result = all(results)
    static[id(node)] = result
    return result


def recent_interactions(
    interactions: Sequence[tuple[str, str]], per_event_type: int = MAX_INTERACTIONS_PER_EVENT_TYPE
) -> list[tuple[str, str]]:
    """The interactions Personalize filters on: the newest ``per_event_type`` of each event type
    (event types compared case-insensitively); input and output are oldest first."""
    counts: dict[str, int] = {}
    kept: list[tuple[str, str]] = []
    for item_id, event_type in reversed(interactions):
        key = (event_type or "").casefold()
        seen = counts.get(key, 0)
        if seen < per_event_type:
            counts[key] = seen + 1
            kept.append((item_id, event_type))
    kept.reverse()
    return kept


# ------------------------------------------------------------------------------------------ evaluation


class _Context:
    def __init__(
        self,
        compiled: CompiledFilter,
        table: MetadataTable,
        values: dict[str, tuple[str, ...]],
        current_user: Mapping[str, Any] | None = None,
        current_item: Mapping[str, Any] | None = None,
        item_events: Sequence[tuple[str, str]] | None = None,
        user_events: Mapping[str, Sequence[tuple[str, str]]] | None = None,
        per_event_type: int = MAX_INTERACTIONS_PER_EVENT_TYPE,
    ) -> None:
        self.compiled = compiled
        self.table = table
        self.values = values
        self.current_user = current_user
        self.current_item = current_item
        self.item_events = item_events
        self.user_events = user_events
        self.per_event_type = per_event_type
        self.size = len(table)

    def nothing(self) -> np.ndarray:
        return np.zeros(self.size, dtype=bool)

    def everything(self) -> np.ndarray:
        return np.ones(self.size, dtype=bool)


def _evaluate(compiled: CompiledFilter, ctx: _Context) -> np.ndarray:
    missing = sorted(compiled.include_parameters - ctx.values.keys())
    if missing:
        names = ", ".join(f"${name}" for name in missing)
        raise FilterValuesError(
            f"The filter's INCLUDE expression uses {names}; give {'it' if len(missing) == 1 else 'them'} "
            "in filterValues (keys match parameter names, case included)."
        )
    includes: list[np.ndarray] = []
    excludes: list[np.ndarray] = []
    has_include = False
    for part in compiled.expression.expressions:
        if part.action == "INCLUDE":
            has_include = True
        mask = _part_mask(part, ctx)
        if mask is not None:
            (includes if part.action == "INCLUDE" else excludes).append(mask)
    if has_include and includes:
        result = np.array(includes[0], dtype=bool, copy=True)
        for mask in includes[1:]:
            result |= mask
    else:
        result = ctx.everything()
    for mask in excludes:
        result &= ~mask
    return result


def _part_mask(part: Expression, ctx: _Context) -> np.ndarray | None:
    """The rows the part selects, or None when its IF condition is false (the part doesn't apply)."""
    if part.if_conditions and not all(_if_true(condition, part, ctx) for condition in part.if_conditions):
        return None
    return _node_mask(part.where, part, ctx)


def _node_mask(node: Node, part: Expression, ctx: _Context) -> np.ndarray:
    compiled = ctx.compiled
    if compiled._static.get(id(node)):
        fields = tuple(c.field.field for c in iter_conditions(node))
        key = (id(node), ctx.table.uid, ctx.size, tuple(ctx.table.column_version(f) for f in fields))
        cached = compiled._cache.get(key)
        if cached is not None:
            compiled._cache.move_to_end(key)
            return cached
        mask = np.array(_compute(node, part, ctx), dtype=bool, copy=True)
        mask.flags.writeable = False
        compiled._cache[key] = mask
        while len(compiled._cache) > _STATIC_CACHE_SIZE:
            compiled._cache.popitem(last=False)
        return mask
    return _compute(node, part, ctx)


def _compute(node: Node, part: Expression, ctx: _Context) -> np.ndarray:
    if isinstance(node, BoolOp):
        masks = [_node_mask(operand, part, ctx) for operand in node.operands]
        combine = np.logical_and if node.operator == "AND" else np.logical_or
        result = combine(masks[0], masks[1])
        for mask in masks[2:]:
            combine(result, mask, out=result)
        return result
    if node.field.dataset in INTERACTION_DATASETS:
        return _interactions_mask(node, part, ctx)
    return _field_mask(node, part, ctx)


def _resolve_values(condition: Condition, part: Expression, ctx: _Context) -> list[Any] | None:
    """Literal and parameter values of a condition as raw strings / floats / tuples; None when a
    parameter is missing (only possible in an EXCLUDE part) or CurrentItem isn't given."""
    out: list[Any] = []
    for value in condition.values:
        if isinstance(value, Literal):
            out.append(value.value)
        elif isinstance(value, Parameter):
            given = ctx.values.get(value.name)
            if given is None:
                return None
            out.extend(given)
        else:
            if ctx.current_item is None:
                if part.action == "INCLUDE":
                    raise FilterValuesError(
                        f"The filter compares with {value.written}, which needs the current item: use it "
                        "only with related-items recommendations (an itemId in the request)."
                    )
                return None
            raw = _lookup(ctx.current_item, value.field)
            if raw is None or raw == "" or raw == ():
                return None
            if isinstance(raw, str):
                # A raw CurrentItem cell holds every value of a categorical field, joined by '|'.
                field_type = ctx.table.field_type(value.field)
                raw = split_values(raw, field_type is not None and field_type.categorical)
            out.append(raw)
    return out


def _field_mask(condition: Condition, part: Expression, ctx: _Context) -> np.ndarray:
    table, name, operator = ctx.table, condition.field.field, condition.operator
    values = _resolve_values(condition, part, ctx)
    if values is None:
        return ctx.nothing()
    field_type = table.field_type(name)
    numeric = (
        field_type.is_numeric
        if field_type is not None
        else (operator in RANGE_OPERATORS or any(isinstance(v, float) for v in values))
    )
    if numeric:
        if operator in ("IN", "NOT IN"):
            # check_against_schemas refuses this; without the check, no string equals a number.
            return ctx.everything() if operator == "NOT IN" else ctx.nothing()
        number = _single_number(condition, values)
        if number is None:
            return ctx.nothing()
        column = table.numeric(name)
        with np.errstate(invalid="ignore"):
            return _compare(column, operator, number)
    strings = [s for v in values for s in _strings(v)]
    if operator in RANGE_OPERATORS:
        return ctx.nothing()
    mask = table.values_mask(name, strings) if strings else ctx.nothing()
    return ~mask if operator == "NOT IN" else mask


def _strings(value: Any) -> tuple[str, ...]:
    """Literal / parameter values are matched whole; ``"A|B"`` in a filter is not two values."""
    if isinstance(value, tuple | list):
        return tuple(str(v) for v in value)
    if isinstance(value, float):
        return (str(int(value)) if value.is_integer() else repr(value),)
    return (str(value),)


def _single_number(condition: Condition, values: list[Any]) -> float | None:
    numbers: list[float] = []
    for value in values:
        if isinstance(value, tuple | list):
            value = value[0] if len(value) == 1 else None
        number = _as_float(value)
        if number is None:
            where = condition.values[0]
            label = f"${where.name}" if isinstance(where, Parameter) else condition.field.written
            raise FilterValuesError(
                f"{label} must be a number to compare {condition.field.written} with {condition.operator}; "
                f"got {value!r}."
            )
        numbers.append(number)
    if len(numbers) != 1:
        where = condition.values[0]
        label = f"${where.name}" if isinstance(where, Parameter) else condition.field.written
        raise FilterValuesError(
            f"{label} must be exactly one number for {condition.operator}; got {len(numbers)}."
        )
    return numbers[0]


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(float(value)) else None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _compare(column: np.ndarray | float, operator: str, number: float) -> Any:
    if operator == "=":
        return column == number
    if operator == "<":
        return column < number
    if operator == "<=":
        return column <= number
    if operator == ">":
        return column > number
    return column >= number


def _event_matcher(
    condition: Condition, part: Expression, ctx: _Context
) -> tuple[frozenset[str], bool] | None:
    values = _resolve_values(condition, part, ctx)
    if values is None:
        return None
    wanted = frozenset(str(v).casefold() for v in values)
    return wanted, WILDCARD in wanted


def _type_matches(event_type: str, wanted: frozenset[str], wildcard: bool, negate: bool) -> bool:
    hit = wildcard or (event_type or "").casefold() in wanted
    return not hit if negate else hit


def _interactions_mask(condition: Condition, part: Expression, ctx: _Context) -> np.ndarray:
    matcher = _event_matcher(condition, part, ctx)
    if matcher is None:
        return ctx.nothing()
    wanted, wildcard = matcher
    negate = condition.operator == "NOT IN"
    mask = ctx.nothing()
    if ctx.user_events is not None:
        index_of = ctx.table.index_of
        for user_id, events in ctx.user_events.items():
            row = index_of(user_id)
            if row is None:
                continue
            recent = recent_interactions(events, ctx.per_event_type)
            if any(_type_matches(t, wanted, wildcard, negate) for _, t in recent):
                mask[row] = True
        return mask
    matched = [
        item
        for item, t in recent_interactions(ctx.item_events or (), ctx.per_event_type)
        if _type_matches(t, wanted, wildcard, negate)
    ]
    if matched:
        rows = ctx.table.indices(matched)
        mask[rows[rows >= 0]] = True
    return mask


def _lookup(record: Mapping[str, Any], field_name: str) -> Any:
    """A record's value for a schema field: exact key, any case, or camelCase (PutUsers properties)."""
    if field_name in record:
        return record[field_name]
    folded = field_name.replace("_", "").lower()
    for key, value in record.items():
        if key.upper() == field_name or key.replace("_", "").lower() == folded:
            return value
    return None


def _if_true(condition: Condition, part: Expression, ctx: _Context) -> bool:
    if ctx.current_user is None:
        return False
    values = _resolve_values(condition, part, ctx)
    if values is None:
        return False
    raw = _lookup(ctx.current_user, condition.field.field)
    if raw is None or raw == "" or raw == ():
        return False
    users_fields = ctx.compiled.users_fields
    found = lookup_field(users_fields, condition.field.field) if users_fields else None
    field_type = found[1] if found else None
    operator = condition.operator
    numeric = (
        field_type.is_numeric
        if field_type is not None
        else (
            operator in RANGE_OPERATORS
            or any(isinstance(v, float) for v in values)
            or isinstance(raw, int | float)
        )
    )
    if numeric:
        if operator in ("IN", "NOT IN"):
            return False
        actual = _as_float(raw[0] if isinstance(raw, tuple | list) and len(raw) == 1 else raw)
        if actual is None:
            return False
        return bool(_compare(actual, operator, _single_number(condition, values)))
    categorical = field_type.categorical if field_type is not None else True
    have = set(split_values(raw, categorical))
    wanted = {s for v in values for s in _strings(v)}
    if operator in RANGE_OPERATORS:
        return False
    hit = bool(have & wanted)
    return not hit if operator == "NOT IN" else hit


# ----------------------------------------------------------------------------------------- public API


def item_mask(
    compiled: CompiledFilter,
    items: ItemTable,
    filter_values: Mapping[str, str] | None = None,
    user_interactions: Sequence[tuple[str, str]] = (),
    current_user: Mapping[str, Any] | None = None,
    current_item: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """Which of ``items.ids`` an item-recommendation request may return (True = allowed).

    ``user_interactions``: the user's (item_id, event_type) history, oldest first (newest last); only the
    newest 100 per event type count.  ``current_user``: the user's Users record (raw values as imported,
    or ``UserTable.record``), None if the user has none.  ``current_item``: the Items record of the request's
    itemId for related-items recommendations.  Raises FilterValuesError for a missing INCLUDE parameter or
    a malformed value.  The result is a new writable array.
    """
    if compiled.target != "ItemID":
        raise ValueError(f"item_mask needs an ItemID filter, not {compiled.target}")
    values = parse_filter_values(filter_values)
    ctx = _Context(
        compiled,
        items,
        values,
        current_user=current_user,
        current_item=current_item,
        item_events=user_interactions,
    )
    return _evaluate(compiled, ctx)


def user_mask(
    compiled: CompiledFilter,
    users: UserTable,
    filter_values: Mapping[str, str] | None = None,
    interactions: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> np.ndarray:
    """Which of ``users.ids`` a user-segment job may return.  ``interactions``: user_id -> that user's
    (item_id, event_type) history, oldest first (users absent from it have none)."""
    if compiled.target != "UserID":
        raise ValueError(f"user_mask needs a UserID filter, not {compiled.target}")
    values = parse_filter_values(filter_values)
    ctx = _Context(compiled, users, values, user_events=interactions or {})
    return _evaluate(compiled, ctx)


def action_mask(
    compiled: CompiledFilter,
    actions: ActionTable,
    filter_values: Mapping[str, str] | None = None,
    action_interactions: Sequence[tuple[str, str]] = (),
    current_user: Mapping[str, Any] | None = None,
) -> np.ndarray:
    """Which of ``actions.ids`` an action-recommendation request may return, as ``item_mask`` does for
    items: ``action_interactions`` is the user's (action_id, event_type) history, oldest first."""
    if compiled.target != "ActionID":
        raise ValueError(f"action_mask needs an ActionID filter, not {compiled.target}")
    values = parse_filter_values(filter_values)
    ctx = _Context(
        compiled,
        actions,
        values,
        current_user=current_user,
        item_events=action_interactions,
        per_event_type=MAX_ACTION_INTERACTIONS_PER_EVENT_TYPE,
    )
    return _evaluate(compiled, ctx)


def allowed_ids(mask: np.ndarray, table: MetadataTable) -> list[str]:
    """The ids a mask allows, in table order."""
    ids = table.ids
    return [ids[row] for row in np.flatnonzero(mask)]


def filter_candidates(mask: np.ndarray, table: MetadataTable, candidates: Iterable[str]) -> list[str]:
    """``candidates`` (e.g. a model's ranked ids) that the mask allows, order kept; unknown ids dropped."""
    ordered = list(candidates)
    rows = table.indices(ordered)
    keep = rows >= 0
    keep[keep] = mask[rows[keep]]
    return [item for item, ok in zip(ordered, keep, strict=True) if ok]
