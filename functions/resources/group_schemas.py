"""A dataset group's schemas, parsed: what CreateFilter, CreateSolution and CreateRecommender check their
input against."""

from __future__ import annotations

from functions.resources import arns
from functions.resources import lifecycle as lc
from functions.resources.schema_rules import ParsedSchema, parse_schema
from functions.stores.resources import ResourceStore

DATASET_TYPES = ("INTERACTIONS", "ITEMS", "USERS", "ACTIONS", "ACTION_INTERACTIONS")


def group_schemas(
    store: ResourceStore, dataset_group_arn: str, dataset_types: tuple[str, ...] = DATASET_TYPES
) -> dict[str, ParsedSchema]:
    """Upper-case dataset type -> parsed schema, for each of ``dataset_types`` the group has; a dataset's
    ARN follows from its group and type, so each costs one read and no listing."""
    schemas: dict[str, ParsedSchema] = {}
    for dataset_type in dataset_types:
        doc = store.find(arns.dataset_arn(dataset_group_arn, dataset_type))
        if doc is not None:
            schemas[dataset_type] = parse_schema(store.get(doc["schemaArn"], lc.SCHEMA)["schema"])
    return schemas
