"""CreateDataDeletionJob, DescribeDataDeletionJob, ListDataDeletionJobs.

A data deletion job removes the users listed in a CSV file (one USER_ID column) in S3 from a dataset
group (``functions.workflows.data_deletion``). Its statuses are its own: PENDING > IN_PROGRESS >
COMPLETED -or- FAILED, and ``numDeleted`` counts the records it removed.
"""

from __future__ import annotations

from typing import Any

from functions.resources import batch_jobs
from functions.resources import lifecycle as lc
from functions.resources.operations_base import Operations
from functions.stores import workflows


class DataDeletionOperations(Operations):
    def create_data_deletion_job(
        self,
        jobName: str,
        datasetGroupArn: str,
        dataSource: dict[str, Any],
        roleArn: str,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        self.store.get(datasetGroupArn, lc.DATASET_GROUP)
        batch_jobs.check_s3_path("dataSource.dataLocation", dataSource.get("dataLocation") or "")
        arn = self._arn(f"data-deletion-job/{jobName}")
        stamp = lc.now()
        doc: dict[str, Any] = {
            "jobName": jobName,
            "dataDeletionJobArn": arn,
            "datasetGroupArn": datasetGroupArn,
            "dataSource": dataSource,
            "roleArn": roleArn,
            "status": lc.PENDING,
            "creationDateTime": stamp,
            "lastUpdatedDateTime": stamp,
        }
        batch_jobs.store_and_start(
            self.store, lc.DATA_DELETION_JOB, workflows.DATA_DELETION, arn, doc, tags, "data deletion job"
        )
        return {"dataDeletionJobArn": arn}

    def describe_data_deletion_job(self, dataDeletionJobArn: str) -> dict[str, Any]:
        doc = self.store.get(dataDeletionJobArn, lc.DATA_DELETION_JOB)
        return {"dataDeletionJob": batch_jobs.public(doc)}

    def list_data_deletion_jobs(
        self, datasetGroupArn: str | None = None, nextToken: str | None = None, maxResults: int | None = None
    ) -> dict[str, Any]:
        return self._list_page(
            lc.DATA_DELETION_JOB,
            "dataDeletionJobs",
            "DataDeletionJobSummary",
            nextToken,
            maxResults,
            where=lambda d: not datasetGroupArn or d["datasetGroupArn"] == datasetGroupArn,
            scope=datasetGroupArn or "",
        )
