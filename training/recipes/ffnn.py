"""aws-ffnn: a feed-forward network over the bag of the user's history.

Amazon Personalize previewed an ``aws-ffnn`` recipe (a feed-forward neural network over the user's
interaction history) before the HRNN family; it has no page in the current developer guide, so its
hyperparameters below are Tailor's own, named in Personalize's style (``hidden_dimension``, the
history-length percentiles, ``recency_mask``).

Model (``training/recipes/neural_sequence.py``): item embeddings (started from the SVD of the user-item
matrix) -> at every position, [mean of the embeddings of the items so far ; the latest item's embedding]
-> Linear -> ReLU -> dropout -> Linear -> dot product with the item embeddings plus a per-item bias. The
bag is order-free (what the user has liked), the latest item carries what they are doing now; there is no
recurrence, so it trains and serves faster than the GRU at the cost of sequence order beyond the last step.
The bag covers the last ``history_length`` items, the serving input.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from training.recipes.base import Hyperparameters, hyperparameter
from training.recipes.neural_sequence import NeuralSequenceRecipe, SequenceSettings, bag_encoder


@dataclass(frozen=True)
class FfnnHyperparameters(Hyperparameters):
    # Tailor's recipe: a search over its width and regularisation, in their useful ranges.
    default_search = {"hidden_dimension": (64, 512), "dropout": (0.0, 0.5), "learning_rate": (1e-3, 1e-2)}

    hidden_dimension: int = hyperparameter(256, low=32, high=1024, doc="Units of the hidden layer (Tailor).")
    embedding_dimension: int = hyperparameter(64, low=16, high=256, doc="Item embedding size (Tailor).")
    history_length: int = hyperparameter(
        32, low=1, high=200, doc="Newest items in the bag (training windows and serving input) (Tailor)."
    )
    recency_mask: bool = hyperparameter(True, doc="Weight recent interactions more in training (Tailor).")
    min_user_history_length_percentile: float = hyperparameter(
        0.0,
        low=0.0,
        high=1.0,
        tunable=False,
        doc="Drop users with shorter histories than this percentile.",
    )
    max_user_history_length_percentile: float = hyperparameter(
        0.99,
        low=0.0,
        high=1.0,
        tunable=False,
        doc="Drop users with longer histories than this percentile.",
    )
    epochs: int = hyperparameter(5, low=1, high=500, doc="Passes over the training windows (Tailor).")
    learning_rate: float = hyperparameter(0.005, low=1e-5, high=1.0, doc="Adam peak learning rate (Tailor).")
    batch_size: int = hyperparameter(32, low=1, high=4096, doc="Windows per optimizer step (Tailor).")
    dropout: float = hyperparameter(0.2, low=0.0, high=0.9, doc="Dropout on inputs and hidden layer (Tailor)")
    cooccurrence_init: bool = hyperparameter(
        True, doc="Start item embeddings from the SVD of the co-occurrence (Tailor)."
    )


class FfnnRecipe(NeuralSequenceRecipe):
    name = "aws-ffnn"
    recipe_type = "USER_PERSONALIZATION"
    description = (
        "Predicts the items a user will interact with next with a feed-forward neural network over the bag "
        "of items in their history plus their latest item."
    )
    feature_transformation = "JSON-percentile-filtering"
    hyperparameters_class = FfnnHyperparameters
    hyperparameters: FfnnHyperparameters

    def settings(self) -> SequenceSettings:
        hp = self.hyperparameters
        return SequenceSettings(
            dim=hp.embedding_dimension,
            length=hp.history_length,
            recency=hp.recency_mask,
            min_percentile=hp.min_user_history_length_percentile,
            max_percentile=hp.max_user_history_length_percentile,
            epochs=hp.epochs,
            learning_rate=hp.learning_rate,
            batch_size=hp.batch_size,
            dropout=hp.dropout,
            cooccurrence_init=hp.cooccurrence_init,
        )

    def build_encoder(self, settings: SequenceSettings) -> Any:
        return bag_encoder(settings.dim, self.hyperparameters.hidden_dimension, settings.dropout)
