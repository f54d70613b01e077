"""Real-time serving as Personalize applications use it: filters, ranking, metadata, promotions, the
event APIs and batch inference, through boto3 against the endpoint.

One dataset group with Interactions (click and watch events), Items (categorical GENRE, YEAR, TITLE)
and Users (AGE, MEMBERSHIP); every item a test gets back is checked against that data.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from tests.fixtures import (
    ACTIONS_SCHEMA,
    INTERACTIONS_SCHEMA,
    ITEMS_SCHEMA,
    USERS_SCHEMA,
    item_cluster,
    item_genre,
    item_year,
    items_csv,
    typed_interactions_csv,
    users_csv,
)
from tests.integration.conftest import import_dataset, new_workspace, train_solutions, wait_for

pytestmark = pytest.mark.integration

RECIPES = ("aws-user-personalization", "aws-sims", "aws-personalized-ranking")
SAMPLE_FILTERS = {
    "comedy": 'INCLUDE ItemID WHERE Items.GENRE IN ("Comedy")',
    "watched": 'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")',
    "unwatched": 'EXCLUDE ItemID WHERE Interactions.event_type IN ("watch")',
    "seventies": "INCLUDE ItemID WHERE Items.YEAR >= 1970 AND Items.YEAR < 1980",
    "genre-param": "INCLUDE ItemID WHERE Items.GENRE IN ($GENRES)",
    "exclude-param": "EXCLUDE ItemID WHERE Items.GENRE IN ($GENRES)",
    "drama-for-older": 'INCLUDE ItemID WHERE Items.GENRE IN ("Drama") IF CurrentUser.AGE > 40',
    "horror": 'INCLUDE ItemID WHERE Items.GENRE IN ("Horror")',
}


@pytest.fixture(scope="session")
def shop(target, personalize, s3) -> dict[str, Any]:
    workspace = new_workspace(target, personalize, s3, "sv")
    suffix, bucket, role, group = workspace.suffix, workspace.bucket, workspace.role, workspace.group
    name = f"sv-{suffix}"
    datasets = {
        kind.upper(): import_dataset(personalize, s3, bucket, role, group, kind, schema, body, name)
        for kind, schema, body in (
            ("Interactions", INTERACTIONS_SCHEMA, typed_interactions_csv()),
            ("Items", ITEMS_SCHEMA, items_csv()),
            ("Users", USERS_SCHEMA, users_csv()),
        )
    }
    solutions, versions = train_solutions(personalize, group, RECIPES, f"sv-{suffix}")
    configs = {
        "aws-user-personalization": {
            "enableMetadataWithRecommendations": True,
            "itemExplorationConfig": {"explorationWeight": "0", "explorationItemAgeCutOff": "30"},
        },
        "aws-sims": {"enableMetadataWithRecommendations": False},
        "aws-personalized-ranking": {"enableMetadataWithRecommendations": True},
    }
    campaigns = {
        recipe: personalize.create_campaign(
            name=f"sv-{recipe}-{suffix}", solutionVersionArn=versions[recipe], campaignConfig=configs[recipe]
        )["campaignArn"]
        for recipe in RECIPES
    }
    # Same model, exploring: every slot it may give to a new item, it does.
    campaigns["explore"] = personalize.create_campaign(
        name=f"sv-explore-{suffix}",
        solutionVersionArn=versions["aws-user-personalization"],
        campaignConfig={
            "itemExplorationConfig": {"explorationWeight": "1", "explorationItemAgeCutOff": "30"}
        },
    )["campaignArn"]
    for arn in campaigns.values():
        doc = wait_for(lambda arn=arn: personalize.describe_campaign(campaignArn=arn), "campaign")
        assert doc["status"] == "ACTIVE", doc.get("failureReason")
    filters = {
        name: personalize.create_filter(
            name=f"sv-{name}-{suffix}", datasetGroupArn=group, filterExpression=text
        )["filterArn"]
        for name, text in SAMPLE_FILTERS.items()
    }
    tracker = personalize.create_event_tracker(name=f"sv-tracker-{suffix}", datasetGroupArn=group)
    return {
        "suffix": suffix,
        "bucket": bucket,
        "role": role,
        "group": group,
        "datasets": datasets,
        "solutions": solutions,
        "versions": versions,
        "campaigns": campaigns,
        "filters": filters,
        "tracking_id": tracker["trackingId"],
    }


def _ids(response: dict[str, Any], key: str = "itemList") -> list[str]:
    return [entry["itemId"] for entry in response[key]]


def _eventually(check, timeout: float = 10.0):
    """Retry ``check`` until it returns a truthy value: events and PutItems apply within seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


# -- filters: the resource ---------------------------------------------------------------------------
def test_filters_are_described_and_listed(personalize, shop):
    arn = shop["filters"]["comedy"]
    described = personalize.describe_filter(filterArn=arn)["filter"]
    assert described["status"] == "ACTIVE"
    assert described["filterExpression"] == SAMPLE_FILTERS["comedy"]
    assert described["datasetGroupArn"] == shop["group"]
    listed = personalize.list_filters(datasetGroupArn=shop["group"])["Filters"]
    assert {f["filterArn"] for f in listed} == set(shop["filters"].values())


@pytest.mark.parametrize(
    ("expression", "needle"),
    [
        ('INCLUDE ItemID WHER Items.GENRE IN ("Comedy")', "WHER"),
        ('INCLUDE ItemID WHERE Items.COLOUR IN ("red")', "COLOUR"),
        ('INCLUDE ItemID WHERE Items.GENRE > "Comedy"', ">"),
        ("INCLUDE ItemID WHERE Items.GENRE IN (Comedy)", "Comedy"),
    ],
)
def test_an_invalid_filter_is_rejected_naming_the_token(personalize, shop, expression, needle):
    with pytest.raises(personalize.exceptions.InvalidInputException) as caught:
        personalize.create_filter(
            name=f"bad-{uuid.uuid4().hex[:6]}", datasetGroupArn=shop["group"], filterExpression=expression
        )
    assert needle in caught.value.response["Error"]["Message"]


def test_a_filter_is_deleted(personalize, shop):
    arn = personalize.create_filter(
        name=f"sv-temp-{shop['suffix']}",
        datasetGroupArn=shop["group"],
        filterExpression=SAMPLE_FILTERS["comedy"],
    )["filterArn"]
    personalize.delete_filter(filterArn=arn)
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.describe_filter(filterArn=arn)


# -- filters in GetRecommendations ---------------------------------------------------------------------
def _recommend(runtime, shop, user="user-3", recipe="aws-user-personalization", **kwargs) -> dict[str, Any]:
    return runtime.get_recommendations(campaignArn=shop["campaigns"][recipe], userId=user, **kwargs)


def test_a_user_segment_filter_is_refused_by_get_recommendations(personalize, runtime, shop):
    arn = personalize.create_filter(
        name=f"sv-segment-{shop['suffix']}",
        datasetGroupArn=shop["group"],
        filterExpression='INCLUDE UserID WHERE Users.MEMBERSHIP IN ("gold")',
    )["filterArn"]
    with pytest.raises(runtime.exceptions.InvalidInputException, match=r"filters users \(UserID\)"):
        _recommend(runtime, shop, filterArn=arn)
    personalize.delete_filter(filterArn=arn)


def test_genre_filter_returns_only_that_genre(runtime, shop):
    items = _ids(_recommend(runtime, shop, numResults=40, filterArn=shop["filters"]["comedy"]))
    # Comedy items: the Comedy cluster and the Action|Comedy cluster (categorical multi-values).
    assert len(items) == 40
    assert all("Comedy" in item_genre(item).split("|") for item in items)
    assert {item_genre(item) for item in items} == {"Comedy", "Action|Comedy"}


def test_year_range_filter(runtime, shop):
    items = _ids(_recommend(runtime, shop, numResults=30, filterArn=shop["filters"]["seventies"]))
    assert items and all(1970 <= item_year(item) < 1980 for item in items)
    seen = {
        line.split(",")[1] for line in typed_interactions_csv().splitlines()[1:] if line.startswith("user-3,")
    }
    unseen_seventies = [f"item-{i}" for i in range(120) if 1970 <= item_year(f"item-{i}") < 1980]
    unseen_seventies = [i for i in unseen_seventies if i not in seen]
    assert sorted(items) == sorted(unseen_seventies)  # every passing item not yet seen fills the list


def test_interaction_filters_on_imported_events(runtime, shop):
    history = [line.split(",") for line in typed_interactions_csv().splitlines()[1:]]
    watched = {item for user, item, _, kind in history if user == "user-3" and kind == "watch"}
    related = runtime.get_recommendations(
        campaignArn=shop["campaigns"]["aws-sims"],
        itemId="item-3",
        userId="user-3",
        numResults=100,
        filterArn=shop["filters"]["watched"],
    )
    assert set(_ids(related)) <= watched and _ids(related)
    unwatched = runtime.get_recommendations(
        campaignArn=shop["campaigns"]["aws-sims"],
        itemId="item-3",
        userId="user-3",
        numResults=50,
        filterArn=shop["filters"]["unwatched"],
    )
    assert len(_ids(unwatched)) == 50 and not set(_ids(unwatched)) & watched


def test_filter_parameters(runtime, shop):
    include = _recommend(
        runtime,
        shop,
        numResults=10,
        filterArn=shop["filters"]["genre-param"],
        filterValues={"GENRES": '"Horror","Drama"'},
    )
    assert {item_genre(i) for i in _ids(include)} <= {"Horror", "Drama"}
    with pytest.raises(runtime.exceptions.InvalidInputException) as caught:
        _recommend(runtime, shop, filterArn=shop["filters"]["genre-param"])
    assert "GENRES" in caught.value.response["Error"]["Message"]
    # An EXCLUDE filter without its parameter excludes nothing.
    plain = _ids(_recommend(runtime, shop, numResults=10))
    assert _ids(_recommend(runtime, shop, numResults=10, filterArn=shop["filters"]["exclude-param"])) == plain
    excluded = _ids(
        _recommend(
            runtime,
            shop,
            numResults=10,
            filterArn=shop["filters"]["exclude-param"],
            filterValues={"GENRES": '"Comedy"'},
        )
    )
    assert all("Comedy" not in item_genre(i) for i in excluded)


def test_current_user_condition(runtime, shop):
    # user-30 is 48 (18 + 30 % 50): the filter applies; user-3 is 21: it does not.
    older = _ids(
        _recommend(runtime, shop, user="user-30", numResults=10, filterArn=shop["filters"]["drama-for-older"])
    )
    assert older and all(item_genre(i) == "Drama" for i in older)
    younger = _ids(
        _recommend(runtime, shop, user="user-3", numResults=10, filterArn=shop["filters"]["drama-for-older"])
    )
    assert younger == _ids(_recommend(runtime, shop, user="user-3", numResults=10))


def test_an_event_changes_filter_results_within_seconds(runtime, events, shop):
    args = {
        "campaignArn": shop["campaigns"]["aws-sims"],
        "itemId": "item-5",
        "userId": "user-77",
        "numResults": 10,
        "filterArn": shop["filters"]["unwatched"],
    }
    target = _ids(runtime.get_recommendations(**args))[0]
    events.put_events(
        trackingId=shop["tracking_id"],
        userId="user-77",
        sessionId="s-77",
        eventList=[{"eventType": "WATCH", "itemId": target, "sentAt": time.time()}],  # types match case-blind
    )
    assert _eventually(lambda: target not in _ids(runtime.get_recommendations(**args)), timeout=5)


# -- PutItems / PutUsers -------------------------------------------------------------------------------
def test_put_items_makes_a_new_item_recommendable(runtime, events, shop):
    new_item = f"new-{shop['suffix']}"
    events.put_items(
        datasetArn=shop["datasets"]["ITEMS"],
        items=[
            {
                "itemId": new_item,
                "properties": json.dumps(
                    {
                        "genre": "Horror",
                        "year": 2024,
                        "title": "Brand new",
                        "creationTimestamp": int(time.time()),
                    }
                ),
            }
        ],
    )

    def horror_has_it():
        items = _ids(_recommend(runtime, shop, numResults=40, filterArn=shop["filters"]["horror"]))
        return new_item in items and all(i == new_item or item_genre(i) == "Horror" for i in items)

    assert _eventually(horror_has_it)
    # Exploration: a campaign that explores gives its slots to new items.
    explored = _ids(
        runtime.get_recommendations(campaignArn=shop["campaigns"]["explore"], userId="user-3", numResults=5)
    )
    assert new_item in explored
    # A campaign with explorationWeight 0 never does (without a filter that leaves only it).
    assert new_item not in _ids(_recommend(runtime, shop, numResults=25))


def test_put_items_metadata_change_takes_effect(runtime, events, shop):
    events.put_items(
        datasetArn=shop["datasets"]["ITEMS"],
        items=[
            {
                "itemId": "item-1",
                "properties": json.dumps({"genre": "Horror", "year": 1957, "creationTimestamp": 1}),
            }
        ],
    )
    assert _eventually(
        lambda: (
            "item-1"
            in _ids(
                runtime.get_recommendations(
                    campaignArn=shop["campaigns"]["aws-sims"],
                    itemId="item-5",
                    numResults=100,
                    filterArn=shop["filters"]["horror"],
                )
            )
        )
    )


def test_put_items_rejects_a_property_outside_the_schema(events, shop):
    with pytest.raises(events.exceptions.InvalidInputException) as caught:
        events.put_items(
            datasetArn=shop["datasets"]["ITEMS"],
            items=[{"itemId": "x", "properties": json.dumps({"colour": "red", "creationTimestamp": 1})}],
        )
    assert "colour" in caught.value.response["Error"]["Message"]
    with pytest.raises(events.exceptions.InvalidInputException):
        events.put_items(datasetArn=shop["datasets"]["USERS"], items=[{"itemId": "x"}])


def test_put_users_changes_current_user_filters(runtime, events, shop):
    user = f"newcomer-{shop['suffix']}"
    unfiltered = _ids(_recommend(runtime, shop, user=user, numResults=10))
    assert (
        _ids(
            _recommend(runtime, shop, user=user, numResults=10, filterArn=shop["filters"]["drama-for-older"])
        )
        == unfiltered
    )
    events.put_users(
        datasetArn=shop["datasets"]["USERS"], users=[{"userId": user, "properties": json.dumps({"age": 60})}]
    )

    def drama_only():
        items = _ids(
            _recommend(runtime, shop, user=user, numResults=10, filterArn=shop["filters"]["drama-for-older"])
        )
        return items and all(item_genre(i) == "Drama" for i in items)

    assert _eventually(drama_only)


# -- sessions -----------------------------------------------------------------------------------------
def test_anonymous_session_joins_the_user(runtime, events, shop):
    user, session = f"signed-in-{shop['suffix']}", f"anon-{shop['suffix']}"
    events.put_events(
        trackingId=shop["tracking_id"],
        sessionId=session,
        eventList=[{"eventType": "click", "itemId": "item-8", "sentAt": time.time()}],
    )
    events.put_events(
        trackingId=shop["tracking_id"],
        userId=user,
        sessionId=session,
        eventList=[{"eventType": "click", "itemId": "item-12", "sentAt": time.time()}],
    )

    def both_excluded():
        items = _ids(_recommend(runtime, shop, user=user, numResults=100))
        return "item-8" not in items and "item-12" not in items

    assert _eventually(both_excluded)
    # The joined history is what the model reads: the recommendations follow item-8/12's cluster.
    top = _ids(_recommend(runtime, shop, user=user, numResults=10))
    assert sum(item_cluster(i) == 0 for i in top) >= 6


def test_put_events_accepts_every_documented_member(events, shop):
    events.put_events(
        trackingId=shop["tracking_id"],
        userId="user-5",
        sessionId="s-5",
        eventList=[
            {
                "eventId": f"full-{shop['suffix']}",
                "eventType": "watch",
                "eventValue": 4.5,
                "itemId": "item-20",
                "sentAt": time.time(),
                "recommendationId": "RID-1",
                "impression": ["item-20", "item-24", "item-28"],
                "metricAttribution": {"eventAttributionSource": "email"},
                "properties": json.dumps({"device": "phone"}),
            }
        ],
    )


# -- metadata, promotions, limits -------------------------------------------------------------------------
def test_metadata_columns(runtime, shop):
    response = _recommend(runtime, shop, numResults=5, metadataColumns={"ITEMS": ["GENRE", "TITLE"]})
    for entry in response["itemList"]:
        index = entry["itemId"].split("-")[1]
        assert entry["metadata"] == {
            "genre": item_genre(entry["itemId"]),
            "title": f"Title {index}, the movie",
        }
    with pytest.raises(runtime.exceptions.InvalidInputException):
        _recommend(runtime, shop, numResults=51, metadataColumns={"ITEMS": ["GENRE"]})
    with pytest.raises(runtime.exceptions.InvalidInputException):
        _recommend(runtime, shop, metadataColumns={"ITEMS": ["COLOUR"]})
    with pytest.raises(runtime.exceptions.InvalidInputException) as caught:
        runtime.get_recommendations(
            campaignArn=shop["campaigns"]["aws-sims"], itemId="item-1", metadataColumns={"ITEMS": ["GENRE"]}
        )
    assert "enableMetadataWithRecommendations" in caught.value.response["Error"]["Message"]


def test_promotion_takes_its_share(runtime, shop):
    response = _recommend(
        runtime,
        shop,
        numResults=10,
        promotions=[{"name": "scary", "percentPromotedItems": 30, "filterArn": shop["filters"]["horror"]}],
        filterArn=shop["filters"]["comedy"],
    )
    promoted = [e for e in response["itemList"] if e.get("promotionName") == "scary"]
    regular = [e for e in response["itemList"] if "promotionName" not in e]
    assert len(response["itemList"]) == 10 and len(promoted) == 3
    assert all(item_genre(e["itemId"]) == "Horror" for e in promoted)
    assert all("Comedy" in item_genre(e["itemId"]) for e in regular)
    scores = [e["score"] for e in promoted]
    assert scores == sorted(scores, reverse=True)  # promoted items keep their order among themselves


def test_input_limits(runtime, shop):
    with pytest.raises(runtime.exceptions.InvalidInputException):
        _recommend(runtime, shop, numResults=501)
    with pytest.raises(runtime.exceptions.InvalidInputException):
        _recommend(runtime, shop, user="u" * 257)
    with pytest.raises(runtime.exceptions.InvalidInputException):
        _recommend(
            runtime,
            shop,
            filterArn=shop["filters"]["genre-param"],
            filterValues={f"P{i}": '"x"' for i in range(26)},
        )
    missing = shop["campaigns"]["aws-sims"].rsplit("/", 1)[0] + "/no-such-campaign"
    with pytest.raises(runtime.exceptions.ResourceNotFoundException) as caught:
        runtime.get_recommendations(campaignArn=missing, userId="user-1")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    recommender = shop["group"].replace(":dataset-group/", ":recommender/")
    with pytest.raises(runtime.exceptions.ResourceNotFoundException):
        runtime.get_recommendations(recommenderArn=recommender, userId="user-1")


# -- GetPersonalizedRanking ------------------------------------------------------------------------------
def test_personalized_ranking_orders_the_input(runtime, shop):
    own = [f"item-{i}" for i in (44, 48, 52)]  # user-0's cluster (0)
    other = [f"item-{i}" for i in (45, 46, 47)]
    response = runtime.get_personalized_ranking(
        campaignArn=shop["campaigns"]["aws-personalized-ranking"],
        userId="user-0",
        inputList=[*other, "unknown-item", *own],
        metadataColumns={"ITEMS": ["YEAR"]},
    )
    ranked = response["personalizedRanking"]
    assert [e["itemId"] for e in ranked][-1] == "unknown-item" and "score" not in ranked[-1]
    assert {e["itemId"] for e in ranked[:3]} == set(own)
    scores = [e["score"] for e in ranked[:-1]]
    assert scores == sorted(scores, reverse=True)
    assert ranked[0]["metadata"] == {"year": str(item_year(ranked[0]["itemId"]))}
    assert response["recommendationId"].startswith("RID-")


def test_personalized_ranking_with_a_filter(runtime, shop):
    ranked = runtime.get_personalized_ranking(
        campaignArn=shop["campaigns"]["aws-personalized-ranking"],
        userId="user-0",
        inputList=[f"item-{i}" for i in range(12)],
        filterArn=shop["filters"]["comedy"],
    )["personalizedRanking"]
    assert sorted(e["itemId"] for e in ranked) == sorted(
        f"item-{i}" for i in range(12) if "Comedy" in item_genre(f"item-{i}")
    )


def test_ranking_and_recommendation_campaigns_are_not_interchangeable(runtime, shop):
    with pytest.raises(runtime.exceptions.InvalidInputException):
        runtime.get_personalized_ranking(
            campaignArn=shop["campaigns"]["aws-user-personalization"], userId="user-0", inputList=["item-1"]
        )
    with pytest.raises(runtime.exceptions.InvalidInputException):
        _recommend(runtime, shop, recipe="aws-personalized-ranking")


# -- campaigns ------------------------------------------------------------------------------------------
def test_campaign_follows_the_latest_solution_version(personalize, runtime, shop):
    solution = shop["solutions"]["aws-personalized-ranking"]
    campaign = personalize.create_campaign(
        name=f"sv-sync-{shop['suffix']}",
        solutionVersionArn=f"{solution}/$LATEST",
        campaignConfig={"syncWithLatestSolutionVersion": True},
        minProvisionedTPS=3,
    )["campaignArn"]
    doc = wait_for(lambda: personalize.describe_campaign(campaignArn=campaign), "campaign")
    assert doc["solutionVersionArn"] == shop["versions"]["aws-personalized-ranking"]
    assert doc["minProvisionedTPS"] == 3 and doc["campaignConfig"]["syncWithLatestSolutionVersion"] is True
    newer = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    assert (
        wait_for(
            lambda: personalize.describe_solution_version(solutionVersionArn=newer), "solutionVersion", 600
        )["status"]
        == "ACTIVE"
    )
    switched = _eventually(
        lambda: (
            personalize.describe_campaign(campaignArn=campaign)["campaign"]["solutionVersionArn"] == newer
        ),
        30,
    )
    assert switched
    ranked = runtime.get_personalized_ranking(
        campaignArn=campaign, userId="user-0", inputList=["item-1", "item-4"]
    )
    assert len(ranked["personalizedRanking"]) == 2
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_campaign(
            name=f"sv-sync-bad-{shop['suffix']}",
            solutionVersionArn=shop["versions"]["aws-sims"],
            campaignConfig={"syncWithLatestSolutionVersion": True},
        )


def test_exploration_config_is_validated(personalize, shop):
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_campaign(
            name=f"sv-bad-explore-{shop['suffix']}",
            solutionVersionArn=shop["versions"]["aws-user-personalization"],
            campaignConfig={"itemExplorationConfig": {"explorationWeight": "2"}},
        )


# -- batch inference ------------------------------------------------------------------------------------
def test_batch_inference_job_line_by_line(personalize, s3, shop):
    lines = [
        json.dumps({"userId": "user-0"}),
        "this is not json",
        json.dumps({"userId": "user-1", "filterValues": {"GENRES": '"Comedy"'}}),
        json.dumps({"itemId": "item-3"}),
        json.dumps({"userId": "user-2", "filterValues": {}}),
    ]
    s3.put_object(Bucket=shop["bucket"], Key="batch/in/users.json", Body=("\n".join(lines) + "\n").encode())
    job = personalize.create_batch_inference_job(
        jobName=f"sv-batch-{shop['suffix']}",
        solutionVersionArn=shop["versions"]["aws-user-personalization"],
        filterArn=shop["filters"]["genre-param"],
        numResults=5,
        jobInput={"s3DataSource": {"path": f"s3://{shop['bucket']}/batch/in/users.json"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{shop['bucket']}/batch/out/"}},
        roleArn=shop["role"],
    )["batchInferenceJobArn"]
    doc = wait_for(
        lambda: personalize.describe_batch_inference_job(batchInferenceJobArn=job), "batchInferenceJob"
    )
    assert doc["status"] == "ACTIVE", doc.get("failureReason")
    assert doc["numResults"] == 5 and doc["filterArn"] == shop["filters"]["genre-param"]
    listed = personalize.list_batch_inference_jobs(
        solutionVersionArn=shop["versions"]["aws-user-personalization"]
    )
    assert [j["batchInferenceJobArn"] for j in listed["batchInferenceJobs"]] == [job]

    body = s3.get_object(Bucket=shop["bucket"], Key="batch/out/users.json.out")["Body"].read().decode()
    out = [json.loads(line) for line in body.splitlines()]
    assert len(out) == 5
    assert out[0]["input"] == {"userId": "user-0"} and out[0]["error"]  # INCLUDE filter needs $GENRES
    assert out[1]["input"] == "this is not json" and out[1]["output"] is None and out[1]["error"]
    comedy = out[2]["output"]["recommendedItems"]
    assert len(comedy) == 5 and all("Comedy" in item_genre(i) for i in comedy)
    assert len(out[2]["output"]["scores"]) == 5 and out[2]["error"] is None
    assert out[3]["error"] and "userId" in out[3]["error"]  # a user-personalization job needs userId
    assert out[4]["error"]


def test_batch_inference_for_related_items_and_bad_input(personalize, s3, shop):
    s3.put_object(
        Bucket=shop["bucket"],
        Key="batch/sims/items.json",
        Body=(json.dumps({"itemId": "item-3"}) + "\n" + json.dumps({"itemId": "never-seen"}) + "\n").encode(),
    )
    job = personalize.create_batch_inference_job(
        jobName=f"sv-batch-sims-{shop['suffix']}",
        solutionVersionArn=shop["versions"]["aws-sims"],
        jobInput={"s3DataSource": {"path": f"s3://{shop['bucket']}/batch/sims/items.json"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{shop['bucket']}/batch/sims-out/"}},
        roleArn=shop["role"],
    )["batchInferenceJobArn"]
    doc = wait_for(
        lambda: personalize.describe_batch_inference_job(batchInferenceJobArn=job), "batchInferenceJob"
    )
    assert doc["status"] == "ACTIVE", doc.get("failureReason")
    body = s3.get_object(Bucket=shop["bucket"], Key="batch/sims-out/items.json.out")["Body"].read().decode()
    first, unknown = (json.loads(line) for line in body.splitlines())
    related = first["output"]["recommendedItems"]
    assert len(related) == 25 and "item-3" not in related
    assert sum(item_cluster(i) == item_cluster("item-3") for i in related[:10]) >= 6
    assert len(unknown["output"]["recommendedItems"]) == 25  # popular items for an unknown item

    missing = personalize.create_batch_inference_job(
        jobName=f"sv-batch-missing-{shop['suffix']}",
        solutionVersionArn=shop["versions"]["aws-sims"],
        jobInput={"s3DataSource": {"path": f"s3://{shop['bucket']}/batch/nothing-here.json"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{shop['bucket']}/batch/x/"}},
        roleArn=shop["role"],
    )["batchInferenceJobArn"]
    failed = wait_for(
        lambda: personalize.describe_batch_inference_job(batchInferenceJobArn=missing), "batchInferenceJob"
    )
    assert failed["status"] == "CREATE FAILED" and "nothing-here.json" in failed["failureReason"]


# -- actions -------------------------------------------------------------------------------------------
def test_put_actions_validates_against_the_actions_schema(personalize, events, shop):
    schema = personalize.create_schema(name=f"sv-actions-{shop['suffix']}", schema=ACTIONS_SCHEMA)[
        "schemaArn"
    ]
    dataset = personalize.create_dataset(
        name=f"sv-actions-{shop['suffix']}",
        schemaArn=schema,
        datasetGroupArn=shop["group"],
        datasetType="Actions",
    )["datasetArn"]
    events.put_actions(
        datasetArn=dataset,
        actions=[
            {
                "actionId": "join-gold",
                "properties": json.dumps({"value": 9, "channel": "web", "creationTimestamp": 1}),
            }
        ],
    )
    with pytest.raises(events.exceptions.InvalidInputException):
        events.put_actions(
            datasetArn=dataset,
            actions=[{"actionId": "x", "properties": json.dumps({"value": "lots", "creationTimestamp": 1})}],
        )
    events.put_action_interactions(
        trackingId=shop["tracking_id"],
        actionInteractions=[
            {
                "actionId": "join-gold",
                "userId": "user-1",
                "sessionId": "s-1",
                "timestamp": time.time(),
                "eventType": "Taken",
            }
        ],
    )
