"""aws-item-attribute-affinity: for an item attribute, the users most likely to interact with such items.

Amazon Personalize's Item-Attribute-Affinity recipe (developer guide, "Item-Attribute-Affinity recipe")
"creates a user segment (group of users) for each item attribute that you specify"; it needs the
Interactions and the Items dataset, and the Items dataset "must have at least one column that is a
non-textual, non-reserved metadata column". Like Item-Affinity it has one documented hyperparameter,
``hidden_dimension`` (default 149, [32, 256]), and no HPO. A batch segment job line names the attribute
as an expression such as ``ITEMS.GENRES = "Comedy" AND ITEMS.PRICE < 10``.

Tailor's model is Item-Affinity's (``item_affinity.py``) with metadata-aware item vectors: q_i = id
embedding + mean of the item's metadata token embeddings + a linear map of its numerical fields
(``training/item_metadata.py``). Items of the Items dataset without any interaction join the catalogue
with a metadata-only vector, and the id part of a random 25% of items is hidden in every training step,
so that the metadata map alone places an item near the users who take items like it.

An attribute's segment is computed by the runtime (``functions/serving/model_artifact.py``): the items
of the group's current Items dataset that match the expression, each item's P(u | i) from the graph,
mixed with weights proportional to the item's training interactions + 1, P(u | attribute) =
sum_i w_i P(u | i); the users with the highest mixture probability form the segment.
"""

from __future__ import annotations

from training.data import Interactions
from training.errors import TrainingDataError
from training.item_metadata import ItemFeatures, ItemMetadata
from training.recipes.base import Hyperparameters
from training.recipes.item_affinity import ItemAffinityRecipe


class ItemAttributeAffinityRecipe(ItemAffinityRecipe):
    name = "aws-item-attribute-affinity"
    description = (
        "Creates a user segment for each item attribute you specify (e.g. a genre): the users most likely "
        "to interact with items that have it, from a user-item affinity model with item metadata. Needs the "
        "Items dataset. Use it with batch segment jobs."
    )
    feature_transformation = "item-attribute-affinity"
    required_datasets = ("INTERACTIONS", "ITEMS")
    optional_datasets = ("USERS",)
    # The entrypoint adds the Items dataset's items without interactions to the catalogue.
    scores_items_without_interactions = True
    id_dropout = 0.25

    def __init__(self, hyperparameters: Hyperparameters | None = None, *, seed: int = 42) -> None:
        super().__init__(hyperparameters, seed=seed)
        self.item_metadata: ItemMetadata | None = None

    def set_item_metadata(self, metadata: ItemMetadata | None) -> None:
        self.item_metadata = metadata

    def item_features(self, data: Interactions) -> ItemFeatures | None:
        if self.item_metadata is None:
            raise TrainingDataError(
                f"{self.name} needs the Items dataset: import item metadata (at least one categorical or "
                "numerical column) into the dataset group, then create the solution version again."
            )
        features = self.item_metadata.features(data.item_ids)
        if features.empty:
            raise TrainingDataError(
                f"{self.name} found no usable item metadata: the Items dataset needs at least one "
                "non-textual, non-reserved column whose values are shared by two or more items."
            )
        return features
