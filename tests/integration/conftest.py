"""The integration session's target: a `tailor serve` it starts (default), or a deployed stack.

``TAILOR_TARGET`` chooses (see ``targets.py``, the one place that builds clients): ``embedded``
starts the local service exactly as a user would; ``localstack`` and ``deployed`` point the very same
tests at a CDK deployment (``make test-localstack``, ``make test-deployed``).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tailor_local.launcher import LaunchError, start_service, stop_service
from tests.fixtures import ASSUME_ROLE_POLICY
from tests.integration.targets import (
    TEST_SERVICE_ENV,
    Target,
    deployed_target,
    embedded_target,
    localstack_target,
    target_kind,
)

# Low enough that the LimitExceededException test reaches it quickly (every target is given it).
QUOTA_DATASET_GROUPS = int(TEST_SERVICE_ENV["TAILOR_QUOTA_DATASET_GROUPS"])


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    kind = target_kind()
    if kind == "localstack":
        yield localstack_target(os.environ.get("TAILOR_STACK_NAME", "TailorLocal"))
        return
    if kind == "deployed":
        yield deployed_target(os.environ.get("TAILOR_STACK_NAME", "Tailor"))
        return
    state = tmp_path_factory.mktemp("tailor-state")
    try:
        process, url = start_service(state, dict(TEST_SERVICE_ENV))
    except LaunchError as err:
        pytest.fail(str(err))
    try:
        yield embedded_target(url)
    finally:
        stop_service(process)


def _undeclared(value, shape, path: str) -> list[str]:
    """Paths in a raw JSON response that the model's output shape does not declare."""
    if shape is None:
        return []
    if shape.type_name == "structure" and isinstance(value, dict):
        found = []
        for key, item in value.items():
            if key not in shape.members:
                found.append(f"{path}.{key}")
            else:
                found.extend(_undeclared(item, shape.members[key], f"{path}.{key}"))
        return found
    if shape.type_name == "list" and isinstance(value, list):
        return [p for item in value for p in _undeclared(item, shape.member, f"{path}[]")]
    if shape.type_name == "map" and isinstance(value, dict):
        return [p for k, item in value.items() for p in _undeclared(item, shape.value, f"{path}.{k}")]
    return []


def _checked(client):
    """A client whose every successful response must use only members of the declared output shape."""

    def check(http_response, parsed, model, **_):
        if http_response.status_code != 200 or not http_response.content:
            return
        extra = _undeclared(json.loads(http_response.content), model.output_shape, model.name)
        assert not extra, f"response members not in botocore's model: {extra}"

    client.meta.events.register("after-call", check)
    return client


@pytest.fixture(scope="session")
def personalize(target: Target):
    return _checked(target.client("personalize"))


@pytest.fixture(scope="session")
def runtime(target: Target):
    return _checked(target.client("personalize-runtime"))


@pytest.fixture(scope="session")
def events(target: Target):
    return _checked(target.client("personalize-events"))


@pytest.fixture(scope="session")
def s3(target: Target):
    return target.client("s3")


def wait_for(describe, key: str, timeout: float = 300, final=("ACTIVE", "CREATE FAILED", "CREATE STOPPED")):
    """Poll a Describe call the way Personalize notebooks do, until a final status."""
    deadline = time.monotonic() + timeout
    while True:
        doc = describe()[key]
        if doc["status"] in final or time.monotonic() > deadline:
            return doc
        time.sleep(0.3)


def import_dataset(
    personalize,
    s3,
    bucket: str,
    role: str,
    group: str,
    dataset_type: str,
    schema: str,
    body: str,
    name: str,
    domain: str | None = None,
) -> str:
    """Schema (of ``domain``, for a Domain dataset group), dataset and a FULL import of ``body`` from S3,
    as a notebook does; the dataset ARN."""
    key = f"{name}/{dataset_type.lower()}.csv"
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    in_domain = {"domain": domain} if domain else {}
    schema_arn = personalize.create_schema(name=f"{name}-{dataset_type.lower()}", schema=schema, **in_domain)[
        "schemaArn"
    ]
    dataset = personalize.create_dataset(
        name=f"{name}-{dataset_type.lower()}",
        schemaArn=schema_arn,
        datasetGroupArn=group,
        datasetType=dataset_type,
    )["datasetArn"]
    job = personalize.create_dataset_import_job(
        jobName=f"{name}-{dataset_type.lower()}",
        datasetArn=dataset,
        dataSource={"dataLocation": f"s3://{bucket}/{key}"},
        roleArn=role,
    )["datasetImportJobArn"]
    done = wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job), "datasetImportJob"
    )
    assert done["status"] == "ACTIVE", done.get("failureReason")
    return dataset


def train_solutions(
    personalize, group: str, recipes, name: str, configs: dict[str, dict] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """A solution and a first version per recipe (with ``configs[recipe]`` as its solutionConfig), all
    training at once; (solutions, versions) when ACTIVE."""
    solutions, versions = {}, {}
    for recipe in recipes:
        extra = {"solutionConfig": configs[recipe]} if configs and recipe in configs else {}
        solutions[recipe] = personalize.create_solution(
            name=f"{name}-{recipe}",
            datasetGroupArn=group,
            recipeArn=f"arn:aws:personalize:::recipe/{recipe}",
            **extra,
        )["solutionArn"]
        versions[recipe] = personalize.create_solution_version(solutionArn=solutions[recipe])[
            "solutionVersionArn"
        ]
    for recipe, arn in versions.items():
        doc = wait_for(
            lambda arn=arn: personalize.describe_solution_version(solutionVersionArn=arn),
            "solutionVersion",
            600,
        )
        assert doc["status"] == "ACTIVE", f"{recipe}: {doc.get('failureReason')}"
    return solutions, versions


@dataclass(frozen=True)
class Workspace:
    """A fresh dataset group with its own S3 bucket and import role, as a notebook sets them up."""

    suffix: str
    bucket: str
    role: str
    group: str
    domain: str | None = None


def new_workspace(target, personalize, s3, tag: str, domain: str | None = None) -> Workspace:
    """Bucket ``tailor-<tag>-<suffix>``, role ``Personalize<Tag>-<suffix>`` and an ACTIVE dataset group
    ``<tag>-group-<suffix>`` (a Domain dataset group with ``domain``): each test module's own, so modules
    never see each other's data."""
    suffix = uuid.uuid4().hex[:6]
    bucket = f"tailor-{tag}-{suffix}"
    s3.create_bucket(Bucket=bucket)
    role = target.client("iam").create_role(
        RoleName=f"Personalize{tag.capitalize()}-{suffix}", AssumeRolePolicyDocument=ASSUME_ROLE_POLICY
    )["Role"]["Arn"]
    in_domain = {"domain": domain} if domain else {}
    group = personalize.create_dataset_group(name=f"{tag}-group-{suffix}", **in_domain)["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group), "datasetGroup")
    return Workspace(suffix, bucket, role, group, domain)


def import_into(
    personalize, s3, ws: Workspace, name: str, datasets: dict[str, tuple[str, str]]
) -> dict[str, str]:
    """Each dataset type's (schema, CSV body) imported into the workspace's group; the ARNs by type."""
    return {
        dataset_type: import_dataset(
            personalize, s3, ws.bucket, ws.role, ws.group, dataset_type, schema, body, name, ws.domain
        )
        for dataset_type, (schema, body) in datasets.items()
    }


def active_event_tracker(personalize, group: str, name: str) -> str:
    """A new event tracker of ``group``, once ACTIVE; its trackingId."""
    tracker = personalize.create_event_tracker(name=name, datasetGroupArn=group)
    wait_for(
        lambda: personalize.describe_event_tracker(eventTrackerArn=tracker["eventTrackerArn"]), "eventTracker"
    )
    return tracker["trackingId"]


def export_dataset(personalize, s3, ws: Workspace, dataset: str, job: str, **mode: str) -> str:
    """A dataset export job to ``s3://<bucket>/exports/``, once ACTIVE; the CSV it wrote."""
    arn = personalize.create_dataset_export_job(
        jobName=job,
        datasetArn=dataset,
        roleArn=ws.role,
        jobOutput={"s3DataDestination": {"path": f"s3://{ws.bucket}/exports/"}},
        **mode,
    )["datasetExportJobArn"]
    doc = wait_for(
        lambda: personalize.describe_dataset_export_job(datasetExportJobArn=arn), "datasetExportJob"
    )
    assert doc["status"] == "ACTIVE", doc.get("failureReason")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=ws.bucket, Prefix=f"exports/{job}_")["Contents"]]
    assert len(keys) == 1 and keys[0].endswith(".csv"), keys
    return s3.get_object(Bucket=ws.bucket, Key=keys[0])["Body"].read().decode()
