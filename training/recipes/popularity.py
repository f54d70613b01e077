"""aws-popularity-count: the most interacted-with items, a baseline for the other recipes.

Popularity is the number of interactions per item in the training data, after the solution's filters
(so a solution with an eventType counts only that event type). Personalize documents no hyperparameters
for this recipe, and neither does Tailor.

The ONNX graph implements ``sequence_scores`` like the sequence model, so the runtime serves both the same
way: it ignores the sequence and returns log(count) for every item, which the runtime's softmax turns into
each item's share of all interactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.data import Interactions
from training.onnx_export import SEQUENCE_SCORES, export_and_verify, sequence_scores_contract
from training.recipes.base import EpochCallback, ExportResult, Hyperparameters, Recipe, top_k_unseen

# The input is ignored, so the shortest sequence keeps the runtime's input tensor small.
_SEQUENCE_LENGTH = 1


@dataclass(frozen=True)
class PopularityCountHyperparameters(Hyperparameters):
    """Popularity-Count has no hyperparameters."""


class PopularityCountRecipe(Recipe):
    name = "aws-popularity-count"
    recipe_type = "USER_PERSONALIZATION"
    description = (
        "Recommends the items with the most interactions (of the solution's event type, if set) that the "
        "user has not interacted with yet. Use it as a baseline for other recipes."
    )
    feature_transformation = "sims"
    contract_name = SEQUENCE_SCORES
    hyperparameters_class = PopularityCountHyperparameters

    def __init__(self, hyperparameters: Hyperparameters | None = None, *, seed: int = 42) -> None:
        super().__init__(hyperparameters, seed=seed)
        self.counts = np.zeros(0, dtype=np.int64)

    def fit(self, data: Interactions, device: str = "cpu", on_epoch: EpochCallback | None = None) -> None:
        self.counts = data.item_counts()
        self.n_items = data.n_items
        self.epochs_trained = 1
        if on_epoch is not None:
            on_epoch(1, 0.0)

    def log_scores(self) -> np.ndarray:
        # An item with no interaction (possible only in an evaluation split) gets a finite floor.
        return np.log(np.maximum(self.counts, 1e-6)).astype(np.float32)

    def recommend(self, histories: Sequence[np.ndarray], k: int) -> list[np.ndarray]:
        scores = np.broadcast_to(self.counts.astype(np.float64), (len(histories), self.n_items))
        return top_k_unseen(scores, histories, k)

    def export(self, model_dir: Path) -> ExportResult:
        import torch

        class PopularityScores(torch.nn.Module):
            def __init__(self, log_counts: np.ndarray) -> None:
                super().__init__()
                self.register_buffer("log_counts", torch.from_numpy(log_counts))

            def forward(self, item_sequence: torch.Tensor) -> torch.Tensor:
                return self.log_counts.unsqueeze(0).expand(item_sequence.shape[0], -1).contiguous()

        contract = sequence_scores_contract(_SEQUENCE_LENGTH, self.n_items)
        sample = np.random.default_rng(self.seed).integers(0, self.n_items + 1, size=(4, _SEQUENCE_LENGTH))
        parity = export_and_verify(
            PopularityScores(self.log_scores()), contract, {"item_sequence": sample}, model_dir / "model.onnx"
        )
        return ExportResult(contract, parity, "model.onnx", _SEQUENCE_LENGTH)
