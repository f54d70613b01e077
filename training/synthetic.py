"""Synthetic interactions with a known answer, for tests and as the benchmark's fallback data.

Items are split into clusters; each user belongs to one cluster and walks through its items mostly in
order (the next item is usually the one after the current, so there is sequential signal), with some
random jumps within the cluster and a few interactions outside it. A model that learns anything should
recommend items of the user's cluster, near their latest item; sims of an item should be its cluster.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class SyntheticData:
    rows: list[tuple[str, str, int, str]]  # USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE
    cluster_of_item: dict[str, int]
    cluster_of_user: dict[str, int]


def item_id(index: int) -> str:
    return f"i{index:04d}"


def generate(
    n_users: int = 70,
    n_items: int = 150,
    n_clusters: int = 3,
    min_length: int = 20,
    max_length: int = 40,
    in_order: float = 0.8,
    off_cluster: float = 0.05,
    seed: int = 7,
) -> SyntheticData:
    rng = np.random.default_rng(seed)
    size = n_items // n_clusters
    rows: list[tuple[str, str, int, str]] = []
    cluster_of_user: dict[str, int] = {}
    for u in range(n_users):
        user = f"u{u:04d}"
        cluster = u % n_clusters
        cluster_of_user[user] = cluster
        base = cluster * size
        position = int(rng.integers(size))
        length = int(rng.integers(min_length, max_length + 1))
        clock = 1_600_000_000 + u * 1000
        seen: set[int] = set()
        for step in range(length):
            if rng.random() < off_cluster:
                item = int(rng.integers(n_items))
            else:
                if rng.random() >= in_order:
                    position = int(rng.integers(size))
                item = base + position % size
                position += 1
            if item in seen:
                continue
            seen.add(item)
            rows.append((user, item_id(item), clock + step * 60, "click"))
    cluster_of_item = {item_id(i): min(i // size, n_clusters - 1) for i in range(n_items)}
    return SyntheticData(rows, cluster_of_item, cluster_of_user)


def write_csv(
    data: SyntheticData,
    path: Path,
    header: tuple[str, ...] = ("USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"),
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(data.rows)
