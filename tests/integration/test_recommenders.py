"""Recommenders in a VIDEO_ON_DEMAND Domain dataset group, as the domain getting-started notebook uses them.

The data (generated; the answer is known): users u00-u29 watch films of genre A (a00-a29), users u30-u59
films of genre B (b00-b29), 20 films each; a0-a4 and b0-b4 are watched by every user of their genre, so
they are the most watched. Every user also clicks x00 (a trailer) three times: the most interacted item
overall, but never watched, so a use case trained on Watch events must not know it.
"""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from tests.fixtures import INTERACTIONS_SCHEMA, avro_schema
from tests.integration.conftest import active_event_tracker, import_into, new_workspace, wait_for

pytestmark = pytest.mark.integration

VOD = "VIDEO_ON_DEMAND"
PREFIX = "arn:aws:personalize:::recipe/"
USE_CASES = ("aws-vod-because-you-watched-x", "aws-vod-top-picks", "aws-vod-most-popular")
N_USERS = 60
ITEMS = avro_schema(
    "Items",
    [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRES", "type": "string", "categorical": True},
        {"name": "CREATION_TIMESTAMP", "type": "long"},
    ],
)


def _genre(user: int) -> str:
    return "a" if user < N_USERS // 2 else "b"


def _data() -> tuple[str, str, dict[str, list[str]]]:
    rng = random.Random(3)
    rows, watched = ["USER_ID,ITEM_ID,EVENT_TYPE,TIMESTAMP"], {}
    for u in range(N_USERS):
        genre = _genre(u)
        films = [f"{genre}{i:02d}" for i in range(5)] + rng.sample(
            [f"{genre}{i:02d}" for i in range(5, 30)], 15
        )
        rng.shuffle(films)
        watched[f"u{u:02d}"] = films
        for step, film in enumerate(films):
            rows.append(f"u{u:02d},{film},Watch,{1_700_000_000 + u * 100 + step}")
        for step in range(3):
            rows.append(f"u{u:02d},x00,Click,{1_700_000_050 + u * 100 + step}")
    items = ["ITEM_ID,GENRES,CREATION_TIMESTAMP"]
    items += [f"{g}{i:02d},{g.upper()},1600000000" for g in "ab" for i in range(30)]
    items.append("x00,TRAILER,1600000000")
    return "\n".join(rows) + "\n", "\n".join(items) + "\n", watched


@pytest.fixture(scope="module")
def vod(target, personalize, s3) -> dict[str, Any]:
    ws = new_workspace(target, personalize, s3, "vod", domain=VOD)
    interactions, items, watched = _data()
    import_into(
        personalize,
        s3,
        ws,
        f"vod-{ws.suffix}",
        {"Interactions": (INTERACTIONS_SCHEMA, interactions), "Items": (ITEMS, items)},
    )
    arns = {
        case: personalize.create_recommender(
            name=f"vod-{case[8:]}-{ws.suffix}",
            datasetGroupArn=ws.group,
            recipeArn=PREFIX + case,
            tags=[{"tagKey": "team", "tagValue": "vod"}],
        )["recommenderArn"]
        for case in USE_CASES
    }
    for case, arn in arns.items():
        doc = wait_for(
            lambda arn=arn: personalize.describe_recommender(recommenderArn=arn), "recommender", 600
        )
        assert doc["status"] == "ACTIVE", f"{case}: {doc.get('failureReason')}"
    return {"ws": ws, "recommenders": arns, "watched": watched}


def _items(runtime, arn: str, **query: Any) -> list[str]:
    return [e["itemId"] for e in runtime.get_recommendations(recommenderArn=arn, **query)["itemList"]]


def test_recommenders_are_described_and_listed(personalize, vod):
    arns = vod["recommenders"]
    for case, arn in arns.items():
        doc = personalize.describe_recommender(recommenderArn=arn)["recommender"]
        assert (doc["recipeArn"], doc["datasetGroupArn"]) == (PREFIX + case, vod["ws"].group)
        assert doc["recommenderConfig"]["minRecommendationRequestsPerSecond"] == 1
        assert 0.0 <= doc["modelMetrics"]["coverage"] <= 1.0
        assert "normalized_discounted_cumulative_gain_at_10" in doc["modelMetrics"]
        tags = personalize.list_tags_for_resource(resourceArn=arn)["tags"]
        assert {"tagKey": "team", "tagValue": "vod"} in tags
    listed = personalize.list_recommenders(datasetGroupArn=vod["ws"].group)["recommenders"]
    assert {r["recommenderArn"] for r in listed} == set(arns.values())
    assert {r["status"] for r in listed} == {"ACTIVE"}
    paged = personalize.list_recommenders(datasetGroupArn=vod["ws"].group, maxResults=2)
    assert len(paged["recommenders"]) == 2 and paged["nextToken"]


def test_use_cases_are_listed_by_domain(personalize):
    listed = personalize.list_recipes(domain=VOD)["recipes"]
    names = {r["name"] for r in listed}
    assert set(USE_CASES) <= names and all(n.startswith("aws-vod-") for n in names)
    assert {r["domain"] for r in listed} == {VOD}
    recipe = personalize.describe_recipe(recipeArn=PREFIX + "aws-vod-more-like-x")["recipe"]
    assert recipe["recipeType"] == "RELATED_ITEMS"
    everything = {r["name"] for r in personalize.list_recipes(maxResults=100)["recipes"]}
    assert {"aws-sims", "aws-ecomm-recommended-for-you"} <= everything


def test_because_you_watched_x_leaves_out_what_the_user_watched(runtime, vod):
    arn = vod["recommenders"]["aws-vod-because-you-watched-x"]
    watched = set(vod["watched"]["u01"])
    got = _items(runtime, arn, itemId="a07", userId="u01", numResults=5)
    assert len(got) == 5 and all(item.startswith("a") for item in got), got
    assert not watched & set(got) and "a07" not in got
    # Another user of genre B who watched none of these gets the film's neighbours as they are.
    other = _items(runtime, arn, itemId="a07", userId="u45", numResults=5)
    assert all(item.startswith("a") for item in other)
    for missing in ({"userId": "u01"}, {"itemId": "a07"}):
        with pytest.raises(runtime.exceptions.InvalidInputException):
            runtime.get_recommendations(recommenderArn=arn, **missing)


def test_top_picks_are_the_users_genre_and_unwatched(runtime, vod):
    arn = vod["recommenders"]["aws-vod-top-picks"]
    for user in ("u03", "u40"):
        got = _items(runtime, arn, userId=user, numResults=5)
        genre = _genre(int(user[1:]))
        assert all(item.startswith(genre) for item in got), (user, got)
        assert not set(vod["watched"][user]) & set(got)
    with pytest.raises(runtime.exceptions.InvalidInputException):
        runtime.get_recommendations(recommenderArn=arn, itemId="a07")


def test_most_popular_counts_watch_events_only(runtime, vod):
    # A user without history, so none of the most watched is one the user had.
    got = _items(runtime, vod["recommenders"]["aws-vod-most-popular"], userId="newcomer", numResults=10)
    # x00 has the most interactions (180 clicks) but no Watch event; a00-a04 and b00-b04 are watched 30 times.
    assert "x00" not in got
    assert set(got) == {f"{g}{i:02d}" for g in "ab" for i in range(5)}


def test_a_watch_event_leaves_the_film_out_at_once_and_a_click_does_not(personalize, runtime, events, vod):
    arn = vod["recommenders"]["aws-vod-because-you-watched-x"]
    tracking_id = active_event_tracker(personalize, vod["ws"].group, f"vod-tracker-{vod['ws'].suffix}")
    first, second = _items(runtime, arn, itemId="a07", userId="u45", numResults=2)
    now = time.time()
    events.put_events(
        trackingId=tracking_id,
        userId="u45",
        sessionId="s-u45",
        eventList=[
            {"eventType": "Click", "itemId": second, "sentAt": now},
            {"eventType": "Watch", "itemId": first, "sentAt": now + 1},
        ],
    )
    deadline = time.monotonic() + 10
    while first in (got := _items(runtime, arn, itemId="a07", userId="u45", numResults=5)):
        assert time.monotonic() < deadline, "a watched film was still recommended"
        time.sleep(0.3)
    # The automatic filter is on Watch events: a click leaves the film in.
    assert second in got


def test_create_recommender_refuses_what_personalize_refuses(target, personalize, s3, vod):
    group = vod["ws"].group
    name = f"bad-{vod['ws'].suffix}"
    for recipe in ("aws-sims", "aws-ecomm-recommended-for-you", "aws-no-such-use-case"):
        with pytest.raises(personalize.exceptions.InvalidInputException):
            personalize.create_recommender(name=name, datasetGroupArn=group, recipeArn=PREFIX + recipe)
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_recommender(
            name=name,
            datasetGroupArn=group,
            recipeArn=PREFIX + "aws-vod-most-popular",
            recommenderConfig={"trainingDataConfig": {"excludedDatasetColumns": {"ITEMS": ["NO_SUCH"]}}},
        )
    with pytest.raises(personalize.exceptions.ResourceAlreadyExistsException):
        personalize.create_recommender(
            name=f"vod-most-popular-{vod['ws'].suffix}",
            datasetGroupArn=group,
            recipeArn=PREFIX + "aws-vod-most-popular",
        )
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.create_recommender(
            name=name, datasetGroupArn=group + "-missing", recipeArn=PREFIX + "aws-vod-most-popular"
        )
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_solution(name=name, datasetGroupArn=group, recipeArn=PREFIX + "aws-vod-top-picks")
    custom = personalize.create_dataset_group(name=f"custom-{vod['ws'].suffix}")["datasetGroupArn"]
    with pytest.raises(personalize.exceptions.InvalidInputException) as caught:
        personalize.create_recommender(
            name=name, datasetGroupArn=custom, recipeArn=PREFIX + "aws-vod-top-picks"
        )
    assert "Domain dataset group" in caught.value.response["Error"]["Message"]
    personalize.delete_dataset_group(datasetGroupArn=custom)
    assert not [r for r in personalize.list_recommenders()["recommenders"] if r["name"] == name]


def test_stop_start_and_update(personalize, runtime, vod):
    arn = vod["recommenders"]["aws-vod-most-popular"]
    assert personalize.stop_recommender(recommenderArn=arn)["recommenderArn"] == arn
    assert personalize.describe_recommender(recommenderArn=arn)["recommender"]["status"] == "INACTIVE"
    # The runtime re-reads a recommender's document within seconds (as it does a campaign's).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            runtime.get_recommendations(recommenderArn=arn, userId="u01")
        except runtime.exceptions.InvalidInputException as refused:
            assert "StartRecommender" in refused.response["Error"]["Message"]
            break
        time.sleep(0.5)
    else:
        pytest.fail("a stopped recommender kept serving")
    with pytest.raises(personalize.exceptions.ResourceInUseException):
        personalize.stop_recommender(recommenderArn=arn)
    personalize.start_recommender(recommenderArn=arn)
    time.sleep(2.5)
    assert _items(runtime, arn, userId="u01", numResults=3)

    personalize.update_recommender(
        recommenderArn=arn, recommenderConfig={"minRecommendationRequestsPerSecond": 3}
    )
    doc = personalize.describe_recommender(recommenderArn=arn)["recommender"]
    assert doc["recommenderConfig"]["minRecommendationRequestsPerSecond"] == 3
    assert doc["latestRecommenderUpdate"]["status"] == "ACTIVE"

    # New training columns retrain the model; the recommender serves the old one meanwhile.
    columns = {"excludedDatasetColumns": {"ITEMS": ["GENRES"]}}
    personalize.update_recommender(recommenderArn=arn, recommenderConfig={"trainingDataConfig": columns})
    assert personalize.describe_recommender(recommenderArn=arn)["recommender"]["status"] == "ACTIVE"
    updated = _wait_for_update(personalize, arn)
    assert updated["latestRecommenderUpdate"]["status"] == "ACTIVE", updated["latestRecommenderUpdate"]
    assert updated["recommenderConfig"]["trainingDataConfig"] == columns
    assert set(_items(runtime, arn, userId="newcomer", numResults=10)) == {
        f"{g}{i:02d}" for g in "ab" for i in range(5)
    }


def _wait_for_update(personalize, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 600
    while True:
        doc = personalize.describe_recommender(recommenderArn=arn)["recommender"]
        if (
            doc["latestRecommenderUpdate"]["status"] in ("ACTIVE", "UPDATE FAILED")
            or time.monotonic() > deadline
        ):
            return doc
        time.sleep(0.3)


def test_a_group_with_recommenders_is_not_deleted_until_they_are(personalize, vod):
    group = vod["ws"].group
    with pytest.raises(personalize.exceptions.ResourceInUseException):
        personalize.delete_dataset_group(datasetGroupArn=group)
    for arn in vod["recommenders"].values():
        personalize.delete_recommender(recommenderArn=arn)
    assert personalize.list_recommenders(datasetGroupArn=group)["recommenders"] == []
    with pytest.raises(personalize.exceptions.ResourceNotFoundException):
        personalize.describe_recommender(recommenderArn=vod["recommenders"]["aws-vod-top-picks"])
