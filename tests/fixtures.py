"""Small generated datasets with known structure, so tests never depend on downloaded data."""

from __future__ import annotations

import json
import random

INTERACTIONS_SCHEMA = json.dumps(
    {
        "type": "record",
        "name": "Interactions",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "TIMESTAMP", "type": "long"},
            {"name": "EVENT_TYPE", "type": "string"},
        ],
        "version": "1.0",
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
