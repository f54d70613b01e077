"""Choosing the returned items from scored candidates: filters, promotions, exploration, filling up.

Pure numpy over one candidate array, so GetRecommendations, GetPersonalizedRanking and batch inference
share one implementation. Candidates are the model's items followed by catalogue items the model has
never seen (cold items: imported or PutItems items without interactions).

Order of a result, following the developer guide:
- Items the request's filter removes, and blocked items (the user's history, the query item itself),
  never appear.
- A promotion takes ``round(n * percentPromotedItems / 100)`` slots for the best-scored items passing
  the promotion's filter (the request's filter does not apply to them); "promoted items are positioned
  randomly relative to other recommended items, but in sorted order relative to other promoted items".
  When too few items pass, the result holds as many as there are.
- The other slots take the best-scored items passing the request's filter. A model that does not score
  every item (SIMS neighbours) is filled up by popularity, then by any passing item, so a filter that
  leaves enough items still gets ``numResults`` of them.
- Exploration (``itemExplorationConfig``): ``round(n_regular * explorationWeight)`` of the regular
  slots go to cold items young enough (``explorationItemAgeCutOff``), sampled with weights favouring
  newer ones, at evenly spread positions; each gets the score of the item after it so the list stays
  ordered by score.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np


@dataclass
class Candidates:
    ids: list[str]
    scores: np.ndarray  # float64; -inf where the model gives no score
    popularity: np.ndarray  # float64 fill order for unscored items
    blocked: np.ndarray  # bool: never returned


@dataclass(frozen=True)
class Promotion:
    name: str
    count: int
    mask: np.ndarray  # bool over candidates


@dataclass(frozen=True)
class Exploration:
    count: int
    eligible: np.ndarray  # bool over candidates
    weights: np.ndarray  # float64 sampling weights over candidates (only eligible ones matter)


@dataclass(frozen=True)
class Chosen:
    item_id: str
    score: float | None
    promotion: str | None = None


def _best(candidates: Candidates, allowed: np.ndarray, count: int) -> list[int]:
    """Up to ``count`` allowed indices: by score, then by popularity, then by position."""
    if count <= 0:
        return []
    scores = candidates.scores
    scored = np.flatnonzero(allowed & np.isfinite(scores))
    chosen: list[int] = []
    if scored.size:
        take = min(count, scored.size)
        top = scored[np.argpartition(-scores[scored], take - 1)[:take]] if take < scored.size else scored
        chosen = [int(i) for i in top[np.lexsort((top, -scores[top]))]]
    if len(chosen) < count:
        rest = np.flatnonzero(allowed & ~np.isfinite(scores))
        if rest.size:
            need = min(count - len(chosen), rest.size)
            popularity = candidates.popularity[rest]
            order = rest[np.lexsort((rest, -popularity))][:need]
            chosen.extend(int(i) for i in order)
    return chosen


def select(
    candidates: Candidates,
    n: int,
    allowed: np.ndarray | None = None,
    promotion: Promotion | None = None,
    exploration: Exploration | None = None,
    rng: random.Random | None = None,
) -> list[Chosen]:
    rng = rng or random.Random()
    open_ = ~candidates.blocked
    promoted: list[int] = []
    if promotion is not None and promotion.count > 0:
        promoted = _best(candidates, open_ & promotion.mask, min(promotion.count, n))
    regular_allowed = open_ if allowed is None else open_ & allowed
    if promoted:
        regular_allowed = regular_allowed.copy()
        regular_allowed[promoted] = False
    slots = n - len(promoted)
    explore_count = 0
    explore_pool = np.empty(0, dtype=np.int64)
    if exploration is not None and slots > 0:
        pool_mask = regular_allowed & exploration.eligible
        explore_pool = np.flatnonzero(pool_mask)
        explore_count = min(exploration.count, slots, explore_pool.size)
    regular = _best(
        candidates,
        regular_allowed & ~(exploration.eligible if explore_count else np.zeros_like(regular_allowed)),
        slots - explore_count,
    )
    if explore_count:
        explored = _sample(explore_pool, exploration.weights[explore_pool], explore_count, rng)  # type: ignore[union-attr]
        regular = _spread(regular, explored)
    scores = _scores(candidates, regular, set(explored) if explore_count else set())
    result = [Chosen(candidates.ids[i], s) for i, s in zip(regular, scores, strict=True)]
    if promoted:
        promoted_scores = _scores(candidates, promoted, set())
        positions = sorted(rng.sample(range(len(result) + len(promoted)), len(promoted)))
        promo = [
            Chosen(candidates.ids[i], s, promotion.name)
            for i, s in zip(promoted, promoted_scores, strict=True)
        ]  # type: ignore[union-attr]
        for position, chosen in zip(positions, promo, strict=True):
            result.insert(position, chosen)
    return result


def _sample(pool: np.ndarray, weights: np.ndarray, count: int, rng: random.Random) -> list[int]:
    weights = np.where(np.isfinite(weights) & (weights > 0), weights, 1e-9)
    keys = [rng.random() ** (1.0 / float(w)) for w in weights]  # weighted sampling without replacement
    order = np.argsort(keys)[::-1][:count]
    return [int(pool[i]) for i in order]


def _spread(regular: list[int], explored: list[int]) -> list[int]:
    total = len(regular) + len(explored)
    step = total / len(explored)
    positions = {min(total - 1, math.floor(step * (k + 0.5))) for k in range(len(explored))}
    out: list[int] = []
    regular_iter, explored_iter = iter(regular), iter(explored)
    for position in range(total):
        source = explored_iter if position in positions else regular_iter
        value = next(source, None)
        if value is None:  # positions collided: take from whichever list still has items
            value = next(regular_iter, None)
            if value is None:
                value = next(explored_iter)
        out.append(value)
    return out


def _scores(candidates: Candidates, chosen: list[int], explored: set[int]) -> list[float | None]:
    """Model scores; explored items borrow the next item's score, unscored fill items score 0."""
    raw = [float(candidates.scores[i]) if i not in explored else math.nan for i in chosen]
    out: list[float | None] = []
    following = 0.0
    for value in reversed(raw):
        if math.isnan(value):
            out.append(following)
            continue
        value = value if math.isfinite(value) else 0.0
        following = value
        out.append(value)
    out.reverse()
    return out
