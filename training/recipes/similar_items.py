"""aws-similar-items: item-to-item similarity from co-occurrence in user histories plus item metadata.

Amazon Personalize's Similar-Items recipe (developer guide, "Similar-Items recipe") "takes into account the
co-occurrence of the item in user histories in your Interaction dataset, and any item metadata
similarities"; an Items dataset is recommended, not required; it can find items similar to a cold item
(fewer than five interactions) and returns popular items for an unknown item. Its hyperparameters, as
documented: ``popularity_discount_factor`` (default 0.0, [0, 1], not tunable: closer to 0 includes more
popular items), ``item_id_hidden_dim`` and ``item_metadata_hidden_dim`` (default 100, [30, 200], tunable:
the sizes of the item-id and item-metadata embeddings).

Tailor's model. Every item gets a unit vector, ``normalize(c * id + meta)``:

- ``id``: an item-id embedding (``item_id_hidden_dim``), started from the SVD of the user-item matrix
  (co-occurrence, ``user_personalization.cooccurrence_embeddings``), weighted by the confidence
  c = n / (n + 5) in an item with n interactions, so an item under Personalize's five-interaction cold
  threshold leans on
- ``meta``: its metadata embedding (``item_metadata_hidden_dim``: the mean of its categorical and textual
  token embeddings plus a linear map of its numerical fields, ``training/item_metadata.py``) mapped into
  the id space; absent without an Items dataset.

Both are trained together, skip-gram style: for every pair of items within ``context_window`` steps of each
other in a user's history, the cosine similarity of their vectors (over a temperature of 0.1) is pushed up
against every other item by a full softmax. The id part of a random 25% of items is hidden in every step,
so the metadata map learns to place items on its own (what a cold item relies on).

Neighbours: the cosine similarity of the vectors plus a popularity tilt, ``(1 - popularity_discount_factor)
* 0.1 * log(1 + n_j) / log(1 + n_max)``; only items with a positive cosine are neighbours. The top
``max_neighbors`` per item make the ``item_neighbors`` table the ONNX graph looks up, and serving and the
offline evaluation are those of aws-sims (this class reuses its ``recommend`` and ``export``): popular
items fill the list for an unknown item or one with too few neighbours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from training.data import Interactions
from training.item_metadata import ItemFeatures, ItemMetadata, pool_item_metadata
from training.recipes.base import EpochCallback, Hyperparameters, hyperparameter
from training.recipes.sims import SimsRecipe
from training.recipes.user_personalization import collapse_repeats, cooccurrence_embeddings

_TEMPERATURE = 0.1
_COLD_INTERACTIONS = 5.0  # Personalize: a cold item has fewer than five interactions
_ID_DROPOUT = 0.25
_POPULARITY_TILT = 0.1
_MAX_PAIRS_PER_EPOCH = 200_000
_LOGIT_BUDGET = 16_000_000
_BLOCK_CELLS = 16_000_000


@dataclass(frozen=True)
class SimilarItemsHyperparameters(Hyperparameters):
    # Personalize's documented tunable hyperparameters and ranges.
    default_search = {"item_id_hidden_dim": None, "item_metadata_hidden_dim": None}

    popularity_discount_factor: float = hyperparameter(
        0.0, low=0.0, high=1.0, tunable=False, doc="Closer to 0 includes more popular neighbours."
    )
    item_id_hidden_dim: int = hyperparameter(100, low=30, high=200, doc="Size of the item-id embedding.")
    item_metadata_hidden_dim: int = hyperparameter(
        100, low=30, high=200, doc="Size of the item-metadata embedding."
    )
    context_window: int = hyperparameter(
        5, low=1, high=50, doc="Steps apart in a history that still make two items a pair (Tailor)."
    )
    epochs: int = hyperparameter(5, low=1, high=500, doc="Passes over the item pairs (Tailor).")
    learning_rate: float = hyperparameter(0.01, low=1e-5, high=1.0, doc="Adam learning rate (Tailor).")
    batch_size: int = hyperparameter(256, low=1, high=65536, doc="Item pairs per optimizer step (Tailor).")
    max_neighbors: int = hyperparameter(
        100, low=1, high=500, tunable=False, doc="Neighbours kept per item (Tailor)."
    )


def _pairs(data: Interactions, window: int) -> np.ndarray:
    """int64 [P, 2]: (anchor, context) for items within ``window`` steps in a collapsed history, both ways."""
    chunks: list[np.ndarray] = []
    for history in data.histories():
        sequence = collapse_repeats(history)
        for gap in range(1, min(window, len(sequence) - 1) + 1):
            forward = np.stack([sequence[:-gap], sequence[gap:]], axis=1)
            chunks.append(forward)
            chunks.append(forward[:, ::-1])
    if not chunks:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(chunks).astype(np.int64)
    return pairs[pairs[:, 0] != pairs[:, 1]]


def _model(
    n_items: int,
    id_dim: int,
    meta_dim: int,
    features: ItemFeatures | None,
    init: np.ndarray,
    confidence: np.ndarray,
) -> Any:
    import torch
    from torch import nn
    from torch.nn import functional

    class ItemVectors(nn.Module):
        """Unit item vectors: normalize(confidence * id embedding + metadata map)."""

        def __init__(self) -> None:
            super().__init__()
            self.item_id = nn.Embedding(n_items, id_dim)
            with torch.no_grad():
                self.item_id.weight.copy_(torch.from_numpy(init) + 1e-3 * torch.randn(n_items, id_dim))
            self.register_buffer("confidence", torch.from_numpy(confidence.astype(np.float32)))
            self.use_metadata = features is not None and not features.empty
            if self.use_metadata:
                assert features is not None
                self.register_buffer("tokens", torch.from_numpy(features.tokens))
                self.register_buffer("numeric", torch.from_numpy(features.numeric))
                self.token_embedding = nn.Embedding(features.n_tokens + 1, meta_dim, padding_idx=0)
                nn.init.normal_(self.token_embedding.weight, std=0.1)
                self.numeric_map = nn.Linear(max(features.n_numeric, 1), meta_dim, bias=False)
                # Into the id space, so a cold item's metadata vector is compared with warm items' vectors.
                self.to_item_space = nn.Linear(meta_dim, id_dim)

        def forward(self, id_dropout: float = 0.0) -> torch.Tensor:
            weight = self.confidence
            # Without metadata a hidden id would leave the item no vector at all: nothing to learn.
            if id_dropout > 0.0 and self.training and self.use_metadata:
                weight = weight * (torch.rand_like(weight) >= id_dropout).float()
            vectors = self.item_id.weight * weight[:, None]
            if self.use_metadata:
                meta = pool_item_metadata(self.token_embedding, self.numeric_map, self.tokens, self.numeric)
                vectors = vectors + self.to_item_space(meta)
            return functional.normalize(vectors, dim=1)

    return ItemVectors()


class SimilarItemsRecipe(SimsRecipe):
    name = "aws-similar-items"
    recipe_type = "RELATED_ITEMS"
    description = (
        "Recommends items similar to a given item from learned item embeddings that combine co-occurrence "
        "in user histories with item metadata (categorical, textual and numerical Items fields), so cold "
        "items get similar items too; popular items for an unknown item."
    )
    feature_transformation = "similar-items"
    hyperparameters_class = SimilarItemsHyperparameters
    optional_datasets = ("ITEMS",)
    hyperparameters: SimilarItemsHyperparameters

    def __init__(self, hyperparameters: Hyperparameters | None = None, *, seed: int = 42) -> None:
        super().__init__(hyperparameters, seed=seed)
        self.item_metadata: ItemMetadata | None = None
        self.vectors = np.zeros((0, 0), dtype=np.float32)

    def set_item_metadata(self, metadata: ItemMetadata | None) -> None:
        self.item_metadata = metadata

    def fit(self, data: Interactions, device: str = "cpu", on_epoch: EpochCallback | None = None) -> None:
        import torch

        hp = self.hyperparameters
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.n_items = data.n_items
        counts = data.item_counts()
        self.popular = np.lexsort((np.arange(self.n_items), -counts)).astype(np.int64)
        features = None if self.item_metadata is None else self.item_metadata.features(data.item_ids)
        confidence = counts / (counts + _COLD_INTERACTIONS)
        init = cooccurrence_embeddings(data, hp.item_id_hidden_dim, self.seed)
        model = _model(
            self.n_items, hp.item_id_hidden_dim, hp.item_metadata_hidden_dim, features, init, confidence
        ).to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=hp.learning_rate)
        pairs = _pairs(data, hp.context_window)
        loss = 0.0
        micro = max(1, _LOGIT_BUDGET // max(self.n_items, 1))
        for epoch in range(1, hp.epochs + 1):
            model.train()
            chosen = pairs[rng.permutation(len(pairs))[:_MAX_PAIRS_PER_EPOCH]]
            total, seen = 0.0, 0
            for start in range(0, len(chosen), hp.batch_size):
                batch = torch.from_numpy(chosen[start : start + hp.batch_size]).to(device)
                optimizer.zero_grad(set_to_none=True)
                for part in torch.split(batch, micro):
                    vectors = model(_ID_DROPOUT)
                    logits = vectors[part[:, 0]] @ vectors.T / _TEMPERATURE
                    # An item is not its own context: leave it out of its softmax.
                    logits = logits.scatter(1, part[:, :1], -1e4)
                    loss = torch.nn.functional.cross_entropy(logits, part[:, 1], reduction="sum") / len(batch)
                    loss.backward()
                    total += float(loss.detach()) * len(batch)
                optimizer.step()
                seen += len(batch)
            self.epochs_trained = epoch
            loss = total / max(seen, 1)
        model.eval()
        with torch.no_grad():
            self.vectors = model().cpu().numpy().astype(np.float32)
        self._neighbours(counts)
        # Reported once, after the neighbour table exists: the callback scores recommendations, and
        # rebuilding the all-pairs table after every epoch would cost more than the training itself.
        if on_epoch is not None:
            on_epoch(self.epochs_trained, loss)

    def _neighbours(self, counts: np.ndarray) -> None:
        hp = self.hyperparameters
        k = min(hp.max_neighbors, max(self.n_items - 1, 1))
        tilt = (1.0 - hp.popularity_discount_factor) * _POPULARITY_TILT
        popularity = (np.log1p(counts) / math.log1p(max(int(counts.max()), 1))).astype(np.float32)
        self.neighbor_index = np.full((self.n_items, k), -1, dtype=np.int64)
        self.neighbor_score = np.zeros((self.n_items, k), dtype=np.float32)
        block = max(1, _BLOCK_CELLS // max(self.n_items, 1))
        for start in range(0, self.n_items, block):
            stop = min(start + block, self.n_items)
            cosine = self.vectors[start:stop] @ self.vectors.T
            rows = np.arange(stop - start)
            cosine[rows, rows + start] = 0.0  # an item is not its own neighbour
            score = np.where(cosine > 0, cosine + tilt * popularity[None, :], 0.0)
            take = np.argpartition(-score, k - 1, axis=1)[:, :k]
            picked = np.take_along_axis(score, take, axis=1)
            order = np.lexsort((take, -picked))  # by score, then index
            take = np.take_along_axis(take, order, axis=1)[:, :k]
            picked = np.take_along_axis(picked, order, axis=1)[:, :k]
            valid = picked > 0
            self.neighbor_index[start:stop] = np.where(valid, take, -1)
            self.neighbor_score[start:stop] = np.where(valid, picked, 0.0)
