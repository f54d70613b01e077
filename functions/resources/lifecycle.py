"""Statuses and resource type names shared by the control plane, workflows and runtime."""

from __future__ import annotations

import time
from typing import Any

ACTIVE = "ACTIVE"
CREATE_PENDING = "CREATE PENDING"
CREATE_IN_PROGRESS = "CREATE IN_PROGRESS"
CREATE_FAILED = "CREATE FAILED"
CREATE_STOPPING = "CREATE STOPPING"
CREATE_STOPPED = "CREATE STOPPED"
UPDATE_PENDING = "UPDATE PENDING"
UPDATE_IN_PROGRESS = "UPDATE IN_PROGRESS"
UPDATE_FAILED = "UPDATE FAILED"

UNFINISHED = frozenset({CREATE_PENDING, CREATE_IN_PROGRESS, CREATE_STOPPING})
UPDATING = frozenset({UPDATE_PENDING, UPDATE_IN_PROGRESS})  # a latest...Update still under way

# A stopped recommender (StopRecommender) keeps its model but serves nothing until StartRecommender.
INACTIVE = "INACTIVE"

# Data deletion jobs have statuses of their own: PENDING > IN_PROGRESS > COMPLETED -or- FAILED.
PENDING = "PENDING"
IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
FAILED = "FAILED"

# Resource types as stored in the resource table (also the ARN resource prefixes).
DATASET_GROUP = "dataset-group"
SCHEMA = "schema"
DATASET = "dataset"
DATASET_IMPORT_JOB = "dataset-import-job"
SOLUTION = "solution"
SOLUTION_VERSION = "solution-version"
CAMPAIGN = "campaign"
EVENT_TRACKER = "event-tracker"
FILTER = "filter"
BATCH_INFERENCE_JOB = "batch-inference-job"
BATCH_SEGMENT_JOB = "batch-segment-job"
DATASET_EXPORT_JOB = "dataset-export-job"
DATA_DELETION_JOB = "data-deletion-job"
RECOMMENDER = "recommender"
METRIC_ATTRIBUTION = "metric-attribution"
TRACKING_ID = "tracking-id"  # index from a PutEvents trackingId to its event tracker


def now() -> float:
    return time.time()


def set_status(doc: dict[str, Any], status: str, failure_reason: str | None = None) -> dict[str, Any]:
    doc["status"] = status
    doc["lastUpdatedDateTime"] = now()
    if failure_reason is not None:
        doc["failureReason"] = failure_reason[:1000]
    return doc
