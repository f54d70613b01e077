"""The checks and bookkeeping every batch job shares (batch inference and batch segment jobs).

Both take one ACTIVE solution version, an optional filter of the version's dataset group, S3 input and
output paths and a pending-job quota, and are stored as ``CREATE PENDING`` before their workflow starts.
"""

from __future__ import annotations

from typing import Any

from functions.protocol.errors import InvalidInputException, ResourceAlreadyExistsException
from functions.resources import lifecycle as lc
from functions.resources import quotas
from functions.stores import workflows
from functions.stores.blobs import split_s3_uri
from functions.stores.resources import ResourceStore


def active_version(store: ResourceStore, version_arn: str, noun: str) -> dict[str, Any]:
    version = store.get(version_arn, lc.SOLUTION_VERSION)
    if version["status"] != lc.ACTIVE:
        raise InvalidInputException(
            f"Solution version {version_arn} is {version['status']}; {noun} needs an ACTIVE solution version."
        )
    return version


def filter_of_group(store: ResourceStore, filter_arn: str, version: dict[str, Any]) -> dict[str, Any]:
    flt = store.get(filter_arn, lc.FILTER)
    if flt["datasetGroupArn"] != version["datasetGroupArn"]:
        raise InvalidInputException(
            f"Filter {filter_arn} belongs to dataset group {flt['datasetGroupArn']}, "
            f"not to the solution version's dataset group {version['datasetGroupArn']}."
        )
    return flt


def check_request(num_results: int | None, maximum: int, job_input: dict, job_output: dict) -> None:
    """numResults within [1, maximum]; both paths S3 URIs."""
    if num_results is not None and not 1 <= num_results <= maximum:
        raise InvalidInputException(f"numResults must be between 1 and {maximum}, got {num_results}.")
    check_s3_path("jobInput.s3DataSource.path", job_input["s3DataSource"]["path"])
    check_s3_path("jobOutput.s3DataDestination.path", job_output["s3DataDestination"]["path"])


def check_s3_path(where: str, uri: str) -> None:
    """InvalidInputException naming ``where`` unless ``uri`` is an s3://bucket[/key] URI."""
    try:
        split_s3_uri(uri)
    except ValueError as exc:
        raise InvalidInputException(f"{where}: {exc}.") from exc


def enforce_pending(store: ResourceStore, kind: str, quota: str, noun: str) -> None:
    pending = [j for j in store.list(kind) if j["status"] in (lc.CREATE_PENDING, lc.CREATE_IN_PROGRESS)]
    quotas.enforce(quota, len(pending), f"pending or running {noun}s")


def store_and_start(
    store: ResourceStore,
    kind: str,
    workflow_kind: str,
    arn: str,
    doc: dict[str, Any],
    tags: list[dict[str, str]] | None,
    noun: str,
) -> None:
    """Store the job (``None`` fields dropped) as CREATE PENDING and start its workflow."""
    doc = {k: v for k, v in doc.items() if v is not None}
    if tags:
        doc["tags"] = tags
    try:
        store.create(arn, kind, doc)
    except ResourceAlreadyExistsException as exc:
        raise ResourceAlreadyExistsException(f"A {noun} named {doc['jobName']} already exists.") from exc
    workflows.starter().start(workflow_kind, arn)


def public(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if not k.startswith("tailor") and k != "tags"}


def list_page(
    ops: Any,
    kind: str,
    key: str,
    shape: str,
    version_arn: str | None,
    next_token: str | None,
    limit: int | None,
) -> dict[str, Any]:
    """One ListBatch*Jobs page: the ``kind`` jobs of ``version_arn`` (all without it), newest first."""
    return ops._list_page(  # type: ignore[no-any-return]
        kind,
        key,
        shape,
        next_token,
        limit,
        where=lambda d: not version_arn or d["solutionVersionArn"] == version_arn,
        scope=version_arn or "",
    )
