"""UpdateDataset: replace an Items or Users dataset's schema with one that adds columns.

The rules are the Developer Guide's ("Replacing a dataset's schema to add new columns"): only Items and
Users datasets; the new schema keeps every field of the old one with the same type and attributes and
may add fields, each of which must accept null; it must still fit the dataset type. Existing solutions
do not train on the new columns until their configuration says so: UpdateDataset adds them to each
solution's ``trainingDataConfig.excludedDatasetColumns`` (a solution that lists
``includedDatasetColumns`` for the type already leaves them out). Imported rows keep their files; the
new columns are empty for them until the next import.

Nothing needs rewriting, so the update completes in the call: ``latestDatasetUpdate`` is ACTIVE at once.
A dataset with an import still running is ``ResourceInUseException``, as the new schema would race it.
"""

from __future__ import annotations

from typing import Any

from functions.protocol.errors import InvalidInputException, ResourceInUseException
from functions.resources import lifecycle as lc
from functions.resources.schema_rules import FieldSpec, ParsedSchema, check_for_dataset_type, parse_schema
from functions.stores.resources import ResourceStore

REPLACEABLE = ("ITEMS", "USERS")


def check_replacement(old: ParsedSchema, new: ParsedSchema) -> list[FieldSpec]:
    """The fields ``new`` adds to ``old``; InvalidInputException when it drops or changes one."""
    by_name = {spec.name.upper(): spec for spec in new.fields}
    for spec in old.fields:
        replacement = by_name.get(spec.name.upper())
        if replacement is None:
            raise InvalidInputException(
                f"The new schema drops field {spec.name}; a replacement schema must keep every field of the "
                "current one."
            )
        if replacement != spec:
            raise InvalidInputException(
                f"The new schema changes field {spec.name}; a replacement schema must keep each field's type "
                "and attributes (add a field with a new name instead)."
            )
    kept = {spec.name.upper() for spec in old.fields}
    added = [spec for spec in new.fields if spec.name.upper() not in kept]
    for spec in added:
        if not spec.nullable:
            raise InvalidInputException(
                f'New field {spec.name} must accept null (e.g. "type": ["null", "{spec.base_type}"]): '
                "the rows already imported have no value for it."
            )
    return added


def unfinished_imports(store: ResourceStore, dataset_arn: str) -> list[dict[str, Any]]:
    """The dataset's import jobs that are pending or running."""
    return [
        job
        for job in store.list(lc.DATASET_IMPORT_JOB)
        if job["datasetArn"] == dataset_arn and job["status"] in lc.UNFINISHED
    ]


def update_dataset(store: ResourceStore, dataset_arn: str, schema_arn: str) -> dict[str, Any]:
    dataset = store.get(dataset_arn, lc.DATASET)
    dataset_type = str(dataset["datasetType"]).upper()
    if dataset_type not in REPLACEABLE:
        raise InvalidInputException(
            f"Dataset {dataset_arn} is a {dataset['datasetType']} dataset; only the schema of an Items or "
            "Users dataset can be replaced."
        )
    new = parse_schema(store.get(schema_arn, lc.SCHEMA)["schema"])
    group = store.get(dataset["datasetGroupArn"], lc.DATASET_GROUP)
    check_for_dataset_type(new, str(dataset["datasetType"]), group.get("domain"))
    old = parse_schema(store.get(dataset["schemaArn"], lc.SCHEMA)["schema"])
    added = [spec.name for spec in check_replacement(old, new)]
    running = unfinished_imports(store, dataset_arn)
    if running:
        raise ResourceInUseException(
            f"Dataset {dataset_arn} has an import in progress ({running[0]['datasetImportJobArn']}); replace "
            "its schema when the import has finished."
        )
    stamp = lc.now()

    def replace(doc: dict[str, Any]) -> dict[str, Any]:
        doc["schemaArn"] = schema_arn
        doc["lastUpdatedDateTime"] = stamp
        doc["latestDatasetUpdate"] = {
            "schemaArn": schema_arn,
            "status": lc.ACTIVE,
            "creationDateTime": stamp,
            "lastUpdatedDateTime": stamp,
        }
        return doc

    store.update(dataset_arn, replace)
    if added:
        for solution in store.list(lc.SOLUTION):
            if solution["datasetGroupArn"] == dataset["datasetGroupArn"]:
                store.update(solution["solutionArn"], lambda doc: _exclude(doc, dataset_type, added))
    return {"datasetArn": dataset_arn}


def _exclude(solution: dict[str, Any], dataset_type: str, columns: list[str]) -> dict[str, Any]:
    config = solution.setdefault("solutionConfig", {})
    training = config.setdefault("trainingDataConfig", {})
    included = {k.upper(): v for k, v in (training.get("includedDatasetColumns") or {}).items()}
    if dataset_type in included:
        return solution  # only the listed columns train: the new ones are already left out
    excluded = training.setdefault("excludedDatasetColumns", {})
    key = next((k for k in excluded if k.upper() == dataset_type), dataset_type)
    current = list(excluded.get(key, []))
    excluded[key] = current + [c for c in columns if c.upper() not in {x.upper() for x in current}]
    return solution
