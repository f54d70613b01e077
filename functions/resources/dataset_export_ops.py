"""CreateDatasetExportJob, DescribeDatasetExportJob, ListDatasetExportJobs.

A dataset export job writes a dataset's data to the caller's S3 path as CSV
(``functions.workflows.dataset_export``): ``BULK`` the imported data, ``PUT`` what PutEvents, PutItems,
PutUsers, PutActions and PutActionInteractions added, ``ALL`` both; ``PUT`` is the documented default.
"""

from __future__ import annotations

from typing import Any

from functions.resources import batch_jobs
from functions.resources import lifecycle as lc
from functions.resources.operations_base import Operations
from functions.stores import workflows

DEFAULT_INGESTION_MODE = "PUT"


class DatasetExportOperations(Operations):
    def create_dataset_export_job(
        self,
        jobName: str,
        datasetArn: str,
        roleArn: str,
        jobOutput: dict[str, Any],
        ingestionMode: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        self.store.get(datasetArn, lc.DATASET)
        batch_jobs.check_s3_path("jobOutput.s3DataDestination.path", jobOutput["s3DataDestination"]["path"])
        arn = self._arn(f"dataset-export-job/{jobName}")
        stamp = lc.now()
        doc: dict[str, Any] = {
            "jobName": jobName,
            "datasetExportJobArn": arn,
            "datasetArn": datasetArn,
            "ingestionMode": ingestionMode or DEFAULT_INGESTION_MODE,
            "roleArn": roleArn,
            "jobOutput": jobOutput,
            "status": lc.CREATE_PENDING,
            "creationDateTime": stamp,
            "lastUpdatedDateTime": stamp,
        }
        batch_jobs.store_and_start(
            self.store, lc.DATASET_EXPORT_JOB, workflows.DATASET_EXPORT, arn, doc, tags, "dataset export job"
        )
        return {"datasetExportJobArn": arn}

    def describe_dataset_export_job(self, datasetExportJobArn: str) -> dict[str, Any]:
        doc = self.store.get(datasetExportJobArn, lc.DATASET_EXPORT_JOB)
        return {"datasetExportJob": batch_jobs.public(doc)}

    def list_dataset_export_jobs(
        self, datasetArn: str | None = None, nextToken: str | None = None, maxResults: int | None = None
    ) -> dict[str, Any]:
        return self._list_page(
            lc.DATASET_EXPORT_JOB,
            "datasetExportJobs",
            "DatasetExportJobSummary",
            nextToken,
            maxResults,
            where=lambda d: not datasetArn or d["datasetArn"] == datasetArn,
            scope=datasetArn or "",
        )
