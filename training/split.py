"""Amazon Personalize's evaluation split.

10% of the users (drawn with a seeded RNG from the users with at least 2 interactions) are held out. The
model is trained on the other 90% of users and all their interactions. Each held-out user's chronological
history is cut in two: the oldest 90% is the visible history given to the model as input, the newest 10%
(at least one interaction) is the ground truth its recommendations are scored against.

The ground truth is the set of held-out items the user had not already interacted with in the visible
history. Every Tailor recipe excludes items the user has seen (as the runtime does), so a held-out repeat
of a visible item could never be recommended; counting it would only lower every recipe's score by the
same unreachable amount. A held-out user whose held-out items are all repeats is not evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.data import Interactions

TEST_USER_FRACTION = 0.1
TRUTH_FRACTION = 0.1


@dataclass(frozen=True)
class Split:
    train: Interactions
    test_users: np.ndarray  # int64 user indices held out of training
    visible: list[np.ndarray]  # per test user: item indices of the oldest 90%, chronological
    truth: list[set[int]]  # per test user: held-out item indices not in the visible history
    last_repeated: list[bool]  # per test user: the newest visible item is among the held-out ones

    def evaluated(self) -> list[int]:
        """Positions (into test_users / visible / truth) of the users that are scored."""
        return [i for i, relevant in enumerate(self.truth) if relevant]


def truth_size(history_length: int, fraction: float = TRUTH_FRACTION) -> int:
    """How many of the newest interactions are held out: 10%, at least 1, never the whole history."""
    return min(max(1, int(history_length * fraction)), history_length - 1)


def personalize_split(
    data: Interactions,
    seed: int,
    test_fraction: float = TEST_USER_FRACTION,
    truth_fraction: float = TRUTH_FRACTION,
) -> Split:
    lengths = data.history_lengths()
    eligible = np.flatnonzero(lengths >= 2)
    n_test = min(len(eligible), max(1, int(round(test_fraction * int((lengths > 0).sum())))))
    rng = np.random.default_rng(seed)
    test_users = np.sort(rng.choice(eligible, size=n_test, replace=False)).astype(np.int64)

    held_out = np.zeros(data.n_users, dtype=bool)
    held_out[test_users] = True
    train = data.subset(np.flatnonzero(~held_out & (lengths > 0)))

    visible: list[np.ndarray] = []
    truth: list[set[int]] = []
    last_repeated: list[bool] = []
    for user in test_users:
        history = data.history(int(user))
        cut = len(history) - truth_size(len(history), truth_fraction)
        visible.append(history[:cut].copy())
        truth.append({int(item) for item in history[cut:]} - {int(item) for item in history[:cut]})
        last_repeated.append(bool(np.any(history[cut:] == history[cut - 1])))
    return Split(
        train=train, test_users=test_users, visible=visible, truth=truth, last_repeated=last_repeated
    )
