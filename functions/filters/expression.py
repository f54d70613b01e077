"""Amazon Personalize filter expressions (CreateFilter's ``filterExpression``): parse, check, parameters.

Sources (Amazon Personalize developer guide unless said otherwise):
- "Filter expression structure and elements" (creating-filter-expressions):
  ``EXCLUDE/INCLUDE ItemID/ActionID/UserID WHERE dataset.field IN/NOT IN (value/parameter)``; WHERE is
  mandatory; AND/OR chain conditions, and "conditions chained together using AND or OR can only affect
  fields of the dataset used in the first condition"; an IF condition checks only ``CurrentUser``, only
  once, at the end of an expression, and can be extended only with AND; ``CurrentUser.<field>`` appears
  only in an IF condition; ``CurrentItem.<field>`` is for related-items recommendations.
- Older revision of the same page ("Filter expression elements"): IN / NOT IN match exact string values;
  ``=, <, <=, >, >=`` test numerical data; ``*`` is only for ``Interactions.EVENT_TYPE``; ``|`` chains
  expressions.
- "Filter expressions": "Amazon Personalize ignores case only when matching event types".
- "Guidelines and requirements" (filter-expression-guidelines-requirements): no filtering on textual
  (unstructured) fields; Interactions filters only on EVENT_TYPE; Interactions and Items can't be mixed in
  one expression (chain them with ``|``); no boolean-typed schema fields; at most 10 distinct dataset
  fields in one filter (the current page; an earlier revision said 5); CurrentItem only for related items;
  no placeholder parameters with NOT IN.
- "Item recommendation / User segment / Action recommendation filter expression examples": parameters are
  written ``$NAME``, also bare after a range operator (``Users.AGE < $AGE``) or in parentheses
  (``Actions.VALUE > ($VALUE)``); ``= $PARAM`` in an IF condition; user segments filter on Users fields
  and on Interactions.EVENT_TYPE.
- "Combining multiple expressions" (multiple-expression-example): ``|`` evaluates each expression on its
  own; INCLUDEs are unioned, EXCLUDEs are unioned, the result is INCLUDE minus EXCLUDE whatever the order.
- botocore ``personalize`` model: ``FilterExpression`` is 1..2500 characters; ``personalize-runtime``
  ``FilterValues`` is a map of at most 25 entries, keys ``[A-Za-z0-9_]+`` of at most 50 characters,
  values at most 1000 characters; its documentation: keys match parameter names "in matching case",
  several values are comma separated, every INCLUDE parameter must be given, and an EXCLUDE whose values
  are omitted is not used.

Choices where the guide is silent (each is the reading that rejects the least valid input):
- Keywords (INCLUDE, WHERE, AND, ...) and dataset names are matched case-insensitively; field names
  are case-insensitive too, as Personalize upper-cases them, and are checked against the schemas later.
- AND binds tighter than OR and parentheses group conditions, as in SQL (the guide calls the expressions
  "SQL-like" and defines no precedence of its own).
- A string literal may contain ``\\"`` and ``\\\\`` escapes.
- At most 25 distinct parameters per filter: FilterValues can't carry more, so an INCLUDE with more could
  never be satisfied.
- ``=`` accepts a string as well as a number: the guide's own example is ``IF CurrentUser.MEMBERSHIP =
  $PREMIUM``.  ``<, <=, >, >=`` are numeric only, IN / NOT IN string only.
- Action filters (``ActionID``, for GetActionRecommendations) use ``Actions`` fields and
  ``Action_Interactions.EVENT_TYPE`` as item filters use Items and Interactions ("Action recommendation
  filter expression examples"), with ``IF CurrentUser`` conditions; ``Action.`` (the singular, as one of
  the guide's examples writes it) is read as ``Actions.``. The ``*`` wildcard works for either
  interactions dataset's EVENT_TYPE.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from typing import Literal as TypingLiteral

MAX_EXPRESSION_LENGTH = 2500
MAX_DISTINCT_FIELDS = 10
MAX_PARAMETERS = 25
MAX_FILTER_VALUES = 25
MAX_FILTER_VALUE_NAME_LENGTH = 50
MAX_FILTER_VALUE_LENGTH = 1000
WILDCARD = "*"

NUMERIC_TYPES = frozenset({"int", "long", "float", "double"})
COMPARISON_OPERATORS = ("=", "<", "<=", ">", ">=")
RANGE_OPERATORS = frozenset({"<", "<=", ">", ">="})

Action = TypingLiteral["INCLUDE", "EXCLUDE"]
Target = TypingLiteral["ItemID", "UserID", "ActionID"]

ITEMS, USERS, INTERACTIONS = "Items", "Users", "Interactions"
ACTIONS, ACTION_INTERACTIONS = "Actions", "Action_Interactions"
INTERACTION_DATASETS = frozenset({INTERACTIONS, ACTION_INTERACTIONS})
CURRENT_USER, CURRENT_ITEM = "CurrentUser", "CurrentItem"
_DATASETS = {
    name.upper(): name
    for name in (ITEMS, USERS, INTERACTIONS, ACTIONS, ACTION_INTERACTIONS, CURRENT_USER, CURRENT_ITEM)
}
_DATASETS["ACTION"] = ACTIONS
# A CurrentUser / CurrentItem field is a Users / Items field for the distinct-field quota and the schemas.
BASE_DATASET = {
    ITEMS: ITEMS,
    USERS: USERS,
    INTERACTIONS: INTERACTIONS,
    ACTIONS: ACTIONS,
    ACTION_INTERACTIONS: ACTION_INTERACTIONS,
    CURRENT_USER: USERS,
    CURRENT_ITEM: ITEMS,
}

_KEYWORDS = frozenset(
    {"INCLUDE", "EXCLUDE", "ITEMID", "USERID", "ACTIONID", "WHERE", "AND", "OR", "NOT", "IN", "IF"}
)
_PARAMETER_NAME = re.compile(r"[A-Za-z0-9_]+")


class FilterExpressionError(ValueError):
    """A filter expression Personalize would refuse; the message names the token and its position."""


class FilterValuesError(ValueError):
    """``filterValues`` that don't satisfy the filter (missing INCLUDE parameter, malformed value...)."""


# ----------------------------------------------------------------------------------------------- the AST


@dataclass(frozen=True)
class FieldRef:
    """``dataset.field``; ``field`` is upper-cased (how Personalize compares), ``written`` is as typed."""

    dataset: str
    field: str
    written: str
    position: int

    @property
    def base_dataset(self) -> str:
        return BASE_DATASET[self.dataset]


@dataclass(frozen=True)
class Literal:
    """A quoted string (``value`` is str) or a number (``value`` is float)."""

    value: str | float
    text: str
    position: int

    @property
    def is_number(self) -> bool:
        return isinstance(self.value, float)


@dataclass(frozen=True)
class Parameter:
    name: str
    position: int


Value = Literal | Parameter | FieldRef


@dataclass(frozen=True)
class Condition:
    """``field operator values``; for ``=`` and the range operators ``values`` has exactly one entry."""

    field: FieldRef
    operator: str
    values: tuple[Value, ...]
    position: int


@dataclass(frozen=True)
class BoolOp:
    operator: TypingLiteral["AND", "OR"]
    operands: tuple[Node, ...]


Node = Condition | BoolOp


@dataclass(frozen=True)
class Expression:
    """One ``|``-separated part: ``action target WHERE where [IF if_conditions (AND-ed)]``."""

    action: Action
    target: Target
    where: Node
    if_conditions: tuple[Condition, ...]
    position: int
    text: str

    @property
    def dataset(self) -> str:
        """The one dataset the WHERE conditions filter on (Items, Users or Interactions)."""
        return next(iter_conditions(self.where)).field.dataset


@dataclass(frozen=True)
class FilterExpression:
    expressions: tuple[Expression, ...]
    text: str

    @property
    def target(self) -> Target:
        return self.expressions[0].target

    @property
    def includes(self) -> tuple[Expression, ...]:
        return tuple(e for e in self.expressions if e.action == "INCLUDE")

    @property
    def excludes(self) -> tuple[Expression, ...]:
        return tuple(e for e in self.expressions if e.action == "EXCLUDE")


def iter_conditions(node: Node) -> Iterator[Condition]:
    if isinstance(node, Condition):
        yield node
    else:
        for operand in node.operands:
            yield from iter_conditions(operand)


def all_conditions(expr: FilterExpression | Expression) -> Iterator[Condition]:
    for part in expr.expressions if isinstance(expr, FilterExpression) else (expr,):
        yield from iter_conditions(part.where)
        yield from part.if_conditions


def field_refs(expr: FilterExpression | Expression) -> Iterator[FieldRef]:
    for condition in all_conditions(expr):
        yield condition.field
        for value in condition.values:
            if isinstance(value, FieldRef):
                yield value


def parameters(expr: FilterExpression | Expression) -> set[str]:
    """The placeholder parameter names (without ``$``, case kept: filterValues keys match case)."""
    return {
        value.name
        for condition in all_conditions(expr)
        for value in condition.values
        if isinstance(value, Parameter)
    }


# ---------------------------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # word, string, number, param, op, punct, end
    text: str
    position: int  # 0-based index in the expression
    value: Any = None


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<param>\$[A-Za-z0-9_]+)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|=|<|>)
  | (?P<punct>[().,|])
    """,
    re.VERBOSE,
)


def _fail(message: str) -> FilterExpressionError:
    return FilterExpressionError(f"Invalid filter expression: {message}")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    while index < len(text):
        match = _TOKEN.match(text, index)
        if match is None:
            char = text[index]
            if char == '"':
                raise _fail(f"unterminated string starting at position {index + 1}; close it with '\"'.")
            if char == "$":
                raise _fail(
                    f"'$' at position {index + 1} must be followed by a parameter name made of letters, "
                    "digits and underscores."
                )
            if char == "'":
                raise _fail(f"unexpected character \"'\" at position {index + 1}; quote strings with '\"'.")
            hint = (
                "; use NOT IN for strings"
                if text.startswith("!=", index) or text.startswith("<>", index)
                else ""
            )
            raise _fail(f"unexpected character '{char}' at position {index + 1}{hint}.")
        kind = match.lastgroup or ""
        raw = match.group()
        if kind != "ws":
            value: Any = None
            if kind == "string":
                value = re.sub(r"\\(.)", r"\1", raw[1:-1], flags=re.DOTALL)
            elif kind == "number":
                value = float(raw)
                if not math.isfinite(value):
                    raise _fail(f"number '{raw}' at position {index + 1} is out of range.")
            tokens.append(_Token(kind, raw, index, value))
        index = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return f"unexpected end of expression at position {token.position + 1}"
    return f"unexpected token '{token.text}' at position {token.position + 1}"


# ---------------------------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        # Depth of parenthesised groups: the one-dataset rule is checked once, on the whole WHERE.
        self.in_group = 0

    # -- token helpers
    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def is_keyword(self, *words: str) -> bool:
        return self.token.kind == "word" and self.token.text.upper() in words

    def is_punct(self, char: str) -> bool:
        return self.token.kind == "punct" and self.token.text == char

    def expect_keyword(self, word: str, expected: str | None = None) -> _Token:
        if not self.is_keyword(word):
            raise self.unexpected(expected or word)
        return self.advance()

    def expect_punct(self, char: str, expected: str | None = None) -> _Token:
        if not self.is_punct(char):
            raise self.unexpected(expected or f"'{char}'")
        return self.advance()

    def unexpected(self, expected: str, token: _Token | None = None) -> FilterExpressionError:
        return _fail(f"{_describe(token or self.token)}; expected {expected}.")

    # -- grammar
    def parse(self) -> FilterExpression:
        expressions = [self.expression()]
        while self.is_punct("|"):
            self.advance()
            expressions.append(self.expression())
        if self.token.kind != "end":
            if self.is_keyword("IF"):
                raise _fail(
                    f"{_describe(self.token)}; an expression can have only one IF condition, at its end."
                )
            raise self.unexpected("AND, OR, IF, '|' or the end of the expression")
        return FilterExpression(tuple(expressions), self.text)

    def expression(self) -> Expression:
        start = self.token
        if not self.is_keyword("INCLUDE", "EXCLUDE"):
            raise self.unexpected("INCLUDE or EXCLUDE")
        action: Action = "INCLUDE" if self.advance().text.upper() == "INCLUDE" else "EXCLUDE"
        if not self.is_keyword("ITEMID", "USERID", "ACTIONID"):
            raise self.unexpected("ItemID, UserID or ActionID")
        target: Target = {"ITEMID": "ItemID", "USERID": "UserID", "ACTIONID": "ActionID"}[
            self.advance().text.upper()
        ]
        self.expect_keyword("WHERE")
        where = self.or_condition(target)
        if_conditions: tuple[Condition, ...] = ()
        if self.is_keyword("IF"):
            if_token = self.advance()
            if target == "UserID":
                raise _fail(
                    f"'IF' at position {if_token.position + 1}: IF CurrentUser conditions filter item "
                    "and action recommendations; a UserID filter can't use them."
                )
            if_conditions = self.if_conditions()
        end = self.token.position
        return Expression(
            action, target, where, if_conditions, start.position, self.text[start.position : end].strip()
        )

    def or_condition(self, target: Target) -> Node:
        operands = [self.and_condition(target)]
        while self.is_keyword("OR"):
            self.advance()
            operands.append(self.and_condition(target))
        node = operands[0] if len(operands) == 1 else BoolOp("OR", tuple(operands))
        if not self.in_group:
            self.check_one_dataset(node)
        return node

    def and_condition(self, target: Target) -> Node:
        operands = [self.primary(target)]
        while self.is_keyword("AND"):
            self.advance()
            operands.append(self.primary(target))
        return operands[0] if len(operands) == 1 else BoolOp("AND", tuple(operands))

    def primary(self, target: Target) -> Node:
        if self.is_punct("("):
            self.advance()
            self.in_group += 1
            node = self.or_condition(target)
            self.in_group -= 1
            self.expect_punct(")", "')', AND or OR")
            return node
        return self.where_condition(target)

    def check_one_dataset(self, node: Node) -> None:
        conditions = list(iter_conditions(node))
        first = conditions[0].field
        for condition in conditions[1:]:
            ref = condition.field
            if ref.dataset != first.dataset:
                hint = (
                    "; chain a separate expression with '|' to filter on another dataset"
                    if {ref.dataset, first.dataset} in ({ITEMS, INTERACTIONS}, {ACTIONS, ACTION_INTERACTIONS})
                    else ""
                )
                raise _fail(
                    f"'{ref.written}' at position {ref.position + 1}: conditions chained with AND or OR can "
                    f"only use fields of the dataset of the first condition ({first.dataset}){hint}."
                )

    def field_ref(self, expected: str) -> FieldRef:
        token = self.token
        if token.kind != "word" or token.text.upper() in _KEYWORDS:
            raise self.unexpected(expected)
        upper = token.text.upper()
        if upper not in _DATASETS:
            raise _fail(
                f"unknown dataset '{token.text}' at position {token.position + 1}; expected Items, Users, "
                "Interactions, Actions, Action_Interactions, CurrentUser or CurrentItem."
            )
        self.advance()
        self.expect_punct(".", f"'.' and a field name after '{token.text}'")
        field_token = self.token
        if field_token.kind != "word":
            raise self.unexpected(f"a field name after '{token.text}.'")
        self.advance()
        return FieldRef(
            _DATASETS[upper], field_token.text.upper(), f"{token.text}.{field_token.text}", token.position
        )

    def where_condition(self, target: Target) -> Condition:
        ref = self.field_ref('a condition such as Items.GENRE IN ("Comedy")')
        where = f"'{ref.written}' at position {ref.position + 1}"
        if ref.dataset == CURRENT_USER:
            raise _fail(
                f"{where}: CurrentUser can only be used in an IF condition at the end of an expression."
            )
        if ref.dataset == CURRENT_ITEM:
            raise _fail(
                f"{where}: CurrentItem can only be compared with, as in Items.PRICE < CurrentItem.PRICE."
            )
        if target != "UserID" and ref.dataset == USERS:
            raise _fail(
                f"{where}: an {target} filter can't use Users fields in WHERE; use IF "
                f"CurrentUser.{ref.field} at the end of the expression to filter on the current user."
            )
        if target == "UserID" and ref.dataset not in (USERS, INTERACTIONS):
            raise _fail(f"{where}: a UserID filter can only use Users or Interactions fields.")
        if target == "ItemID" and ref.dataset not in (ITEMS, INTERACTIONS):
            raise _fail(f"{where}: an ItemID filter can only use Items or Interactions fields.")
        if target == "ActionID" and ref.dataset not in (ACTIONS, ACTION_INTERACTIONS):
            raise _fail(f"{where}: an ActionID filter can only use Actions or Action_Interactions fields.")
        if ref.dataset in INTERACTION_DATASETS and ref.field != "EVENT_TYPE":
            raise _fail(f"{where}: {ref.dataset} filters can only use {ref.dataset}.EVENT_TYPE.")
        condition = self.operation(ref, target)
        if ref.dataset in INTERACTION_DATASETS and condition.operator not in ("IN", "NOT IN"):
            raise _fail(f"{where}: {ref.dataset}.EVENT_TYPE can only be used with IN or NOT IN.")
        return condition

    def if_conditions(self) -> tuple[Condition, ...]:
        conditions = [self.if_condition()]
        while self.is_keyword("AND"):
            self.advance()
            conditions.append(self.if_condition())
        if self.is_keyword("OR"):
            raise _fail(f"{_describe(self.token)}; an IF condition can only be extended with AND.")
        return tuple(conditions)

    def if_condition(self) -> Condition:
        ref = self.field_ref("a CurrentUser condition such as CurrentUser.AGE > 18")
        if ref.dataset != CURRENT_USER:
            raise _fail(
                f"'{ref.written}' at position {ref.position + 1}: an IF condition can only check "
                "CurrentUser fields."
            )
        return self.operation(ref, "ItemID")

    def operation(self, ref: FieldRef, target: Target) -> Condition:
        token = self.token
        if self.is_keyword("NOT"):
            self.advance()
            self.expect_keyword("IN", "IN after NOT")
            operator = "NOT IN"
        elif self.is_keyword("IN"):
            self.advance()
            operator = "IN"
        elif token.kind == "op":
            operator = self.advance().text
        else:
            raise self.unexpected("IN, NOT IN, =, <, <=, > or >=")
        values = self.in_values(ref, target) if operator in ("IN", "NOT IN") else (self.scalar(ref, target),)
        condition = Condition(ref, operator, values, ref.position)
        self.check_values(condition)
        return condition

    def in_values(self, ref: FieldRef, target: Target) -> tuple[Value, ...]:
        if self.token.kind == "word" and self.token.text.upper() == "CURRENTITEM":
            return (self.current_item(ref, target),)
        self.expect_punct("(", "'(' and a list of values")
        values = [self.value(ref, target)]
        while self.is_punct(","):
            self.advance()
            values.append(self.value(ref, target))
        self.expect_punct(")", "',' or ')'")
        return tuple(values)

    def scalar(self, ref: FieldRef, target: Target) -> Value:
        if self.is_punct("("):
            self.advance()
            value = self.value(ref, target)
            if self.is_punct(","):
                raise _fail(f"{_describe(self.token)}; =, <, <=, > and >= compare with a single value.")
            self.expect_punct(")")
            return value
        return self.value(ref, target)

    def value(self, ref: FieldRef, target: Target) -> Value:
        token = self.token
        if token.kind == "string":
            self.advance()
            return Literal(token.value, token.text, token.position)
        if token.kind == "number":
            self.advance()
            return Literal(token.value, token.text, token.position)
        if token.kind == "param":
            self.advance()
            name = token.text[1:]
            if len(name) > MAX_FILTER_VALUE_NAME_LENGTH:
                raise _fail(
                    f"parameter '{token.text}' at position {token.position + 1} is longer than "
                    f"{MAX_FILTER_VALUE_NAME_LENGTH} characters, the longest filterValues key."
                )
            return Parameter(name, token.position)
        if token.kind == "word" and token.text.upper() == "CURRENTITEM":
            return self.current_item(ref, target)
        following = self.tokens[self.index + 1]
        if token.kind == "word" and following.kind == "punct" and following.text == ".":
            other = self.field_ref("a value")
            raise _fail(
                f"'{other.written}' at position {other.position + 1}: a condition compares with values, "
                "parameters or CurrentItem.<field> only."
            )
        if token.kind == "word" and token.text.upper() in ("TRUE", "FALSE"):
            raise _fail(
                f"{_describe(token)}; boolean values can't be filtered on: store them as the strings "
                '"True" / "False" or as 0 / 1 and compare with those.'
            )
        if token.kind == "word" and token.text.upper() not in _KEYWORDS:
            raise _fail(f'{_describe(token)}; string values must be in double quotes, as in "{token.text}".')
        raise self.unexpected("a quoted string, a number or a $PARAMETER")

    def current_item(self, ref: FieldRef, target: Target) -> FieldRef:
        value = self.field_ref("CurrentItem.<field>")
        if target != "ItemID" or ref.dataset != ITEMS:
            raise _fail(
                f"'{value.written}' at position {value.position + 1}: CurrentItem can only be compared "
                "with Items fields in an ItemID filter."
            )
        return value

    def check_values(self, condition: Condition) -> None:
        ref, operator = condition.field, condition.operator
        for value in condition.values:
            at = f"at position {value.position + 1}"
            if isinstance(value, Parameter) and operator == "NOT IN":
                raise _fail(
                    f"parameter '${value.name}' {at}: placeholder parameters can't be used with NOT IN; "
                    "use IN with the opposite action (INCLUDE / EXCLUDE) instead."
                )
            if isinstance(value, Literal):
                if value.value == WILDCARD and not (ref.dataset in INTERACTION_DATASETS and operator == "IN"):
                    raise _fail(
                        f"'\"*\"' {at}: the * wildcard can only be used in Interactions.EVENT_TYPE IN (...)."
                    )
                if operator in RANGE_OPERATORS and not value.is_number:
                    raise _fail(
                        f"'{value.text}' {at}: {operator} compares numbers; use a number or a parameter."
                    )
                if operator in ("IN", "NOT IN") and value.is_number:
                    raise _fail(
                        f"'{value.text}' {at}: IN and NOT IN match string values; quote it "
                        f'("{value.text}") or compare a numeric field with =.'
                    )


_TARGET = re.compile(r"\s*(?:INCLUDE|EXCLUDE)\s+(ItemID|UserID|ActionID)\b", re.IGNORECASE)
TARGET_NOUNS = {"ItemID": "items (ItemID)", "UserID": "users (UserID)", "ActionID": "actions (ActionID)"}
_TARGETS = {target.upper(): target for target in TARGET_NOUNS}


def target_of(text: str) -> str | None:
    """What a valid filter expression filters (every ``|`` part filters the same), without parsing it all:
    requests check a stored filter's kind this way."""
    found = _TARGET.match(text)
    return _TARGETS[found.group(1).upper()] if found else None


def check_target(text: str, wanted: str, filter_arn: str, request: str) -> None:
    """FilterExpressionError when the filter at ``filter_arn`` does not filter what ``request`` returns."""
    found = target_of(text)
    if found != wanted:
        raise FilterExpressionError(
            f"Filter {filter_arn} filters {TARGET_NOUNS.get(found or '', 'something else')}; {request} "
            f"needs a filter of {TARGET_NOUNS[wanted]}."
        )


def parse_filter(text: str) -> FilterExpression:
    """Parse and structurally check a filter expression; raise FilterExpressionError if Personalize wouldn't.

    Schema-dependent checks (fields exist, types fit the operators) are ``check_against_schemas``.
    """
    if not isinstance(text, str):
        raise _fail("the filter expression must be a string.")
    if not text.strip():
        raise _fail("the filter expression is empty; expected INCLUDE or EXCLUDE.")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise _fail(
            f"the filter expression is {len(text)} characters long; the maximum is {MAX_EXPRESSION_LENGTH} "
            f"(position {MAX_EXPRESSION_LENGTH + 1} is past the limit)."
        )
    expr = _Parser(text).parse()
    _check_filter(expr)
    return expr


def _check_filter(expr: FilterExpression) -> None:
    first = expr.expressions[0]
    for part in expr.expressions[1:]:
        if part.target != first.target:
            raise _fail(
                f"the expression at position {part.position + 1} filters {part.target}: every expression "
                f"chained with '|' must filter the same thing as the first one ({first.target})."
            )
    distinct: dict[tuple[str, str], FieldRef] = {}
    for ref in field_refs(expr):
        distinct.setdefault((ref.base_dataset, ref.field), ref)
        if len(distinct) > MAX_DISTINCT_FIELDS:
            raise _fail(
                f"'{ref.written}' at position {ref.position + 1} is distinct dataset field number "
                f"{len(distinct)}; a filter can use at most {MAX_DISTINCT_FIELDS}."
            )
    seen: dict[str, int] = {}
    for condition in all_conditions(expr):
        for value in condition.values:
            if isinstance(value, Parameter) and value.name not in seen:
                seen[value.name] = value.position
                if len(seen) > MAX_PARAMETERS:
                    raise _fail(
                        f"parameter '${value.name}' at position {value.position + 1} is parameter number "
                        f"{len(seen)}; a filter can have at most {MAX_PARAMETERS} (filterValues holds at "
                        f"most {MAX_FILTER_VALUES} entries)."
                    )


# ------------------------------------------------------------------------------------- schema checking


@dataclass(frozen=True)
class FieldType:
    """A schema field as filters see it: Avro primitive type (unions with null flattened) and flags."""

    base_type: str
    categorical: bool = False
    textual: bool = False
    nullable: bool = False

    @property
    def is_numeric(self) -> bool:
        return self.base_type in NUMERIC_TYPES

    @classmethod
    def from_avro(cls, field: Mapping[str, Any]) -> FieldType:
        declared = field.get("type")
        nullable = False
        if isinstance(declared, list):
            members = [m for m in declared if m != "null"]
            nullable = len(members) != len(declared)
            declared = members[0] if len(members) == 1 else "union"
        if isinstance(declared, Mapping):
            declared = declared.get("type", "complex")
        return cls(
            base_type=str(declared),
            categorical=bool(field.get("categorical", False)),
            textual=bool(field.get("textual", False)),
            nullable=nullable,
        )


def field_types(
    fields: Sequence[Mapping[str, Any]] | Mapping[str, Any] | Sequence[Any],
) -> dict[str, FieldType]:
    """``{name: FieldType}`` from an Avro ``fields`` list, a whole Avro schema document, or objects with
    ``name`` / ``base_type`` / ``categorical`` / ``textual`` attributes (``schema_rules.FieldSpec``)."""
    if isinstance(fields, Mapping):
        fields = fields.get("fields", [])
    result: dict[str, FieldType] = {}
    for field in fields:
        if isinstance(field, Mapping):
            result[str(field["name"])] = FieldType.from_avro(field)
        else:
            result[str(field.name)] = FieldType(
                base_type=field.base_type,
                categorical=bool(getattr(field, "categorical", False)),
                textual=bool(getattr(field, "textual", False)),
                nullable=bool(getattr(field, "nullable", False)),
            )
    return result


def lookup_field(fields: Mapping[str, FieldType], name: str) -> tuple[str, FieldType] | None:
    """Case-insensitive lookup (Personalize upper-cases field names in expressions)."""
    if name in fields:
        return name, fields[name]
    wanted = name.upper()
    for key, field_type in fields.items():
        if key.upper() == wanted:
            return key, field_type
    return None


def check_against_schemas(
    expr: FilterExpression,
    items_fields: Mapping[str, FieldType] | None,
    users_fields: Mapping[str, FieldType] | None,
    interactions_fields: Mapping[str, FieldType] | None,
    actions_fields: Mapping[str, FieldType] | None = None,
    action_interactions_fields: Mapping[str, FieldType] | None = None,
) -> None:
    """Check every field of ``expr`` against the dataset group's schemas (None = no such dataset).

    Raises FilterExpressionError for a missing dataset, an unknown field, a textual or boolean field, or
    an operator / value that doesn't fit the field's type.
    """
    schemas = {
        ITEMS: items_fields,
        USERS: users_fields,
        INTERACTIONS: interactions_fields,
        ACTIONS: actions_fields,
        ACTION_INTERACTIONS: action_interactions_fields,
    }

    def resolve(ref: FieldRef) -> FieldType:
        at = f"'{ref.written}' at position {ref.position + 1}"
        fields = schemas[ref.base_dataset]
        if fields is None:
            raise _fail(
                f"{at} needs a{'n' if ref.base_dataset[0] in 'AI' else ''} {ref.base_dataset} dataset, "
                "and the dataset group has none."
            )
        found = lookup_field({k: _coerce(v) for k, v in fields.items()}, ref.field)
        if found is None:
            known = ", ".join(sorted(fields)) or "none"
            raise _fail(
                f"{at}: the {ref.base_dataset} schema has no field {ref.field} (its fields: {known})."
            )
        field_type = found[1]
        if field_type.textual:
            raise _fail(f"{at}: {ref.field} is a textual field, and filters can't use unstructured text.")
        if field_type.base_type == "boolean":
            raise _fail(
                f'{at}: {ref.field} is boolean, and filters can\'t use boolean fields; store "True" / '
                '"False" strings or 0 / 1 numbers instead.'
            )
        if field_type.base_type != "string" and not field_type.is_numeric:
            raise _fail(f"{at}: {ref.field} has type {field_type.base_type}, which filters can't use.")
        return field_type

    for condition in all_conditions(expr):
        ref = condition.field
        field_type = resolve(ref)
        at = f"'{ref.written}' at position {ref.position + 1}"
        operator = condition.operator
        if operator in ("IN", "NOT IN") and field_type.is_numeric:
            raise _fail(
                f"{at}: {operator} matches string values, and {ref.field} is {field_type.base_type}; "
                "use =, <, <=, > or >=."
            )
        if operator in RANGE_OPERATORS and not field_type.is_numeric:
            raise _fail(f"{at}: {operator} compares numbers, and {ref.field} is a string field; use IN or =.")
        for value in condition.values:
            if isinstance(value, FieldRef):
                other = resolve(value)
                if other.is_numeric != field_type.is_numeric:
                    raise _fail(
                        f"'{value.written}' at position {value.position + 1}: can't compare "
                        f"{'numeric' if field_type.is_numeric else 'string'} field {ref.field} with "
                        f"{'numeric' if other.is_numeric else 'string'} field {value.field}."
                    )
            elif isinstance(value, Literal) and operator == "=" and value.is_number != field_type.is_numeric:
                wanted = "a number" if field_type.is_numeric else "a quoted string"
                raise _fail(
                    f"'{value.text}' at position {value.position + 1}: {ref.field} is "
                    f"{field_type.base_type}; compare it with {wanted}."
                )


def _coerce(value: FieldType | str) -> FieldType:
    return value if isinstance(value, FieldType) else FieldType(base_type=value)


# ------------------------------------------------------------------------------------------ filterValues


def check_filter_values(filter_values: Mapping[str, str] | None) -> None:
    """The runtime model's constraints on the map itself (botocore's FilterValues shape)."""
    if not filter_values:
        return
    if len(filter_values) > MAX_FILTER_VALUES:
        raise FilterValuesError(
            f"filterValues has {len(filter_values)} entries; the maximum is {MAX_FILTER_VALUES}."
        )
    for name, value in filter_values.items():
        if not isinstance(name, str) or not _PARAMETER_NAME.fullmatch(name) or len(name) > 50:
            raise FilterValuesError(
                f"filterValues key {name!r} must be 1 to {MAX_FILTER_VALUE_NAME_LENGTH} letters, digits or "
                "underscores (the parameter name without '$')."
            )
        if not isinstance(value, str) or len(value) > MAX_FILTER_VALUE_LENGTH:
            raise FilterValuesError(
                f"filterValues[{name!r}] must be a string of at most {MAX_FILTER_VALUE_LENGTH} characters."
            )


def parse_filter_value(name: str, raw: str) -> tuple[str, ...]:
    """Split one filterValues entry: ``"\\"Comedy\\",\\"Drama\\""`` -> ("Comedy", "Drama").

    Values are double-quoted and comma separated, as the guide's examples write them; an unquoted entry
    (``18`` for a numeric parameter) is taken as is, trimmed.
    """
    values: list[str] = []
    index, length = 0, len(raw)
    while True:
        while index < length and raw[index].isspace():
            index += 1
        if index < length and raw[index] == '"':
            end = index + 1
            chars: list[str] = []
            while end < length and raw[end] != '"':
                if raw[end] == "\\" and end + 1 < length:
                    end += 1
                chars.append(raw[end])
                end += 1
            if end >= length:
                raise FilterValuesError(
                    f"filterValues[{name!r}] has an unterminated quoted value at character {index + 1}: "
                    f'{raw!r}. Write values as "\\"A\\",\\"B\\"".'
                )
            values.append("".join(chars))
            index = end + 1
            while index < length and raw[index].isspace():
                index += 1
        else:
            end = raw.find(",", index)
            end = length if end == -1 else end
            token = raw[index:end].strip()
            if '"' in token:
                raise FilterValuesError(f"filterValues[{name!r}] has a stray '\"' in {raw!r}.")
            if not token:
                raise FilterValuesError(
                    f"filterValues[{name!r}] has an empty value in {raw!r}; give quoted values separated "
                    "by commas."
                )
            values.append(token)
            index = end
        if index >= length:
            return tuple(values)
        if raw[index] != ",":
            raise FilterValuesError(
                f"filterValues[{name!r}] expects ',' between values at character {index + 1} of {raw!r}."
            )
        index += 1


def parse_filter_values(filter_values: Mapping[str, str] | None) -> dict[str, tuple[str, ...]]:
    """Check and split a whole filterValues map; keys keep their case (they must match parameter case)."""
    check_filter_values(filter_values)
    return {name: parse_filter_value(name, raw) for name, raw in (filter_values or {}).items()}
