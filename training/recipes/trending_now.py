"""aws-trending-now: the items whose interactions grow fastest, per ``trend_discovery_frequency``.

Amazon Personalize's Trending-Now recipe (developer guide, "Trending-Now recipe") "identifies the top
trending items by calculating the increase in interactions that each item has over configurable intervals
of time"; the items "with highest rate of increase are considered trending items", and time is the
interactions' timestamps. Its one hyperparameter is the feature transformation parameter
``trend_discovery_frequency``: ``30 minutes``, ``1 hour``, ``2 hours`` (the default), ``3 hours`` or
``1 day``. The guide adds: with no interactions in the past two intervals, Personalize recommends popular
items, not trending ones.

Tailor's model. With ``T`` the newest timestamp and ``f`` the frequency, ``now(i)`` and ``before(i)`` are
item ``i``'s interactions in the last interval ``(T - f, T]`` and the one before ``(T - 2f, T - f]``. The
trend is the smoothed rate of increase

    trend(i) = log((now(i) + 1) / (before(i) + 1))

(``+ 1`` so that an item going from 0 to 1 interaction is not infinitely trending), ties ordered by
``now(i)`` and then by the item's total interactions. The intervals end at the newest interaction of the
training data (not at the wall clock), so the last interval is never empty and the guide's "no recent
interactions -> popular items" case does not arise; items without interactions in either interval score 0
and are ordered by total interactions.

The ONNX graph implements ``sequence_scores`` like popularity: it ignores the sequence and returns one
constant score per item whose order is the trend order (the runtime's softmax of these scores has no
meaning beyond the order). The recipe type is ``POPULAR_ITEMS``; a user id is needed only for filters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.data import Interactions
from training.onnx_export import SEQUENCE_SCORES, export_and_verify, sequence_scores_contract
from training.recipes.base import (
    EpochCallback,
    ExportResult,
    Hyperparameters,
    Recipe,
    hyperparameter,
    top_k_unseen,
)

_SEQUENCE_LENGTH = 1  # the input is ignored
FREQUENCIES: dict[str, float] = {
    "30 minutes": 1_800.0,
    "1 hour": 3_600.0,
    "2 hours": 7_200.0,
    "3 hours": 10_800.0,
    "1 day": 86_400.0,
}
# Weights of the tie-breakers: small enough never to reorder distinct trends (trend values differ by at
# least log(1 + 1 / (n + 1)) ~ 1 / n for counts n), large enough to survive float32 (~1e-7 relative).
_NOW_WEIGHT = 1e-3
_TOTAL_WEIGHT = 1e-5


@dataclass(frozen=True)
class TrendingNowHyperparameters(Hyperparameters):
    trend_discovery_frequency: str = hyperparameter(
        "2 hours",
        tunable=False,
        doc="Interval over which growth is measured: " + ", ".join(FREQUENCIES) + ".",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.trend_discovery_frequency not in FREQUENCIES:
            raise ValueError(
                "trend_discovery_frequency must be one of "
                + ", ".join(repr(f) for f in FREQUENCIES)
                + f"; got {self.trend_discovery_frequency!r}."
            )


def trend_scores(data: Interactions, interval_seconds: float) -> np.ndarray:
    """float32 [n_items]: higher = trending more (see the module docstring)."""
    total = data.item_counts().astype(np.float64)
    if data.n_interactions == 0:
        return np.zeros(data.n_items, dtype=np.float32)
    newest = float(data.timestamp.max())
    last = data.timestamp > newest - interval_seconds
    previous = (data.timestamp > newest - 2 * interval_seconds) & ~last
    now = np.bincount(data.item[last], minlength=data.n_items).astype(np.float64)
    before = np.bincount(data.item[previous], minlength=data.n_items).astype(np.float64)
    trend = np.log((now + 1.0) / (before + 1.0))
    # Scale the tie-breakers by their maximum so they stay below one trend step whatever the counts.
    score = trend + _NOW_WEIGHT * np.log1p(now) / np.log1p(max(now.max(), 1.0))
    score += _TOTAL_WEIGHT * np.log1p(total) / np.log1p(max(total.max(), 1.0))
    return score.astype(np.float32)


class TrendingNowRecipe(Recipe):
    name = "aws-trending-now"
    recipe_type = "POPULAR_ITEMS"
    description = (
        "Recommends the items whose interactions grew fastest between the last two intervals of "
        "trend_discovery_frequency (30 minutes to 1 day) before the newest interaction."
    )
    feature_transformation = "trending-now"
    contract_name = SEQUENCE_SCORES
    hyperparameters_class = TrendingNowHyperparameters
    hyperparameters: TrendingNowHyperparameters

    def __init__(self, hyperparameters: Hyperparameters | None = None, *, seed: int = 42) -> None:
        super().__init__(hyperparameters, seed=seed)
        self.trend = np.zeros(0, dtype=np.float32)

    def fit(self, data: Interactions, device: str = "cpu", on_epoch: EpochCallback | None = None) -> None:
        self.n_items = data.n_items
        self.trend = trend_scores(data, FREQUENCIES[self.hyperparameters.trend_discovery_frequency])
        self.epochs_trained = 1
        if on_epoch is not None:
            on_epoch(1, 0.0)

    def recommend(self, histories: Sequence[np.ndarray], k: int) -> list[np.ndarray]:
        scores = np.broadcast_to(self.trend.astype(np.float64), (len(histories), self.n_items))
        return top_k_unseen(scores, histories, k)

    def export(self, model_dir: Path) -> ExportResult:
        import torch

        class TrendScores(torch.nn.Module):
            def __init__(self, trend: np.ndarray) -> None:
                super().__init__()
                self.register_buffer("trend", torch.from_numpy(trend))

            def forward(self, item_sequence: torch.Tensor) -> torch.Tensor:
                return self.trend.unsqueeze(0).expand(item_sequence.shape[0], -1).contiguous()

        contract = sequence_scores_contract(_SEQUENCE_LENGTH, self.n_items)
        sample = np.random.default_rng(self.seed).integers(0, self.n_items + 1, size=(4, _SEQUENCE_LENGTH))
        parity = export_and_verify(
            TrendScores(self.trend), contract, {"item_sequence": sample}, model_dir / "model.onnx"
        )
        return ExportResult(contract, parity, "model.onnx", _SEQUENCE_LENGTH)
