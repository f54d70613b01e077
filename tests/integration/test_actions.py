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
    return {
        "group": group,
        "campaign": campaign,
        "tracking_id": tracker["trackingId"],
        "suffix": suffix,
        "version": version,
        "bucket": bucket,
        "role": role,
    }


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
    # "You can't get batch recommendations with the Trending-Now or Next-Best-Action recipes."
    with pytest.raises(personalize.exceptions.InvalidInputException, match="aws-next-best-action"):
        personalize.create_batch_inference_job(
            jobName=f"nba-batch-{nba['suffix']}",
            solutionVersionArn=nba["version"],
            jobInput={"s3DataSource": {"path": f"s3://{nba['bucket']}/batch/users.json"}},
            jobOutput={"s3DataDestination": {"path": f"s3://{nba['bucket']}/batch/out/"}},
            roleArn=nba["role"],
        )
    with pytest.raises(runtime.exceptions.InvalidInputException):
        _actions(runtime, nba, "nba-user-1", n=101)
    with pytest.raises(runtime.exceptions.InvalidInputException):
        runtime.get_recommendations(campaignArn=nba["campaign"], userId="nba-user-1")


def _action_filter(personalize, nba, name: str, expression: str) -> str:
    arn = personalize.create_filter(
        name=f"nba-{name}-{nba['suffix']}", datasetGroupArn=nba["group"], filterExpression=expression
    )["filterArn"]
    assert wait_for(lambda: personalize.describe_filter(filterArn=arn), "filter")["status"] == "ACTIVE"
    return arn


def test_action_filters_from_the_guides_examples(runtime, personalize, events, nba):
    """ "Action recommendation filter expression examples": by Actions fields, with a parameter, and by
    the user's Action interactions, imported and recorded."""

    def actions(user: str, filter_arn: str, **values: str) -> list[str]:
        found = runtime.get_action_recommendations(
            campaignArn=nba["campaign"],
            userId=user,
            numResults=100,
            filterArn=filter_arn,
            filterValues=values,
        )["actionList"]
        return [a["actionId"] for a in found]

    unfiltered = {a["actionId"] for a in _actions(runtime, nba, "nba-user-6", 100)}
    channel = _action_filter(
        personalize, nba, "channel", "EXCLUDE ActionID WHERE Actions.CHANNEL IN ($CHANNEL)"
    )
    got = actions("nba-user-6", channel, CHANNEL='"app"')
    assert set(got) == unfiltered - {"download-app", "rate-us"}, got
    valuable = _action_filter(personalize, nba, "value", "INCLUDE ActionID WHERE Actions.VALUE > ($VALUE)")
    assert set(actions("nba-user-6", valuable, VALUE="4")) == {"join-loyalty", "buy-gold", "brand-new-offer"}
    with pytest.raises(runtime.exceptions.InvalidInputException, match=r"\$VALUE"):
        actions("nba-user-6", valuable)

    # nba-user-4 took join-loyalty and download-app (imported); a recorded TAKEN joins them.
    taken = _action_filter(
        personalize, nba, "taken", 'EXCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("taken")'
    )
    got = actions("nba-user-4", taken)
    assert {"join-loyalty", "download-app"}.isdisjoint(got) and "subscribe-email" in got, got
    events.put_action_interactions(
        trackingId=nba["tracking_id"],
        actionInteractions=[
            {
                "actionId": "subscribe-email",
                "userId": "nba-user-4",
                "sessionId": "s-nba-user-4",
                "timestamp": time.time(),
                "eventType": "TAKEN",
            }
        ],
    )
    assert wait_for_true(lambda: "subscribe-email" not in actions("nba-user-4", taken))

    errors = personalize.exceptions
    with pytest.raises(errors.InvalidInputException, match="no field NOPE"):
        personalize.create_filter(
            name=f"nba-bad-{nba['suffix']}",
            datasetGroupArn=nba["group"],
            filterExpression='EXCLUDE ActionID WHERE Actions.NOPE IN ("x")',
        )
    with pytest.raises(errors.InvalidInputException, match="only use Actions or Action_Interactions"):
        personalize.create_filter(
            name=f"nba-mixed-{nba['suffix']}",
            datasetGroupArn=nba["group"],
            filterExpression='EXCLUDE ActionID WHERE Interactions.EVENT_TYPE IN ("x")',
        )


def wait_for_true(check, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)
