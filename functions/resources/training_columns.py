"""solutionConfig.trainingDataConfig: the dataset columns a solution trains on.

``excludedDatasetColumns`` and ``includedDatasetColumns`` map a dataset type (INTERACTIONS, ITEMS, USERS,
ACTIONS, ACTION_INTERACTIONS; any case) to column names. A solution trains on every column of a dataset,
only the included ones when a list is given, and never the excluded ones; the columns a dataset cannot do
without (its ids and TIMESTAMP) are always kept. Filters still read every column: Personalize's example
is a column kept for filtering only. The workflow applies the choice when it writes the training job's
channels (``functions/workflows/run.py``), to the CSV files and the schema.json beside them.

CreateSolution refuses a key that is not a dataset type, a column the group's dataset of that type does
not have, a required column in the excluded list and a column both included and excluded.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

from functions.protocol.errors import InvalidInputException
from functions.resources.schema_rules import ParsedSchema

# The columns each dataset type cannot train without.
REQUIRED = {
    "INTERACTIONS": ("USER_ID", "ITEM_ID", "TIMESTAMP"),
    "ITEMS": ("ITEM_ID",),
    "USERS": ("USER_ID",),
    "ACTIONS": ("ACTION_ID",),
    "ACTION_INTERACTIONS": ("USER_ID", "ACTION_ID", "TIMESTAMP"),
}
LISTS = ("excludedDatasetColumns", "includedDatasetColumns")


def _lists(config: Mapping[str, Any] | None, name: str) -> dict[str, set[str]]:
    """One of the two maps with upper-cased keys and columns."""
    raw = ((config or {}).get("trainingDataConfig") or {}).get(name) or {}
    return {str(key).upper(): {str(c).upper() for c in columns} for key, columns in raw.items()}


def check_training_data_config(
    config: Mapping[str, Any] | None, schemas: Mapping[str, ParsedSchema], owner: str = "solutionConfig"
) -> None:
    """``schemas``: the group's datasets' schemas by upper-case dataset type; ``owner`` names the
    structure ``config`` is (solutionConfig, or a recommender's recommenderConfig) in messages."""
    lists = {name: _lists(config, name) for name in LISTS}
    for name, by_type in lists.items():
        for dataset_type, columns in by_type.items():
            where = f"{owner}.trainingDataConfig.{name}"
            if dataset_type not in REQUIRED:
                raise InvalidInputException(
                    f"{where}: '{dataset_type}' is not a dataset type; use one of {', '.join(REQUIRED)}."
                )
            schema = schemas.get(dataset_type)
            if schema is not None:
                fields = {f.upper() for f in schema.field_names}
                unknown = sorted(columns - fields)
                if unknown:
                    raise InvalidInputException(
                        f"{where}: the {dataset_type} dataset has no column {unknown[0]}; its columns are "
                        f"{', '.join(schema.field_names)}."
                    )
            required = sorted(columns & set(REQUIRED[dataset_type])) if name == LISTS[0] else []
            if required:
                raise InvalidInputException(
                    f"{where}: {required[0]} is required to train on the {dataset_type} dataset and can't be "
                    "excluded."
                )
    excluded, included = lists[LISTS[0]], lists[LISTS[1]]
    for dataset_type in excluded.keys() & included.keys():
        both = sorted(excluded[dataset_type] & included[dataset_type])
        if both:
            raise InvalidInputException(
                f"{owner}.trainingDataConfig: {both[0]} of the {dataset_type} dataset is both "
                "included and excluded."
            )


def kept(config: Mapping[str, Any] | None, dataset_type: str, columns: list[str]) -> list[str]:
    """The columns (in their order) a solution with ``config`` trains on."""
    key = dataset_type.upper()
    excluded = _lists(config, LISTS[0]).get(key, set())
    included = _lists(config, LISTS[1]).get(key)
    required = set(REQUIRED.get(key, ()))
    return [
        c
        for c in columns
        if c.upper() not in excluded and (included is None or c.upper() in included | required)
    ]


def filter_csv(data: bytes, keep: list[str], dialect: type[csv.Dialect]) -> bytes:
    """The CSV with only the ``keep`` columns (matched case-insensitively against its header)."""
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig")), dialect=dialect)
    header = next(reader, [])
    wanted = {c.upper() for c in keep}
    indices = [i for i, column in enumerate(header) if column.upper() in wanted]
    if len(indices) == len(header):
        return data
    out = io.StringIO()
    writer = csv.writer(out, dialect=dialect)
    for row in [header, *reader]:
        writer.writerow([row[i] for i in indices])
    return out.getvalue().encode("utf-8")


def filter_schema(schema_text: str, keep: list[str]) -> str:
    """The Avro schema document with only the ``keep`` fields."""
    document = json.loads(schema_text)
    wanted = {c.upper() for c in keep}
    document["fields"] = [f for f in document.get("fields", []) if str(f.get("name", "")).upper() in wanted]
    return json.dumps(document)
