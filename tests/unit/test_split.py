"""Properties of Personalize's evaluation split on a small generated data set."""

from __future__ import annotations

import numpy as np
import pytest

from training.data import Interactions, from_records
from training.split import personalize_split, truth_size

pytestmark = pytest.mark.unit


def _data(n_users: int = 100, seed: int = 0) -> Interactions:
    rng = np.random.default_rng(seed)
    users, items, stamps = [], [], []
    for u in range(n_users):
        # Every 10th user has a single interaction and must never be held out.
        length = 1 if u % 10 == 0 else int(rng.integers(2, 60))
        for step in range(length):
            users.append(f"user{u}")
            items.append(f"item{int(rng.integers(0, 80))}")
            stamps.append(1_000 * u + step)
    return from_records(users, items, stamps)


def test_truth_size_is_ten_percent_at_least_one_never_everything() -> None:
    assert truth_size(2) == 1
    assert truth_size(10) == 1
    assert truth_size(25) == 2
    assert truth_size(100) == 10


def test_ten_percent_of_users_with_two_interactions_are_held_out() -> None:
    data = _data()
    split = personalize_split(data, seed=42)
    assert len(split.test_users) == 10
    assert len(set(split.test_users.tolist())) == 10
    assert all(len(data.history(int(u))) >= 2 for u in split.test_users)


def test_training_data_is_exactly_the_other_users() -> None:
    data = _data()
    split = personalize_split(data, seed=42)
    train_users = set(split.train.active_users().tolist())
    test_users = set(split.test_users.tolist())
    assert not train_users & test_users
    assert train_users | test_users == set(data.active_users().tolist())
    expected_rows = sum(len(data.history(u)) for u in train_users)
    assert split.train.n_interactions == expected_rows
    # The split keeps the full item vocabulary so indices stay comparable.
    assert split.train.item_ids == data.item_ids


def test_visible_history_is_the_oldest_ninety_percent() -> None:
    data = _data()
    split = personalize_split(data, seed=42)
    for position, user in enumerate(split.test_users):
        history = data.history(int(user))
        stamps = data.timestamps_by_user()[int(user)]
        cut = len(history) - truth_size(len(history))
        assert np.array_equal(split.visible[position], history[:cut])
        assert stamps[:cut].max() <= stamps[cut:].min()
        held_out = {int(i) for i in history[cut:]}
        assert split.truth[position] == held_out - {int(i) for i in history[:cut]}


def test_truth_excludes_items_already_in_the_visible_history() -> None:
    # One user re-watches item a as their newest interaction: the repeat is not scoreable truth.
    users = ["u"] * 10 + [f"v{i}" for i in range(30) for _ in range(2)]
    items = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "a"] + [f"x{i % 7}" for i in range(60)]
    stamps = list(range(10)) + list(range(60))
    data = from_records(users, items, stamps)
    for seed in range(50):
        split = personalize_split(data, seed)
        for position, user in enumerate(split.test_users):
            if data.user_ids[int(user)] == "u":
                assert split.truth[position] == set()
                assert position not in split.evaluated()
                return
    pytest.fail("user u was never held out in 50 seeds")


def test_last_repeated_marks_a_click_and_watch_pair_split_by_the_cut() -> None:
    # 10 rows: the cut keeps 9. User p's pair of rows for item e straddles the cut; user q's does not.
    split_pair = ["a", "b", "c", "d", "f", "g", "h", "i", "e", "e"]
    whole_pair = ["a", "b", "c", "d", "f", "g", "h", "e", "e", "i"]
    users = ["p"] * 10 + ["q"] * 10
    data = from_records(users, split_pair + whole_pair, list(range(10)) + list(range(10)))
    split = personalize_split(data, seed=0, test_fraction=1.0)
    by_user = {data.user_ids[int(u)]: i for i, u in enumerate(split.test_users)}
    assert split.last_repeated[by_user["p"]] is True
    assert split.truth[by_user["p"]] == set()  # the repeat is not scoreable truth
    assert split.last_repeated[by_user["q"]] is False
    assert split.truth[by_user["q"]] == {data.item_ids.index("i")}


def test_split_is_deterministic_per_seed() -> None:
    data = _data()
    first = personalize_split(data, seed=7)
    again = personalize_split(data, seed=7)
    other = personalize_split(data, seed=8)
    assert np.array_equal(first.test_users, again.test_users)
    assert not np.array_equal(first.test_users, other.test_users)


def test_interactions_are_sorted_by_user_then_time_then_item() -> None:
    data = from_records(["b", "a", "a", "a"], ["z", "y", "x", "w"], [5, 3, 1, 3])
    assert data.user_ids == ["a", "b"]
    a = [data.item_ids[i] for i in data.history(0)]
    # x at t=1, then the t=3 tie ordered by item index (w before y).
    assert a == ["x", "w", "y"]
    assert [data.item_ids[i] for i in data.history(1)] == ["z"]
