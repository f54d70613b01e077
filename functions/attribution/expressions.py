"""A metric attribution's metric expressions: ``SAMPLECOUNT()`` or ``SUM(<DatasetType>.<COLUMN>)``.

The Developer Guide's two functions. ``SUM`` takes a numeric column of the Interactions dataset (for example
``EVENT_VALUE``) or of the Items dataset (for example ``PRICE``), whose metadata must already be imported;
``SAMPLECOUNT`` counts events. Parsed once here, so CreateMetricAttribution refuses what reporting could
not compute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from functions.resources.schema_rules import ParsedSchema

NUMERIC = frozenset({"int", "long", "float", "double"})
# Expression dataset names as the guide writes them -> dataset types as the store keys them.
DATASETS = {"INTERACTIONS": "INTERACTIONS", "ITEMS": "ITEMS"}
_SUM = re.compile(r"^\s*SUM\s*\(\s*([A-Za-z_]+)\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$", re.IGNORECASE)
_SAMPLECOUNT = re.compile(r"^\s*SAMPLECOUNT\s*\(\s*\)\s*$", re.IGNORECASE)


class ExpressionError(ValueError):
    """An expression that names no function, dataset or column reporting can compute."""


@dataclass(frozen=True)
class MetricSpec:
    name: str
    event_type: str
    function: str  # "SUM" | "SAMPLECOUNT", as reports name it in lower case
    dataset_type: str | None = None  # "INTERACTIONS" | "ITEMS" for SUM
    column: str | None = None


def parse_metric(metric: dict[str, str]) -> MetricSpec:
    """A MetricAttribute's spec; ExpressionError names what is wrong."""
    expression = metric["expression"]
    if _SAMPLECOUNT.match(expression):
        return MetricSpec(metric["metricName"], metric["eventType"], "SAMPLECOUNT")
    found = _SUM.match(expression)
    if not found:
        raise ExpressionError(
            f"Metric {metric['metricName']}: expression {expression!r} is not SAMPLECOUNT() or "
            "SUM(DatasetType.COLUMN_NAME), for example SUM(Items.PRICE) or SUM(Interactions.EVENT_VALUE)."
        )
    dataset, column = found.group(1), found.group(2)
    if dataset.upper() not in DATASETS:
        raise ExpressionError(
            f"Metric {metric['metricName']}: SUM() takes a column of the Interactions or Items dataset, "
            f"not {dataset}."
        )
    return MetricSpec(metric["metricName"], metric["eventType"], "SUM", DATASETS[dataset.upper()], column)


def check_metric(spec: MetricSpec, schemas: dict[str, ParsedSchema], group_arn: str) -> None:
    """ExpressionError when a SUM's dataset is missing or its column is not a numeric field of it."""
    if spec.function == "SAMPLECOUNT" or spec.dataset_type is None or spec.column is None:
        return
    label = spec.dataset_type.title()
    schema = schemas.get(spec.dataset_type)
    if schema is None:
        raise ExpressionError(
            f"Metric {spec.name}: dataset group {group_arn} has no {label} dataset yet; create it and "
            f"import its data before summing {label}.{spec.column}."
        )
    field = schema.field(spec.column)
    if field is None:
        raise ExpressionError(
            f"Metric {spec.name}: the {label} schema has no column {spec.column} (it has "
            f"{', '.join(schema.field_names)})."
        )
    if field.base_type not in NUMERIC:
        raise ExpressionError(
            f"Metric {spec.name}: SUM() needs a numeric column, and {label}.{field.name} is a "
            f"{field.base_type}."
        )
