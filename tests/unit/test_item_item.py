"""The item-to-item tables: distance-weighted co-occurrence against a brute-force count, the transition
regression against a dense solution."""

from __future__ import annotations

import numpy as np
import pytest

from training.data import Interactions, from_records
from training.recipes.item_item import (
    ItemItemHyperparameters,
    cooccurrence_neighbors,
    item_item_terms,
    transition_neighbors,
)


def _data(histories: list[list[str]]) -> Interactions:
    users, items, stamps = [], [], []
    for u, history in enumerate(histories):
        for t, item in enumerate(history):
            users.append(f"u{u}")
            items.append(item)
            stamps.append(float(t))
    return from_records(users, items, stamps)


def _brute_force(data: Interactions, decay: float, discount: float, min_users: int) -> np.ndarray:
    n = data.n_items
    weighted = np.zeros((n, n))
    common = np.zeros((n, n))
    for history in data.histories():
        _, first = np.unique(history, return_index=True)
        order = history[np.sort(first)]
        for a in range(len(order)):
            for b in range(len(order)):
                if a != b:
                    weighted[order[a], order[b]] += decay ** (abs(a - b) - 1)
                    common[order[a], order[b]] += 1
    users = np.bincount(np.unique(data.item * data.n_users + data.user) // data.n_users, minlength=n)
    sim = weighted / (np.outer(users, users).astype(float) ** discount)
    sim[common < max(min_users, 1)] = 0.0
    return sim


def _assert_table_holds(
    index: np.ndarray, score: np.ndarray, expected: np.ndarray, floor: float, **tolerance: float
) -> None:
    """Each item's neighbours are exactly its weights above ``floor`` in ``expected``, with those weights."""
    for item in range(len(index)):
        valid = index[item] >= 0
        got = dict(zip(index[item][valid].tolist(), score[item][valid].tolist(), strict=True))
        want = {j: w for j, w in enumerate(expected[item]) if w > floor}
        assert got.keys() == want.keys()
        for j, w in want.items():
            assert got[j] == pytest.approx(w, **tolerance)


@pytest.mark.parametrize("decay", [0.0, 0.5, 0.95])
def test_distance_weighted_counts_match_a_brute_force_count(decay: float) -> None:
    rng = np.random.default_rng(3)
    histories = [[f"i{x}" for x in rng.integers(0, 12, size=rng.integers(2, 15))] for _ in range(30)]
    data = _data(histories)
    index, score = cooccurrence_neighbors(data, 11, 0.5, 2, distance_decay=decay)
    _assert_table_holds(index, score, _brute_force(data, decay, 0.5, 2), floor=0.0, rel=1e-5)


def test_items_close_in_histories_outrank_items_far_apart() -> None:
    # Every user has a and b next to each other and c twenty items away: the plain count ties b and c.
    filler = [f"f{k}" for k in range(20)]
    data = _data([["a", "b", *filler, "c"] for _ in range(5)])
    a, b, c = (data.item_ids.index(x) for x in ("a", "b", "c"))
    plain_index, plain_score = cooccurrence_neighbors(data, 22, 0.5, 1, distance_decay=1.0)
    plain = dict(zip(plain_index[a].tolist(), plain_score[a].tolist(), strict=True))
    assert plain[b] == plain[c]
    index, score = cooccurrence_neighbors(data, 22, 0.5, 1, distance_decay=0.9)
    weighted = dict(zip(index[a].tolist(), score[a].tolist(), strict=True))
    assert index[a][0] == b
    # b is 1 item after a, c 22 items after it: c's pairs count 0.9 ** 21 of b's.
    assert weighted[c] == pytest.approx(weighted[b] * 0.9**21, rel=1e-5)


def test_item_item_terms_is_none_when_every_weight_is_zero() -> None:
    data = _data([["a", "b", "c"], ["a", "b"], ["b", "c"]])
    off = ItemItemHyperparameters(item_item_weight=0.0, cooccurrence_weight=0.0, transition_weight=0.0)
    assert item_item_terms(data, off, 4, "cpu") is None
    only = ItemItemHyperparameters(item_item_weight=0.0, cooccurrence_weight=0.0, transition_weight=2.0)
    terms = item_item_terms(data, only, 4, "cpu")
    assert terms.names == ["transition_weight"] and terms.weights == [2.0]


def _dense_transition(data: Interactions, decay: float, l2: float) -> np.ndarray:
    """The regression written out: one row per step after a user's first, input = the decayed items before."""
    n = data.n_items
    inputs, targets = [], []
    for history in data.histories():
        _, first = np.unique(history, return_index=True)
        order = history[np.sort(first)]
        for t in range(1, len(order)):
            x = np.zeros(n)
            for back, item in enumerate(order[:t][::-1]):
                x[item] += decay**back
            inputs.append(x)
            targets.append(np.eye(n)[order[t]])
    x, y = np.array(inputs), np.array(targets)
    weights = np.linalg.solve(x.T @ x + l2 * np.eye(n), x.T @ y)
    np.fill_diagonal(weights, 0.0)
    return weights


@pytest.mark.parametrize("decay", [0.0, 0.6, 1.0])
def test_transition_table_matches_a_dense_regression(decay: float) -> None:
    rng = np.random.default_rng(5)
    histories = [[f"i{x}" for x in rng.integers(0, 10, size=rng.integers(2, 12))] for _ in range(40)]
    data = _data(histories)
    index, score = transition_neighbors(data, 9, 5.0, decay, 1, 100)
    _assert_table_holds(index, score, _dense_transition(data, decay, 5.0), floor=1e-9, rel=1e-4, abs=1e-7)


def test_transition_table_is_directed() -> None:
    # Every user walks part of one chain forwards: each item's next one leads its row, the one before it
    # weighs less (co-occurrence, being symmetric, cannot tell the two apart).
    rng = np.random.default_rng(2)
    chain = [f"c{k}" for k in range(8)]
    histories = []
    for _ in range(60):
        start = int(rng.integers(0, 5))
        histories.append(chain[start : start + int(rng.integers(3, 9 - start))])
    data = _data(histories)
    index, score = transition_neighbors(data, 7, 1.0, 0.5, 1, 100)
    ids = [data.item_ids.index(name) for name in chain]
    for k in range(7):
        assert index[ids[k]][0] == ids[k + 1]
    for k in range(1, 7):
        row = dict(zip(index[ids[k]].tolist(), score[ids[k]].tolist(), strict=True))
        assert row.get(ids[k - 1], 0.0) < row[ids[k + 1]]


def test_transition_table_leaves_rare_items_without_a_row() -> None:
    data = _data([["a", "b", "c"], ["a", "b", "d"], ["a", "b"]])  # c and d: one user each
    index, _ = transition_neighbors(data, 3, 1.0, 0.5, 2, 100)
    for rare in ("c", "d"):
        assert (index[data.item_ids.index(rare)] == -1).all()
    assert data.item_ids.index("b") in index[data.item_ids.index("a")].tolist()
