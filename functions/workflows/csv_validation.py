"""Validation of a dataset import CSV against its schema, as a dataset import job does it.

Sources (Amazon Personalize developer guide):
- "Preparing training data" (bulk data format guidelines): CSV, header row first and not quoted, unique
  column names, each record on a single line, UTF-8, TIMESTAMP / CREATION_TIMESTAMP in Unix epoch time.
- "Creating schema JSON files": header columns map to schema fields; ``null`` types allow blank values;
  boolean values are lower-case ``true`` / ``false``.
- "Preparing item interaction data" / "item metadata" / "user metadata" / "action metadata" / "action
  interaction data": ids are strings of at most 256 characters; timestamps are Unix epoch *seconds*;
  categorical values (``|``-separated) and impressions at most 1000 characters, including the bars;
  non-categorical strings at most 1000 characters; textual values are truncated at 20,000 characters;
  text escapes ``"`` and ``\\`` with ``\\``; action VALUE is 1-10 and REPEAT_FREQUENCY at most 30 days.

Not enforced:
- the 7,000-character textual limit for Chinese and Japanese (it needs language detection; the 20,000
  limit applies to all text);
- the "distinct event types plus metadata columns <= 10" quota, which concerns training rather than one
  import;
- Action interactions EVENT_TYPE values (the guide spells them Taken / Not Taken / Not taken / NOT_TAKEN);
- "the keywords can't be in your data", whose meaning for values is not spelled out.
A cell longer than the csv module's field limit (131,072 characters) is reported as malformed CSV rather
than truncated.
"""

from __future__ import annotations

import codecs
import csv
import gc
import io
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from functions.resources.schema_rules import FieldSpec, ParsedSchema, normalize_dataset_type


class CsvValidationError(Exception):
    """The first problem found in an import file; ``str()`` is the import job's failureReason."""

    def __init__(self, line: int, column: str, message: str) -> None:
        super().__init__(line, column, message)
        self.line = line
        self.column = column
        self.message = message

    def __str__(self) -> str:
        if self.column:
            return f"Line {self.line}, column {self.column}: {self.message}"
        return f"Line {self.line}: {self.message}"


class PersonalizeCsvDialect(csv.Dialect):
    """RFC 4180 quoting plus the guide's backslash escapes for ``"`` and ``\\`` in text.

    ``to_csv_bytes`` writes with this dialect too; data without backslashes comes out as plain RFC 4180.
    """

    delimiter = ","
    quotechar = '"'
    escapechar = "\\"
    doublequote = True
    skipinitialspace = False
    lineterminator = "\n"
    quoting = csv.QUOTE_MINIMAL
    strict = True


ID_MAX_CHARS = 256
STRING_MAX_CHARS = 1000
TEXTUAL_MAX_CHARS = 20_000
# Seconds since the epoch stay below 10**10 until the year 2286; milliseconds passed it in 1970.
EPOCH_SECONDS_MAX = 10**10

_INT_RANGES = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_FLOAT32_MAX = 3.4028234663852886e38
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$")

_ID_FIELDS = {
    "Interactions": ("USER_ID", "ITEM_ID"),
    "Users": ("USER_ID",),
    "Items": ("ITEM_ID",),
    "Actions": ("ACTION_ID",),
    "Action_Interactions": ("USER_ID", "ACTION_ID"),
}
_TIMESTAMP_FIELDS = {
    "Interactions": ("TIMESTAMP",),
    "Users": (),
    "Items": ("CREATION_TIMESTAMP",),
    "Actions": ("CREATION_TIMESTAMP", "EXPIRATION_TIMESTAMP", "ACTION_EXPIRATION_TIMESTAMP"),
    "Action_Interactions": ("TIMESTAMP",),
}
# Inclusive bounds from actions-datasets ("value can be 1 - 10"; repeat frequency "maximum of 30" days).
_BOUNDED_FIELDS = {"Actions": {"VALUE": (1, 10), "REPEAT_FREQUENCY": (0, 30)}}


class _BadValue(Exception):
    pass


Converter = Callable[[str], str]


class _LineReader(Protocol):
    """What csv.reader returns: rows, plus the physical line count that gives error line numbers."""

    line_num: int

    def __next__(self) -> list[str]: ...


@dataclass(frozen=True)
class ValidatedTable:
    """An import file reordered to the schema: ``columns`` in schema order and spelling, one list per row."""

    columns: tuple[str, ...]
    rows: list[list[str]]

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def to_csv_bytes(self) -> bytes:
        """UTF-8 CSV with a header in the schema's spelling; read it back with PersonalizeCsvDialect."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, dialect=PersonalizeCsvDialect)
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return buffer.getvalue().encode("utf-8")


def validate_csv(data: bytes, schema: ParsedSchema, dataset_type: str) -> ValidatedTable:
    """Check an import file against ``schema``; raise CsvValidationError at the first bad line."""
    canonical = normalize_dataset_type(dataset_type)
    text = _decode(data)
    if not text.strip():
        raise CsvValidationError(1, "", "the file is empty; the first row must be a header row.")

    reader = csv.reader(io.StringIO(text, newline=""), dialect=PersonalizeCsvDialect)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise CsvValidationError(1, "", f"the header row is not valid CSV ({exc}).") from exc
    if reader.line_num != 1:
        raise CsvValidationError(1, "", "the header row must be on a single line.")
    if not header:
        raise CsvValidationError(1, "", "the first row must be a header row naming the columns.")
    _check_header_not_quoted(text, header)
    positions = _map_header(header, schema)
    cells = [
        (position, _converter(spec, canonical)) if position is not None else (0, _absent)
        for spec, position in zip(schema.fields, positions, strict=True)
    ]

    with _gc_paused():
        rows = _convert_rows(reader, header, cells)
    if not rows:
        raise CsvValidationError(1, "", "the file has no rows; it has a header but no data.")
    return ValidatedTable(columns=schema.field_names, rows=rows)


@contextmanager
def _gc_paused() -> Iterator[None]:
    # Every row is a new list, so a million-row file triggers hundreds of full-heap collections that find
    # nothing to free; pausing the collector takes about a third off the validation time.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _convert_rows(
    reader: _LineReader, header: list[str], cells: list[tuple[int, Converter]]
) -> list[list[str]]:
    rows: list[list[str]] = []
    previous_line = 1
    width = len(header)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise CsvValidationError(previous_line + 1, "", f"the row is not valid CSV ({exc}).") from exc
        line = previous_line + 1
        if reader.line_num != line:
            raise CsvValidationError(
                line, "", "a record spans several lines; each record must be on a single line."
            )
        previous_line = line
        if not record:
            continue
        if len(record) != width:
            column = header[len(record)] if len(record) < width else ""
            raise CsvValidationError(
                line, column, f"expected {width} values as in the header, found {len(record)}."
            )
        try:
            rows.append([convert(record[position]) for position, convert in cells])
        except _BadValue:
            raise _locate(line, header, record, cells) from None
    return rows


def _absent(_value: str) -> str:
    return ""


def _locate(line: int, header: list[str], record: list[str], cells: list[tuple[int, Converter]]) -> Exception:
    # Rows are converted in one comprehension for speed; on failure, redo it cell by cell to find the column.
    for position, convert in cells:
        try:
            convert(record[position])
        except _BadValue as exc:
            return CsvValidationError(line, header[position], str(exc))
    return CsvValidationError(line, "", "invalid value.")


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CsvValidationError(line, "", "the file is not valid UTF-8; save it as UTF-8.") from None


def _check_header_not_quoted(text: str, header: list[str]) -> None:
    newline = text.find("\n")
    raw = text[: newline if newline != -1 else len(text)].split("\r", 1)[0]
    if '"' not in raw:
        return
    quoted = next((name for name, part in zip(header, raw.split(","), strict=False) if '"' in part), "")
    raise CsvValidationError(1, quoted, "column headers must not be enclosed in quotation marks.")


def _map_header(header: list[str], schema: ParsedSchema) -> list[int | None]:
    """For each schema field, the index of its column in the file, or None when the column is absent."""
    by_name: dict[str, int] = {}
    for index, column in enumerate(header):
        if not column:
            raise CsvValidationError(1, "", f"column {index + 1} of the header row has no name.")
        key = column.upper()
        if key in by_name:
            raise CsvValidationError(
                1, column, f'column "{column}" appears more than once; column names must be unique.'
            )
        if schema.field(column) is None:
            raise CsvValidationError(
                1,
                column,
                f'column "{column}" is not in the schema; schema fields are {", ".join(schema.field_names)}.',
            )
        by_name[key] = index
    positions: list[int | None] = []
    for spec in schema.fields:
        position = by_name.get(spec.name.upper())
        if position is None and not spec.nullable:
            raise CsvValidationError(
                1, spec.name, f'the header has no "{spec.name}" column, which the schema requires.'
            )
        positions.append(position)
    return positions


def _converter(spec: FieldSpec, dataset_type: str) -> Converter:
    name = spec.name.upper()
    if spec.base_type == "string":
        return _string_converter(spec, name in _ID_FIELDS[dataset_type])
    if spec.base_type in _INT_RANGES:
        is_timestamp = name in _TIMESTAMP_FIELDS[dataset_type]
        bounds = _BOUNDED_FIELDS.get(dataset_type, {}).get(name)
        return _integer_converter(spec, is_timestamp, bounds)
    if spec.base_type in ("float", "double"):
        return _decimal_converter(spec)
    return _boolean_converter(spec)


def _empty(spec: FieldSpec) -> str:
    # Blank is how a CSV spells null; only fields whose type includes "null" may be blank.
    if spec.nullable:
        return ""
    raise _BadValue(f'empty value, but field "{spec.name}" is not nullable.')


def _string_converter(spec: FieldSpec, is_id: bool) -> Converter:
    if spec.textual:

        def truncate(value: str) -> str:
            # Personalize truncates text over the limit instead of failing the import.
            return value[:TEXTUAL_MAX_CHARS] if value else _empty(spec)

        return truncate
    limit = ID_MAX_CHARS if is_id else STRING_MAX_CHARS

    def convert(value: str) -> str:
        if 0 < len(value) <= limit:
            return value
        if not value:
            return _empty(spec)
        raise _BadValue(f"value has {len(value)} characters; at most {limit} are allowed.")

    return convert


def _integer_converter(spec: FieldSpec, is_timestamp: bool, bounds: tuple[int, int] | None) -> Converter:
    low, high = _INT_RANGES[spec.base_type]
    if is_timestamp:
        high = min(high, EPOCH_SECONDS_MAX)
    if bounds is not None:
        low, high = max(low, bounds[0]), min(high, bounds[1])

    def convert(value: str) -> str:
        stripped = value.strip()
        if not (stripped.isascii() and stripped.isdigit()) and not _INTEGER.match(stripped):
            if not value:
                return _empty(spec)
            raise _BadValue(f'"{value}" is not a valid {spec.base_type}.')
        number = int(stripped)
        if low <= number <= high:
            return stripped
        type_low, type_high = _INT_RANGES[spec.base_type]
        if not type_low <= number <= type_high:
            raise _BadValue(f'"{value}" is out of range for {spec.base_type}.')
        if bounds is not None:
            raise _BadValue(f'"{value}" is outside {bounds[0]}-{bounds[1]}, the range for {spec.name}.')
        raise _BadValue(
            f'"{value}" looks like a timestamp in milliseconds; {spec.name} must be Unix epoch time '
            "in seconds."
        )

    return convert


def _decimal_converter(spec: FieldSpec) -> Converter:
    def convert(value: str) -> str:
        stripped = value.strip()
        if not _DECIMAL.match(stripped):
            if not value:
                return _empty(spec)
            raise _BadValue(f'"{value}" is not a valid {spec.base_type}.')
        number = float(stripped)
        if math.isinf(number) or (spec.base_type == "float" and abs(number) > _FLOAT32_MAX):
            raise _BadValue(f'"{value}" is out of range for {spec.base_type}.')
        return stripped

    return convert


def _boolean_converter(spec: FieldSpec) -> Converter:
    def convert(value: str) -> str:
        stripped = value.strip()
        if stripped in ("true", "false"):
            return stripped
        if not value:
            return _empty(spec)
        raise _BadValue(f'"{value}" is not a valid boolean; use lower-case true or false.')

    return convert
