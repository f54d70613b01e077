"""The held-out steps and the scale choice of training/recipes/term_scale.py, with hand-built data."""

from __future__ import annotations

import numpy as np
import pytest

from training.data import Interactions, from_records
from training.recipes.sequence_training import collapsed_sequences
from training.recipes.term_scale import HeldOutSteps, choose_scales, hold_out_last_steps

pytestmark = pytest.mark.unit


def _held_out(data: Interactions, limit: int = 300) -> HeldOutSteps | None:
    sequences, _, rows = collapsed_sequences(data, recency=False)
    return hold_out_last_steps(data, sequences, rows, np.random.default_rng(0), limit)


def test_the_newest_run_of_a_new_item_is_held_out_and_other_users_are_left_alone() -> None:
    rows = [
        ("keep", ["a", "b", "c", "c"]),  # newest step: the run c, c (a click and a watch)
        ("repeat", ["a", "b", "a"]),  # its newest item is not new to the user
        ("short", ["a", "a", "b"]),  # one distinct step before the newest
    ]
    users = [user for user, items in rows for _ in items]
    items = [item for _, history in rows for item in history]
    stamps = [float(step) for _, history in rows for step in range(len(history))]
    data = from_records(users, items, stamps)
    held = _held_out(data)
    assert held is not None and len(held) == 1
    user = data.user_ids.index("keep")
    assert held.users.tolist() == [user]
    assert [data.item_ids[i] for i in held.histories[0]] == ["a", "b"]
    assert data.item_ids[int(held.targets[0])] == "c"
    start = int(data.user_offsets[user])
    assert held.rows.tolist() == [start + 3]  # the run's last row carries the step's context
    assert np.flatnonzero(~held.keep).tolist() == [start + 2, start + 3]

    many = from_records(
        [f"u{n}" for n in range(10) for _ in range(3)], ["a", "b", "c"] * 10, [0.0, 1.0, 2.0] * 10
    )
    assert len(_held_out(many, limit=4)) == 4
    assert _held_out(from_records(["u", "u"], ["a", "b"], [0.0, 1.0])) is None


def test_the_scales_that_rank_the_held_out_items_best_win_and_ties_keep_the_larger() -> None:
    histories = [np.asarray([0]), np.asarray([0])]
    targets = np.asarray([1, 2])
    network = np.asarray([[0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0]])  # prefers item 3, wrongly
    helping = np.asarray([[0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 2.0, 0.0]])
    scales, quality = choose_scales(network, [helping], histories, targets)
    assert scales == (1.0,) and quality[(1.0,)] == 1.0 and quality[(0.0,)] == 0.5
    network_right = np.asarray([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    # Terms for item 3: at 0.125 they stay below the network's margin, at 0.25 they pass it.
    against = np.asarray([[0.0, 0.0, 0.0, 4.1], [0.0, 0.0, 0.0, 4.1]])
    assert choose_scales(network_right, [against], histories, targets)[0] == (0.125,)
    assert choose_scales(network_right, [np.zeros((2, 4))], histories, targets)[0] == (1.0,)  # all tie
    # Two terms get a scale each: the misleading one shrinks only as far as the helpful one needs.
    assert choose_scales(network_right, [helping, against], histories, targets)[0] == (1.0, 0.5)
    # The history's own items never outrank a held-out item, however the terms score them.
    seen = np.asarray([[9.0, 0.0, 0.0, 0.0], [9.0, 0.0, 0.0, 0.0]])
    assert choose_scales(network_right, [seen], histories, targets)[1][(1.0,)] == 1.0


def test_with_min_z_the_full_weights_stay_unless_the_gain_is_clear() -> None:
    n = 200
    histories = [np.asarray([0])] * n
    targets = np.full(n, 1)
    network = np.zeros((n, 4))
    network[:, 1] = 1.0  # the network ranks the target first ...
    against = np.zeros((n, 4))
    # ... and the term pushes item 2 above it on a few steps (a small gain for shrinking it) or on most.
    against[:6, 2] = 4.0
    few = choose_scales(network, [against], histories, targets, min_z=2.5)
    assert few[0] == (1.0,) and few[1][(0.0,)] > few[1][(1.0,)]  # better, but 6 of 200 steps: noise
    # At 0.25 the term ties the target (4 x 0.25 = 1), which leaves its rank alone.
    assert choose_scales(network, [against], histories, targets)[0] == (0.25,)  # without the prior
    against[:120, 2] = 4.0
    assert choose_scales(network, [against], histories, targets, min_z=2.5)[0] == (0.25,)
