"""A recommender trained the way a deployment trains it with SageMaker, under moto.

The prepare step writes the use case's training job (the recipe that trains it, its event type, the
channels its datasets give); the training container runs on those channels as SageMaker would run it; the
publish step stores the model and makes the recommender ACTIVE. A failed retraining leaves the recommender
serving the model it had; the automatic retraining every 7 days needs new data and swaps only the model.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import boto3
import pytest

from functions.config import settings
from functions.resources import artifacts
from functions.resources import lifecycle as lc
from functions.resources.recommender_retraining import RETRAIN_INTERVAL_S, retrain_due_recommenders
from functions.stores import workflows
from functions.stores.blobs import BlobStore
from functions.stores.resources import ResourceStore
from functions.workflows import steps
from tests.fixtures import INTERACTIONS_SCHEMA
from tests.functional.conftest import REGION, RecordingStarter, control_op

pytestmark = pytest.mark.functional


def _rows() -> str:
    # 40 users watch 30 films each (1,200 Watch events); films f00-f04 by everyone. Each user also clicks
    # "trailer" twice: the Click events must not reach a Watch use case's training.
    rows = ["USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP"]
    for u in range(40):
        films = [f"f{i:02d}" for i in range(5)] + [f"f{5 + (u + k) % 40:02d}" for k in range(25)]
        rows += [f"u{u},{film},Watch,{1_700_000_000 + u * 100 + k}" for k, film in enumerate(films)]
        rows += [f"u{u},trailer,Click,{1_700_000_090 + u * 100 + k}" for k in range(2)]
    return "\n".join(rows) + "\n"


@pytest.fixture
def recommender(aws) -> str:
    workflows.set_starter(RecordingStarter())
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="i.csv", Body=_rows().encode())
    _, group = control_op("CreateDatasetGroup", name="vod", domain="VIDEO_ON_DEMAND")
    _, schema = control_op("CreateSchema", name="s", schema=INTERACTIONS_SCHEMA, domain="VIDEO_ON_DEMAND")
    _, dataset = control_op("CreateDataset", name="d", schemaArn=schema["schemaArn"],
                          datasetGroupArn=group["datasetGroupArn"], datasetType="Interactions")  # fmt: skip
    _, job = control_op("CreateDatasetImportJob", jobName="j", datasetArn=dataset["datasetArn"],
                      dataSource={"dataLocation": "s3://data/i.csv"})  # fmt: skip
    _, out = control_op("CreateRecommender", name="popular", datasetGroupArn=group["datasetGroupArn"],
                      recipeArn="arn:aws:personalize:::recipe/aws-vod-most-popular")  # fmt: skip
    return str(out["recommenderArn"])


def _train_as_sagemaker(job: dict, work: Path) -> str:
    """Run the training container on the job's channels; the model.tar.gz URI SageMaker would report."""
    blobs = BlobStore()
    data = work / "input" / "data"
    for channel in job["inputDataConfig"]:
        bucket, prefix = channel["DataSource"]["S3DataSource"]["S3Uri"].removeprefix("s3://").split("/", 1)
        for key in blobs.keys(bucket, prefix):
            target = data / channel["ChannelName"] / key.removeprefix(prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blobs.get(bucket, key))
    (work / "input" / "config").mkdir(parents=True)
    (work / "input" / "config" / "hyperparameters.json").write_text(json.dumps(job["hyperParameters"]))
    model, output = work / "model", work / "output"
    model.mkdir()
    output.mkdir()
    command = [sys.executable, "-m", "training.entrypoint", "--input-dir", str(work / "input"),
               "--model-dir", str(model), "--output-dir", str(output)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for path in model.iterdir():
            tar.add(path, arcname=path.name)
    key = f"jobs/{job['trainingJobName']}/output/model.tar.gz"
    blobs.put(settings().artifacts_bucket, key, archive.getvalue())
    return f"s3://{settings().artifacts_bucket}/{key}"


def test_prepare_train_and_publish_a_recommender(recommender, tmp_path):
    job = steps.run_step({"step": "prepare", "kind": "recommender", "arn": recommender})
    assert [c["ChannelName"] for c in job["inputDataConfig"]] == ["interactions"]
    assert job["hyperParameters"]["tailor_recipe"] == "aws-popularity-count"
    assert job["hyperParameters"]["tailor_event_type"] == "Watch"
    _, described = control_op("DescribeRecommender", recommenderArn=recommender)
    assert described["recommender"]["status"] == lc.CREATE_IN_PROGRESS

    uri = _train_as_sagemaker(job, tmp_path / "job")
    steps.run_step({"step": "publish", "kind": "recommender", "arn": recommender,
                    "modelArtifacts": uri, "trainingSeconds": 12.5})  # fmt: skip
    _, described = control_op("DescribeRecommender", recommenderArn=recommender)
    doc = described["recommender"]
    assert doc["status"] == lc.ACTIVE and 0 < doc["modelMetrics"]["coverage"] <= 1
    assert "tailorModelArn" not in doc

    # A retraining (new training columns) that fails keeps the recommender ACTIVE on its model.
    served = ResourceStore().get(recommender, lc.RECOMMENDER)["tailorModelArn"]
    columns = {"trainingDataConfig": {"excludedDatasetColumns": {"INTERACTIONS": ["EVENT_TYPE"]}}}
    status, _ = control_op("UpdateRecommender", recommenderArn=recommender, recommenderConfig=columns)
    assert status == 200
    steps.run_step({"step": "prepare", "kind": "recommender", "arn": recommender})
    cause = json.dumps({"FailureReason": "out of memory"})
    steps.run_step({"step": "fail", "kind": "recommender", "arn": recommender,
                    "error": "States.TaskFailed", "cause": cause})  # fmt: skip
    _, described = control_op("DescribeRecommender", recommenderArn=recommender)
    doc = described["recommender"]
    assert doc["status"] == lc.ACTIVE
    assert doc["latestRecommenderUpdate"]["status"] == lc.UPDATE_FAILED
    assert doc["latestRecommenderUpdate"]["failureReason"] == "out of memory"
    assert "trainingDataConfig" not in doc["recommenderConfig"]
    assert ResourceStore().get(recommender, lc.RECOMMENDER)["tailorModelArn"] == served


def test_the_model_is_retrained_every_7_days_when_new_data_arrived(recommender, tmp_path):
    uri = _train_as_sagemaker(steps.prepare_training(recommender, "recommender"), tmp_path / "first")
    steps.publish_training(recommender, uri, 3.0, "recommender")
    store = ResourceStore()
    first = store.get(recommender, lc.RECOMMENDER)
    created = float(first["creationDateTime"])
    assert retrain_due_recommenders(now=created + RETRAIN_INTERVAL_S - 60) == []
    # Due, but nothing arrived since the first training: the slot passes without a training.
    assert retrain_due_recommenders(now=created + RETRAIN_INTERVAL_S) == []
    assert store.get(recommender, lc.RECOMMENDER)["tailorTrainedAt"] == created + RETRAIN_INTERVAL_S

    event = {"kind": "event", "eventId": "e-1", "userId": "u1", "itemId": "f07", "sentAt": 1.7e9 + 10_000,
             "eventType": "Watch"}  # fmt: skip
    key = f"{artifacts.event_archive_prefix(first['datasetGroupArn'])}recorded.jsonl"
    BlobStore().put(settings().artifacts_bucket, key, (json.dumps(event) + "\n").encode())
    assert retrain_due_recommenders(now=created + 1.5 * RETRAIN_INTERVAL_S) == []  # 7 days from the slot
    later = created + 2 * RETRAIN_INTERVAL_S
    assert retrain_due_recommenders(now=later) == [recommender]
    assert retrain_due_recommenders(now=later) == []  # one retraining at a time
    retraining = store.get(recommender, lc.RECOMMENDER)["tailorRetrainModelArn"]

    uri = _train_as_sagemaker(steps.prepare_training(recommender, "recommender"), tmp_path / "again")
    _, during = control_op("DescribeRecommender", recommenderArn=recommender)
    assert during["recommender"]["status"] == lc.ACTIVE
    steps.publish_training(recommender, uri, 3.0, "recommender")
    after = store.get(recommender, lc.RECOMMENDER)
    assert after["tailorModelArn"] == retraining != first["tailorModelArn"]
    assert "tailorRetrainModelArn" not in after and "latestRecommenderUpdate" not in after
    assert after["status"] == lc.ACTIVE and after["recommenderConfig"] == first["recommenderConfig"]


def test_recommenders_are_limited_by_their_quota(recommender, monkeypatch):
    monkeypatch.setenv("TAILOR_QUOTA_RECOMMENDERS", "1")
    group = ResourceStore().get(recommender, lc.RECOMMENDER)["datasetGroupArn"]
    status, out = control_op("CreateRecommender", name="second", datasetGroupArn=group,
                             recipeArn="arn:aws:personalize:::recipe/aws-vod-trending-now")  # fmt: skip
    assert (status, out["__type"].split("#")[-1]) == (400, "LimitExceededException")
    assert "TAILOR_QUOTA_RECOMMENDERS" in out["message"]
