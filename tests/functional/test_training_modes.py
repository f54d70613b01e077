"""Automatic training, UpdateSolution, trainingMode rules, tags and AutoML's result, under moto.

Training itself is not run here (a recording workflow starter keeps versions CREATE PENDING); the clock
of the automatic-training check is injected.
"""

from __future__ import annotations

import itertools
import json

import boto3
import pytest

from functions.resources import lifecycle as lc
from functions.resources.auto_training import DAY_S, create_due_versions
from functions.stores import workflows
from functions.stores.resources import ResourceStore
from tests.fixtures import INTERACTIONS_SCHEMA, interactions_csv
from tests.functional.conftest import REGION, RecordingStarter, control_op

pytestmark = pytest.mark.functional
HOUR = 3600.0
_JOBS = itertools.count()


def _import(dataset: str, key: str, mode: str = "FULL") -> None:
    _, out = control_op("CreateDatasetImportJob", jobName=f"job-{next(_JOBS)}", datasetArn=dataset,
                      dataSource={"dataLocation": f"s3://data/{key}"}, importMode=mode)  # fmt: skip
    _, job = control_op("DescribeDatasetImportJob", datasetImportJobArn=out["datasetImportJobArn"])
    assert job["datasetImportJob"]["status"] == "ACTIVE", job


@pytest.fixture
def group(aws) -> dict[str, str]:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="i.csv", Body=interactions_csv().encode())
    _, out = control_op("CreateSchema", name="s", schema=INTERACTIONS_SCHEMA)
    _, group = control_op("CreateDatasetGroup", name="g")
    _, dataset = control_op("CreateDataset", name="d", schemaArn=out["schemaArn"],
                          datasetGroupArn=group["datasetGroupArn"], datasetType="Interactions")  # fmt: skip
    _import(dataset["datasetArn"], "i.csv")
    return {"group": group["datasetGroupArn"], "dataset": dataset["datasetArn"]}


def _solution(group: dict[str, str], recipe: str, **extra) -> str:
    _, out = control_op("CreateSolution", name=recipe.replace("aws-", ""), datasetGroupArn=group["group"],
                      recipeArn=f"arn:aws:personalize:::recipe/{recipe}", **extra)  # fmt: skip
    return out["solutionArn"]


def _activate(arn: str) -> None:
    ResourceStore().update(arn, lambda doc: lc.set_status(doc, lc.ACTIVE))


def test_automatic_training_follows_the_schedule_and_needs_new_data(group):
    recorder = RecordingStarter()
    workflows.set_starter(recorder)
    solution = _solution(group, "aws-popularity-count", solutionConfig={
        "autoTrainingConfig": {"schedulingExpression": "rate(3 days)"}})  # fmt: skip
    _, described = control_op("DescribeSolution", solutionArn=solution)
    assert described["solution"]["performAutoTraining"] is True  # Personalize's default
    created = ResourceStore().get(solution, lc.SOLUTION)["creationDateTime"]

    assert create_due_versions(now=created + 0.5 * HOUR) == []
    [first] = create_due_versions(now=created + HOUR)
    assert recorder.started == [(workflows.SOLUTION_VERSION, first)]
    _, version = control_op("DescribeSolutionVersion", solutionVersionArn=first)
    assert version["solutionVersion"]["trainingType"] == "AUTOMATIC"
    assert version["solutionVersion"]["trainingMode"] == "AUTOTRAIN"
    assert create_due_versions(now=created + HOUR + 60) == []  # one version per slot
    _activate(first)

    # Three days on: no interaction data arrived since the last training, so none.
    assert create_due_versions(now=created + HOUR + 3 * DAY_S) == []
    _import(group["dataset"], "i.csv", mode="INCREMENTAL")
    [second] = create_due_versions(now=created + HOUR + 6 * DAY_S)
    assert second != first

    # Turned off with UpdateSolution: no more automatic versions.
    status, _ = control_op("UpdateSolution", solutionArn=solution, performAutoTraining=False)
    assert status == 200
    _, described = control_op("DescribeSolution", solutionArn=solution)
    update = described["solution"]["latestSolutionUpdate"]
    assert update["status"] == "ACTIVE" and update["performAutoTraining"] is False
    assert not any(key.startswith("tailor") for key in described["solution"])
    _activate(second)
    _import(group["dataset"], "i.csv", mode="INCREMENTAL")
    assert create_due_versions(now=created + HOUR + 30 * DAY_S) == []


def test_a_manual_version_in_the_first_hour_replaces_the_first_automatic_one(group):
    workflows.set_starter(RecordingStarter())
    solution = _solution(group, "aws-popularity-count")
    created = ResourceStore().get(solution, lc.SOLUTION)["creationDateTime"]
    control_op("CreateSolutionVersion", solutionArn=solution)
    assert create_due_versions(now=created + 2 * HOUR) == []


def test_schedules_and_training_modes_are_validated(group):
    workflows.set_starter(RecordingStarter())
    status, body = control_op(
        "CreateSolution",
        name="bad",
        datasetGroupArn=group["group"],
        recipeArn="arn:aws:personalize:::recipe/aws-popularity-count",
        solutionConfig={"autoTrainingConfig": {"schedulingExpression": "rate(45 days)"}},
    )
    assert status == 400 and "from 1 to 30" in body["message"]
    popularity = _solution(group, "aws-popularity-count", performAutoTraining=False)
    hourly = {"autoTrainingConfig": {"schedulingExpression": "rate(2 hours)"}}
    status, body = control_op("UpdateSolution", solutionArn=popularity, solutionUpdateConfig=hourly)
    assert status == 400 and body["__type"] == "InvalidInputException"

    status, body = control_op("CreateSolutionVersion", solutionArn=popularity, trainingMode="UPDATE")
    assert status == 400 and "aws-user-personalization" in body["message"]
    personalization = _solution(group, "aws-user-personalization", performAutoTraining=False)
    status, body = control_op("CreateSolutionVersion", solutionArn=personalization, trainingMode="UPDATE")
    assert status == 400 and "needs an ACTIVE solution version" in body["message"]
    _, out = control_op("CreateSolutionVersion", solutionArn=personalization)
    _activate(out["solutionVersionArn"])
    status, out = control_op("CreateSolutionVersion", solutionArn=personalization, trainingMode="UPDATE")
    assert status == 200
    _, version = control_op("DescribeSolutionVersion", solutionVersionArn=out["solutionVersionArn"])
    assert version["solutionVersion"]["trainingMode"] == "UPDATE"
    assert version["solutionVersion"]["trainingType"] == "MANUAL"
    status, body = control_op("CreateSolutionVersion", solutionArn=personalization, trainingMode="AUTOTRAIN")
    assert status == 400 and "AUTOTRAIN" in body["message"]


def test_tags_round_trip(group):
    solution = _solution(group, "aws-popularity-count", tags=[{"tagKey": "team", "tagValue": "recs"}])
    assert control_op("ListTagsForResource", resourceArn=solution)[1]["tags"] == [
        {"tagKey": "team", "tagValue": "recs"}
    ]
    control_op("TagResource", resourceArn=solution, tags=[{"tagKey": "env", "tagValue": "test"}])
    control_op("UntagResource", resourceArn=solution, tagKeys=["team"])
    assert control_op("ListTagsForResource", resourceArn=solution)[1]["tags"] == [
        {"tagKey": "env", "tagValue": "test"}
    ]
    status, body = control_op(
        "TagResource", resourceArn=solution, tags=[{"tagKey": "aws:x", "tagValue": "y"}]
    )
    assert status == 400 and "reserved" in body["message"]
    status, body = control_op("ListTagsForResource", resourceArn=solution + "-gone")
    assert status == 400 and body["__type"] == "ResourceNotFoundException"


def test_sagemaker_prepare_sends_the_previous_model_for_an_update_and_says_where_progress_is(group):
    from functions.config import settings
    from functions.resources import artifacts
    from functions.stores.blobs import BlobStore
    from functions.workflows import steps
    from functions.workflows.progress import TAG_KEY

    workflows.set_starter(RecordingStarter())
    solution = _solution(group, "aws-user-personalization", performAutoTraining=False)
    _, base = control_op("CreateSolutionVersion", solutionArn=solution)
    _activate(base["solutionVersionArn"])
    prefix = artifacts.model_prefix(base["solutionVersionArn"])
    for name in ("manifest.json", "items.json", "metrics.json"):
        BlobStore().put(settings().artifacts_bucket, prefix + name, b"{}")
    _, update = control_op("CreateSolutionVersion", solutionArn=solution, trainingMode="UPDATE")
    job = steps.prepare_training(update["solutionVersionArn"])
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["inputDataConfig"]}
    assert set(channels) == {"interactions", "previous_model"}
    assert job["hyperParameters"]["tailor_training_mode"] == "UPDATE"
    bucket, key = channels["previous_model"].removeprefix("s3://").split("/", 1)
    assert BlobStore().keys(bucket, key) == [key + n for n in ("items.json", "manifest.json", "metrics.json")]
    _, tags = control_op("ListTagsForResource", resourceArn=update["solutionVersionArn"])
    [progress] = [t["tagValue"] for t in tags["tags"] if t["tagKey"] == TAG_KEY]
    assert progress.startswith("phase=training backend=sagemaker") and job["trainingJobName"] in progress


def test_automl_result_is_on_the_solution_before_the_version_turns_active(group, tmp_path, monkeypatch):
    # A client polls DescribeSolutionVersion until ACTIVE, then reads autoMLResult from DescribeSolution:
    # the solution must carry it by the time the version is ACTIVE (this once raced in the suite).
    from functions.workflows import run

    workflows.set_starter(RecordingStarter())
    hrnn = "arn:aws:personalize:::recipe/aws-hrnn"
    recipes = [hrnn, "arn:aws:personalize:::recipe/aws-popularity-count"]
    config = {"autoMLConfig": {"metricName": "precision_at_25", "recipeList": recipes}}
    _, out = control_op("CreateSolution", name="automl", datasetGroupArn=group["group"], performAutoML=True,
                        solutionConfig=config)  # fmt: skip
    solution = out["solutionArn"]
    _, version = control_op("CreateSolutionVersion", solutionArn=solution)
    model = tmp_path / "model"
    model.mkdir()
    (model / "metrics.json").write_text("{}")
    manifest = {"automl": {"best_recipe": "aws-hrnn"}, "hyperparameters": {}}
    (model / "manifest.json").write_text(json.dumps(manifest))
    on_the_solution: list[object] = []
    set_status = run._set

    def checking_set(arn, status, *args, **fields):
        if status == lc.ACTIVE:
            on_the_solution.append(ResourceStore().get(solution, lc.SOLUTION).get("autoMLResult"))
        return set_status(arn, status, *args, **fields)

    monkeypatch.setattr(run, "_set", checking_set)
    run.publish_model(version["solutionVersionArn"], model, 0.01)
    assert on_the_solution == [{"bestRecipeArn": hrnn}]
    _, described = control_op("DescribeSolutionVersion", solutionVersionArn=version["solutionVersionArn"])
    assert described["solutionVersion"]["status"] == "ACTIVE"
    assert described["solutionVersion"]["recipeArn"] == hrnn
