"""CreateBatchInferenceJob, DescribeBatchInferenceJob, ListBatchInferenceJobs.

A job scores every line of a JSON Lines input in S3 with one solution version and writes
``<input file name>.out`` under the output path (``functions.workflows.batch_inference``). The
request is checked up front (the version is ACTIVE, the filter belongs to its dataset group, the
paths are S3 URIs) so that a job only fails later for reasons it could not know at creation.
"""

from __future__ import annotations

from typing import Any

from functions.protocol.errors import (
    InvalidInputException,
    ResourceAlreadyExistsException,
)
from functions.resources import lifecycle as lc
from functions.resources import quotas
from functions.resources.batch_segment_ops import refuse_segmentation
from functions.stores import workflows
from functions.stores.blobs import split_s3_uri
from functions.stores.resources import ResourceStore

# The documented range of a batch job's numResults (the API model states none).
MAX_BATCH_RESULTS = 500
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


class BatchInferenceOperations:
    store: ResourceStore

    def _arn(self, resource: str) -> str:  # provided by ControlPlane
        raise NotImplementedError

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
        version = self.store.get(solutionVersionArn, lc.SOLUTION_VERSION)
        if version["status"] != lc.ACTIVE:
            raise InvalidInputException(
                f"Solution version {solutionVersionArn} is {version['status']}; a batch inference job needs "
                "an ACTIVE solution version."
            )
        refuse_segmentation(version, "a batch inference job")
        if filterArn:
            flt = self.store.get(filterArn, lc.FILTER)
            if flt["datasetGroupArn"] != version["datasetGroupArn"]:
                raise InvalidInputException(
                    f"Filter {filterArn} belongs to dataset group {flt['datasetGroupArn']}, "
                    f"not to the solution version's dataset group {version['datasetGroupArn']}."
                )
        if numResults is not None and not 1 <= numResults <= MAX_BATCH_RESULTS:
            raise InvalidInputException(
                f"numResults must be between 1 and {MAX_BATCH_RESULTS}, got {numResults}."
            )
        for where, uri in (
            ("jobInput.s3DataSource.path", jobInput["s3DataSource"]["path"]),
            ("jobOutput.s3DataDestination.path", jobOutput["s3DataDestination"]["path"]),
        ):
            try:
                split_s3_uri(uri)
            except ValueError as exc:
                raise InvalidInputException(f"{where}: {exc}.") from exc
        config = batchInferenceJobConfig or {}
        check_exploration(config.get("itemExplorationConfig"), "batchInferenceJobConfig")
        pending = [
            j
            for j in self.store.list(lc.BATCH_INFERENCE_JOB)
            if j["status"] in (lc.CREATE_PENDING, lc.CREATE_IN_PROGRESS)
        ]
        quotas.enforce(
            "PENDING_BATCH_INFERENCE_JOBS", len(pending), "pending or running batch inference jobs"
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
        doc = {k: v for k, v in doc.items() if v is not None}
        if tags:
            doc["tags"] = tags
        try:
            self.store.create(arn, lc.BATCH_INFERENCE_JOB, doc)
        except ResourceAlreadyExistsException as exc:
            raise ResourceAlreadyExistsException(
                f"A batch inference job named {jobName} already exists."
            ) from exc
        workflows.starter().start(workflows.BATCH_INFERENCE, arn)
        return {"batchInferenceJobArn": arn}

    def describe_batch_inference_job(self, batchInferenceJobArn: str) -> dict[str, Any]:
        doc = self.store.get(batchInferenceJobArn, lc.BATCH_INFERENCE_JOB)
        return {
            "batchInferenceJob": {k: v for k, v in doc.items() if not k.startswith("tailor") and k != "tags"}
        }

    def list_batch_inference_jobs(
        self,
        solutionVersionArn: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
    ) -> dict[str, Any]:
        return self._list_page(  # type: ignore[attr-defined]
            lc.BATCH_INFERENCE_JOB,
            "batchInferenceJobs",
            "BatchInferenceJobSummary",
            nextToken,
            maxResults,
            where=lambda d: not solutionVersionArn or d["solutionVersionArn"] == solutionVersionArn,
            scope=solutionVersionArn or "",
        )
