from __future__ import annotations

import json
from typing import Any

import pytest

from functions.protocol.errors import InvalidInputException
from functions.resources.schema_rules import (
    DATASET_TYPES,
    FieldSpec,
    check_for_dataset_type,
    normalize_dataset_type,
    parse_schema,
)

pytestmark = pytest.mark.unit


def schema(*fields: dict[str, Any], name: str = "Interactions", **extra: Any) -> str:
    document: dict[str, Any] = {
        "type": "record",
        "name": name,
        "namespace": "com.amazonaws.personalize.schema",
        "fields": list(fields),
        "version": "1.0",
    }
    document.update(extra)
    return json.dumps(document)


def f(name: str, type_: Any, **attributes: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, **attributes}


USER_ID = f("USER_ID", "string")
ITEM_ID = f("ITEM_ID", "string")
ACTION_ID = f("ACTION_ID", "string")
TIMESTAMP = f("TIMESTAMP", "long")
EVENT_TYPE = f("EVENT_TYPE", "string")


# ---- parse_schema ---------------------------------------------------------------------------------------


def test_parses_the_guides_interactions_example() -> None:
    parsed = parse_schema(
        schema(
            USER_ID,
            ITEM_ID,
            EVENT_TYPE,
            f("EVENT_VALUE", ["float", "null"]),
            f("LOCATION", "string", categorical=True),
            f("DEVICE", ["string", "null"], categorical=True),
            TIMESTAMP,
            f("IMPRESSION", "string"),
        )
    )
    assert parsed.name == "Interactions"
    assert parsed.namespace == "com.amazonaws.personalize.schema"
    assert parsed.field_names == (
        "USER_ID",
        "ITEM_ID",
        "EVENT_TYPE",
        "EVENT_VALUE",
        "LOCATION",
        "DEVICE",
        "TIMESTAMP",
        "IMPRESSION",
    )
    assert parsed.field("event_value") == FieldSpec("EVENT_VALUE", "float", nullable=True)
    assert parsed.field("Device") == FieldSpec("DEVICE", "string", nullable=True, categorical=True)
    assert parsed.field("TIMESTAMP") == FieldSpec("TIMESTAMP", "long", nullable=False)
    assert parsed.field("MISSING") is None


@pytest.mark.parametrize(
    "field",
    [
        f("A", "int"),
        f("A", "long"),
        f("A", "float"),
        f("A", "double"),
        f("A", "boolean"),
        f("A", "string"),
        f("A", ["null", "double"]),
        f("A", ["boolean", "null"]),
        f("A", {"type": "int"}),
        f("A", ["null", "string"], textual=True),
        f("A", "string", categorical=False, textual=False),
        f("A", ["null", "string"], default=None),
        f("A", "string", doc="documented"),
    ],
)
def test_supported_field_types(field: dict[str, Any]) -> None:
    parsed = parse_schema(schema(field))
    assert parsed.field_names == ("A",)


def test_record_name_may_be_a_full_name() -> None:
    parsed = parse_schema(json.dumps({"type": "record", "name": "com.example.Users", "fields": [USER_ID]}))
    assert parsed.name == "com.example.Users"


def test_namespace_and_version_are_optional() -> None:
    parsed = parse_schema(json.dumps({"type": "record", "name": "Users", "fields": [USER_ID]}))
    assert parsed.namespace is None
    assert parsed.fields == (FieldSpec("USER_ID", "string", nullable=False),)


@pytest.mark.parametrize(
    ("field", "fragment"),
    [
        (f("GENRES", "int", categorical=True), "cannot be categorical; only string fields"),
        (f("GENRES", ["null", "long"], categorical=True), "cannot be categorical"),
        (f("DESCRIPTION", "double", textual=True), "cannot be textual; only string fields"),
        (f("DESCRIPTION", "string", textual=True, categorical=True), "both categorical and textual"),
        (f("GENRES", "string", categorical="true"), "must be true or false"),
        (f("NESTED", {"type": "record", "name": "N", "fields": [f("X", "int")]}), "unsupported type"),
        (f("TAGS", {"type": "array", "items": "string"}), "unsupported type"),
        (f("PROPS", {"type": "map", "values": "string"}), "unsupported type"),
        (f("COLOR", {"type": "enum", "name": "C", "symbols": ["RED"]}), "unsupported type"),
        (f("BLOB", "bytes"), "unsupported type"),
        (f("WHEN", {"type": "long", "logicalType": "timestamp-millis"}), "unsupported type"),
        (f("NOTHING", "null"), 'cannot be only "null"'),
        (f("EITHER", ["string", "int"]), "union"),
        (f("TRIPLE", ["null", "string", "int"]), "union"),
        (f("TWICE", ["null", "null"]), "union"),
        (f("SINGLE", ["string"]), "union"),
        (f("INNER", ["null", {"type": "array", "items": "string"}]), "unsupported type"),
        (f("TYPO", "strng"), "unsupported type"),
        ({"name": "UNTYPED"}, 'has no "type"'),
        (f("1ST_FIELD", "string"), "invalid name"),
        (f("BAD-NAME", "string"), "invalid name"),
        (f("DEFAULTED", "string", default=3), "not valid Avro"),
    ],
)
def test_invalid_fields_are_named_in_the_error(field: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidInputException) as caught:
        parse_schema(schema(USER_ID, field))
    message = caught.value.message
    assert f'"{field["name"]}"' in message
    assert fragment in message


def test_categorical_message_matches_the_documented_wording() -> None:
    with pytest.raises(InvalidInputException) as caught:
        parse_schema(schema(ITEM_ID, f("GENRES", "int", categorical=True)))
    assert caught.value.message == (
        'Invalid schema: field "GENRES" of type "int" cannot be categorical; '
        "only string fields can be categorical."
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("GENRES", "GENRES"),
        ("GENRES", "genres"),
        ("GENRES_FIELD_1", "GENRESFIELD1"),
        ("user_id", "USER_ID"),
    ],
)
def test_field_names_must_be_unique_alphanumerically(first: str, second: str) -> None:
    with pytest.raises(InvalidInputException) as caught:
        parse_schema(schema(f(first, "string"), f(second, "int")))
    assert f'"{second}"' in caught.value.message
    assert f'"{first}"' in caught.value.message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "Avro record"),
        ('"string"', "Avro record"),
        (json.dumps({"type": "enum", "name": "E", "symbols": ["A"]}), "Avro record"),
        (json.dumps({"type": "record", "fields": [USER_ID]}), '"name"'),
        (json.dumps({"type": "record", "name": "Bad-Name", "fields": [USER_ID]}), '"name"'),
        (json.dumps({"type": "record", "name": "Users", "fields": []}), '"fields"'),
        (json.dumps({"type": "record", "name": "Users"}), '"fields"'),
        (json.dumps({"type": "record", "name": "Users", "fields": [USER_ID], "version": "2.0"}), '"version"'),
        (json.dumps({"type": "record", "name": "Users", "fields": [USER_ID], "namespace": 3}), "namespace"),
        (
            json.dumps({"type": "record", "name": "Users", "fields": [USER_ID], "namespace": "a..b"}),
            "namespace",
        ),
        (json.dumps({"type": "record", "name": "Users", "fields": [USER_ID], "version": 1.0}), '"version"'),
        (json.dumps({"type": "record", "name": "Users", "fields": ["USER_ID"]}), "field #1"),
    ],
)
def test_invalid_documents(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInputException) as caught:
        parse_schema(text)
    assert fragment in caught.value.message


# ---- dataset types ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dataset_type", "fields"),
    [
        ("Interactions", [USER_ID, ITEM_ID, TIMESTAMP]),
        (
            "Interactions",
            [
                USER_ID,
                ITEM_ID,
                TIMESTAMP,
                EVENT_TYPE,
                f("EVENT_VALUE", ["null", "float"]),
                f("IMPRESSION", ["string", "null"]),
                f("RECOMMENDATION_ID", ["null", "string"]),
                f("EVENT_ATTRIBUTION_SOURCE", ["null", "string"]),
                f("DEVICE", "string", categorical=True),
            ],
        ),
        ("interactions", [USER_ID, ITEM_ID, TIMESTAMP, f("EVENT_VALUE", "float")]),
        ("Users", [USER_ID, f("AGE", "int")]),
        ("USERS", [USER_ID, f("GENDER", ["null", "string"], categorical=True)]),
        (
            "Items",
            [ITEM_ID, f("GENRES", ["null", "string"], categorical=True), f("CREATION_TIMESTAMP", "long")],
        ),
        ("Items", [ITEM_ID, f("DESCRIPTION", ["null", "string"], textual=True)]),
        ("Items", [ITEM_ID, f("PRICE", "double"), f("CREATION_TIMESTAMP", ["null", "long"])]),
        (
            "Actions",
            [
                ACTION_ID,
                f("VALUE", ["null", "long"]),
                f("MEMBERSHIP_LEVEL", ["null", "string"], categorical=True),
                f("CREATION_TIMESTAMP", "long"),
                f("REPEAT_FREQUENCY", ["long", "null"]),
                f("ACTION_EXPIRATION_TIMESTAMP", ["long", "null"]),
            ],
        ),
        ("Action_Interactions", [USER_ID, ACTION_ID, EVENT_TYPE, TIMESTAMP]),
        (
            "action_interactions",
            [USER_ID, ACTION_ID, EVENT_TYPE, TIMESTAMP, f("IMPRESSION", ["null", "string"])],
        ),
    ],
)
def test_valid_schemas_for_each_dataset_type(dataset_type: str, fields: list[dict[str, Any]]) -> None:
    check_for_dataset_type(parse_schema(schema(*fields)), dataset_type)


@pytest.mark.parametrize(
    ("dataset_type", "fields", "field_name", "fragment"),
    [
        ("Interactions", [ITEM_ID, TIMESTAMP], "USER_ID", "is missing"),
        ("Interactions", [USER_ID, TIMESTAMP], "ITEM_ID", "is missing"),
        ("Interactions", [USER_ID, ITEM_ID], "TIMESTAMP", "is missing"),
        ("Interactions", [f("USER_ID", "int"), ITEM_ID, TIMESTAMP], "USER_ID", 'must be of type "string"'),
        ("Interactions", [USER_ID, ITEM_ID, f("TIMESTAMP", "int")], "TIMESTAMP", 'must be of type "long"'),
        ("Interactions", [USER_ID, ITEM_ID, f("TIMESTAMP", ["null", "long"])], "TIMESTAMP", "nullable"),
        ("Interactions", [f("USER_ID", ["null", "string"]), ITEM_ID, TIMESTAMP], "USER_ID", "nullable"),
        (
            "Interactions",
            [USER_ID, f("ITEM_ID", "string", categorical=True), TIMESTAMP],
            "ITEM_ID",
            "categorical",
        ),
        ("Interactions", [USER_ID, ITEM_ID, TIMESTAMP, f("EVENT_TYPE", "int")], "EVENT_TYPE", "string"),
        (
            "Interactions",
            [USER_ID, ITEM_ID, TIMESTAMP, f("EVENT_TYPE", "string", categorical=True)],
            "EVENT_TYPE",
            "cannot be categorical",
        ),
        (
            "Interactions",
            [USER_ID, ITEM_ID, TIMESTAMP, f("EVENT_TYPE", ["null", "string"])],
            "EVENT_TYPE",
            "nullable",
        ),
        ("Interactions", [USER_ID, ITEM_ID, TIMESTAMP, f("EVENT_VALUE", "int")], "EVENT_VALUE", '"float"'),
        ("Interactions", [USER_ID, ITEM_ID, TIMESTAMP, f("EVENT_VALUE", "double")], "EVENT_VALUE", '"float"'),
        ("Interactions", [USER_ID, ITEM_ID, TIMESTAMP, f("IMPRESSION", "long")], "IMPRESSION", '"string"'),
        (
            "Interactions",
            [USER_ID, ITEM_ID, TIMESTAMP, f("IMPRESSION", "string", categorical=True)],
            "IMPRESSION",
            "cannot be categorical",
        ),
        (
            "Interactions",
            [USER_ID, ITEM_ID, TIMESTAMP, f("NOTE", "string", textual=True)],
            "NOTE",
            "only Items schemas",
        ),
        (
            "Interactions",
            [USER_ID, ITEM_ID, TIMESTAMP, *[f(f"M{i}", "string", categorical=True) for i in range(6)]],
            "M5",
            "at most 5",
        ),
        ("Users", [USER_ID], "USER_ID", "at least one metadata field"),
        ("Users", [USER_ID, f("NAME", "string")], "USER_ID", "at least one metadata field"),
        ("Users", [USER_ID, f("VIP", "boolean")], "USER_ID", "at least one metadata field"),
        ("Users", [f("USERID", "string"), f("AGE", "int")], "USER_ID", "is missing"),
        ("Users", [USER_ID, f("BIO", "string", textual=True)], "BIO", "only Items schemas"),
        ("Users", [USER_ID, *[f(f"M{i}", "int") for i in range(26)]], "M25", "at most 25"),
        ("Items", [f("GENRES", "string", categorical=True)], "ITEM_ID", "is missing"),
        ("Items", [ITEM_ID, f("TITLE", "string")], "ITEM_ID", "at least one metadata field"),
        (
            "Items",
            [ITEM_ID, f("GENRES", "string", categorical=True), f("CREATION_TIMESTAMP", "int")],
            "CREATION_TIMESTAMP",
            '"long"',
        ),
        (
            "Items",
            [ITEM_ID, f("A", "string", textual=True), f("B", "string", textual=True)],
            "B",
            "textual field",
        ),
        ("Items", [ITEM_ID, *[f(f"M{i}", "float") for i in range(101)]], "M100", "at most 100"),
        ("Actions", [ACTION_ID], "ACTION_ID", "at least one metadata field"),
        ("Actions", [f("ITEM_ID", "string"), f("A", "int")], "ACTION_ID", "is missing"),
        ("Actions", [ACTION_ID, f("A", "int"), f("VALUE", "float")], "VALUE", '"long"'),
        ("Actions", [ACTION_ID, f("A", "int"), f("REPEAT_FREQUENCY", "int")], "REPEAT_FREQUENCY", '"long"'),
        (
            "Actions",
            [ACTION_ID, f("A", "int"), f("EXPIRATION_TIMESTAMP", "string")],
            "EXPIRATION_TIMESTAMP",
            '"long"',
        ),
        ("Actions", [ACTION_ID, *[f(f"M{i}", "long") for i in range(11)]], "M10", "at most 10"),
        ("Action_Interactions", [USER_ID, ACTION_ID, TIMESTAMP], "EVENT_TYPE", "is missing"),
        ("Action_Interactions", [USER_ID, EVENT_TYPE, TIMESTAMP], "ACTION_ID", "is missing"),
        ("Action_Interactions", [USER_ID, ITEM_ID, EVENT_TYPE, TIMESTAMP], "ACTION_ID", "is missing"),
        (
            "Action_Interactions",
            [USER_ID, ACTION_ID, EVENT_TYPE, f("TIMESTAMP", "double")],
            "TIMESTAMP",
            '"long"',
        ),
    ],
)
def test_dataset_type_errors_name_the_field_and_type(
    dataset_type: str, fields: list[dict[str, Any]], field_name: str, fragment: str
) -> None:
    with pytest.raises(InvalidInputException) as caught:
        check_for_dataset_type(parse_schema(schema(*fields)), dataset_type)
    message = caught.value.message
    assert field_name in message
    assert normalize_dataset_type(dataset_type) in message
    assert fragment in message


def test_unknown_dataset_type_lists_the_valid_ones() -> None:
    parsed = parse_schema(schema(USER_ID, ITEM_ID, TIMESTAMP))
    with pytest.raises(InvalidInputException) as caught:
        check_for_dataset_type(parsed, "Events")
    assert '"Events"' in caught.value.message
    for known in DATASET_TYPES:
        assert known in caught.value.message


@pytest.mark.parametrize("spelling", ["Interactions", "INTERACTIONS", "interactions", "iNtErAcTiOnS"])
def test_dataset_types_are_case_insensitive(spelling: str) -> None:
    assert normalize_dataset_type(spelling) == "Interactions"


# ---- domains ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domain", "dataset_type", "fields"),
    [
        ("ECOMMERCE", "Interactions", [USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE]),
        (
            "VIDEO_ON_DEMAND",
            "Interactions",
            [USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE, f("EVENT_VALUE", "float")],
        ),
        ("ECOMMERCE", "Users", [USER_ID, f("MEMBERSHIP", ["null", "string"], categorical=True)]),
        (
            "VIDEO_ON_DEMAND",
            "Users",
            [USER_ID, f("SUBSCRIPTION_MODEL", ["null", "string"], categorical=True)],
        ),
        (
            "ECOMMERCE",
            "Items",
            [
                ITEM_ID,
                f("PRICE", "float"),
                f("CATEGORY_L1", "string", categorical=True),
                f("CATEGORY_L2", ["null", "string"], categorical=True),
                f("PRODUCT_DESCRIPTION", ["null", "string"], textual=True),
                f("CREATION_TIMESTAMP", "long"),
            ],
        ),
        (
            "VIDEO_ON_DEMAND",
            "Items",
            [
                ITEM_ID,
                f("CREATION_TIMESTAMP", "long"),
                f("GENRES", "string", categorical=True),
                f("GENRE_L2", ["null", "string"], categorical=True),
                f("DURATION", ["null", "float"]),
            ],
        ),
    ],
)
def test_valid_domain_schemas(domain: str, dataset_type: str, fields: list[dict[str, Any]]) -> None:
    check_for_dataset_type(parse_schema(schema(*fields)), dataset_type, domain)


@pytest.mark.parametrize(
    ("domain", "dataset_type", "fields", "field_name", "fragment"),
    [
        ("ECOMMERCE", "Interactions", [USER_ID, ITEM_ID, TIMESTAMP], "EVENT_TYPE", "is missing"),
        ("VIDEO_ON_DEMAND", "Interactions", [USER_ID, ITEM_ID, TIMESTAMP], "EVENT_TYPE", "is missing"),
        (
            "ECOMMERCE",
            "Items",
            [ITEM_ID, f("CATEGORY_L1", "string", categorical=True)],
            "PRICE",
            "is missing",
        ),
        (
            "ECOMMERCE",
            "Items",
            [ITEM_ID, f("PRICE", "float"), f("CATEGORY_L1", "string")],
            "CATEGORY_L1",
            "must be categorical",
        ),
        (
            "ECOMMERCE",
            "Items",
            [
                ITEM_ID,
                f("PRICE", "float"),
                f("CATEGORY_L1", "string", categorical=True),
                f("PRODUCT_DESCRIPTION", "string"),
            ],
            "PRODUCT_DESCRIPTION",
            "must be textual",
        ),
        (
            "VIDEO_ON_DEMAND",
            "Items",
            [ITEM_ID, f("GENRES", "string", categorical=True)],
            "CREATION_TIMESTAMP",
            "is missing",
        ),
        (
            "VIDEO_ON_DEMAND",
            "Items",
            [ITEM_ID, f("CREATION_TIMESTAMP", "long"), f("GENRES", ["null", "string"], categorical=True)],
            "GENRES",
            "nullable",
        ),
        (
            "VIDEO_ON_DEMAND",
            "Users",
            [USER_ID, f("SUBSCRIPTION_MODEL", "string")],
            "SUBSCRIPTION_MODEL",
            "must be categorical",
        ),
        ("ECOMMERCE", "Actions", [ACTION_ID, f("A", "int")], "Actions", "Domain dataset group"),
        (
            "VIDEO_ON_DEMAND",
            "Action_Interactions",
            [USER_ID, ACTION_ID, EVENT_TYPE, TIMESTAMP],
            "Action_Interactions",
            "Domain dataset group",
        ),
    ],
)
def test_domain_errors(
    domain: str, dataset_type: str, fields: list[dict[str, Any]], field_name: str, fragment: str
) -> None:
    with pytest.raises(InvalidInputException) as caught:
        check_for_dataset_type(parse_schema(schema(*fields)), dataset_type, domain)
    message = caught.value.message
    assert field_name in message
    assert domain in message
    assert fragment in message


def test_unknown_domain_lists_the_valid_ones() -> None:
    parsed = parse_schema(schema(USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE))
    with pytest.raises(InvalidInputException) as caught:
        check_for_dataset_type(parsed, "Interactions", "RETAIL")
    assert "RETAIL" in caught.value.message
    assert "ECOMMERCE" in caught.value.message
    assert "VIDEO_ON_DEMAND" in caught.value.message


def test_parsed_schema_is_immutable() -> None:
    parsed = parse_schema(schema(USER_ID, ITEM_ID, TIMESTAMP))
    with pytest.raises(AttributeError):
        parsed.name = "Other"  # type: ignore[misc]
