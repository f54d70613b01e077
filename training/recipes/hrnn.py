"""The legacy HRNN recipes: aws-hrnn, aws-hrnn-metadata and aws-hrnn-coldstart.

Amazon Personalize's developer guide documents them as legacy recipes ("HRNN recipe (legacy)",
"HRNN-Metadata recipe (legacy)", "HRNN-Coldstart recipe (legacy)"): a hierarchical recurrent network over
the user's ordered history, without the exploration of new items that User-Personalization added. Their
documented hyperparameters, defaults and ranges are declared below as the guide gives them; the Tailor
settings (epochs, learning rate, batch size, dropout, SVD start) are marked "(Tailor)".

All three are the GRU next-item model of ``training/recipes/neural_sequence.py`` (item vectors -> one GRU
layer -> dot product with the item vectors):

- aws-hrnn: item vectors are id embeddings only.
- aws-hrnn-metadata: each item's metadata embedding (categorical and textual tokens, numerical fields of
  the Items dataset) is concatenated to its id embedding. Tailor uses item metadata only (not Users or
  contextual metadata), so it requires the Items dataset.
- aws-hrnn-coldstart: as hrnn-metadata, and cold items are scored from their metadata alone. An item is
  cold, as the guide defines it, when it has fewer than ``cold_start_max_interactions`` interactions and
  its first interaction lies less than ``cold_start_max_duration`` days before the reference time
  (``cold_start_relative_from``: the latest interaction in the data, ``latestItem``, or the training
  time, ``currentTime``). Items of the Items dataset without any interaction are always cold, and the
  training job adds them to the catalogue (``items.json``) so they can be recommended. In training, the
  id half of warm items is dropped at random (``item_id_dropout``) so the metadata map learns to place
  an item on its own. Unlike Personalize, Tailor does not refuse data sets with fewer than 100 or more
  than 80,000 cold items, and recommends warm and cold items together. As in Personalize, it is the one
  legacy recipe with trainingMode UPDATE: a warm start (``training/warm_start.py``) that keeps known
  items' id embeddings and biases and known metadata tokens' embeddings, and takes the cold flags and
  metadata of the current Items dataset.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from training.data import Interactions
from training.recipes.base import Hyperparameters, hyperparameter
from training.recipes.neural_sequence import (
    ITEM_PARAMETERS,
    NeuralSequenceRecipe,
    SequenceSettings,
    gru_encoder,
)

_SECONDS_PER_DAY = 86_400.0
_RELATIVE_FROM = ("latestItem", "currentTime")


@dataclass(frozen=True)
class HrnnHyperparameters(Hyperparameters):
    # Personalize's documented tunable hyperparameters and ranges.
    default_search = {"hidden_dimension": None, "recency_mask": None}

    hidden_dimension: int = hyperparameter(43, low=32, high=256, doc="Hidden variables (GRU units).")
    bptt: int = hyperparameter(
        32, low=1, high=32, tunable=False, doc="Time steps per training window and serving input."
    )
    recency_mask: bool = hyperparameter(True, doc="Weight recent interactions more in training.")
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
    dropout: float = hyperparameter(0.2, low=0.0, high=0.9, doc="Dropout on inputs and states (Tailor).")
    cooccurrence_init: bool = hyperparameter(
        True, doc="Start item id embeddings from the SVD of the co-occurrence (Tailor)."
    )


@dataclass(frozen=True)
class HrnnMetadataHyperparameters(HrnnHyperparameters):
    # The HRNN-Metadata page documents bptt as [2, 32] and HPO-tunable (HRNN: [1, 32], not tunable).
    bptt: int = hyperparameter(32, low=2, high=32, doc="Time steps per training window and serving input.")

    default_search = {"hidden_dimension": None, "bptt": None, "recency_mask": None}


@dataclass(frozen=True)
class HrnnColdstartHyperparameters(HrnnMetadataHyperparameters):
    hidden_dimension: int = hyperparameter(149, low=32, high=256, doc="Hidden variables (GRU units).")
    cold_start_max_interactions: int = hyperparameter(
        15, low=1, tunable=False, doc="Most interactions a cold item can have."
    )
    cold_start_max_duration: float = hyperparameter(
        5.0,
        low=1e-9,
        tunable=False,
        doc="Most days from a cold item's first interaction to the reference.",
    )
    cold_start_relative_from: str = hyperparameter(
        "latestItem", tunable=False, doc="Reference time: latestItem (newest interaction) or currentTime."
    )
    item_id_dropout: float = hyperparameter(
        0.3, low=0.0, high=0.9, doc="Share of warm items trained on their metadata alone per step (Tailor)."
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cold_start_relative_from not in _RELATIVE_FROM:
            raise ValueError(
                f"cold_start_relative_from must be one of {', '.join(_RELATIVE_FROM)}, "
                f"got {self.cold_start_relative_from!r}."
            )


class HrnnRecipe(NeuralSequenceRecipe):
    name = "aws-hrnn"
    recipe_type = "USER_PERSONALIZATION"
    description = (
        "Legacy HRNN: predicts the items a user will interact with next from their ordered interaction "
        "history with a recurrent network (GRU), without exploration of new items."
    )
    feature_transformation = "JSON-percentile-filtering"
    hyperparameters_class = HrnnHyperparameters
    hyperparameters: HrnnHyperparameters

    def settings(self) -> SequenceSettings:
        hp = self.hyperparameters
        return SequenceSettings(
            dim=hp.hidden_dimension,
            length=hp.bptt,
            recency=hp.recency_mask,
            min_percentile=hp.min_user_history_length_percentile,
            max_percentile=hp.max_user_history_length_percentile,
            epochs=hp.epochs,
            learning_rate=hp.learning_rate,
            batch_size=hp.batch_size,
            dropout=hp.dropout,
            cooccurrence_init=hp.cooccurrence_init,
            item_id_dropout=float(getattr(hp, "item_id_dropout", 0.0)),
        )

    def build_encoder(self, settings: SequenceSettings) -> Any:
        return gru_encoder(settings.dim)


class HrnnMetadataRecipe(HrnnRecipe):
    name = "aws-hrnn-metadata"
    description = (
        "Legacy HRNN-Metadata: the HRNN recurrent network with each item's Items-dataset metadata "
        "(categorical, textual and numerical fields) embedded and concatenated to its item embedding."
    )
    feature_transformation = "featurize_metadata"
    hyperparameters_class = HrnnMetadataHyperparameters
    required_datasets = ("INTERACTIONS", "ITEMS")
    optional_datasets = ("USERS",)
    uses_item_metadata = True
    needs_item_metadata = True
    uses_feature_tokens = True


class HrnnColdstartRecipe(HrnnMetadataRecipe):
    name = "aws-hrnn-coldstart"
    description = (
        "Legacy HRNN-Coldstart: HRNN-Metadata that also recommends cold items (new, or with few recent "
        "interactions), scoring them from their Items-dataset metadata alone."
    )
    feature_transformation = "featurize_coldstart"
    hyperparameters_class = HrnnColdstartHyperparameters
    scores_items_without_interactions = True
    # Its UPDATE warm start maps item and metadata-token rows; user and context tokens are left out.
    uses_feature_tokens = False
    optional_datasets = ()
    warm_item_parameters = ITEM_PARAMETERS  # trainingMode UPDATE
    hyperparameters: HrnnColdstartHyperparameters

    def cold_items(self, data: Interactions) -> np.ndarray:
        hp = self.hyperparameters
        counts = data.item_counts()
        first_seen = np.full(data.n_items, np.inf)
        np.minimum.at(first_seen, data.item, data.timestamp)
        reference = (
            float(data.timestamp.max()) if hp.cold_start_relative_from == "latestItem" else time.time()
        )
        recent = (reference - first_seen) < hp.cold_start_max_duration * _SECONDS_PER_DAY
        return (counts == 0) | ((counts < hp.cold_start_max_interactions) & recent)
