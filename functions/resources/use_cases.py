"""Domain dataset group use cases: the recipes a recommender (CreateRecommender) is created with.

Amazon Personalize's Developer Guide lists, per domain, each use case's recipe ARN, what
GetRecommendations needs, the datasets it trains on, the event type it trains on and the items it
leaves out automatically ("VIDEO_ON_DEMAND use cases", "ECOMMERCE use cases"). Personalize does not say
which model serves a use case; Tailor trains each with the custom recipe that answers the same
question, restricted to the use case's event type (as a solution's ``eventType`` would be):

| use case | trained as | events | query | left out for the user |
|---|---|---|---|---|
| aws-vod-most-popular | aws-popularity-count | Watch | userId | - |
| aws-vod-trending-now | aws-trending-now | Watch | userId | - |
| aws-vod-because-you-watched-x | aws-sims | Watch | userId, itemId | watched |
| aws-vod-more-like-x | aws-similar-items (Items) | all | userId, itemId | watched |
| aws-vod-top-picks | aws-user-personalization-v2 (Items) | all | userId | watched |
| aws-ecomm-popular-items-by-views | aws-popularity-count | View | userId | - |
| aws-ecomm-popular-items-by-purchases | aws-popularity-count | Purchase | userId | - |
| aws-ecomm-frequently-bought-together | aws-sims | Purchase | itemId | - |
| aws-ecomm-customers-who-viewed-x-also-viewed | aws-sims | View | userId, itemId | purchased |
| aws-ecomm-recommended-for-you | aws-user-personalization-v2 | all | userId | purchased |

"Left out" is an interaction filter (``EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (...)``) applied
before the request's own filter, as the guide says Personalize does.
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.resources.arns import RECIPE_PREFIX

VIDEO_ON_DEMAND = "VIDEO_ON_DEMAND"
ECOMMERCE = "ECOMMERCE"


@dataclass(frozen=True)
class UseCase:
    name: str
    domain: str
    trained_as: str  # the Tailor recipe that trains it
    description: str
    event_type: str | None = None  # the only event type trained on (None: every event)
    required_datasets: tuple[str, ...] = ("INTERACTIONS",)
    needs_user: bool = True  # GetRecommendations: userId required
    needs_item: bool = False  # GetRecommendations: itemId required
    exclude_event_type: str | None = None  # items the user had with this event type are left out

    @property
    def recipe_arn(self) -> str:
        return f"{RECIPE_PREFIX}{self.name}"

    @property
    def trained_as_arn(self) -> str:
        return f"{RECIPE_PREFIX}{self.trained_as}"

    def automatic_filter(self) -> str | None:
        """The filter expression Personalize applies for this use case before any of the request's."""
        if not self.exclude_event_type:
            return None
        return f'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("{self.exclude_event_type}")'


USE_CASES: dict[str, UseCase] = {
    u.name: u
    for u in (
        UseCase(
            "aws-vod-most-popular",
            VIDEO_ON_DEMAND,
            "aws-popularity-count",
            "Videos watched by the most users.",
            event_type="Watch",
        ),
        UseCase(
            "aws-vod-trending-now",
            VIDEO_ON_DEMAND,
            "aws-trending-now",
            "Videos whose watching grows fastest.",
            event_type="Watch",
        ),
        UseCase(
            "aws-vod-because-you-watched-x",
            VIDEO_ON_DEMAND,
            "aws-sims",
            "Videos that other users also watched, for a video you give; the user's watched videos are "
            "left out.",
            event_type="Watch",
            needs_item=True,
            exclude_event_type="Watch",
        ),
        UseCase(
            "aws-vod-more-like-x",
            VIDEO_ON_DEMAND,
            "aws-similar-items",
            "Videos similar to a video you give, from interactions and the Items dataset; the user's "
            "watched videos are left out.",
            required_datasets=("INTERACTIONS", "ITEMS"),
            needs_item=True,
            exclude_event_type="Watch",
        ),
        UseCase(
            "aws-vod-top-picks",
            VIDEO_ON_DEMAND,
            "aws-user-personalization-v2",
            "Personalized videos for a user; the user's watched videos are left out.",
            required_datasets=("INTERACTIONS", "ITEMS"),
            exclude_event_type="Watch",
        ),
        UseCase(
            "aws-ecomm-popular-items-by-views",
            ECOMMERCE,
            "aws-popularity-count",
            "Items viewed most often.",
            event_type="View",
        ),
        UseCase(
            "aws-ecomm-popular-items-by-purchases",
            ECOMMERCE,
            "aws-popularity-count",
            "Items purchased most often.",
            event_type="Purchase",
        ),
        UseCase(
            "aws-ecomm-frequently-bought-together",
            ECOMMERCE,
            "aws-sims",
            "Items customers often buy together with an item you give.",
            event_type="Purchase",
            needs_user=False,
            needs_item=True,
        ),
        UseCase(
            "aws-ecomm-customers-who-viewed-x-also-viewed",
            ECOMMERCE,
            "aws-sims",
            "Items customers also viewed, for an item you give; the user's purchased items are left out.",
            event_type="View",
            needs_item=True,
            exclude_event_type="Purchase",
        ),
        UseCase(
            "aws-ecomm-recommended-for-you",
            ECOMMERCE,
            "aws-user-personalization-v2",
            "Personalized items for a user; the user's purchased items are left out.",
            exclude_event_type="Purchase",
        ),
    )
}


def use_case_of(recipe_arn: str) -> UseCase | None:
    if not recipe_arn.startswith(RECIPE_PREFIX):
        return None
    return USE_CASES.get(recipe_arn[len(RECIPE_PREFIX) :])
