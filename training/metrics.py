"""Amazon Personalize's offline metrics, as pure functions.

Relevance is binary: a recommended item is relevant when it is in the user's ground truth (the held-out
newest interactions, see ``training.split``). Each metric is computed per user and averaged over the users
that have a non-empty ground truth; a user missing from the recommendations counts as an empty list.

- precision@K: relevant items in the top K, divided by K (also when fewer than K items were recommended).
- NDCG@K: DCG = sum over relevant positions r (1-based) in the top K of 1 / log2(r + 1); the ideal DCG puts
  min(K, |truth|) relevant items at the top. 0 when the truth is empty.
- MRR@25: 1 / rank of the first relevant item in the top 25, 0 if there is none.
- coverage: distinct items recommended (top 25) across the evaluated users, divided by the number of
  distinct items in the catalogue (the training data).

An item recommended twice in one list counts once (at its first position).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from typing import TypeVar

K_VALUES = (5, 10, 25)
MRR_K = 25

Item = TypeVar("Item", bound=Hashable)
User = TypeVar("User", bound=Hashable)

METRIC_KEYS = (
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
)


def _hit_ranks(recommended: Sequence[Item], relevant: Collection[Item], k: int) -> list[int]:
    """1-based ranks within the top k at which a not-yet-seen relevant item appears."""
    ranks: list[int] = []
    seen: set[Item] = set()
    for rank, item in enumerate(recommended[:k], start=1):
        if item in relevant and item not in seen:
            ranks.append(rank)
        seen.add(item)
    return ranks


def precision_at_k(recommended: Sequence[Item], relevant: Collection[Item], k: int) -> float:
    if k <= 0:
        raise ValueError("k must be positive")
    return len(_hit_ranks(recommended, relevant, k)) / k


def ndcg_at_k(recommended: Sequence[Item], relevant: Collection[Item], k: int) -> float:
    if k <= 0:
        raise ValueError("k must be positive")
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(k, len(relevant)) + 1))
    if ideal == 0.0:
        return 0.0
    return sum(1.0 / math.log2(rank + 1) for rank in _hit_ranks(recommended, relevant, k)) / ideal


def reciprocal_rank_at_k(recommended: Sequence[Item], relevant: Collection[Item], k: int = MRR_K) -> float:
    ranks = _hit_ranks(recommended, relevant, k)
    return 1.0 / ranks[0] if ranks else 0.0


def coverage(recommendations: Iterable[Sequence[Item]], catalog_size: int, k: int = max(K_VALUES)) -> float:
    if catalog_size <= 0:
        raise ValueError("catalog_size must be positive")
    distinct: set[Item] = set()
    for recommended in recommendations:
        distinct.update(recommended[:k])
    return len(distinct) / catalog_size


def personalize_metrics(
    recommendations: Mapping[User, Sequence[Item]],
    truth: Mapping[User, Collection[Item]],
    catalog_size: int,
) -> dict[str, float]:
    """The metric set GetSolutionMetrics returns, averaged over users with a non-empty truth."""
    users = [user for user, relevant in truth.items() if relevant]
    result = dict.fromkeys(METRIC_KEYS, 0.0)
    if not users:
        return result
    lists = [list(recommendations.get(user, ())) for user in users]
    for recommended, user in zip(lists, users, strict=True):
        relevant = truth[user]
        result["mean_reciprocal_rank_at_25"] += reciprocal_rank_at_k(recommended, relevant, MRR_K)
        for k in K_VALUES:
            result[f"normalized_discounted_cumulative_gain_at_{k}"] += ndcg_at_k(recommended, relevant, k)
            result[f"precision_at_{k}"] += precision_at_k(recommended, relevant, k)
    for key in METRIC_KEYS:
        result[key] /= len(users)
    result["coverage"] = coverage(lists, catalog_size)
    return result
