"""Every error code the control plane, runtime and events APIs promise, as botocore sees it."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from tests.fixtures import INTERACTIONS_SCHEMA, interactions_csv
from tests.integration.conftest import QUOTA_DATASET_GROUPS, wait_for

pytestmark = pytest.mark.integration


def _code(err: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = err.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Message"],
    )


def test_not_found_on_every_describe(personalize):
    missing = "arn:aws:personalize:us-east-1:123456789012:{}/does-not-exist"
    calls = [
        (personalize.describe_dataset_group, {"datasetGroupArn": missing.format("dataset-group")}),
        (personalize.describe_schema, {"schemaArn": missing.format("schema")}),
        (personalize.describe_dataset, {"datasetArn": missing.format("dataset")}),
        (
            personalize.describe_dataset_import_job,
            {"datasetImportJobArn": missing.format("dataset-import-job")},
        ),
        (personalize.describe_solution, {"solutionArn": missing.format("solution")}),
        (personalize.describe_solution_version, {"solutionVersionArn": missing.format("solution") + "/abc"}),
        (personalize.describe_campaign, {"campaignArn": missing.format("campaign")}),
        (personalize.describe_event_tracker, {"eventTrackerArn": missing.format("event-tracker")}),
        (personalize.describe_recipe, {"recipeArn": "arn:aws:personalize:::recipe/aws-nope"}),
    ]
    for call, kwargs in calls:
        with pytest.raises(ClientError) as err:
            call(**kwargs)
        code, status, message = _code(err)
        assert (code, status) == ("ResourceNotFoundException", 400), call
        assert "does-not-exist" in message or "aws-nope" in message


def test_already_exists(personalize):
    name = f"dup-{uuid.uuid4().hex[:6]}"
    personalize.create_dataset_group(name=name)
    with pytest.raises(personalize.exceptions.ResourceAlreadyExistsException):
        personalize.create_dataset_group(name=name)


def test_invalid_name_is_rejected_with_validation_message(personalize):
    with pytest.raises(ClientError) as err:
        personalize.create_dataset_group(name="has spaces")
    code, status, message = _code(err)
    assert (code, status) == ("InvalidInputException", 400)
    assert message.startswith("1 validation error detected: Value 'has spaces' at 'name'")


def test_max_results_out_of_range(personalize):
    with pytest.raises(personalize.exceptions.InvalidInputException) as err:
        personalize.list_dataset_groups(maxResults=101)
    assert "less than or equal to 100" in str(err.value)


def test_bad_next_token(personalize):
    with pytest.raises(personalize.exceptions.InvalidNextTokenException):
        personalize.list_dataset_groups(nextToken="garbage")


def test_pagination_walks_every_item_once(personalize):
    prefix = f"page-{uuid.uuid4().hex[:5]}"
    created = {
        personalize.create_schema(name=f"{prefix}-{i}", schema=INTERACTIONS_SCHEMA)["schemaArn"]
        for i in range(5)
    }
    seen: list[str] = []
    kwargs: dict = {"maxResults": 2}
    while True:
        page = personalize.list_schemas(**kwargs)
        assert len(page["schemas"]) <= 2
        seen.extend(s["schemaArn"] for s in page["schemas"])
        if "nextToken" not in page:
            break
        kwargs["nextToken"] = page["nextToken"]
    assert created <= set(seen)
    assert len(seen) == len(set(seen))
    paginator = personalize.get_paginator("list_schemas")
    via_paginator = [
        s["schemaArn"] for p in paginator.paginate(PaginationConfig={"PageSize": 3}) for s in p["schemas"]
    ]
    assert sorted(via_paginator) == sorted(seen)


def test_limit_exceeded(personalize):
    existing = len(personalize.list_dataset_groups(maxResults=100)["datasetGroups"])
    with pytest.raises(personalize.exceptions.LimitExceededException):
        for i in range(QUOTA_DATASET_GROUPS - existing + 1):
            personalize.create_dataset_group(name=f"quota-{uuid.uuid4().hex[:6]}-{i}")
    # Leave room for the other tests.
    for group in personalize.list_dataset_groups(maxResults=100)["datasetGroups"]:
        if group["name"].startswith("quota-"):
            personalize.delete_dataset_group(datasetGroupArn=group["datasetGroupArn"])


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ([{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"}], "TIMESTAMP"),
        (
            [
                {"name": "USER_ID", "type": "string"},
                {"name": "ITEM_ID", "type": "string"},
                {"name": "TIMESTAMP", "type": "long"},
                {"name": "GENRE", "type": "int", "categorical": True},
            ],
            "GENRE",
        ),
    ],
)
def test_bad_schema_names_the_field(personalize, fields, needle):
    schema = json.dumps({"type": "record", "name": "Interactions", "fields": fields, "version": "1.0"})
    name = f"bad-{uuid.uuid4().hex[:6]}"
    group = personalize.create_dataset_group(name=name)["datasetGroupArn"]
    with pytest.raises(personalize.exceptions.InvalidInputException) as err:
        arn = personalize.create_schema(name=name, schema=schema)["schemaArn"]
        # A schema can be valid Avro yet unfit for a dataset type: that is caught at CreateDataset.
        personalize.create_dataset(
            name=name, schemaArn=arn, datasetGroupArn=group, datasetType="Interactions"
        )
    assert needle in str(err.value)


def test_schema_that_is_not_json(personalize):
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_schema(name=f"nj-{uuid.uuid4().hex[:6]}", schema="{not json")


def _dataset(personalize, suffix: str) -> str:
    schema = personalize.create_schema(name=f"imp-{suffix}", schema=INTERACTIONS_SCHEMA)["schemaArn"]
    group = personalize.create_dataset_group(name=f"imp-{suffix}")["datasetGroupArn"]
    return personalize.create_dataset(
        name=f"imp-{suffix}", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
    )["datasetArn"]


def test_bad_csv_fails_the_job_and_keeps_the_dataset(personalize, s3):
    suffix = uuid.uuid4().hex[:6]
    bucket = f"bad-csv-{suffix}"
    s3.create_bucket(Bucket=bucket)
    good = interactions_csv(users=60, per_user=20)
    s3.put_object(Bucket=bucket, Key="good.csv", Body=good.encode())
    lines = good.splitlines()
    lines[4] = "user-x,item-1,not-a-time,click"
    s3.put_object(Bucket=bucket, Key="bad.csv", Body=("\n".join(lines) + "\n").encode())
    dataset = _dataset(personalize, suffix)

    def run(key: str, name: str, mode: str = "FULL") -> dict:
        arn = personalize.create_dataset_import_job(
            jobName=f"{name}-{suffix}",
            datasetArn=dataset,
            importMode=mode,
            dataSource={"dataLocation": f"s3://{bucket}/{key}"},
        )["datasetImportJobArn"]
        return wait_for(
            lambda: personalize.describe_dataset_import_job(datasetImportJobArn=arn), "datasetImportJob"
        )

    assert run("good.csv", "good")["status"] == "ACTIVE"
    failed = run("bad.csv", "bad", "INCREMENTAL")
    assert failed["status"] == "CREATE FAILED"
    assert "Line 5" in failed["failureReason"] and "TIMESTAMP" in failed["failureReason"]
    missing = run("nothing-here.csv", "missing")
    assert missing["status"] == "CREATE FAILED" and "nothing-here.csv" in missing["failureReason"]
    assert personalize.describe_dataset(datasetArn=dataset)["dataset"]["status"] == "ACTIVE"


def test_solution_with_unknown_recipe_is_invalid(personalize):
    group = personalize.create_dataset_group(name=f"rec-{uuid.uuid4().hex[:6]}")["datasetGroupArn"]
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_solution(
            name=f"rec-{uuid.uuid4().hex[:6]}",
            datasetGroupArn=group,
            recipeArn="arn:aws:personalize:::recipe/aws-no-such-recipe",
        )


def test_runtime_errors(runtime):
    with pytest.raises(ClientError) as err:
        runtime.get_recommendations(
            campaignArn="arn:aws:personalize:us-east-1:123456789012:campaign/nope", userId="u"
        )
    assert _code(err)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as err:
        runtime.get_recommendations(
            campaignArn="arn:aws:personalize:us-east-1:123456789012:campaign/nope", userId="u", numResults=501
        )
    assert _code(err)[:2] == ("InvalidInputException", 400)


def test_too_little_data_fails_training_with_a_reason(personalize, s3):
    suffix = uuid.uuid4().hex[:6]
    bucket = f"small-{suffix}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="small.csv", Body=interactions_csv(users=20, per_user=10).encode())
    dataset = _dataset(personalize, suffix)
    job = personalize.create_dataset_import_job(
        jobName=f"small-{suffix}", datasetArn=dataset, dataSource={"dataLocation": f"s3://{bucket}/small.csv"}
    )["datasetImportJobArn"]
    wait_for(lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job), "datasetImportJob")
    group = personalize.describe_dataset(datasetArn=dataset)["dataset"]["datasetGroupArn"]
    solution = personalize.create_solution(
        name=f"small-{suffix}",
        datasetGroupArn=group,
        recipeArn="arn:aws:personalize:::recipe/aws-popularity-count",
    )["solutionArn"]
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    doc = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=version), "solutionVersion"
    )
    assert doc["status"] == "CREATE FAILED"
    assert "1000" in doc["failureReason"] or "1,000" in doc["failureReason"]
    with pytest.raises(personalize.exceptions.ResourceInUseException):
        personalize.get_solution_metrics(solutionVersionArn=version)
