"""Amazon Personalize's offline metrics, as pure functions.

Relevance is binary: a recommended item is relevant when it is in the user's ground truth (the held-out
newest interactions, see ``training.split``). Each metric is computed per user and averaged over the users
that have a non-empty ground truth; a user missing from the recommendations counts as an empty list.

The definitions are the ones the Amazon Personalize Developer Guide gives in "Evaluating a solution version
with metrics" (docs.aws.amazon.com/personalize/latest/dg/working-with-training-metrics.html; the same text
is in the AWS tutorial "Real-time movie recommendations with Amazon Personalize", module four):

- precision@K: "the number of relevant recommendations out of the top K recommendations divided by K"
  (also when fewer than K items were recommended).
- NDCG@K: DCG = sum over relevant positions r (1-based) in the top K of 1 / log2(r + 1) ("a weighting
  factor of 1/log(1 + position), where the top of the list is position 1"), divided by the ideal DCG,
  which the guide defines as "where the top K recommendations are sorted by relevance": the same top K
  list with its relevant items moved to the top. So one hit at rank r scores 1 / log2(r + 1) however
  many items the user held out, and a list without a hit scores 0. This is why Personalize's published
  NDCG@10 is close to its MRR@25 while its precision@10 is low. The textbook normalisation (ideal = min(K,
  |truth|) relevant items at the top, as RecBole uses) is ``ndcg_at_k(..., ideal="truth")``, for
  comparisons with other libraries.
- MRR@25: 1 / rank of the first relevant item in the top 25, 0 if there is none.
- coverage: "the proportion of unique recommended items from all queries out of the total number of unique
  items" in the training data: distinct items recommended (top 25) across the evaluated users, divided by
  the number of distinct items in the catalogue.

An item recommended twice in one list counts once (at its first position).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from typing import Literal, TypeVar

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


def ndcg_at_k(
    recommended: Sequence[Item],
    relevant: Collection[Item],
    k: int,
    ideal: Literal["recommended", "truth"] = "recommended",
) -> float:
    """NDCG@k; ``ideal`` "recommended" is Personalize's (the top k sorted by relevance), "truth" the
    textbook one (min(k, |relevant|) relevant items at the top)."""
    if k <= 0:
        raise ValueError("k must be positive")
    hits = _hit_ranks(recommended, relevant, k)
    if ideal == "recommended":
        best = len(hits)
    elif ideal == "truth":
        best = min(k, len(relevant))
    else:
        raise ValueError(f"ideal must be 'recommended' or 'truth', got {ideal!r}")
    ideal_dcg = sum(1.0 / math.log2(rank + 1) for rank in range(1, best + 1))
    if ideal_dcg == 0.0:
        return 0.0
    return sum(1.0 / math.log2(rank + 1) for rank in hits) / ideal_dcg


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


def per_user_metrics(
    recommendations: Mapping[User, Sequence[Item]],
    truth: Mapping[User, Collection[Item]],
) -> dict[str, list[float]]:
    """Every metric of ``METRIC_KEYS`` that is averaged over users (all but coverage), one value per user
    with a non-empty truth, in ``truth``'s order."""
    users = [user for user, relevant in truth.items() if relevant]
    values: dict[str, list[float]] = {key: [] for key in METRIC_KEYS if key != "coverage"}
    for user in users:
        recommended, relevant = list(recommendations.get(user, ())), truth[user]
        values["mean_reciprocal_rank_at_25"].append(reciprocal_rank_at_k(recommended, relevant, MRR_K))
        for k in K_VALUES:
            ndcg = ndcg_at_k(recommended, relevant, k)
            values[f"normalized_discounted_cumulative_gain_at_{k}"].append(ndcg)
            values[f"precision_at_{k}"].append(precision_at_k(recommended, relevant, k))
    return values


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
    for key, values in per_user_metrics(recommendations, truth).items():
        result[key] = sum(values) / len(users)
    result["coverage"] = coverage([list(recommendations.get(user, ())) for user in users], catalog_size)
    return result
