"""Service quotas, with Amazon Personalize's defaults; each can be lowered or raised by environment.

``TAILOR_QUOTA_<NAME>`` overrides a quota, which is how operators size a deployment and how tests
reach ``LimitExceededException`` without creating hundreds of resources.
"""

from __future__ import annotations

import os

from functions.protocol.errors import LimitExceededException

DEFAULTS = {
    "DATASET_GROUPS": 500,
    "SCHEMAS": 500,
    "SOLUTIONS_PER_DATASET_GROUP": 500,
    "CAMPAIGNS": 500,
    "ACTIVE_SOLUTION_VERSION_CREATIONS": 20,
    "PENDING_IMPORT_JOBS_PER_DATASET": 5,
    "FILTERS_PER_DATASET_GROUP": 10,
    "PENDING_BATCH_INFERENCE_JOBS": 5,
    "PENDING_BATCH_SEGMENT_JOBS": 5,
    "RECOMMENDERS": 15,  # "You can create at most 15 recommenders per region."
}


def limit(name: str) -> int:
    return int(os.environ.get(f"TAILOR_QUOTA_{name}", DEFAULTS[name]))


def enforce(name: str, current: int, what: str) -> None:
    allowed = limit(name)
    if current >= allowed:
        raise LimitExceededException(
            f"You have reached the limit of {allowed} {what}. Delete unused resources or request a "
            f"higher quota (TAILOR_QUOTA_{name})."
        )
