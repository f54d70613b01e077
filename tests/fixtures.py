"""Small generated datasets with known structure, so tests never depend on downloaded data."""

from __future__ import annotations

import json
import random


def avro_schema(name: str, fields: list[dict]) -> str:
    """A Personalize schema document (an Avro record) as CreateSchema takes it."""
    return json.dumps(
        {
            "type": "record",
            "name": name,
            "namespace": "com.amazonaws.personalize.schema",
            "fields": fields,
            "version": "1.0",
        }
    )


INTERACTIONS_SCHEMA = avro_schema(
    "Interactions",
    [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": "string"},
    ],
)
# Interactions with contextual metadata (Personalize: a categorical field such as DEVICE).
CONTEXT_INTERACTIONS_SCHEMA = avro_schema(
    "Interactions",
    [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "DEVICE", "type": ["null", "string"], "categorical": True},
    ],
)
ACTIONS_SCHEMA = avro_schema(
    "Actions",
    [
        {"name": "ACTION_ID", "type": "string"},
        {"name": "VALUE", "type": ["null", "long"]},
        {"name": "EXPIRATION_TIMESTAMP", "type": ["null", "long"]},
        {"name": "REPEAT_FREQUENCY", "type": ["null", "long"]},
        {"name": "CHANNEL", "type": ["null", "string"], "categorical": True},
        {"name": "CREATION_TIMESTAMP", "type": "long"},
    ],
)
ACTION_INTERACTIONS_SCHEMA = avro_schema(
    "ActionInteractions",
    [
        {"name": "USER_ID", "type": "string"},
        {"name": "ACTION_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": "string"},
    ],
)
# What Personalize's own samples attach to the role they pass to imports and jobs.
ASSUME_ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "personalize.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)

CLUSTERS = 4


def item_cluster(item_id: str) -> int:
    return int(item_id.split("-")[1]) % CLUSTERS


def interactions_csv(users: int = 80, items: int = 120, per_user: int = 25, seed: int = 7) -> str:
    """Users each favour one of four item clusters (item i belongs to cluster i % 4).

    About 90% of a user's interactions fall in their cluster, so a model that learned anything
    recommends mostly in-cluster items, and co-occurrence links items of the same cluster.
    """
    rng = random.Random(seed)
    lines = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE"]
    start = 1_700_000_000
    for u in range(users):
        cluster = u % CLUSTERS
        own = [i for i in range(items) if i % CLUSTERS == cluster]
        # The off-cluster noise comes first, so a user's recent history (what sequence models and
        # the held-out evaluation look at) shows their taste.
        chosen = rng.sample(range(items), 3) + rng.sample(own, min(per_user - 3, len(own)))
        for step, item in enumerate(chosen):
            lines.append(f"user-{u},item-{item},{start + u * 1000 + step * 10},click")
    return "\n".join(lines) + "\n"


GENRES = ("Comedy", "Drama", "Action|Comedy", "Horror")

ITEMS_SCHEMA = avro_schema(
    "Items",
    [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRE", "type": ["null", "string"], "categorical": True},
        {"name": "YEAR", "type": ["null", "int"]},
        {"name": "TITLE", "type": ["null", "string"]},
        {"name": "CREATION_TIMESTAMP", "type": "long"},
    ],
)
USERS_SCHEMA = avro_schema(
    "Users",
    [
        {"name": "USER_ID", "type": "string"},
        {"name": "AGE", "type": ["null", "int"]},
        {"name": "MEMBERSHIP", "type": ["null", "string"], "categorical": True},
    ],
)


def item_genre(item_id: str) -> str:
    return GENRES[item_cluster(item_id)]


def item_year(item_id: str) -> int:
    return 1950 + (int(item_id.split("-")[1]) * 7) % 60


def items_csv(items: int = 120) -> str:
    """Metadata for ``interactions_csv``'s items: the genre follows the cluster, the year is spread."""
    lines = ["ITEM_ID,GENRE,YEAR,TITLE,CREATION_TIMESTAMP"]
    for i in range(items):
        item = f"item-{i}"
        lines.append(
            f'{item},{item_genre(item)},{item_year(item)},"Title {i}, the movie",{1_600_000_000 + i}'
        )
    return "\n".join(lines) + "\n"


def users_csv(users: int = 80) -> str:
    lines = ["USER_ID,AGE,MEMBERSHIP"]
    for u in range(users):
        lines.append(f"user-{u},{18 + u % 50},{'gold' if u % 2 else 'basic'}")
    return "\n".join(lines) + "\n"


def typed_interactions_csv(users: int = 80, items: int = 120, per_user: int = 25, seed: int = 7) -> str:
    """``interactions_csv`` with every third interaction a ``watch`` instead of a ``click``."""
    lines = interactions_csv(users, items, per_user, seed).splitlines()
    out = [lines[0]]
    for index, line in enumerate(lines[1:]):
        out.append(line.rsplit(",", 1)[0] + ("," + ("watch" if index % 3 == 0 else "click")))
    return "\n".join(out) + "\n"


def interactions_and_items() -> dict[str, tuple[str, str]]:
    """The generated Interactions and Items datasets as (schema, CSV body) by dataset type."""
    return {"Interactions": (INTERACTIONS_SCHEMA, interactions_csv()), "Items": (ITEMS_SCHEMA, items_csv())}
