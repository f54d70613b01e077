from __future__ import annotations

import re

import pytest

from functions.filters import (
    MAX_EXPRESSION_LENGTH,
    BoolOp,
    Condition,
    FieldRef,
    FieldType,
    FilterExpressionError,
    FilterValuesError,
    Literal,
    Parameter,
    check_against_schemas,
    check_filter_values,
    check_target,
    field_types,
    parameters,
    parse_filter,
    parse_filter_value,
    parse_filter_values,
    target_of,
)
from functions.resources.schema_rules import parse_schema

pytestmark = pytest.mark.unit

# The guide's examples (filter-expressions, item / user segment examples, combining expressions) plus the
# shapes Tailor must accept.
VALID = [
    'INCLUDE ItemID WHERE Items.GENRE IN ("Comedy")',
    'INCLUDE ItemID WHERE Interactions.event_type IN ("watch")',
    'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")',
    "INCLUDE ItemID WHERE Items.YEAR >= 1970 AND Items.YEAR < 1980",
    "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($EVENT_TYPE)",
    'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "stream")',
    'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")',
    'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")',
    'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")',
    "EXCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)",
    "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.GENRE IN CurrentItem.GENRE",
    'EXCLUDE ItemID WHERE Items.CATEGORY_L1 IN ("shoe") AND Items.CATEGORY_L2 NOT IN ("boot")',
    'EXCLUDE ItemID WHERE Items.CATEGORY IN ("shoe") AND Items.DESCRIPTION NOT IN ("boot")',
    "INCLUDE ItemID WHERE Items.NUMBER_OF_DOWNLOADS < 20",
    "EXCLUDE ItemID WHERE Items.NUMBER_OF_DOWNLOADS < 20 IF CurrentUser.AGE > 18 AND CurrentUser.AGE < 30",
    'INCLUDE ItemID WHERE Items.CATEGORY IN ("watch") AND Items.DESCRIPTION IN ("luxury") '
    "IF CurrentUser.AGE > 18",
    'INCLUDE ItemID WHERE Items.GENRE IN ("drama") | '
    'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "stream")',
    "INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY) | "
    'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("favorite")',
    "INCLUDE UserID WHERE Users.MEMBERSHIP_STATUS IN ($MEMBERSHIP)",
    "EXCLUDE UserID WHERE Users.AGE < $AGE",
    'INCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("click", "rating")',
    "EXCLUDE UserID WHERE Interactions.EVENT_TYPE IN ($EVENT_TYPE)",
    'INCLUDE ItemID WHERE Items.TIER IN ("Premium") IF CurrentUser.MEMBERSHIP = $PREMIUM',
    "EXCLUDE ItemID WHERE Items.PRICE > ($PRICE)",
    "INCLUDE ItemID WHERE Items.PRICE <= (20)",
    "INCLUDE ItemID WHERE Items.RATING > -1.5e0",
    'INCLUDE ItemID WHERE (Items.GENRE IN ("a") OR Items.GENRE IN ("b")) AND Items.PRICE > 3',
    'include itemid where items.genre in ("Comedy")',
    'INCLUDE ItemID WHERE Items.GENRE IN ("say \\"hi\\"")',
    '  INCLUDE ItemID\n WHERE Items.GENRE IN ("Comedy")  ',
    # The guide's "Action recommendation filter expression examples" (its "Action." as written there).
    "INCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ($EVENT_TYPE)",
    'EXCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("NOT_TAKEN")',
    "EXCLUDE ActionID WHERE Actions.CATEGORY IN ($CATEGORY)",
    "INCLUDE ActionID WHERE Actions.VALUE > ($VALUE)",
    'INCLUDE ActionID WHERE Action.MEMBERSHIP_LEVEL IN ("Premium") IF CurrentUser.MEMBERSHIP = $PREMIUM',
    "EXCLUDE ActionID WHERE Actions.VALUE < ($VALUE) IF CurrentUser.MEMBERSHIP = $PREMIUM",
    'EXCLUDE ActionID WHERE Actions.CATEGORY IN ("a") | '
    'EXCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("*")',
]


@pytest.mark.parametrize("text", VALID)
def test_valid_expressions_parse(text: str) -> None:
    expr = parse_filter(text)
    assert expr.expressions
    assert expr.text == text


def test_ast_of_a_simple_expression() -> None:
    expr = parse_filter('INCLUDE ItemID WHERE Items.genre IN ("Comedy", "Drama")')
    (part,) = expr.expressions
    assert (part.action, part.target, part.dataset) == ("INCLUDE", "ItemID", "Items")
    assert part.where == Condition(
        FieldRef("Items", "GENRE", "Items.genre", 21),
        "IN",
        (Literal("Comedy", '"Comedy"', 37), Literal("Drama", '"Drama"', 47)),
        21,
    )


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    loose = parse_filter(
        'INCLUDE ItemID WHERE Items.A IN ("1") OR Items.B IN ("2") AND Items.C IN ("3")'
    ).expressions[0]
    assert isinstance(loose.where, BoolOp) and loose.where.operator == "OR"
    assert isinstance(loose.where.operands[1], BoolOp) and loose.where.operands[1].operator == "AND"
    grouped = parse_filter(
        'INCLUDE ItemID WHERE (Items.A IN ("1") OR Items.B IN ("2")) AND Items.C IN ("3")'
    ).expressions[0]
    assert isinstance(grouped.where, BoolOp) and grouped.where.operator == "AND"


def test_numbers_strings_parameters_and_chains() -> None:
    expr = parse_filter(
        "EXCLUDE ItemID WHERE Items.PRICE > ($MAX) | INCLUDE ItemID WHERE Items.YEAR = 1999 "
        "IF CurrentUser.AGE >= $AGE AND CurrentUser.TIER IN ($TIER)"
    )
    assert [p.action for p in expr.expressions] == ["EXCLUDE", "INCLUDE"]
    assert [p.text for p in expr.expressions][0] == "EXCLUDE ItemID WHERE Items.PRICE > ($MAX)"
    assert expr.excludes[0].where.values == (Parameter("MAX", 36),)
    year = expr.includes[0].where
    assert isinstance(year, Condition) and year.values[0].value == 1999.0
    assert [c.field.dataset for c in expr.includes[0].if_conditions] == ["CurrentUser", "CurrentUser"]
    assert parameters(expr) == {"MAX", "AGE", "TIER"}


def test_parameter_names_keep_their_case() -> None:
    assert parameters(parse_filter("INCLUDE ItemID WHERE Items.G IN ($genre)")) == {"genre"}


def error_of(text: str) -> str:
    with pytest.raises(FilterExpressionError) as caught:
        parse_filter(text)
    message = str(caught.value)
    assert message.startswith("Invalid filter expression: ")
    return message


def test_error_names_the_token_and_its_one_based_position() -> None:
    text = 'INCLUDE ItemID WHER Items.GENRE IN ("Comedy")'
    assert error_of(text) == (
        "Invalid filter expression: unexpected token 'WHER' at position 16; expected WHERE."
    )
    assert text[16 - 1 :].startswith("WHER")


# (expression, the token the message must quote, its 1-based position, a phrase the message must hold)
INVALID = [
    ("", None, None, "empty"),
    ("   ", None, None, "empty"),
    ('ItemID WHERE Items.GENRE IN ("a")', "ItemID", 1, "expected INCLUDE or EXCLUDE"),
    ('INCLUDE Items WHERE Items.GENRE IN ("a")', "Items", 9, "expected ItemID, UserID or ActionID"),
    (
        'INCLUDE ActionID WHERE Items.GENRE IN ("a")',
        "Items.GENRE",
        24,
        "only use Actions or Action_Interactions",
    ),
    (
        'EXCLUDE ActionID WHERE Interactions.EVENT_TYPE IN ("a")',
        "Interactions.EVENT_TYPE",
        24,
        "only use Actions",
    ),
    ('INCLUDE ActionID WHERE Users.TIER IN ("a")', "Users.TIER", 24, "IF CurrentUser.TIER"),
    (
        'EXCLUDE ActionID WHERE Action_Interactions.ACTION_ID IN ("a")',
        None,
        24,
        "only use Action_Interactions.EVENT",
    ),
    (
        'INCLUDE ActionID WHERE Actions.A IN ("a") AND Action_Interactions.EVENT_TYPE IN ("b")',
        None,
        47,
        "'|'",
    ),
    ("INCLUDE UserID WHERE Actions.VALUE > 3", "Actions.VALUE", 22, "only use Users or Interactions"),
    ('INCLUDE ItemID Items.GENRE IN ("a")', "Items", 16, "expected WHERE"),
    ('INCLUDE ItemID WHERE Itemz.GENRE IN ("a")', "Itemz", 22, "unknown dataset"),
    ('INCLUDE ItemID WHERE Actions.GENRE IN ("a")', "Actions.GENRE", 22, "only use Items or Interactions"),
    ('INCLUDE ItemID WHERE Items GENRE IN ("a")', "GENRE", 28, "expected '.'"),
    ('INCLUDE ItemID WHERE Items.GENRE ("a")', "(", 34, "expected IN, NOT IN"),
    ('INCLUDE ItemID WHERE Items.GENRE NOT ("a")', "(", 38, "expected IN after NOT"),
    ('INCLUDE ItemID WHERE Items.GENRE IN "a"', '"a"', 37, "expected '('"),
    ("INCLUDE ItemID WHERE Items.GENRE IN (Comedy)", "Comedy", 38, "double quotes"),
    ("INCLUDE ItemID WHERE Items.GENRE IN ('Comedy')", None, 38, "quote strings with"),
    ('INCLUDE ItemID WHERE Items.GENRE IN ("Comedy"', None, 46, "expected ',' or ')'"),
    ('INCLUDE ItemID WHERE Items.GENRE IN ("Comedy)', None, 38, "unterminated string"),
    ("INCLUDE ItemID WHERE Items.GENRE IN ()", ")", 38, "expected a quoted string"),
    ("INCLUDE ItemID WHERE Items.FLAG IN (true)", "true", 37, "boolean"),
    ('INCLUDE ItemID WHERE Items.GENRE != "a"', "!", 34, "NOT IN"),
    ("INCLUDE ItemID WHERE Items.GENRE IN ($)", "$", 38, "parameter name"),
    ("INCLUDE ItemID WHERE Users.AGE > 18", "Users.AGE", 22, "IF CurrentUser.AGE"),
    ("INCLUDE ItemID WHERE CurrentUser.AGE > 18", "CurrentUser.AGE", 22, "only be used in an IF"),
    ("INCLUDE ItemID WHERE CurrentItem.PRICE > 1", "CurrentItem.PRICE", 22, "CurrentItem"),
    ('INCLUDE UserID WHERE Items.GENRE IN ("a")', "Items.GENRE", 22, "Users or Interactions"),
    ('INCLUDE UserID WHERE Users.TIER IN ("a") IF CurrentUser.AGE > 3', "IF", 42, "UserID filter"),
    ("INCLUDE ItemID WHERE Interactions.EVENT_VALUE > 3", "Interactions.EVENT_VALUE", 22, "EVENT_TYPE"),
    ('INCLUDE ItemID WHERE Interactions.EVENT_TYPE = "click"', "Interactions.EVENT_TYPE", 22, "IN or NOT IN"),
    (
        'INCLUDE ItemID WHERE Items.GENRE IN ("a") AND Interactions.EVENT_TYPE IN ("x")',
        "Interactions.EVENT_TYPE",
        47,
        "chain a separate expression with '|'",
    ),
    (
        'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("x") OR (Items.GENRE IN ("a"))',
        "Items.GENRE",
        59,
        "dataset of the first condition (Interactions)",
    ),
    ('INCLUDE ItemID WHERE Items.GENRE IN ("*")', '"*"', 38, "wildcard"),
    ('INCLUDE ItemID WHERE Interactions.EVENT_TYPE NOT IN ("*")', '"*"', 54, "wildcard"),
    ("INCLUDE ItemID WHERE Items.GENRE NOT IN ($G)", "$G", 42, "NOT IN"),
    ('INCLUDE ItemID WHERE Items.PRICE < "cheap"', '"cheap"', 36, "compares numbers"),
    ("INCLUDE ItemID WHERE Items.PRICE IN (3)", "3", 38, "IN and NOT IN match string values"),
    ("INCLUDE ItemID WHERE Items.PRICE < (3, 4)", ",", 38, "single value"),
    (
        'INCLUDE ItemID WHERE Items.G IN ("a") IF CurrentUser.A IN ("x") OR CurrentUser.B IN ("y")',
        "OR",
        65,
        "only be extended with AND",
    ),
    ('INCLUDE ItemID WHERE Items.G IN ("a") IF Items.A IN ("x")', "Items.A", 42, "only check CurrentUser"),
    (
        'INCLUDE ItemID WHERE Items.G IN ("a") IF CurrentUser.A IN ("x") IF CurrentUser.B IN ("y")',
        "IF",
        65,
        "only one IF",
    ),
    (
        'INCLUDE ItemID WHERE Items.G IN ("a") IF CurrentUser.A IN ("x") AND Items.B IN ("y")',
        "Items.B",
        69,
        "CurrentUser",
    ),
    ('INCLUDE ItemID WHERE Items.G IN ("a") |', None, 40, "expected INCLUDE or EXCLUDE"),
    ('INCLUDE ItemID WHERE Items.G IN ("a") Items.B IN ("b")', "Items", 39, "expected AND, OR, IF"),
    ('INCLUDE ItemID WHERE (Items.G IN ("a")', None, 39, "expected ')'"),
    (
        'INCLUDE ItemID WHERE Items.G IN ("a") | INCLUDE UserID WHERE Users.G IN ("a")',
        None,
        41,
        "same thing as the first one (ItemID)",
    ),
    ("INCLUDE ItemID WHERE Items.G IN (CurrentUser.G)", "CurrentUser.G", 34, "CurrentItem.<field> only"),
    ("INCLUDE UserID WHERE Users.G IN CurrentItem.G", "CurrentItem.G", 33, "ItemID filter"),
]


@pytest.mark.parametrize(("text", "token", "position", "phrase"), INVALID)
def test_invalid_expressions_point_at_the_offending_token(
    text: str, token: str | None, position: int | None, phrase: str
) -> None:
    message = error_of(text)
    assert phrase in message
    if token is not None:
        assert f"'{token}'" in message
    if position is not None:
        assert f"position {position}" in message
        if token is not None:
            assert text[position - 1 :].startswith(token)


def test_maximum_length_comes_from_botocore() -> None:
    base = 'INCLUDE ItemID WHERE Items.GENRE IN ("'
    fits = base + "a" * (MAX_EXPRESSION_LENGTH - len(base) - 2) + '")'
    assert len(fits) == MAX_EXPRESSION_LENGTH
    parse_filter(fits)
    message = error_of(base + "a" * (MAX_EXPRESSION_LENGTH - len(base) - 1) + '")')
    assert "2501 characters long; the maximum is 2500" in message


def test_at_most_ten_distinct_fields_per_filter() -> None:
    conditions = " AND ".join(f'Items.F{i} IN ("x")' for i in range(10))
    parse_filter(f"INCLUDE ItemID WHERE {conditions} | EXCLUDE ItemID WHERE Items.F0 IN ($P)")
    message = error_of(f'INCLUDE ItemID WHERE {conditions} | EXCLUDE ItemID WHERE Items.F10 IN ("y")')
    assert "'Items.F10'" in message and "at most 10" in message
    # CurrentUser.X is the Users field X; it counts once however often it appears.
    parse_filter(
        f"INCLUDE ItemID WHERE {' AND '.join(f'Items.F{i} IN ($P)' for i in range(9))} "
        "IF CurrentUser.AGE > 3 AND CurrentUser.AGE < 9"
    )


def test_at_most_twenty_five_parameters() -> None:
    conditions = " OR ".join(f"Items.G IN ($P{i})" for i in range(25))
    parse_filter(f"INCLUDE ItemID WHERE {conditions}")
    message = error_of(f"INCLUDE ItemID WHERE {conditions} OR Items.G IN ($P25)")
    assert "'$P25'" in message and "at most 25" in message


def test_parameter_names_longer_than_a_filter_values_key_are_refused() -> None:
    message = error_of(f"INCLUDE ItemID WHERE Items.G IN (${'P' * 51})")
    assert "longer than 50" in message


# ------------------------------------------------------------------------------------------ schemas

ITEMS = field_types(
    [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRES", "type": ["null", "string"], "categorical": True},
        {"name": "YEAR", "type": "int"},
        {"name": "PRICE", "type": ["null", "double"]},
        {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True},
        {"name": "IN_STOCK", "type": "boolean"},
        {"name": "STUDIO", "type": "string"},
    ]
)
USERS = field_types(
    {
        "type": "record",
        "name": "Users",
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "AGE", "type": "int"},
            {"name": "MEMBERSHIP", "type": "string", "categorical": True},
        ],
    }
)
INTERACTIONS = field_types(
    [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
    ]
)


def test_field_types_from_avro_and_from_schema_rules() -> None:
    assert ITEMS["GENRES"] == FieldType("string", categorical=True, nullable=True)
    assert ITEMS["PRICE"].is_numeric and not ITEMS["GENRES"].is_numeric
    spec = parse_schema(
        '{"type": "record", "name": "Items", "fields": [{"name": "ITEM_ID", "type": "string"}, '
        '{"name": "GENRES", "type": "string", "categorical": true}]}'
    )
    assert field_types(spec.fields)["GENRES"] == FieldType("string", categorical=True)


@pytest.mark.parametrize(
    "text",
    [
        'INCLUDE ItemID WHERE Items.genres IN ("Comedy") AND Items.YEAR >= 1970',
        'EXCLUDE ItemID WHERE Items.PRICE > $MAX | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")',
        'INCLUDE ItemID WHERE Items.STUDIO = "Ghibli" '
        'IF CurrentUser.AGE > 18 AND CurrentUser.membership IN ("x")',
        "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.GENRES IN CurrentItem.GENRES",
        "INCLUDE UserID WHERE Users.AGE < $AGE",
    ],
)
def test_schema_check_accepts_fitting_fields(text: str) -> None:
    check_against_schemas(parse_filter(text), ITEMS, USERS, INTERACTIONS)


@pytest.mark.parametrize(
    ("text", "items", "users", "interactions", "pattern"),
    [
        (
            'INCLUDE ItemID WHERE Items.GENRE IN ("a")',
            ITEMS,
            USERS,
            INTERACTIONS,
            r"'Items.GENRE' at position 22: the Items schema has no field GENRE \(its fields: .*GENRES",
        ),
        (
            'INCLUDE ItemID WHERE Items.GENRES IN ("a")',
            None,
            USERS,
            INTERACTIONS,
            r"'Items.GENRES' at position 22 needs an Items dataset",
        ),
        (
            'INCLUDE ItemID WHERE Items.G IN ("a") IF CurrentUser.AGE > 3',
            {"G": FieldType("string")},
            None,
            INTERACTIONS,
            r"'CurrentUser.AGE' at position 42 needs an Users dataset|needs a Users dataset",
        ),
        (
            'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("x")',
            ITEMS,
            USERS,
            None,
            r"needs an Interactions dataset",
        ),
        (
            'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("x")',
            ITEMS,
            USERS,
            {"USER_ID": FieldType("string"), "ITEM_ID": FieldType("string")},
            r"has no field EVENT_TYPE",
        ),
        ('INCLUDE ItemID WHERE Items.DESCRIPTION IN ("a")', ITEMS, USERS, INTERACTIONS, r"textual field"),
        (
            'INCLUDE ItemID WHERE Items.IN_STOCK IN ("true")',
            ITEMS,
            USERS,
            INTERACTIONS,
            r"IN_STOCK is boolean",
        ),
        (
            'INCLUDE ItemID WHERE Items.YEAR IN ("1999")',
            ITEMS,
            USERS,
            INTERACTIONS,
            r"'Items.YEAR' at position 22: IN matches string values, and YEAR is int",
        ),
        (
            "INCLUDE ItemID WHERE Items.STUDIO > 3",
            ITEMS,
            USERS,
            INTERACTIONS,
            r"'Items.STUDIO' at position 22: > compares numbers",
        ),
        (
            "INCLUDE ItemID WHERE Items.STUDIO = 3",
            ITEMS,
            USERS,
            INTERACTIONS,
            r"'3' at position 37: STUDIO is string; compare it with a quoted string",
        ),
        (
            'INCLUDE ItemID WHERE Items.YEAR = "1999"',
            ITEMS,
            USERS,
            INTERACTIONS,
            r"YEAR is int; compare it with a number",
        ),
        (
            "INCLUDE ItemID WHERE Items.YEAR < CurrentItem.STUDIO",
            ITEMS,
            USERS,
            INTERACTIONS,
            r"'CurrentItem.STUDIO' at position 35: can't compare numeric field YEAR with string field STUDIO",
        ),
        (
            'INCLUDE UserID WHERE Users.MEMBERSHIP IN ("a")',
            ITEMS,
            None,
            INTERACTIONS,
            r"needs a Users dataset",
        ),
        (
            'INCLUDE ItemID WHERE Items.G IN ("a") IF CurrentUser.MEMBERSHIP > 3',
            {"G": FieldType("string")},
            USERS,
            INTERACTIONS,
            r"'CurrentUser.MEMBERSHIP' at position 42: > compares numbers",
        ),
    ],
)
def test_schema_check_refuses(
    text: str,
    items: dict[str, FieldType] | None,
    users: dict[str, FieldType] | None,
    interactions: dict[str, FieldType] | None,
    pattern: str,
) -> None:
    with pytest.raises(FilterExpressionError) as caught:
        check_against_schemas(parse_filter(text), items, users, interactions)
    assert re.search(pattern, str(caught.value)), str(caught.value)


def test_schema_check_accepts_bare_type_names() -> None:
    check_against_schemas(
        parse_filter("INCLUDE ItemID WHERE Items.price < 3"), {"PRICE": "float"}, None, None
    )


# ------------------------------------------------------------------------------------------ filterValues


@pytest.mark.parametrize(
    ("raw", "values"),
    [
        ('"Comedy"', ("Comedy",)),
        ('"Comedy","Drama"', ("Comedy", "Drama")),
        ('"Comedy", "Drama" ', ("Comedy", "Drama")),
        ('"a,b","c"', ("a,b", "c")),
        ('"say \\"hi\\""', ('say "hi"',)),
        ("18", ("18",)),
        ("18, 19", ("18", "19")),
        ('"", "x"', ("", "x")),
    ],
)
def test_filter_value_parsing(raw: str, values: tuple[str, ...]) -> None:
    assert parse_filter_value("P", raw) == values


@pytest.mark.parametrize(
    ("raw", "phrase"),
    [
        ('"Comedy', "unterminated"),
        ('"a" "b"', "expects ','"),
        ('"a",', "empty value"),
        ("", "empty value"),
        ('a"b', "stray"),
    ],
)
def test_malformed_filter_values(raw: str, phrase: str) -> None:
    with pytest.raises(FilterValuesError) as caught:
        parse_filter_value("GENRE", raw)
    assert phrase in str(caught.value) and "'GENRE'" in str(caught.value)


def test_filter_values_map_limits_from_botocore() -> None:
    assert parse_filter_values({"GENRE": '"Comedy","Drama"', "age": "18"}) == {
        "GENRE": ("Comedy", "Drama"),
        "age": ("18",),
    }
    assert parse_filter_values(None) == {}
    check_filter_values({f"P{i}": '"x"' for i in range(25)})
    with pytest.raises(FilterValuesError, match="26 entries; the maximum is 25"):
        check_filter_values({f"P{i}": '"x"' for i in range(26)})
    with pytest.raises(FilterValuesError, match="letters, digits or underscores"):
        check_filter_values({"$GENRE": '"x"'})
    with pytest.raises(FilterValuesError, match="letters, digits or underscores"):
        check_filter_values({"P" * 51: '"x"'})
    with pytest.raises(FilterValuesError, match="at most 1000 characters"):
        check_filter_values({"P": '"' + "x" * 1000 + '"'})


def test_a_stored_filters_kind_is_read_from_its_first_expression() -> None:
    assert target_of('  include actionid WHERE Actions.A IN ("x")') == "ActionID"
    assert (
        target_of('EXCLUDE ItemID WHERE Items.A IN ("x") | EXCLUDE ItemID WHERE Items.B IN ("y")') == "ItemID"
    )
    assert target_of("INCLUDE Items WHERE") is None
    check_target('INCLUDE UserID WHERE Users.A IN ("x")', "UserID", "arn:f", "a batch segment job")
    with pytest.raises(FilterExpressionError, match=r"filters users \(UserID\); GetRecommendations needs"):
        check_target('INCLUDE UserID WHERE Users.A IN ("x")', "ItemID", "arn:f", "GetRecommendations")
