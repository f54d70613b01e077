"""Choosing returned items: filters, blocked items, filling up, promotions and exploration."""

from __future__ import annotations

import random

import numpy as np
import pytest

from functions.serving.selection import Candidates, Exploration, Promotion, select

pytestmark = pytest.mark.unit


def _candidates(scores: list[float], popularity: list[float] | None = None, blocked=()) -> Candidates:
    ids = [f"i{k}" for k in range(len(scores))]
    block = np.zeros(len(scores), dtype=bool)
    block[list(blocked)] = True
    pop = np.asarray(popularity if popularity is not None else [0.0] * len(scores), dtype=np.float64)
    return Candidates(ids, np.asarray(scores, dtype=np.float64), pop, block)


def _ids(chosen) -> list[str]:
    return [c.item_id for c in chosen]


def test_best_scores_first_and_blocked_never():
    chosen = select(_candidates([0.1, 0.5, 0.3, 0.9], blocked=[3]), 3)
    assert _ids(chosen) == ["i1", "i2", "i0"]
    assert [c.score for c in chosen] == [0.5, 0.3, 0.1]


def test_filter_mask_and_fill_by_popularity_for_unscored_items():
    inf = -np.inf
    candidates = _candidates([0.9, inf, inf, 0.2, inf], popularity=[0, 0.1, 0.7, 0, 0.3])
    allowed = np.array([True, True, True, False, True])
    chosen = select(candidates, 4, allowed)
    # the only scored allowed item, then unscored ones by popularity; i3 is filtered out
    assert _ids(chosen) == ["i0", "i2", "i4", "i1"]
    assert [c.score for c in chosen] == [0.9, 0.0, 0.0, 0.0]


def test_fewer_passing_items_than_requested_returns_what_passes():
    allowed = np.array([False, True, False, True])
    assert _ids(select(_candidates([0.4, 0.3, 0.2, 0.1]), 10, allowed)) == ["i1", "i3"]


def test_promotion_takes_its_slots_from_its_own_filter_in_order():
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]
    promoted_mask = np.array([False, False, False, False, True, True, True, False])
    request_filter = np.array([True, True, True, True, False, False, False, True])
    for seed in range(20):
        chosen = select(
            _candidates(scores), 5, request_filter, Promotion("p", 2, promoted_mask), rng=random.Random(seed)
        )
        promoted = [c for c in chosen if c.promotion == "p"]
        assert [c.item_id for c in promoted] == ["i4", "i5"]  # best promoted, in score order
        assert [c.item_id for c in chosen if c.promotion is None] == ["i0", "i1", "i2"]
        assert len(chosen) == 5


def test_promoted_positions_vary():
    scores = [0.9, 0.8, 0.7, 0.6, 0.5]
    mask = np.array([False, False, False, False, True])
    positions = {
        _ids(select(_candidates(scores), 5, None, Promotion("p", 1, mask), rng=random.Random(seed))).index(
            "i4"
        )
        for seed in range(40)
    }
    assert len(positions) > 2


def test_promotion_with_too_few_items_keeps_the_list_full():
    mask = np.array([False, False, True, False])
    chosen = select(_candidates([0.4, 0.3, 0.2, 0.1]), 4, None, Promotion("p", 3, mask), rng=random.Random(1))
    assert sorted(_ids(chosen)) == ["i0", "i1", "i2", "i3"]
    assert [c.item_id for c in chosen if c.promotion] == ["i2"]


def test_exploration_spreads_cold_items_and_keeps_scores_ordered():
    inf = -np.inf
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, inf, inf, inf]
    eligible = np.array([False] * 6 + [True] * 3)
    weights = np.ones(9)
    chosen = select(
        _candidates(scores), 6, exploration=Exploration(2, eligible, weights), rng=random.Random(3)
    )
    explored = [i for i, c in enumerate(chosen) if c.item_id in ("i6", "i7", "i8")]
    assert explored == [1, 4]  # evenly spread over the six slots
    assert len(chosen) == 6
    values = [c.score for c in chosen]
    assert values == sorted(values, reverse=True)
    assert _ids([c for c in chosen if c.item_id not in ("i6", "i7", "i8")]) == ["i0", "i1", "i2", "i3"]


def test_exploration_prefers_higher_weights():
    inf = -np.inf
    scores = [0.9, inf, inf]
    eligible = np.array([False, True, True])
    weights = np.array([1.0, 1000.0, 0.001])
    picks = [
        _ids(
            select(
                _candidates(scores),
                1 + 1,
                exploration=Exploration(1, eligible, weights),
                rng=random.Random(s),
            )
        )
        for s in range(30)
    ]
    assert sum("i1" in p for p in picks) >= 28


def test_no_exploration_without_eligible_items():
    chosen = select(
        _candidates([0.5, 0.4]), 2, exploration=Exploration(1, np.array([False, False]), np.ones(2))
    )
    assert _ids(chosen) == ["i0", "i1"]
