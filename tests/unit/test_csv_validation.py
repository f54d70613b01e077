from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from functions.resources.schema_rules import ParsedSchema, parse_schema
from functions.workflows.csv_validation import (
    CsvValidationError,
    PersonalizeCsvDialect,
    ValidatedTable,
    validate_csv,
)

pytestmark = pytest.mark.unit


def make_schema(*fields: dict[str, Any]) -> ParsedSchema:
    return parse_schema(json.dumps({"type": "record", "name": "S", "fields": list(fields), "version": "1.0"}))


INTERACTIONS = make_schema(
    {"name": "USER_ID", "type": "string"},
    {"name": "ITEM_ID", "type": "string"},
    {"name": "TIMESTAMP", "type": "long"},
    {"name": "EVENT_TYPE", "type": "string"},
    {"name": "EVENT_VALUE", "type": ["null", "float"]},
    {"name": "IMPRESSION", "type": ["null", "string"]},
)
ITEMS = make_schema(
    {"name": "ITEM_ID", "type": "string"},
    {"name": "GENRES", "type": ["null", "string"], "categorical": True},
    {"name": "CREATION_TIMESTAMP", "type": "long"},
    {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True},
    {"name": "PRICE", "type": "double"},
    {"name": "IN_STOCK", "type": ["null", "boolean"]},
    {"name": "RANK", "type": ["null", "int"]},
)
ACTIONS = make_schema(
    {"name": "ACTION_ID", "type": "string"},
    {"name": "VALUE", "type": ["null", "long"]},
    {"name": "MEMBERSHIP_LEVEL", "type": ["null", "string"], "categorical": True},
    {"name": "CREATION_TIMESTAMP", "type": "long"},
    {"name": "REPEAT_FREQUENCY", "type": ["long", "null"]},
)

GOOD_INTERACTIONS = (
    b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE,IMPRESSION\n"
    b"196,242,881250949,click,15,73|70|17\n"
    b"186,302,891717742,click,,\n"
    b"22,377,878887116,watch,0.5,377\n"
)


def csv_error(data: bytes, schema: ParsedSchema = INTERACTIONS, dataset_type: str = "Interactions") -> str:
    with pytest.raises(CsvValidationError) as caught:
        validate_csv(data, schema, dataset_type)
    return str(caught.value)


# ---- good files -------------------------------------------------------------------------------------------


def test_good_file() -> None:
    table = validate_csv(GOOD_INTERACTIONS, INTERACTIONS, "Interactions")
    assert table.columns == ("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE", "IMPRESSION")
    assert table.row_count == 3
    assert table.rows[0] == ["196", "242", "881250949", "click", "15", "73|70|17"]
    assert table.rows[1] == ["186", "302", "891717742", "click", "", ""]


def test_columns_in_another_order_and_case_are_normalised_to_the_schema() -> None:
    data = b"timestamp,Item_Id,EVENT_TYPE,USER_ID,IMPRESSION,EVENT_VALUE\n881250949,242,click,196,73|70,1.5\n"
    table = validate_csv(data, INTERACTIONS, "interactions")
    assert table.columns == INTERACTIONS.field_names
    assert table.rows == [["196", "242", "881250949", "click", "1.5", "73|70"]]


def test_missing_nullable_columns_become_empty() -> None:
    table = validate_csv(
        b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\nu1,i1,1596238243,click\n", INTERACTIONS, "Interactions"
    )
    assert table.rows == [["u1", "i1", "1596238243", "click", "", ""]]


def test_to_csv_bytes_writes_the_normalised_table() -> None:
    data = (
        b"EVENT_TYPE,USER_ID,ITEM_ID,TIMESTAMP\n"
        b'click,"Smith, J",i1,1596238243\n'
        b'view,u2,"say ""hi""",1596238244\n'
    )
    table = validate_csv(data, INTERACTIONS, "Interactions")
    out = table.to_csv_bytes()
    assert (
        out.decode("utf-8").splitlines()[0] == "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE,IMPRESSION"
    )
    assert list(csv.reader(io.StringIO(out.decode("utf-8")), dialect=PersonalizeCsvDialect)) == [
        list(table.columns),
        *table.rows,
    ]
    # Validating the stored form gives the same table back, so a re-import is stable.
    assert validate_csv(out, INTERACTIONS, "Interactions") == table


def test_round_trip_keeps_backslashes_and_quotes() -> None:
    data = (
        b'ITEM_ID,CREATION_TIMESTAMP,PRICE,DESCRIPTION\ni1,1570003267,9.5,"He said \\"a\\\\b\\", then left"\n'
    )
    table = validate_csv(data, ITEMS, "Items")
    assert table.rows[0][ITEMS.field_names.index("DESCRIPTION")] == 'He said "a\\b", then left'
    assert validate_csv(table.to_csv_bytes(), ITEMS, "Items") == table


def test_quoted_commas_and_doubled_quotes() -> None:
    data = (
        b"ITEM_ID,GENRES,CREATION_TIMESTAMP,PRICE,DESCRIPTION\n"
        b'"item,1","Action|Crime",1570003267,1,"A ""quoted"" word, here"\n'
    )
    table = validate_csv(data, ITEMS, "Items")
    row = dict(zip(table.columns, table.rows[0], strict=True))
    assert row["ITEM_ID"] == "item,1"
    assert row["GENRES"] == "Action|Crime"
    assert row["DESCRIPTION"] == 'A "quoted" word, here'


def test_utf8_bom_is_ignored() -> None:
    table = validate_csv(b"\xef\xbb\xbf" + GOOD_INTERACTIONS, INTERACTIONS, "Interactions")
    assert table.columns[0] == "USER_ID"
    assert table.row_count == 3


def test_crlf_line_endings_and_blank_lines() -> None:
    data = b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\r\nu1,i1,1,click\r\n\r\nu2,i2,2,click\r\n"
    table = validate_csv(data, INTERACTIONS, "Interactions")
    assert [row[0] for row in table.rows] == ["u1", "u2"]


def test_non_ascii_utf8_values() -> None:
    table = validate_csv(
        "ITEM_ID,CREATION_TIMESTAMP,PRICE,GENRES\nи1,1,2,Комедия|ドラマ\n".encode(), ITEMS, "Items"
    )
    assert table.rows[0][:2] == ["и1", "Комедия|ドラマ"]


def test_typed_values_are_accepted_and_trimmed() -> None:
    data = (
        b"ITEM_ID,CREATION_TIMESTAMP,PRICE,IN_STOCK,RANK\n"
        b"i1,1570003267,1e3,true,-5\n"
        b"i2, 1570003268 ,.5,false,+7\n"
        b"i3,0,-2.,,\n"
    )
    table = validate_csv(data, ITEMS, "Items")
    by_id = {row[0]: dict(zip(table.columns, row, strict=True)) for row in table.rows}
    assert by_id["i2"]["CREATION_TIMESTAMP"] == "1570003268"
    assert by_id["i1"]["IN_STOCK"] == "true"
    assert by_id["i3"]["IN_STOCK"] == ""
    assert by_id["i3"]["RANK"] == ""


def test_textual_values_are_truncated_at_20000_characters() -> None:
    text = "x" * 20_005
    data = f"ITEM_ID,CREATION_TIMESTAMP,PRICE,DESCRIPTION\ni1,1,1,{text}\n".encode()
    table = validate_csv(data, ITEMS, "Items")
    assert len(table.rows[0][ITEMS.field_names.index("DESCRIPTION")]) == 20_000


def test_actions_value_and_repeat_frequency_in_range() -> None:
    data = (
        b"ACTION_ID,VALUE,MEMBERSHIP_LEVEL,CREATION_TIMESTAMP,REPEAT_FREQUENCY\n"
        b"1,10,Deluxe|Premium,1510003267,7\n"
        b"2,,Basic,1580003267,\n"
    )
    assert validate_csv(data, ACTIONS, "Actions").row_count == 2


# ---- header errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            b"USER_ID,ITEM_ID,EVENT_TYPE\nu1,i1,click\n",
            'Line 1, column TIMESTAMP: the header has no "TIMESTAMP" column, which the schema requires.',
        ),
        (
            b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,Device\nu1,i1,1,click,phone\n",
            'Line 1, column Device: column "Device" is not in the schema; schema fields are '
            "USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE, EVENT_VALUE, IMPRESSION.",
        ),
        (
            b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,user_id\nu1,i1,1,click,u1\n",
            'Line 1, column user_id: column "user_id" appears more than once; column names must be unique.',
        ),
        (
            b'"USER_ID",ITEM_ID,TIMESTAMP,EVENT_TYPE\nu1,i1,1,click\n',
            "Line 1, column USER_ID: column headers must not be enclosed in quotation marks.",
        ),
        (
            b"USER_ID,,ITEM_ID,TIMESTAMP,EVENT_TYPE\nu1,x,i1,1,click\n",
            "Line 1: column 2 of the header row has no name.",
        ),
        (
            b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n",
            "Line 1: the file has no rows; it has a header but no data.",
        ),
        (
            b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n\n\n",
            "Line 1: the file has no rows; it has a header but no data.",
        ),
        (b"", "Line 1: the file is empty; the first row must be a header row."),
        (b"\xef\xbb\xbf\n", "Line 1: the file is empty; the first row must be a header row."),
        (
            b"\nUSER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n",
            "Line 1: the first row must be a header row naming the columns.",
        ),
    ],
)
def test_header_errors(data: bytes, expected: str) -> None:
    assert csv_error(data) == expected


def test_unknown_column_is_reported_with_its_exact_spelling() -> None:
    message = csv_error(b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE, EVENT_VALUE\nu1,i1,1,click,2\n")
    assert message.startswith('Line 1, column  EVENT_VALUE: column " EVENT_VALUE" is not in the schema')


# ---- value errors -----------------------------------------------------------------------------------------

HEADER = b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE\n"


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (b"u1,i1,abc,click,", 'Line 2, column TIMESTAMP: "abc" is not a valid long.'),
        (b"u1,i1,1.5,click,", 'Line 2, column TIMESTAMP: "1.5" is not a valid long.'),
        (
            b"u1,i1,99999999999999999999,click,",
            'Line 2, column TIMESTAMP: "99999999999999999999" is out of range for long.',
        ),
        (
            b"u1,i1,1596238243000,click,",
            'Line 2, column TIMESTAMP: "1596238243000" looks like a timestamp in milliseconds; '
            "TIMESTAMP must be Unix epoch time in seconds.",
        ),
        (b"u1,i1,,click,", 'Line 2, column TIMESTAMP: empty value, but field "TIMESTAMP" is not nullable.'),
        (b",i1,1,click,", 'Line 2, column USER_ID: empty value, but field "USER_ID" is not nullable.'),
        (b"u1,i1,1,,", 'Line 2, column EVENT_TYPE: empty value, but field "EVENT_TYPE" is not nullable.'),
        (b"u1,i1,1,click,high", 'Line 2, column EVENT_VALUE: "high" is not a valid float.'),
        (b"u1,i1,1,click,nan", 'Line 2, column EVENT_VALUE: "nan" is not a valid float.'),
        (b"u1,i1,1,click,1e39", 'Line 2, column EVENT_VALUE: "1e39" is out of range for float.'),
        (b"u1,i1,1,click", "Line 2, column EVENT_VALUE: expected 5 values as in the header, found 4."),
        (b"u1,i1,1,click,1,extra", "Line 2: expected 5 values as in the header, found 6."),
        (
            b'u1,i1,1,"click\nview",1',
            "Line 2: a record spans several lines; each record must be on a single line.",
        ),
        (b'u1,"i1"x,1,click,1', "Line 2: the row is not valid CSV (',' expected after '\"')."),
        (b"u1,\xff\xfe,1,click,1", "Line 2: the file is not valid UTF-8; save it as UTF-8."),
    ],
)
def test_value_errors(row: bytes, expected: str) -> None:
    assert csv_error(HEADER + row + b"\n") == expected


def test_ids_longer_than_256_characters_are_rejected() -> None:
    long_id = "u" * 257
    message = csv_error(HEADER + f"{long_id},i1,1,click,\n".encode())
    assert message == "Line 2, column USER_ID: value has 257 characters; at most 256 are allowed."
    assert (
        validate_csv(HEADER + f"{'u' * 256},i1,1,click,\n".encode(), INTERACTIONS, "Interactions").row_count
        == 1
    )


def test_impressions_longer_than_1000_characters_are_rejected() -> None:
    impressions = "|".join(["item"] * 201)  # 1004 characters, bars included
    message = csv_error(
        b"USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,IMPRESSION\n" + f"u1,i1,1,click,{impressions}\n".encode()
    )
    assert message == "Line 2, column IMPRESSION: value has 1004 characters; at most 1000 are allowed."


def test_categorical_values_longer_than_1000_characters_are_rejected() -> None:
    genres = "g" * 1001
    message = csv_error(
        f"ITEM_ID,CREATION_TIMESTAMP,PRICE,GENRES\ni1,1,1,{genres}\n".encode(), ITEMS, "Items"
    )
    assert message == "Line 2, column GENRES: value has 1001 characters; at most 1000 are allowed."


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (
            b"i1,1,1,yes,",
            'Line 2, column IN_STOCK: "yes" is not a valid boolean; use lower-case true or false.',
        ),
        (
            b"i1,1,1,True,",
            'Line 2, column IN_STOCK: "True" is not a valid boolean; use lower-case true or false.',
        ),
        (b"i1,1,1,,3000000000", 'Line 2, column RANK: "3000000000" is out of range for int.'),
        (b"i1,1,,,", 'Line 2, column PRICE: empty value, but field "PRICE" is not nullable.'),
        (
            b"i1,1570003267000,1,,",
            'Line 2, column CREATION_TIMESTAMP: "1570003267000" looks like a timestamp in milliseconds; '
            "CREATION_TIMESTAMP must be Unix epoch time in seconds.",
        ),
    ],
)
def test_item_value_errors(row: bytes, expected: str) -> None:
    data = b"ITEM_ID,CREATION_TIMESTAMP,PRICE,IN_STOCK,RANK\n" + row + b"\n"
    assert csv_error(data, ITEMS, "Items") == expected


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (b"a1,11,Basic,1510003267,7", 'Line 2, column VALUE: "11" is outside 1-10, the range for VALUE.'),
        (b"a1,0,Basic,1510003267,7", 'Line 2, column VALUE: "0" is outside 1-10, the range for VALUE.'),
        (
            b"a1,5,Basic,1510003267,31",
            'Line 2, column REPEAT_FREQUENCY: "31" is outside 0-30, the range for REPEAT_FREQUENCY.',
        ),
        (
            b"a1,5,Basic,,7",
            'Line 2, column CREATION_TIMESTAMP: empty value, but field "CREATION_TIMESTAMP" is not nullable.',
        ),
    ],
)
def test_action_value_errors(row: bytes, expected: str) -> None:
    data = b"ACTION_ID,VALUE,MEMBERSHIP_LEVEL,CREATION_TIMESTAMP,REPEAT_FREQUENCY\n" + row + b"\n"
    assert csv_error(data, ACTIONS, "Actions") == expected


def test_line_numbers_count_the_header_and_blank_lines() -> None:
    data = HEADER + b"u1,i1,1,click,\nu2,i2,2,click,\n\nu3,i3,3,click,\nu4,i4,x,click,\n"
    with pytest.raises(CsvValidationError) as caught:
        validate_csv(data, INTERACTIONS, "Interactions")
    assert caught.value.line == 6
    assert caught.value.column == "TIMESTAMP"
    assert caught.value.message == '"x" is not a valid long.'
    assert str(caught.value) == 'Line 6, column TIMESTAMP: "x" is not a valid long.'


def test_line_numbers_with_a_bom_and_crlf() -> None:
    data = (
        b"\xef\xbb\xbf" + HEADER.replace(b"\n", b"\r\n") + b"u1,i1,1,click,\r\nu2,i2,1596238243999,click,\r\n"
    )
    assert csv_error(data).startswith("Line 3, column TIMESTAMP:")


def test_the_first_bad_line_is_reported() -> None:
    data = HEADER + b"u1,i1,bad,click,\nu2,i2,worse,click,\n"
    assert csv_error(data).startswith('Line 2, column TIMESTAMP: "bad"')


def test_error_for_a_column_uses_the_files_spelling() -> None:
    data = b"user_id,item_id,timestamp,event_type\nu1,i1,later,click\n"
    assert csv_error(data) == 'Line 2, column timestamp: "later" is not a valid long.'


def test_unknown_dataset_type_is_rejected() -> None:
    from functions.protocol.errors import InvalidInputException

    with pytest.raises(InvalidInputException):
        validate_csv(GOOD_INTERACTIONS, INTERACTIONS, "Events")


def test_validated_table_row_count() -> None:
    table = ValidatedTable(columns=("A",), rows=[["1"], ["2"]])
    assert table.row_count == 2
    assert table.to_csv_bytes() == b"A\n1\n2\n"
