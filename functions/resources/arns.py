"""Amazon Personalize ARNs and the ids inside them."""

from __future__ import annotations

import secrets

from functions.protocol.errors import InvalidInputException

RECIPE_PREFIX = "arn:aws:personalize:::recipe/"


def arn(region: str, account_id: str, resource: str) -> str:
    return f"arn:aws:personalize:{region}:{account_id}:{resource}"


def short_id() -> str:
    """The 8 hex digits Personalize uses for solution versions and event trackers."""
    return secrets.token_hex(4)


def resource_part(resource_arn: str) -> str:
    """``dataset-group/movies`` from ``arn:aws:personalize:us-east-1:1:dataset-group/movies``."""
    parts = resource_arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "personalize":
        raise InvalidInputException(f"{resource_arn} is not a valid Amazon Personalize ARN.")
    return parts[5]


def dataset_arn(dataset_group_arn: str, dataset_type: str) -> str:
    """A dataset's ARN follows from its group and type, so finding it needs no search."""
    prefix, _, group_name = dataset_group_arn.rpartition(":dataset-group/")
    return f"{prefix}:dataset/{group_name}/{dataset_type.upper()}"


def solution_of_version(version_arn: str) -> str:
    """A solution version's ARN is its solution's ARN plus ``/`` and the version's id."""
    return version_arn.rsplit("/", 1)[0]


def name_of(resource_arn: str) -> str:
    return resource_part(resource_arn).split("/")[1]


def recipe_name(recipe_arn: str) -> str | None:
    return recipe_arn[len(RECIPE_PREFIX) :] if recipe_arn.startswith(RECIPE_PREFIX) else None
