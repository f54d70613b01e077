"""Resource documents (dataset groups, schemas, ... campaigns) in one DynamoDB table.

Each item is keyed by the resource ARN and holds the API-shaped document as JSON, so what Describe
returns is exactly what was stored. Writes that change an existing document are guarded by a
version number: two workers cannot both move a resource out of the same status.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from functions.config import settings
from functions.protocol.errors import ResourceAlreadyExistsException, ResourceNotFoundException
from functions.stores.clients import client


class ConcurrentUpdate(Exception):
    """The document changed between read and write more often than we retry."""


def _is_conditional_failure(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class ResourceStore:
    def __init__(self, table: str | None = None) -> None:
        self.table = table or settings().resources_table

    def _ddb(self) -> Any:
        return client("dynamodb")

    def create(self, arn: str, resource_type: str, doc: dict[str, Any], parent_arn: str = "") -> None:
        item = {
            "arn": {"S": arn},
            "resourceType": {"S": resource_type},
            "parentArn": {"S": parent_arn or "-"},
            "createdAt": {"N": repr(time.time())},
            "version": {"N": "1"},
            "doc": {"S": json.dumps(doc)},
        }
        try:
            self._ddb().put_item(
                TableName=self.table, Item=item, ConditionExpression="attribute_not_exists(arn)"
            )
        except ClientError as err:
            if _is_conditional_failure(err):
                raise ResourceAlreadyExistsException(f"The resource {arn} already exists.") from err
            raise

    def _get_item(self, arn: str) -> dict[str, Any] | None:
        result = self._ddb().get_item(TableName=self.table, Key={"arn": {"S": arn}}, ConsistentRead=True)
        return result.get("Item")

    def find(self, arn: str) -> dict[str, Any] | None:
        item = self._get_item(arn)
        return json.loads(item["doc"]["S"]) if item else None

    def get(self, arn: str, resource_type: str) -> dict[str, Any]:
        item = self._get_item(arn)
        if item is None or item["resourceType"]["S"] != resource_type:
            raise ResourceNotFoundException(f"Could not find resource: {arn}")
        return json.loads(item["doc"]["S"])

    def update(
        self, arn: str, change: Callable[[dict[str, Any]], dict[str, Any] | None], attempts: int = 5
    ) -> dict[str, Any]:
        """Apply ``change`` to the stored document atomically; ``change`` may raise to refuse."""
        for _ in range(attempts):
            item = self._get_item(arn)
            if item is None:
                raise ResourceNotFoundException(f"Could not find resource: {arn}")
            doc = json.loads(item["doc"]["S"])
            new_doc = change(doc) or doc
            version = int(item["version"]["N"])
            try:
                self._ddb().update_item(
                    TableName=self.table,
                    Key={"arn": {"S": arn}},
                    UpdateExpression="SET #d = :doc, #v = :next",
                    ConditionExpression="#v = :version",
                    ExpressionAttributeNames={"#d": "doc", "#v": "version"},
                    ExpressionAttributeValues={
                        ":doc": {"S": json.dumps(new_doc)},
                        ":next": {"N": str(version + 1)},
                        ":version": {"N": str(version)},
                    },
                )
                return new_doc
            except ClientError as err:
                if not _is_conditional_failure(err):
                    raise
        raise ConcurrentUpdate(f"{arn} kept changing while it was being updated")

    def delete(self, arn: str) -> None:
        self._ddb().delete_item(TableName=self.table, Key={"arn": {"S": arn}})

    def list(self, resource_type: str, parent_arn: str | None = None) -> list[dict[str, Any]]:
        """All documents of a type (optionally under one parent), oldest first."""
        expression = "resourceType = :t"
        values: dict[str, Any] = {":t": {"S": resource_type}}
        if parent_arn is not None:
            expression += " AND parentArn = :p"
            values[":p"] = {"S": parent_arn}
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": expression,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        while True:
            page = self._ddb().scan(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        items.sort(key=lambda i: (float(i["createdAt"]["N"]), i["arn"]["S"]))
        return [json.loads(i["doc"]["S"]) for i in items]
