"""CreateBatchInferenceJob, DescribeBatchInferenceJob, ListBatchInferenceJobs.

A job scores every line of a JSON Lines input in S3 with one solution version and writes
``<input file name>.out`` under the output path (``functions.workflows.batch_inference``). The
request is checked up front (the version is ACTIVE, the filter belongs to its dataset group, the
paths are S3 URIs) so that a job only fails later for reasons it could not know at creation.
"""

from __future__ import annotations

from typing import Any

from functions.filters import FilterExpressionError, check_target
from functions.protocol.errors import InvalidInputException
from functions.resources import batch_jobs
from functions.resources import lifecycle as lc
from functions.resources.arns import recipe_name
from functions.resources.batch_segment_ops import refuse_segmentation
from functions.resources.operations_base import Operations
from functions.stores import workflows

# The documented range of a batch job's numResults (the API model states none).
MAX_BATCH_RESULTS = 500
# "You can't get batch recommendations with the Trending-Now or Next-Best-Action recipes."
NOT_BATCHED = ("aws-trending-now", "aws-next-best-action")
EXPLORATION_KEYS = ("explorationWeight", "explorationItemAgeCutOff")


def check_exploration(config: dict[str, str] | None, where: str) -> None:
    """Personalize's itemExplorationConfig: explorationWeight in [0, 1], a positive age cut-off."""
    for key, value in (config or {}).items():
        if key not in EXPLORATION_KEYS:
            raise InvalidInputException(
                f"{where}.itemExplorationConfig: unknown key '{key}'; "
                f"valid keys: {', '.join(EXPLORATION_KEYS)}."
            )
        try:
            number = float(value)
        except ValueError:
            raise InvalidInputException(
                f"{where}.itemExplorationConfig.{key} must be a number, got '{value}'."
            ) from None
        if key == "explorationWeight" and not 0.0 <= number <= 1.0:
            raise InvalidInputException(
                f"{where}.itemExplorationConfig.explorationWeight must be between 0 and 1."
            )
        if key == "explorationItemAgeCutOff" and number <= 0:
            raise InvalidInputException(
                f"{where}.itemExplorationConfig.explorationItemAgeCutOff must be positive."
            )


class BatchInferenceOperations(Operations):
    def create_batch_inference_job(
        self,
        jobName: str,
        solutionVersionArn: str,
        jobInput: dict[str, Any],
        jobOutput: dict[str, Any],
        roleArn: str,
        filterArn: str | None = None,
        numResults: int | None = None,
        batchInferenceJobConfig: dict[str, Any] | None = None,
        batchInferenceJobMode: str | None = None,
        themeGenerationConfig: dict[str, Any] | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        if themeGenerationConfig or batchInferenceJobMode == "THEME_GENERATION":
            raise InvalidInputException(
                "Theme generation needs a generative model, which Tailor does not provide; use "
                "batchInferenceJobMode DEFAULT."
            )
        version = batch_jobs.active_version(self.store, solutionVersionArn, "a batch inference job")
        refuse_segmentation(version, "a batch inference job")
        recipe = recipe_name(version.get("recipeArn") or "")
        if recipe in NOT_BATCHED:
            raise InvalidInputException(
                f"Solution version {solutionVersionArn} was trained with {recipe}, and batch inference jobs "
                f"can't use {' or '.join(NOT_BATCHED)}; get its recommendations from a campaign."
            )
        if filterArn:
            flt = batch_jobs.filter_of_group(self.store, filterArn, version)
            try:
                check_target(flt["filterExpression"], "ItemID", filterArn, "a batch inference job")
            except FilterExpressionError as exc:
                raise InvalidInputException(str(exc)) from exc
        batch_jobs.check_request(numResults, MAX_BATCH_RESULTS, jobInput, jobOutput)
        config = batchInferenceJobConfig or {}
        check_exploration(config.get("itemExplorationConfig"), "batchInferenceJobConfig")
        batch_jobs.enforce_pending(
            self.store, lc.BATCH_INFERENCE_JOB, "PENDING_BATCH_INFERENCE_JOBS", "batch inference job"
        )
        arn = self._arn(f"batch-inference-job/{jobName}")
        stamp = lc.now()
        doc: dict[str, Any] = {
            "jobName": jobName,
            "batchInferenceJobArn": arn,
            "solutionVersionArn": solutionVersionArn,
            "filterArn": filterArn,
            "numResults": numResults or 25,
            "jobInput": jobInput,
            "jobOutput": jobOutput,
            "batchInferenceJobConfig": config,
            "roleArn": roleArn,
            "batchInferenceJobMode": batchInferenceJobMode or "DEFAULT",
            "status": lc.CREATE_PENDING,
            "creationDateTime": stamp,
            "lastUpdatedDateTime": stamp,
        }
        batch_jobs.store_and_start(
            self.store,
            lc.BATCH_INFERENCE_JOB,
            workflows.BATCH_INFERENCE,
            arn,
            doc,
            tags,
            "batch inference job",
        )
        return {"batchInferenceJobArn": arn}

    def describe_batch_inference_job(self, batchInferenceJobArn: str) -> dict[str, Any]:
        doc = self.store.get(batchInferenceJobArn, lc.BATCH_INFERENCE_JOB)
        return {"batchInferenceJob": batch_jobs.public(doc)}

    def list_batch_inference_jobs(
        self,
        solutionVersionArn: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
    ) -> dict[str, Any]:
        return batch_jobs.list_page(
            self,
            lc.BATCH_INFERENCE_JOB,
            "batchInferenceJobs",
            "BatchInferenceJobSummary",
            solutionVersionArn,
            nextToken,
            maxResults,
        )
