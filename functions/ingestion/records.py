"""Checking PutItems / PutUsers / PutActions records against their dataset's schema.

Personalize's ``properties`` is a JSON object whose keys are the camelCase spellings of the schema's
fields (``numberOfRatings`` for ``NUMBER_OF_RATINGS``) and whose values may be JSON numbers or the same
value as a string (the developer guide's own example sends ``{"numberOfRatings": "12"}``). A record is
rejected as a whole, before anything is sent to the stream, so a request either lands completely or not
at all. The stored record uses the schema's spelling of each field, values as strings (as an imported
CSV holds them), so readers treat imported and streamed records alike.
"""

from __future__ import annotations

import json
import math
from typing import Any

from functions.protocol.errors import InvalidInputException
from functions.resources.schema_rules import FieldSpec, ParsedSchema

_NUMERIC = {"int", "long", "float", "double"}


def fold(name: str) -> str:
    """A field or property name as Personalize matches them: NUMBER_OF_RATINGS and numberOfRatings alike."""
    return name.replace("_", "").lower()


def property_names(schema: ParsedSchema, id_field: str) -> dict[str, FieldSpec]:
    """Folded property name -> schema field, without the id field (it travels outside ``properties``)."""
    return {fold(spec.name): spec for spec in schema.fields if spec.name.upper() != id_field}


def _value(spec: FieldSpec, raw: Any, where: str) -> str | None:
    if raw is None:
        if not spec.nullable:
            raise InvalidInputException(f"{where}: {spec.name} is not nullable in the schema.")
        return None
    if spec.base_type == "string":
        if isinstance(raw, bool | dict | list):
            raise InvalidInputException(f"{where}: {spec.name} must be a string.")
        return str(raw)
    if spec.base_type == "boolean":
        if isinstance(raw, bool):
            return "true" if raw else "false"
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower()
        raise InvalidInputException(f"{where}: {spec.name} must be a boolean, got {json.dumps(raw)}.")
    if spec.base_type in _NUMERIC:
        try:
            number = float(raw) if not isinstance(raw, bool) else math.nan
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise InvalidInputException(f"{where}: {spec.name} must be a number, got {json.dumps(raw)}.")
        if spec.base_type in ("int", "long"):
            if number != int(number):
                raise InvalidInputException(
                    f"{where}: {spec.name} must be an integer, got {json.dumps(raw)}."
                )
            return str(int(number))
        return repr(number)
    raise InvalidInputException(f"{where}: {spec.name} has an unsupported type {spec.base_type}.")


def check_record(
    schema: ParsedSchema, id_field: str, properties: str | None, where: str
) -> dict[str, str | None]:
    """The record's fields in schema spelling; InvalidInputException naming the first bad property."""
    fields = property_names(schema, id_field)
    values: dict[str, Any] = {}
    if properties is not None:
        try:
            values = json.loads(properties)
        except json.JSONDecodeError as exc:
            raise InvalidInputException(f"{where}.properties is not valid JSON: {exc.msg}.") from exc
        if not isinstance(values, dict):
            raise InvalidInputException(f"{where}.properties must be a JSON object.")
    record: dict[str, str | None] = {}
    for key, raw in values.items():
        spec = fields.get(fold(key))
        if spec is None:
            known = ", ".join(sorted(_camel(s.name) for s in fields.values())) or "none"
            raise InvalidInputException(
                f"{where}.properties: '{key}' is not a field of the dataset's schema. Fields: {known}."
            )
        record[spec.name] = _value(spec, raw, f"{where}.properties")
    for spec in fields.values():
        if spec.name not in record and not spec.nullable:
            raise InvalidInputException(
                f"{where}.properties: '{_camel(spec.name)}' is required ({spec.name} is not nullable)."
            )
    return record


def _camel(name: str) -> str:
    head, *rest = name.lower().split("_")
    return head + "".join(part.title() for part in rest)
