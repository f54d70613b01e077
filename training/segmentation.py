"""Offline evaluation of USER_SEGMENTATION recipes (aws-item-affinity, aws-item-attribute-affinity).

Amazon Personalize splits the data differently for these recipes (developer guide, "Evaluating a solution
version with metrics"): "For USER_SEGMENTATION recipes, the training set consists of 80% of each user's
interactions data and the testing set consists of 20% of each user's interactions data." Here every user
with at least two interactions keeps the oldest 80% for training and holds out the newest 20% (at least
one interaction, never the whole history); users with one interaction train on it.

A query is a segment request: an item that someone interacted with in the held-out part. Its
recommendation is the recipe's top 25 users for the item, as a batch segment job ranks them (no user is
excluded, also not those who already took the item in training); its ground truth is the set of users
who interacted with the item in their held-out part. The metrics are Personalize's metric set from the
shared code (``training.metrics.personalize_metrics``) over these queries, with users in the place of
items: precision@K, NDCG@K and MRR@25 of the user lists, and coverage as the share of all users that
appear in some segment. At most ``MAX_EVALUATED_ITEMS`` queries (a seeded sample) are scored, which
bounds the evaluation's cost on large catalogues.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from training.data import Interactions
from training.metrics import K_VALUES, personalize_metrics
from training.split import truth_size

TEST_FRACTION = 0.2
MAX_EVALUATED_ITEMS = 1000
TOP_K = max(K_VALUES)


class Segmenter(Protocol):
    def fit(self, data: Interactions, device: str = "cpu", on_epoch: Any = None) -> None: ...

    def segment(self, items: list[int], k: int) -> list[np.ndarray]: ...


@dataclass(frozen=True)
class SegmentSplit:
    train: Interactions
    truth: dict[int, set[int]]  # item index -> users who interacted with it in their held-out part


def segmentation_split(data: Interactions, test_fraction: float = TEST_FRACTION) -> SegmentSplit:
    lengths = data.history_lengths()
    held_out = np.array([truth_size(int(n), test_fraction) if n >= 2 else 0 for n in lengths], dtype=np.int64)
    position = np.arange(data.n_interactions) - data.user_offsets[data.user]
    keep = position < (lengths - held_out)[data.user]
    truth: dict[int, set[int]] = {}
    for user, item in zip(data.user[~keep].tolist(), data.item[~keep].tolist(), strict=True):
        truth.setdefault(item, set()).add(user)
    return SegmentSplit(train=data.select_rows(keep), truth=truth)


def evaluate_segments(recipe: Segmenter, split: SegmentSplit, n_users: int, seed: int) -> dict[str, float]:
    """Personalize's metric set over segment queries (see the module docstring)."""
    items = sorted(split.truth)
    if len(items) > MAX_EVALUATED_ITEMS:
        rng = np.random.default_rng(seed)
        items = sorted(rng.choice(items, size=MAX_EVALUATED_ITEMS, replace=False).tolist())
    segments = recipe.segment(items, TOP_K)
    recommendations = {item: [int(u) for u in users] for item, users in zip(items, segments, strict=True)}
    return personalize_metrics(recommendations, {item: split.truth[item] for item in items}, n_users)


def offline_segment_metrics(
    recipe: Segmenter,
    data: Interactions,
    seed: int,
    device: str,
    emit: Callable[..., None],
) -> tuple[dict[str, float], dict[str, int]]:
    """Fit ``recipe`` on the 80% split, score its segments; (metrics, what was evaluated)."""
    split = segmentation_split(data)
    emit(
        "split", train_interactions=split.train.n_interactions,
        test_interactions=data.n_interactions - split.train.n_interactions, test_items=len(split.truth),
    )  # fmt: skip

    def on_epoch(epoch: int, loss: float) -> None:
        emit("epoch", phase="evaluation", epoch=epoch, loss=round(loss, 6))

    recipe.fit(split.train, device, on_epoch)
    metrics = evaluate_segments(recipe, split, data.n_users, seed)
    evaluated = min(len(split.truth), MAX_EVALUATED_ITEMS)
    return metrics, {"test_items": len(split.truth), "evaluated_items": evaluated}
