"""CreateBatchSegmentJob, DescribeBatchSegmentJob, ListBatchSegmentJobs.

A batch segment job ranks users for every line of a JSON Lines input in S3 (an ``itemId`` for
aws-item-affinity, ``itemAttributes`` for aws-item-attribute-affinity) with one solution version and
writes ``<input file name>.out`` under the output path (``functions.workflows.batch_segment``).

The request is checked up front, as Personalize documents it: the solution version must be ACTIVE and
trained with a USER_SEGMENTATION recipe ("If you used a USER_SEGMENTATION recipe, you can create batch
segment jobs"), a filter must belong to the version's dataset group and filter users (``INCLUDE/EXCLUDE
UserID``: user segment filters use Users fields and Interactions.EVENT_TYPE), ``numResults`` is at most
the documented 5 million users per segment, and both paths must be S3 URIs.
"""

from __future__ import annotations

from typing import Any

from functions.filters import FilterExpressionError, parse_filter
from functions.protocol.errors import InvalidInputException
from functions.resources import batch_jobs
from functions.resources import lifecycle as lc
from functions.resources.operations_base import Operations
from functions.resources.recipes import recipe_catalogue
from functions.stores import workflows

USER_SEGMENTATION = "USER_SEGMENTATION"
# NumBatchResults: "The maximum number of users per segment is 5 million."
MAX_SEGMENT_USERS = 5_000_000
# Personalize states no default for a segment's size; Tailor uses the batch inference default.
DEFAULT_SEGMENT_USERS = 25


def recipe_type_of(version: dict[str, Any]) -> str | None:
    recipe = next((r for r in recipe_catalogue() if r["recipeArn"] == version.get("recipeArn")), None)
    return str(recipe["recipeType"]) if recipe else None


def refuse_segmentation(version: dict[str, Any], what: str) -> None:
    """USER_SEGMENTATION models make user segments only: they cannot back campaigns or item batches."""
    if recipe_type_of(version) == USER_SEGMENTATION:
        raise InvalidInputException(
            f"Solution version {version['solutionVersionArn']} was trained with the USER_SEGMENTATION recipe "
            f"{version.get('recipeArn')}, which can't be used for {what}; get its user segments with "
            "CreateBatchSegmentJob."
        )


class BatchSegmentOperations(Operations):
    def create_batch_segment_job(
        self,
        jobName: str,
        solutionVersionArn: str,
        jobInput: dict[str, Any],
        jobOutput: dict[str, Any],
        roleArn: str,
        filterArn: str | None = None,
        numResults: int | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        version = batch_jobs.active_version(self.store, solutionVersionArn, "a batch segment job")
        if recipe_type_of(version) != USER_SEGMENTATION:
            raise InvalidInputException(
                f"Solution version {solutionVersionArn} was trained with {version.get('recipeArn')}; batch "
                "segment jobs need a solution version trained with a USER_SEGMENTATION recipe "
                "(aws-item-affinity or aws-item-attribute-affinity). Use CreateBatchInferenceJob for "
                "item recommendations."
            )
        if filterArn:
            flt = batch_jobs.filter_of_group(self.store, filterArn, version)
            try:
                target = parse_filter(flt["filterExpression"]).target
            except FilterExpressionError as exc:  # stored filters were valid when created
                raise InvalidInputException(f"Filter {filterArn} is invalid: {exc}") from exc
            if target != "UserID":
                raise InvalidInputException(
                    f"Filter {filterArn} filters {target}s; a batch segment job needs a user segment filter "
                    "(INCLUDE or EXCLUDE UserID WHERE ..., e.g. Users.AGE > 30 or "
                    'Interactions.EVENT_TYPE IN ("click")).'
                )
        batch_jobs.check_request(numResults, MAX_SEGMENT_USERS, jobInput, jobOutput)
        batch_jobs.enforce_pending(
            self.store, lc.BATCH_SEGMENT_JOB, "PENDING_BATCH_SEGMENT_JOBS", "batch segment job"
        )
        arn = self._arn(f"batch-segment-job/{jobName}")
        stamp = lc.now()
        doc: dict[str, Any] = {
            "jobName": jobName,
            "batchSegmentJobArn": arn,
            "solutionVersionArn": solutionVersionArn,
            "filterArn": filterArn,
            "numResults": numResults or DEFAULT_SEGMENT_USERS,
            "jobInput": jobInput,
            "jobOutput": jobOutput,
            "roleArn": roleArn,
            "status": lc.CREATE_PENDING,
            "creationDateTime": stamp,
            "lastUpdatedDateTime": stamp,
        }
        batch_jobs.store_and_start(
            self.store, lc.BATCH_SEGMENT_JOB, workflows.BATCH_SEGMENT, arn, doc, tags, "batch segment job"
        )
        return {"batchSegmentJobArn": arn}

    def describe_batch_segment_job(self, batchSegmentJobArn: str) -> dict[str, Any]:
        doc = self.store.get(batchSegmentJobArn, lc.BATCH_SEGMENT_JOB)
        return {"batchSegmentJob": batch_jobs.public(doc)}

    def list_batch_segment_jobs(
        self,
        solutionVersionArn: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
    ) -> dict[str, Any]:
        return batch_jobs.list_page(
            self,
            lc.BATCH_SEGMENT_JOB,
            "batchSegmentJobs",
            "BatchSegmentJobSummary",
            solutionVersionArn,
            nextToken,
            maxResults,
        )
