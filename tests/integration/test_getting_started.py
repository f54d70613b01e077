"""Amazon Personalize's getting-started workflow, unchanged, through boto3 against the endpoint."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from tests.fixtures import ASSUME_ROLE_POLICY, INTERACTIONS_SCHEMA, interactions_csv, item_cluster
from tests.integration.conftest import train_solutions, wait_for

pytestmark = pytest.mark.integration

RECIPES = ("aws-user-personalization", "aws-popularity-count", "aws-sims")


@pytest.fixture(scope="session")
def workflow(target, personalize, s3) -> dict[str, Any]:
    """Builds the whole getting-started pipeline once; the tests below inspect each part of it."""
    suffix = uuid.uuid4().hex[:6]
    bucket = f"tailor-it-{suffix}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="movies/interactions.csv", Body=interactions_csv().encode())
    role = target.client("iam").create_role(
        RoleName=f"PersonalizeRole-{suffix}", AssumeRolePolicyDocument=ASSUME_ROLE_POLICY
    )["Role"]["Arn"]

    schema_arn = personalize.create_schema(name=f"it-schema-{suffix}", schema=INTERACTIONS_SCHEMA)[
        "schemaArn"
    ]
    group_arn = personalize.create_dataset_group(name=f"it-group-{suffix}")["datasetGroupArn"]
    wait_for(lambda: personalize.describe_dataset_group(datasetGroupArn=group_arn), "datasetGroup")
    dataset_arn = personalize.create_dataset(
        name=f"it-interactions-{suffix}",
        schemaArn=schema_arn,
        datasetGroupArn=group_arn,
        datasetType="Interactions",
    )["datasetArn"]
    job_arn = personalize.create_dataset_import_job(
        jobName=f"it-import-{suffix}",
        datasetArn=dataset_arn,
        dataSource={"dataLocation": f"s3://{bucket}/movies/interactions.csv"},
        roleArn=role,
    )["datasetImportJobArn"]
    job = wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job_arn), "datasetImportJob"
    )
    assert job["status"] == "ACTIVE", job.get("failureReason")

    solutions, versions = train_solutions(personalize, group_arn, RECIPES, f"it-{suffix}")

    campaigns = {
        recipe: personalize.create_campaign(
            name=f"it-{recipe}-{suffix}", solutionVersionArn=versions[recipe], minProvisionedTPS=1
        )["campaignArn"]
        for recipe in RECIPES
    }
    for recipe, arn in campaigns.items():
        doc = wait_for(lambda arn=arn: personalize.describe_campaign(campaignArn=arn), "campaign")
        assert doc["status"] == "ACTIVE", f"{recipe}: {doc.get('failureReason')}"
    tracker = personalize.create_event_tracker(name=f"it-tracker-{suffix}", datasetGroupArn=group_arn)
    return {
        "suffix": suffix,
        "bucket": bucket,
        "role": role,
        "schema": schema_arn,
        "group": group_arn,
        "dataset": dataset_arn,
        "job": job_arn,
        "solutions": solutions,
        "versions": versions,
        "campaigns": campaigns,
        "tracker": tracker,
    }


def test_dataset_group_schema_dataset_describe_and_list(personalize, workflow):
    group = personalize.describe_dataset_group(datasetGroupArn=workflow["group"])["datasetGroup"]
    assert group["status"] == "ACTIVE"
    assert group["datasetGroupArn"].startswith("arn:aws:personalize:us-east-1:")
    assert group["datasetGroupArn"].endswith(f":dataset-group/it-group-{workflow['suffix']}")
    assert group["creationDateTime"].year >= 2024

    schema = personalize.describe_schema(schemaArn=workflow["schema"])["schema"]
    assert json.loads(schema["schema"]) == json.loads(INTERACTIONS_SCHEMA)

    dataset = personalize.describe_dataset(datasetArn=workflow["dataset"])["dataset"]
    assert dataset["datasetArn"].endswith(f"dataset/it-group-{workflow['suffix']}/INTERACTIONS")
    assert dataset["schemaArn"] == workflow["schema"]

    listed = personalize.list_datasets(datasetGroupArn=workflow["group"])["datasets"]
    types = {d["datasetType"] for d in listed}
    assert "Interactions" in types and "EVENT_INTERACTIONS" in types
    assert any(s["schemaArn"] == workflow["schema"] for s in personalize.list_schemas()["schemas"])
    jobs = personalize.list_dataset_import_jobs(datasetArn=workflow["dataset"])["datasetImportJobs"]
    assert [j["datasetImportJobArn"] for j in jobs] == [workflow["job"]]
    assert jobs[0]["status"] == "ACTIVE" and jobs[0]["importMode"] == "FULL"


def test_recipes_are_listed_and_described(personalize):
    arns = {r["recipeArn"] for r in personalize.list_recipes()["recipes"]}
    for recipe in RECIPES:
        assert f"arn:aws:personalize:::recipe/{recipe}" in arns
    described = personalize.describe_recipe(recipeArn="arn:aws:personalize:::recipe/aws-sims")["recipe"]
    assert described["recipeType"] == "RELATED_ITEMS"
    assert described["status"] == "ACTIVE"


def test_solution_versions_are_active_with_metrics(personalize, workflow):
    for recipe, arn in workflow["versions"].items():
        version = personalize.describe_solution_version(solutionVersionArn=arn)["solutionVersion"]
        assert version["status"] == "ACTIVE"
        assert version["recipeArn"].endswith(recipe)
        assert version["trainingHours"] > 0
        metrics = personalize.get_solution_metrics(solutionVersionArn=arn)["metrics"]
        for key in (
            "coverage",
            "mean_reciprocal_rank_at_25",
            "normalized_discounted_cumulative_gain_at_5",
            "normalized_discounted_cumulative_gain_at_10",
            "normalized_discounted_cumulative_gain_at_25",
            "precision_at_5",
            "precision_at_10",
            "precision_at_25",
        ):
            assert 0.0 <= metrics[key] <= 1.0, (recipe, key, metrics)
    solution = personalize.describe_solution(solutionArn=workflow["solutions"]["aws-sims"])["solution"]
    assert solution["latestSolutionVersion"]["solutionVersionArn"] == workflow["versions"]["aws-sims"]
    listed = personalize.list_solution_versions(solutionArn=workflow["solutions"]["aws-sims"])
    assert [v["solutionVersionArn"] for v in listed["solutionVersions"]] == [workflow["versions"]["aws-sims"]]


def test_user_personalization_recommends_unseen_in_cluster_items(runtime, workflow):
    campaign = workflow["campaigns"]["aws-user-personalization"]
    response = runtime.get_recommendations(campaignArn=campaign, userId="user-1", numResults=10)
    items = [i["itemId"] for i in response["itemList"]]
    assert len(items) == 10 and len(set(items)) == 10
    assert response["recommendationId"].startswith("RID-")
    seen = {line.split(",")[1] for line in interactions_csv().splitlines()[1:] if line.startswith("user-1,")}
    assert not seen & set(items)
    in_cluster = sum(item_cluster(i) == 1 for i in items)
    assert in_cluster >= 6, items
    scores = [i["score"] for i in response["itemList"]]
    assert scores == sorted(scores, reverse=True)


def test_default_num_results_and_cold_start_user(runtime, workflow):
    campaign = workflow["campaigns"]["aws-user-personalization"]
    response = runtime.get_recommendations(campaignArn=campaign, userId="someone-new")
    assert len(response["itemList"]) == 25


def test_popularity_returns_most_popular_unseen(runtime, workflow):
    campaign = workflow["campaigns"]["aws-popularity-count"]
    items = [
        i["itemId"] for i in runtime.get_recommendations(campaignArn=campaign, userId="user-2")["itemList"]
    ]
    counts: dict[str, int] = {}
    for line in interactions_csv().splitlines()[1:]:
        item = line.split(",")[1]
        counts[item] = counts.get(item, 0) + 1
    seen = {line.split(",")[1] for line in interactions_csv().splitlines()[1:] if line.startswith("user-2,")}
    expected_top = sorted((i for i in counts if i not in seen), key=lambda i: -counts[i])
    assert counts[items[0]] == counts[expected_top[0]]


def test_sims_returns_related_items(runtime, workflow):
    campaign = workflow["campaigns"]["aws-sims"]
    response = runtime.get_recommendations(campaignArn=campaign, itemId="item-8", numResults=10)
    items = [i["itemId"] for i in response["itemList"]]
    assert "item-8" not in items and len(items) == 10
    assert sum(item_cluster(i) == 0 for i in items) >= 7, items


def test_events_round_trip_changes_next_recommendations(runtime, events, personalize, workflow):
    campaign = workflow["campaigns"]["aws-user-personalization"]
    tracking_id = workflow["tracker"]["trackingId"]
    tracker = personalize.describe_event_tracker(eventTrackerArn=workflow["tracker"]["eventTrackerArn"])
    assert tracker["eventTracker"]["trackingId"] == tracking_id
    before = [
        i["itemId"] for i in runtime.get_recommendations(campaignArn=campaign, userId="user-5")["itemList"]
    ]
    clicked = before[0]
    sent = time.time()
    events.put_events(
        trackingId=tracking_id,
        userId="user-5",
        sessionId="session-5",
        eventList=[{"eventId": "evt-1", "eventType": "click", "itemId": clicked, "sentAt": sent}],
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        after = [
            i["itemId"]
            for i in runtime.get_recommendations(campaignArn=campaign, userId="user-5")["itemList"]
        ]
        if clicked not in after:
            break
        time.sleep(0.05)
    visible_after = time.time() - sent
    assert clicked not in after, "the clicked item is still recommended"
    assert visible_after < 2.0


def test_duplicate_event_ids_count_once(events, workflow, target):
    tracking_id = workflow["tracker"]["trackingId"]
    event = {"eventId": "dup-1", "eventType": "click", "itemId": "item-3", "sentAt": time.time()}
    for _ in range(3):
        events.put_events(trackingId=tracking_id, userId="user-9", sessionId="s-9", eventList=[event])
    ddb = target.client("dynamodb")
    key = f"{workflow['group']}|user|user-9"
    deadline = time.monotonic() + 5
    stored: list = []
    while time.monotonic() < deadline:
        item = ddb.get_item(TableName=target.history_table, Key={"pk": {"S": key}}).get("Item")
        stored = item["events"]["L"] if item else []
        if stored:
            time.sleep(0.5)  # give the two duplicates time to arrive too
            item = ddb.get_item(TableName=target.history_table, Key={"pk": {"S": key}})["Item"]
            stored = item["events"]["L"]
            break
        time.sleep(0.05)
    assert len(stored) == 1


def test_put_events_with_unknown_tracking_id_is_not_found(events):
    with pytest.raises(events.exceptions.ResourceNotFoundException):
        events.put_events(
            trackingId="00000000-0000-0000-0000-000000000000",
            userId="u",
            sessionId="s",
            eventList=[{"eventType": "click", "itemId": "i", "sentAt": time.time()}],
        )


def test_update_campaign_switches_version(personalize, runtime, workflow):
    campaign = workflow["campaigns"]["aws-popularity-count"]
    version = workflow["versions"]["aws-popularity-count"]
    personalize.update_campaign(campaignArn=campaign, solutionVersionArn=version, minProvisionedTPS=2)
    deadline = time.monotonic() + 60
    doc = personalize.describe_campaign(campaignArn=campaign)["campaign"]
    while doc["latestCampaignUpdate"]["status"] != "ACTIVE" and time.monotonic() < deadline:
        time.sleep(0.3)
        doc = personalize.describe_campaign(campaignArn=campaign)["campaign"]
    assert doc["latestCampaignUpdate"]["status"] == "ACTIVE"
    assert doc["minProvisionedTPS"] == 2
    assert runtime.get_recommendations(campaignArn=campaign, userId="user-1")["itemList"]


def test_campaigns_and_trackers_listed(personalize, workflow):
    listed = personalize.list_campaigns(solutionArn=workflow["solutions"]["aws-sims"])["campaigns"]
    assert [c["campaignArn"] for c in listed] == [workflow["campaigns"]["aws-sims"]]
    trackers = personalize.list_event_trackers(datasetGroupArn=workflow["group"])["eventTrackers"]
    assert [t["eventTrackerArn"] for t in trackers] == [workflow["tracker"]["eventTrackerArn"]]


def test_stop_solution_version_creation(personalize, workflow):
    solution = workflow["solutions"]["aws-user-personalization"]
    arn = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    personalize.stop_solution_version_creation(solutionVersionArn=arn)
    doc = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=arn), "solutionVersion", 60
    )
    assert doc["status"] == "CREATE STOPPED"
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.stop_solution_version_creation(solutionVersionArn=arn)


def test_delete_rules(personalize, workflow):
    with pytest.raises(personalize.exceptions.ResourceInUseException):
        personalize.delete_dataset_group(datasetGroupArn=workflow["group"])
    with pytest.raises(personalize.exceptions.ResourceInUseException):
        personalize.delete_schema(schemaArn=workflow["schema"])
    with pytest.raises(personalize.exceptions.ResourceInUseException):
        personalize.delete_solution(solutionArn=workflow["solutions"]["aws-sims"])


def test_full_teardown_in_dependency_order(personalize, target, workflow):
    """Everything built for a throwaway group can be deleted in the order Personalize requires."""
    suffix = uuid.uuid4().hex[:6]
    s3 = target.client("s3")
    s3.put_object(Bucket=workflow["bucket"], Key=f"t-{suffix}.csv", Body=interactions_csv(seed=3).encode())
    group = personalize.create_dataset_group(name=f"teardown-{suffix}")["datasetGroupArn"]
    dataset = personalize.create_dataset(
        name=f"td-{suffix}", schemaArn=workflow["schema"], datasetGroupArn=group, datasetType="Interactions"
    )["datasetArn"]
    job = personalize.create_dataset_import_job(
        jobName=f"td-{suffix}",
        datasetArn=dataset,
        dataSource={"dataLocation": f"s3://{workflow['bucket']}/t-{suffix}.csv"},
    )["datasetImportJobArn"]
    assert (
        wait_for(
            lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job), "datasetImportJob"
        )["status"]
        == "ACTIVE"
    )
    solution = personalize.create_solution(
        name=f"td-{suffix}",
        datasetGroupArn=group,
        recipeArn="arn:aws:personalize:::recipe/aws-popularity-count",
    )["solutionArn"]
    tracker = personalize.create_event_tracker(name=f"td-{suffix}", datasetGroupArn=group)["eventTrackerArn"]
    personalize.delete_event_tracker(eventTrackerArn=tracker)
    personalize.delete_solution(solutionArn=solution)
    for d in personalize.list_datasets(datasetGroupArn=group)["datasets"]:
        personalize.delete_dataset(datasetArn=d["datasetArn"])
    personalize.delete_dataset_group(datasetGroupArn=group)
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.describe_dataset_group(datasetGroupArn=group)
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.describe_solution(solutionArn=solution)


def test_event_type_selects_training_interactions(personalize, workflow):
    """CreateSolution's eventType reaches training: no 'purchase' events means too little data."""
    solution = personalize.create_solution(
        name=f"it-purchase-{workflow['suffix']}",
        datasetGroupArn=workflow["group"],
        recipeArn="arn:aws:personalize:::recipe/aws-popularity-count",
        eventType="purchase",
    )["solutionArn"]
    assert personalize.describe_solution(solutionArn=solution)["solution"]["eventType"] == "purchase"
    arn = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    doc = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=arn), "solutionVersion", 120
    )
    assert doc["status"] == "CREATE FAILED"
    assert "purchase" in doc["failureReason"] or "1000" in doc["failureReason"], doc["failureReason"]
