"""Amazon Personalize schema rules: what CreateSchema and CreateDataset accept.

Sources (Amazon Personalize developer guide):
- "Creating schema JSON files for Amazon Personalize schemas" (how-it-works-dataset-schema): Avro record,
  flat, no complex types, unique alphanumeric field names, supported types float/double/int/long/string/
  boolean/null, ``categorical`` / ``textual`` attributes on strings only, textual only in Items schemas.
- "Custom datasets and schemas" (custom-datasets-and-schemas): required fields and reserved keywords per
  dataset type with their types; metadata limits (Users 25, Items 100, Actions 10); reserved string fields
  can't be categorical.
- "Preparing item interaction data for training" (interactions-datasets): at most 5 optional metadata
  columns; EVENT_TYPE required for domain recommenders.
- "Preparing item metadata for training" (items-datasets): at most 1 textual field; missing creation
  timestamps are inferred.
- "ECOMMERCE datasets and schemas" / "VIDEO_ON_DEMAND datasets and schemas": domain required fields and
  reserved keywords; "Preparing training data" (datasets): Actions datasets can't exist in a domain group.
- botocore's CreateDataset model: datasetType is one of Interactions, Items, Users, Actions,
  Action_Interactions, case-insensitive.

Reserved keywords are not banned names: the guide defines them as optional fields that, when present, must
have the documented type, nullability and categorical/textual flag, which is what is checked. EVENT_VALUE
is held to ``float`` (optionally null) as every table in the guide lists it, so ``double`` is refused.

Documented rules not enforced here:
- "A schema has a name key whose value must match the dataset type": the guide itself breaks it (its Action
  interactions example is named ``ActionInteractions``, and an earlier VIDEO_ON_DEMAND default Users schema
  was named ``Interactions``), so the name is not compared with the dataset type.
- The Action interactions schema has no documented metadata-field limit, so none is applied.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import fastavro
from fastavro.schema import SchemaParseException, UnknownType

from functions.protocol.errors import InvalidInputException

PRIMITIVE_TYPES: frozenset[str] = frozenset({"string", "int", "long", "float", "double", "boolean"})
NUMERIC_TYPES: frozenset[str] = frozenset({"int", "long", "float", "double"})

DATASET_TYPES: tuple[str, ...] = ("Interactions", "Items", "Users", "Actions", "Action_Interactions")
DOMAINS: tuple[str, ...] = ("ECOMMERCE", "VIDEO_ON_DEMAND")

# Avro's own name grammar; Personalize adds that names are unique once non-alphanumerics are ignored.
_AVRO_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_AVRO_FULLNAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
# Every schema in the guide says "version": "1.0"; no other value is documented.
_SCHEMA_VERSION = "1.0"
_AVRO_ERRORS = (SchemaParseException, UnknownType, ValueError, TypeError, KeyError)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    base_type: str
    nullable: bool
    categorical: bool = False
    textual: bool = False


@dataclass(frozen=True)
class ParsedSchema:
    name: str
    fields: tuple[FieldSpec, ...]
    namespace: str | None = None

    def field(self, name: str) -> FieldSpec | None:
        wanted = name.upper()
        for spec in self.fields:
            if spec.name.upper() == wanted:
                return spec
        return None

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)


def parse_schema(schema_text: str) -> ParsedSchema:
    """Parse a CreateSchema ``schema`` string into a ParsedSchema, or raise InvalidInputException."""
    try:
        document = json.loads(schema_text)
    except (TypeError, ValueError) as exc:
        raise InvalidInputException(f"Invalid schema: the schema is not valid JSON ({exc}).") from exc
    if not isinstance(document, dict) or document.get("type") != "record":
        raise InvalidInputException('Invalid schema: the schema must be an Avro record ("type": "record").')
    name = document.get("name")
    if not isinstance(name, str) or not _AVRO_FULLNAME.match(name):
        raise InvalidInputException(
            'Invalid schema: the record needs a "name" made of letters, digits and underscores.'
        )
    namespace = document.get("namespace")
    if namespace is not None and not (isinstance(namespace, str) and _AVRO_FULLNAME.match(namespace)):
        raise InvalidInputException('Invalid schema: "namespace" must be a dotted Avro name.')
    if "version" in document and document["version"] != _SCHEMA_VERSION:
        raise InvalidInputException(
            f'Invalid schema: "version" must be "{_SCHEMA_VERSION}", got {json.dumps(document["version"])}.'
        )
    raw_fields = document.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise InvalidInputException('Invalid schema: the record needs a non-empty "fields" list.')

    # Personalize rules first, so a bad field is reported by name rather than by fastavro's wording.
    specs = tuple(_parse_field(raw, index) for index, raw in enumerate(raw_fields))
    _check_unique_names(specs)

    try:
        fastavro.parse_schema(document)
    except _AVRO_ERRORS as exc:
        raise InvalidInputException(f"Invalid schema: not a valid Avro schema ({exc}).") from exc
    return ParsedSchema(name=name, fields=specs, namespace=namespace)


def _parse_field(raw: Any, index: int) -> FieldSpec:
    if not isinstance(raw, dict):
        raise InvalidInputException(f"Invalid schema: field #{index + 1} must be a JSON object.")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInputException(f'Invalid schema: field #{index + 1} has no "name".')
    if not _AVRO_NAME.match(name):
        raise InvalidInputException(
            f'Invalid schema: field "{name}" has an invalid name; use letters, digits and underscores, '
            "not starting with a digit."
        )
    if "type" not in raw:
        raise InvalidInputException(f'Invalid schema: field "{name}" has no "type".')
    base_type, nullable = _field_type(name, raw["type"])
    _check_avro_field(name, raw)
    categorical = _flag(name, raw, "categorical")
    textual = _flag(name, raw, "textual")
    if categorical and base_type != "string":
        raise InvalidInputException(
            f'Invalid schema: field "{name}" of type "{base_type}" cannot be categorical; '
            "only string fields can be categorical."
        )
    if textual and base_type != "string":
        raise InvalidInputException(
            f'Invalid schema: field "{name}" of type "{base_type}" cannot be textual; '
            "only string fields can be textual."
        )
    if categorical and textual:
        raise InvalidInputException(f'Invalid schema: field "{name}" cannot be both categorical and textual.')
    return FieldSpec(
        name=name, base_type=base_type, nullable=nullable, categorical=categorical, textual=textual
    )


def _check_avro_field(name: str, raw: dict[str, Any]) -> None:
    # fastavro's messages (e.g. a default that doesn't match the type) don't say which field; parsing the
    # field alone lets the error name it.
    try:
        fastavro.parse_schema({"type": "record", "name": "Field", "fields": [raw]})
    except _AVRO_ERRORS as exc:
        raise InvalidInputException(f'Invalid schema: field "{name}" is not valid Avro ({exc}).') from exc


def _field_type(name: str, declared: Any) -> tuple[str, bool]:
    if isinstance(declared, list):
        members = [_primitive_name(name, member) for member in declared]
        non_null = [member for member in members if member != "null"]
        if len(members) != 2 or len(non_null) != 1:
            raise InvalidInputException(
                f'Invalid schema: field "{name}" has union type {json.dumps(declared)}; a union must be one '
                'supported type together with "null".'
            )
        return non_null[0], True
    base_type = _primitive_name(name, declared)
    if base_type == "null":
        raise InvalidInputException(
            f'Invalid schema: field "{name}" cannot be only "null"; add a data type, e.g. ["null", "string"].'
        )
    return base_type, False


def _primitive_name(name: str, declared: Any) -> str:
    # {"type": "string"} is Avro's long form of "string"; any other key (logicalType, items, fields...)
    # makes it a complex type, which Personalize doesn't support.
    if isinstance(declared, dict) and set(declared) == {"type"}:
        declared = declared["type"]
    if isinstance(declared, str) and (declared in PRIMITIVE_TYPES or declared == "null"):
        return declared
    shown = json.dumps(declared) if not isinstance(declared, str) else f'"{declared}"'
    raise InvalidInputException(
        f'Invalid schema: field "{name}" has unsupported type {shown}; supported types are '
        f'{", ".join(sorted(PRIMITIVE_TYPES))} and unions of one of them with "null" '
        "(no records, arrays, maps, enums, fixed or bytes)."
    )


def _flag(name: str, raw: dict[str, Any], attribute: str) -> bool:
    value = raw.get(attribute, False)
    if not isinstance(value, bool):
        raise InvalidInputException(
            f'Invalid schema: field "{name}" has "{attribute}": {json.dumps(value)}; '
            "it must be true or false."
        )
    return value


def _check_unique_names(specs: tuple[FieldSpec, ...]) -> None:
    # The guide's example: GENRES_FIELD_1 and GENRESFIELD1 collide, so compare without underscores and case.
    seen: dict[str, str] = {}
    for spec in specs:
        key = re.sub(r"[^A-Za-z0-9]", "", spec.name).upper()
        if key in seen:
            raise InvalidInputException(
                f'Invalid schema: field "{spec.name}" clashes with field "{seen[key]}"; field names must be '
                "unique ignoring case and non-alphanumeric characters."
            )
        seen[key] = spec.name


# ---- dataset types --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRule:
    """What a required field or reserved keyword must look like.

    ``kind`` is the string flavour the docs demand: ``"plain"`` (can't be categorical or textual),
    ``"categorical"`` or ``"textual"``; None for non-string fields.
    """

    types: frozenset[str]
    nullable: bool
    kind: str | None = None


@dataclass(frozen=True)
class DatasetRules:
    required: dict[str, FieldRule]
    reserved: dict[str, FieldRule]
    max_metadata: int | None
    # Kinds of field that satisfy "at least 1 metadata field"; empty when the type needs none.
    metadata_kinds: frozenset[str]
    textual_allowed: bool


_ID = FieldRule(frozenset({"string"}), nullable=False, kind="plain")
_TIMESTAMP = FieldRule(frozenset({"long"}), nullable=False)
_EVENT_TYPE = FieldRule(frozenset({"string"}), nullable=False, kind="plain")
_OPTIONAL_STRING = FieldRule(frozenset({"string"}), nullable=True, kind="plain")
_OPTIONAL_CATEGORICAL = FieldRule(frozenset({"string"}), nullable=True, kind="categorical")
_OPTIONAL_TEXTUAL = FieldRule(frozenset({"string"}), nullable=True, kind="textual")
_OPTIONAL_FLOAT = FieldRule(frozenset({"float"}), nullable=True)
_OPTIONAL_LONG = FieldRule(frozenset({"long"}), nullable=True)
# The tables list CREATION_TIMESTAMP as plain long, but items-datasets says missing creation timestamps are
# inferred from interactions, which needs a null-able column.
_CREATION_TIMESTAMP = FieldRule(frozenset({"long"}), nullable=True)

_INTERACTION_RESERVED = {
    "EVENT_VALUE": _OPTIONAL_FLOAT,
    "IMPRESSION": _OPTIONAL_STRING,
    "RECOMMENDATION_ID": _OPTIONAL_STRING,
    "EVENT_ATTRIBUTION_SOURCE": _OPTIONAL_STRING,
}
_METADATA_USERS = frozenset({"categorical", "numeric"})
_METADATA_ITEMS = frozenset({"categorical", "textual", "numeric"})

_CUSTOM_RULES: dict[str, DatasetRules] = {
    "Interactions": DatasetRules(
        required={"USER_ID": _ID, "ITEM_ID": _ID, "TIMESTAMP": _TIMESTAMP},
        reserved={"EVENT_TYPE": _EVENT_TYPE, **_INTERACTION_RESERVED},
        max_metadata=5,
        metadata_kinds=frozenset(),
        textual_allowed=False,
    ),
    "Users": DatasetRules(
        required={"USER_ID": _ID},
        reserved={},
        max_metadata=25,
        metadata_kinds=_METADATA_USERS,
        textual_allowed=False,
    ),
    "Items": DatasetRules(
        required={"ITEM_ID": _ID},
        reserved={"CREATION_TIMESTAMP": _CREATION_TIMESTAMP},
        max_metadata=100,
        metadata_kinds=_METADATA_ITEMS,
        textual_allowed=True,
    ),
    "Actions": DatasetRules(
        required={"ACTION_ID": _ID},
        # The requirements table calls the expiry EXPIRATION_TIMESTAMP and the keyword list calls it
        # ACTION_EXPIRATION_TIMESTAMP; both are held to the documented type.
        reserved={
            "CREATION_TIMESTAMP": _CREATION_TIMESTAMP,
            "VALUE": _OPTIONAL_LONG,
            "TYPE": _OPTIONAL_STRING,
            "EXPIRATION_TIMESTAMP": _OPTIONAL_LONG,
            "ACTION_EXPIRATION_TIMESTAMP": _OPTIONAL_LONG,
            "REPEAT_FREQUENCY": _OPTIONAL_LONG,
        },
        max_metadata=10,
        metadata_kinds=_METADATA_USERS,
        textual_allowed=False,
    ),
    "Action_Interactions": DatasetRules(
        required={"USER_ID": _ID, "ACTION_ID": _ID, "EVENT_TYPE": _EVENT_TYPE, "TIMESTAMP": _TIMESTAMP},
        reserved={"IMPRESSION": _OPTIONAL_STRING, "RECOMMENDATION_ID": _OPTIONAL_STRING},
        max_metadata=None,
        metadata_kinds=frozenset(),
        textual_allowed=False,
    ),
}

_DOMAIN_INTERACTIONS = DatasetRules(
    required={"USER_ID": _ID, "ITEM_ID": _ID, "TIMESTAMP": _TIMESTAMP, "EVENT_TYPE": _EVENT_TYPE},
    reserved=dict(_INTERACTION_RESERVED),
    max_metadata=5,
    metadata_kinds=frozenset(),
    textual_allowed=False,
)

_DOMAIN_RULES: dict[str, dict[str, DatasetRules]] = {
    "ECOMMERCE": {
        "Interactions": _DOMAIN_INTERACTIONS,
        "Users": _CUSTOM_RULES["Users"],
        "Items": DatasetRules(
            required={
                "ITEM_ID": _ID,
                "PRICE": FieldRule(frozenset({"float"}), nullable=False),
                "CATEGORY_L1": FieldRule(frozenset({"string"}), nullable=False, kind="categorical"),
            },
            reserved={
                "CATEGORY_L2": _OPTIONAL_CATEGORICAL,
                "CATEGORY_L3": _OPTIONAL_CATEGORICAL,
                "PRODUCT_DESCRIPTION": _OPTIONAL_TEXTUAL,
                "CREATION_TIMESTAMP": _CREATION_TIMESTAMP,
                "AGE_GROUP": _OPTIONAL_CATEGORICAL,
                "ADULT": _OPTIONAL_CATEGORICAL,
                "GENDER": _OPTIONAL_CATEGORICAL,
            },
            max_metadata=100,
            metadata_kinds=frozenset(),
            textual_allowed=True,
        ),
    },
    "VIDEO_ON_DEMAND": {
        "Interactions": _DOMAIN_INTERACTIONS,
        "Users": DatasetRules(
            required={"USER_ID": _ID},
            reserved={"SUBSCRIPTION_MODEL": _OPTIONAL_CATEGORICAL},
            max_metadata=25,
            metadata_kinds=_METADATA_USERS,
            textual_allowed=False,
        ),
        "Items": DatasetRules(
            required={
                "ITEM_ID": _ID,
                "CREATION_TIMESTAMP": _TIMESTAMP,
                "GENRES": FieldRule(frozenset({"string"}), nullable=False, kind="categorical"),
            },
            reserved={
                "PRICE": _OPTIONAL_FLOAT,
                "DURATION": _OPTIONAL_FLOAT,
                "GENRE_L2": _OPTIONAL_CATEGORICAL,
                "GENRE_L3": _OPTIONAL_CATEGORICAL,
                "AVERAGE_RATING": _OPTIONAL_FLOAT,
                "PRODUCT_DESCRIPTION": _OPTIONAL_TEXTUAL,
                "CONTENT_OWNER": _OPTIONAL_CATEGORICAL,
                "CONTENT_CLASSIFICATION": _OPTIONAL_CATEGORICAL,
            },
            max_metadata=100,
            metadata_kinds=frozenset(),
            textual_allowed=True,
        ),
    },
}

# Items: "You can add at most 1 textual field" (items-datasets, Unstructured text metadata).
_MAX_TEXTUAL_FIELDS = 1


def normalize_dataset_type(dataset_type: str) -> str:
    """Return the canonical spelling of a CreateDataset ``datasetType`` (case-insensitive)."""
    for known in DATASET_TYPES:
        if isinstance(dataset_type, str) and dataset_type.upper() == known.upper():
            return known
    raise InvalidInputException(
        f'Invalid dataset type "{dataset_type}"; valid dataset types are {", ".join(DATASET_TYPES)}.'
    )


def rules_for(dataset_type: str, domain: str | None = None) -> DatasetRules:
    """The required fields, reserved keywords and limits for a dataset type, custom or in a domain."""
    canonical = normalize_dataset_type(dataset_type)
    if domain is None:
        return _CUSTOM_RULES[canonical]
    if domain not in DOMAINS:
        raise InvalidInputException(f'Invalid domain "{domain}"; valid domains are {", ".join(DOMAINS)}.')
    domain_rules = _DOMAIN_RULES[domain]
    if canonical not in domain_rules:
        raise InvalidInputException(
            f"Invalid dataset type {canonical} for domain {domain}: {canonical} datasets can't be created "
            f"in a Domain dataset group; valid dataset types are {', '.join(domain_rules)}."
        )
    return domain_rules[canonical]


def check_for_dataset_type(schema: ParsedSchema, dataset_type: str, domain: str | None = None) -> None:
    """Raise InvalidInputException unless ``schema`` fits ``dataset_type`` (and ``domain``, if given)."""
    rules = rules_for(dataset_type, domain)
    canonical = normalize_dataset_type(dataset_type)
    label = canonical if domain is None else f"{canonical} ({domain} domain)"

    for name, rule in rules.required.items():
        spec = schema.field(name)
        if spec is None:
            raise InvalidInputException(
                f'Invalid schema for dataset type {label}: required field "{name}" is missing.'
            )
        _check_rule(spec, rule, label)
    for name, rule in rules.reserved.items():
        spec = schema.field(name)
        if spec is not None:
            _check_rule(spec, rule, label)

    keywords = {name.upper() for name in (*rules.required, *rules.reserved)}
    metadata = [spec for spec in schema.fields if spec.name.upper() not in keywords]
    for spec in schema.fields:
        if spec.textual and not rules.textual_allowed:
            raise InvalidInputException(
                f'Invalid schema for dataset type {label}: field "{spec.name}" cannot be textual; only Items '
                "schemas support textual fields."
            )
    textual = [spec.name for spec in schema.fields if spec.textual]
    if len(textual) > _MAX_TEXTUAL_FIELDS:
        raise InvalidInputException(
            f'Invalid schema for dataset type {label}: field "{textual[_MAX_TEXTUAL_FIELDS]}" is one textual '
            f"field too many; at most {_MAX_TEXTUAL_FIELDS} textual field is allowed."
        )
    if rules.max_metadata is not None and len(metadata) > rules.max_metadata:
        raise InvalidInputException(
            f"Invalid schema for dataset type {label}: {len(metadata)} metadata fields, at most "
            f"{rules.max_metadata} allowed (first field over the limit: "
            f'"{metadata[rules.max_metadata].name}").'
        )
    # Reserved categorical keywords count: the VIDEO_ON_DEMAND default Users schema is USER_ID plus the
    # reserved SUBSCRIPTION_MODEL and nothing else.
    attributes = metadata + [
        spec
        for name, rule in rules.reserved.items()
        if rule.kind in ("categorical", "textual") and (spec := schema.field(name)) is not None
    ]
    if rules.metadata_kinds and not any(_metadata_kind(spec) in rules.metadata_kinds for spec in attributes):
        wanted = " or ".join(_KIND_WORDS[kind] for kind in sorted(rules.metadata_kinds))
        raise InvalidInputException(
            f"Invalid schema for dataset type {label}: at least one metadata field ({wanted}) is required "
            f"besides {', '.join(rules.required)}."
        )


_KIND_WORDS = {
    "categorical": "a categorical string",
    "textual": "a textual string",
    "numeric": "a numerical field",
}


def _metadata_kind(spec: FieldSpec) -> str | None:
    if spec.base_type in NUMERIC_TYPES:
        return "numeric"
    if spec.categorical:
        return "categorical"
    if spec.textual:
        return "textual"
    return None


def _check_rule(spec: FieldSpec, rule: FieldRule, label: str) -> None:
    prefix = f'Invalid schema for dataset type {label}: field "{spec.name}"'
    if spec.base_type not in rule.types:
        allowed = " or ".join(f'"{t}"' for t in sorted(rule.types))
        raise InvalidInputException(f'{prefix} must be of type {allowed}, not "{spec.base_type}".')
    if spec.nullable and not rule.nullable:
        raise InvalidInputException(f'{prefix} cannot be nullable; remove "null" from its type.')
    if rule.kind == "plain" and (spec.categorical or spec.textual):
        attribute = "categorical" if spec.categorical else "textual"
        raise InvalidInputException(f"{prefix} is a reserved string field and cannot be {attribute}.")
    if rule.kind == "categorical" and not spec.categorical:
        raise InvalidInputException(f'{prefix} must be categorical; add "categorical": true.')
    if rule.kind == "textual" and not spec.textual:
        raise InvalidInputException(f'{prefix} must be textual; add "textual": true.')
