"""Next-Best-Action as Personalize runs it: Actions and Action interactions datasets, the
aws-next-best-action recipe, PutActionInteractions and GetActionRecommendations through boto3."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.fixtures import ACTION_INTERACTIONS_SCHEMA, ACTIONS_SCHEMA
from tests.integration.conftest import import_dataset, new_workspace, wait_for

pytestmark = pytest.mark.integration

DAY = 86_400
# Two journeys: join the loyalty programme then download the app, or subscribe to e-mail then buy gold.
JOURNEYS = (("join-loyalty", "download-app"), ("subscribe-email", "buy-gold"))


def actions_csv() -> str:
    future = int(time.time()) + 365 * DAY
    rows = [
        "ACTION_ID,VALUE,EXPIRATION_TIMESTAMP,REPEAT_FREQUENCY,CHANNEL,CREATION_TIMESTAMP",
        f"join-loyalty,5,{future},,web,1",
        f"download-app,3,{future},,app,1",
        f"subscribe-email,2,{future},,email,1",
        f"buy-gold,9,{future},30,web,1",
        f"rate-us,1,{future},,app,1",
        "expired-offer,10,1000,,web,1",  # expired in 1970
        f"brand-new-offer,8,{future},,web,1",  # no interactions yet
    ]
    return "\n".join(rows) + "\n"


def action_interactions_csv(users: int = 300) -> str:
    start = 1_700_000_000
    lines = ["USER_ID,ACTION_ID,TIMESTAMP,EVENT_TYPE"]
    for u in range(users):
        first, second = JOURNEYS[u % 2]
        t = start + u * 10 * DAY
        lines.append(f"nba-user-{u},rate-us,{t},VIEWED")
        lines.append(f"nba-user-{u},{first},{t + 60},TAKEN")
        lines.append(f"nba-user-{u},rate-us,{t + DAY},NOT_TAKEN")
        lines.append(f"nba-user-{u},{second},{t + 2 * DAY},TAKEN")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def nba(target, personalize, s3) -> dict[str, Any]:
    workspace = new_workspace(target, personalize, s3, "nba")
    suffix, bucket, role, group = workspace.suffix, workspace.bucket, workspace.role, workspace.group
    for kind, schema, body in (
        ("Actions", ACTIONS_SCHEMA, actions_csv()),
        ("Action_Interactions", ACTION_INTERACTIONS_SCHEMA, action_interactions_csv()),
    ):
        import_dataset(personalize, s3, bucket, role, group, kind, schema, body, f"nba-{suffix}")
    solution = personalize.create_solution(
        name=f"nba-{suffix}",
        datasetGroupArn=group,
        recipeArn="arn:aws:personalize:::recipe/aws-next-best-action",
    )["solutionArn"]
    version = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    doc = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=version), "solutionVersion", 600
    )
    assert doc["status"] == "ACTIVE", doc.get("failureReason")
    campaign = personalize.create_campaign(name=f"nba-{suffix}", solutionVersionArn=version)["campaignArn"]
    assert (
        wait_for(lambda: personalize.describe_campaign(campaignArn=campaign), "campaign")["status"]
        == "ACTIVE"
    )
    tracker = personalize.create_event_tracker(name=f"nba-{suffix}", datasetGroupArn=group)
    return {"group": group, "campaign": campaign, "tracking_id": tracker["trackingId"], "suffix": suffix}


def _actions(runtime, nba, user: str, n: int = 5) -> list[dict[str, Any]]:
    return runtime.get_action_recommendations(campaignArn=nba["campaign"], userId=user, numResults=n)[
        "actionList"
    ]


def test_next_step_of_the_journey_comes_first(runtime, events, nba):
    for first, second in JOURNEYS:
        user = f"{first}-taker-{nba['suffix']}"
        events.put_action_interactions(
            trackingId=nba["tracking_id"],
            actionInteractions=[
                {
                    "actionId": first,
                    "userId": user,
                    "sessionId": f"s-{user}",
                    "timestamp": time.time(),
                    "eventType": "TAKEN",
                }
            ],
        )

        def second_first(user=user, second=second):
            actions = _actions(runtime, nba, user)
            return actions and actions[0]["actionId"] == second

        assert wait_for_true(second_first), _actions(runtime, nba, user)


def test_scores_are_propensities_and_expired_actions_never_appear(runtime, nba):
    actions = _actions(runtime, nba, "nba-user-0", n=100)
    ids = [a["actionId"] for a in actions]
    assert "expired-offer" not in ids
    assert all(0.0 <= a["score"] <= 1.0 for a in actions)
    scores = [a["score"] for a in actions]
    assert scores == sorted(scores, reverse=True)
    # An action with no interactions yet is recommended without personalisation, at 0.0.
    assert {"actionId": "brand-new-offer", "score": 0.0} in actions
    assert len(ids) == 6


def test_repeat_frequency_holds_an_action_back(runtime, events, nba):
    user = f"gold-buyer-{nba['suffix']}"
    events.put_action_interactions(
        trackingId=nba["tracking_id"],
        actionInteractions=[
            {
                "actionId": "buy-gold",
                "userId": user,
                "sessionId": f"s-{user}",
                "timestamp": time.time(),
                "eventType": "TAKEN",
            }
        ],
    )
    # buy-gold repeats every 30 days at most: just taken, it is held back.
    assert wait_for_true(lambda: "buy-gold" not in [a["actionId"] for a in _actions(runtime, nba, user, 100)])


def test_action_request_limits(runtime, personalize, nba):
    with pytest.raises(runtime.exceptions.InvalidInputException):
        _actions(runtime, nba, "nba-user-1", n=101)
    with pytest.raises(runtime.exceptions.InvalidInputException):
        runtime.get_recommendations(campaignArn=nba["campaign"], userId="nba-user-1")
    with pytest.raises(personalize.exceptions.InvalidInputException):
        personalize.create_filter(
            name=f"nba-filter-{nba['suffix']}",
            datasetGroupArn=nba["group"],
            filterExpression='EXCLUDE ActionID WHERE Actions.CHANNEL IN ("app")',
        )


def wait_for_true(check, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)
