"""CreateFilter, DescribeFilter, ListFilters, DeleteFilter.

A filter's expression is parsed and checked against the dataset group's schemas when it is created, so
a bad expression is an ``InvalidInputException`` naming the offending token, never a filter that fails
later. Checking is all the creation does (the runtime evaluates filters over live data), so a filter
is ACTIVE as soon as CreateFilter returns.
"""

from __future__ import annotations

from typing import Any

from functions.filters import FilterExpressionError, check_against_schemas, field_types, parse_filter
from functions.protocol.errors import InvalidInputException, ResourceAlreadyExistsException
from functions.resources import lifecycle as lc
from functions.resources import quotas
from functions.resources.group_schemas import group_schemas
from functions.resources.operations_base import Operations

# The datasets a filter expression can name.
FILTERABLE = ("ITEMS", "USERS", "INTERACTIONS", "ACTIONS", "ACTION_INTERACTIONS")


class FilterOperations(Operations):
    def create_filter(
        self,
        name: str,
        datasetGroupArn: str,
        filterExpression: str,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        self.store.get(datasetGroupArn, lc.DATASET_GROUP)
        try:
            expression = parse_filter(filterExpression)
            schemas = {
                dataset_type: field_types(schema.fields)
                for dataset_type, schema in group_schemas(self.store, datasetGroupArn, FILTERABLE).items()
            }
            check_against_schemas(
                expression,
                schemas.get("ITEMS"),
                schemas.get("USERS"),
                schemas.get("INTERACTIONS"),
                schemas.get("ACTIONS"),
                schemas.get("ACTION_INTERACTIONS"),
            )
        except FilterExpressionError as exc:
            raise InvalidInputException(str(exc)) from exc
        in_group = [f for f in self.store.list(lc.FILTER) if f["datasetGroupArn"] == datasetGroupArn]
        quotas.enforce("FILTERS_PER_DATASET_GROUP", len(in_group), "filters in this dataset group")
        arn = self._arn(f"filter/{name}")
        stamp = lc.now()
        doc = {
            "name": name,
            "filterArn": arn,
            "datasetGroupArn": datasetGroupArn,
            "filterExpression": filterExpression,
            "status": lc.ACTIVE,
            "creationDateTime": stamp,
            "lastUpdatedDateTime": stamp,
        }
        if tags:
            doc["tags"] = tags
        try:
            self.store.create(arn, lc.FILTER, doc, parent_arn=datasetGroupArn)
        except ResourceAlreadyExistsException as exc:
            raise ResourceAlreadyExistsException(f"A filter named {name} already exists: {arn}.") from exc
        return {"filterArn": arn}

    def describe_filter(self, filterArn: str) -> dict[str, Any]:
        doc = self.store.get(filterArn, lc.FILTER)
        doc.pop("tags", None)
        return {"filter": doc}

    def list_filters(
        self, datasetGroupArn: str | None = None, nextToken: str | None = None, maxResults: int | None = None
    ) -> dict[str, Any]:
        return self._list_page(  # type: ignore[attr-defined]
            lc.FILTER,
            "Filters",
            "FilterSummary",
            nextToken,
            maxResults,
            where=lambda d: not datasetGroupArn or d["datasetGroupArn"] == datasetGroupArn,
            scope=datasetGroupArn or "",
        )

    def delete_filter(self, filterArn: str) -> None:
        self.store.get(filterArn, lc.FILTER)
        self.store.delete(filterArn)
