"""Where each resource's data lives in the artifacts bucket: one naming scheme for every writer."""

from __future__ import annotations


def _scoped(kind: str, resource_arn: str) -> str:
    # arn:aws:personalize:REGION:ACCOUNT:RESOURCE -> kind/ACCOUNT/REGION/RESOURCE/
    _, _, _, region, account, resource = resource_arn.split(":", 5)
    return f"{kind}/{account}/{region}/{resource}/"


def model_prefix(solution_version_arn: str) -> str:
    return _scoped("models", solution_version_arn)


def dataset_prefix(dataset_arn: str) -> str:
    return _scoped("datasets", dataset_arn)


def event_archive_prefix(dataset_group_arn: str) -> str:
    return _scoped("event-archive", dataset_group_arn)


def overlay_prefix(dataset_arn: str) -> str:
    return _scoped("overlays", dataset_arn)


def batch_prefix(job_arn: str) -> str:
    return _scoped("batch", job_arn)
