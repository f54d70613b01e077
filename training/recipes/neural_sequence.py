"""The next-item model shared by the legacy HRNN recipes and FFNN: item vectors + a sequence encoder.

One model, two exchangeable parts:

- item vectors. Without metadata, an item's vector is its learned id embedding (started from the SVD of
  the user-item matrix, ``user_personalization.cooccurrence_embeddings``). With the Items dataset
  (``training/item_metadata.py``), an item's metadata embedding (the mean of its categorical/textual
  token embeddings plus a linear map of its numerical fields) is concatenated to its id embedding and a
  linear layer maps the pair back to the model width. Cold items (see ``cold_items``) get their vector
  from the metadata alone: their id half is zeroed, and in training the id half of other items is zeroed
  at random (``item_id_dropout``, DropoutNet, Volkovs et al. 2017), so the metadata map learns to stand
  on its own.
- an encoder (recipe-specific) that turns the embedded, left-padded sequence into one state per position;
  a position's state has read that position and the ones before it only (causal).

A state scores every item by a dot product with the item vectors plus a per-item bias (full-softmax
cross-entropy on the next item, loss weighted 0.5 .. 1.5 by the target's recency when the recipe's recency
flag is on). Inputs and training windows are those of aws-user-personalization (``build_windows``,
``model_input``), so the ``sequence_scores`` serving input (``training/ARTIFACT.md``) is the training input.

The export bakes the item vectors into the graph as a constant: serving runs the encoder and one matrix
product, never the metadata map.

trainingMode UPDATE (``training/warm_start.py``): the model's per-token rows and catalogue buffers are
declared here; a recipe of the family opts in by naming the per-item ones (``ITEM_PARAMETERS``).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from training.data import Interactions
from training.errors import TrainingDataError
from training.item_metadata import ItemFeatures, ItemMetadata, pool_item_metadata
from training.onnx_export import (
    SEQUENCE_SCORES,
    export_and_verify,
    sample_item_sequences,
)
from training.recipes.base import (
    SCORE_CHUNK,
    EpochCallback,
    ExportResult,
    Recipe,
    filter_by_history_percentile,
    top_k_unseen_chunked,
)
from training.recipes.feature_reader import FeatureReader, feature_pool, spread_over_steps
from training.recipes.sequence_training import collapsed_sequences, fit_next_item
from training.recipes.user_personalization import build_windows, cooccurrence_embeddings, model_input

if TYPE_CHECKING:
    import torch

# The model's state_dict names, for warm start: per-item rows (-> rows before the first item), per-token
# rows (row 0 is padding), and the buffers that describe the current catalogue (cold flags, metadata).
ITEM_PARAMETERS: Mapping[str, int] = {"tower.item_id.weight": 0, "item_bias": 0}
TOKEN_EMBEDDING = "tower.token_embedding.weight"
NUMERIC_MAP = "tower.numeric_map.weight"
CATALOGUE_BUFFERS = ("tower.id_gate", "tower.tokens", "tower.numeric")


@dataclass(frozen=True)
class SequenceSettings:
    """The training settings every recipe of this family maps its own hyperparameters onto."""

    dim: int
    length: int
    recency: bool
    min_percentile: float
    max_percentile: float
    epochs: int
    learning_rate: float
    batch_size: int
    dropout: float
    cooccurrence_init: bool
    item_id_dropout: float = 0.0


def _item_tower(n_items: int, dim: int, features: ItemFeatures | None, init: np.ndarray | None) -> Any:
    import torch
    from torch import nn

    class ItemTower(nn.Module):
        """Item vectors [n_items, dim] from id embeddings and (optionally) metadata."""

        def __init__(self) -> None:
            super().__init__()
            self.item_id = nn.Embedding(n_items, dim)
            nn.init.normal_(self.item_id.weight, std=0.05)
            if init is not None:
                with torch.no_grad():
                    self.item_id.weight.copy_(torch.from_numpy(init))
            # 1 for items whose id embedding is used; 0 for cold items (set by the recipe).
            self.register_buffer("id_gate", torch.ones(n_items))
            self.use_metadata = features is not None and not features.empty
            if self.use_metadata:
                assert features is not None
                self.register_buffer("tokens", torch.from_numpy(features.tokens))
                self.register_buffer("numeric", torch.from_numpy(features.numeric))
                self.token_embedding = nn.Embedding(features.n_tokens + 1, dim, padding_idx=0)
                nn.init.normal_(self.token_embedding.weight, std=0.05)
                with torch.no_grad():
                    self.token_embedding.weight[0].zero_()
                self.numeric_map = nn.Linear(max(features.n_numeric, 1), dim, bias=False)
                self.combine = nn.Linear(2 * dim, dim)
                # Start as "id embedding + metadata embedding" so the SVD start is kept.
                with torch.no_grad():
                    self.combine.weight.copy_(torch.cat([torch.eye(dim), torch.eye(dim)], dim=1))
                    self.combine.bias.zero_()

        def metadata_vectors(self) -> torch.Tensor:
            return pool_item_metadata(self.token_embedding, self.numeric_map, self.tokens, self.numeric)

        def forward(self, id_dropout: float = 0.0) -> torch.Tensor:
            gate = self.id_gate
            if id_dropout > 0.0 and self.training:
                gate = gate * (torch.rand_like(gate) >= id_dropout).float()
            ids = self.item_id.weight * gate[:, None]
            if not self.use_metadata:
                return ids
            return self.combine(torch.cat([ids, self.metadata_vectors()], dim=1))

    return ItemTower()


def _scorer(
    n_items: int, dim: int, tower: Any, encoder: Any, dropout: float, n_feature_tokens: int = 0
) -> Any:
    import torch
    from torch import nn

    class SequenceScorer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tower = tower
            self.encoder = encoder
            self.dropout = nn.Dropout(dropout)
            self.project = nn.Linear(dim, dim)
            self.item_bias = nn.Parameter(torch.zeros(n_items))
            # Users-dataset and context tokens (training/feature_tokens.py): their mean embedding is added
            # to every state, so "who and where" moves the query the sequence built.
            self.features = feature_pool(n_feature_tokens, dim)

        def states(
            self, item_sequence: torch.Tensor, vectors: torch.Tensor, tokens: torch.Tensor | None = None
        ) -> torch.Tensor:
            """States [B, L, D]; ``tokens`` [B, L, T] are each step's feature tokens (None: none)."""
            table = torch.cat([torch.zeros_like(vectors[:1]), vectors], dim=0)  # row 0 = padding
            embedded = self.dropout(table[item_sequence])
            hidden = self.encoder(embedded, item_sequence > 0)
            if self.features is not None and tokens is not None:
                hidden = hidden + self.features(tokens)
            return self.project(self.dropout(hidden))

        def logits(self, states: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
            return states @ vectors.T + self.item_bias

    return SequenceScorer()


def _baked(model: Any) -> Any:
    """The serving graph: encoder + scoring with the item vectors computed once, as constants."""
    import torch
    from torch import nn

    with torch.no_grad():
        vectors = model.tower().detach().clone()

    class Baked(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scorer = model
            self.register_buffer("vectors", vectors)

        def forward(self, item_sequence: torch.Tensor) -> torch.Tensor:
            states = self.scorer.states(item_sequence, self.vectors)[:, -1, :]
            return self.scorer.logits(states, self.vectors)

    class BakedWithFeatures(Baked):
        def forward(self, item_sequence: torch.Tensor, feature_tokens: torch.Tensor) -> torch.Tensor:
            tokens = spread_over_steps(feature_tokens, item_sequence)
            states = self.scorer.states(item_sequence, self.vectors, tokens)[:, -1, :]
            return self.scorer.logits(states, self.vectors)

    return (BakedWithFeatures() if model.features is not None else Baked()).eval()


class NeuralSequenceRecipe(FeatureReader, Recipe):
    """Base of the recipes built from item vectors + a causal sequence encoder (``sequence_scores``)."""

    contract_name = SEQUENCE_SCORES
    # Whether the recipe reads the Items dataset, and whether it cannot train without it.
    uses_item_metadata: ClassVar[bool] = False
    needs_item_metadata: ClassVar[bool] = False
    # Whether the entrypoint adds the Items dataset's items without interactions to the catalogue.
    scores_items_without_interactions: ClassVar[bool] = False
    # Whether the model reads the Users dataset and interaction context (feature_reader.py).
    uses_feature_tokens: ClassVar[bool] = False
    # Used only by a recipe that also sets ``warm_item_parameters`` (training/warm_start.py).
    warm_token_parameters: ClassVar[Mapping[str, int]] = {TOKEN_EMBEDDING: 1}
    warm_field_parameters: ClassVar[tuple[str, ...]] = (NUMERIC_MAP,)
    warm_current_buffers: ClassVar[tuple[str, ...]] = CATALOGUE_BUFFERS

    def __init__(self, hyperparameters: Any = None, *, seed: int = 42) -> None:
        super().__init__(hyperparameters, seed=seed)
        self.model: Any = None
        self.device = "cpu"
        self.item_metadata: ItemMetadata | None = None
        self.cold = np.zeros(0, dtype=bool)
        # Per-token (per-field) parameter -> the tokens (field names) of its rows (columns); empty without
        # metadata.
        self.token_vocabularies: dict[str, list[str]] = {}

    def set_item_metadata(self, metadata: ItemMetadata | None) -> None:
        self.item_metadata = metadata

    @abstractmethod
    def settings(self) -> SequenceSettings:
        """This recipe's hyperparameters as the shared training settings."""

    @abstractmethod
    def build_encoder(self, settings: SequenceSettings) -> Any:
        """nn.Module: (embedded [B, L, D], real [B, L] bool) -> states [B, L, D], causal."""

    def cold_items(self, data: Interactions) -> np.ndarray:
        """bool [n_items]: items scored from their metadata alone (none, unless a recipe says so)."""
        return np.zeros(data.n_items, dtype=bool)

    def _features(self, data: Interactions) -> ItemFeatures | None:
        if not self.uses_item_metadata:
            return None
        if self.item_metadata is None:
            if self.needs_item_metadata:
                raise TrainingDataError(
                    f"Recipe {self.name} needs item metadata, but the training job has no Items data. "
                    "Import an Items dataset into the dataset group before training."
                )
            return None
        features = self.item_metadata.features(data.item_ids)
        if features.empty and self.needs_item_metadata:
            raise TrainingDataError(
                f"Recipe {self.name} needs item metadata, but no Items field has a value shared by two "
                "or more items. Add categorical, textual or numerical fields to the Items dataset."
            )
        return features

    def fit(self, data: Interactions, device: str = "cpu", on_epoch: EpochCallback | None = None) -> None:
        import torch

        s = self.settings()
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.n_items = data.n_items
        self.device = device
        features = self._features(data)
        used = filter_by_history_percentile(data, s.min_percentile, s.max_percentile)
        sequences, weights, rows = collapsed_sequences(used, s.recency)
        windows = build_windows(sequences, weights, s.length, 1, self.step_tokens(used, rows))
        init = cooccurrence_embeddings(used, s.dim, self.seed) if s.cooccurrence_init else None
        tower = _item_tower(self.n_items, s.dim, features, init)
        self.cold = self.cold_items(data)
        tower.id_gate.copy_(torch.from_numpy((~self.cold).astype(np.float32)))
        self.model = _scorer(
            self.n_items, s.dim, tower, self.build_encoder(s), s.dropout, self.feature_space.n_tokens
        ).to(device)
        self.token_vocabularies = (
            {TOKEN_EMBEDDING: list(features.vocabulary), NUMERIC_MAP: list(features.numeric_fields)}
            if tower.use_metadata and features
            else {}
        )
        if self.warm_start is not None:
            self.warm_start.apply(self.model, self.token_vocabularies)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=s.learning_rate)
        if windows.inputs.shape[0] == 0:
            raise TrainingDataError(
                f"Recipe {self.name} found no user with two or more interactions to learn from."
            )
        model = self.model

        def logits_of(
            x: torch.Tensor, mask: torch.Tensor, tokens: torch.Tensor | None = None
        ) -> torch.Tensor:
            vectors = model.tower(s.item_id_dropout)
            return model.logits(model.states(x, vectors, tokens)[mask], vectors)

        fit_next_item(
            model,
            optimizer,
            windows,
            logits_of,
            epochs=s.epochs,
            batch_size=s.batch_size,
            learning_rate=s.learning_rate,
            n_items=self.n_items,
            targets_per_window=s.length,
            rng=rng,
            device=device,
            on_epoch=self.counting_epochs(on_epoch),
        )

    def scores(self, histories: Sequence[np.ndarray], tokens: np.ndarray | None = None) -> np.ndarray:
        """Logits [batch, n_items] for chronological item-index histories (the served computation), with
        each row's feature tokens [batch, width] when the model reads them (None: no record, no context)."""
        import torch

        self.model.eval()
        length = self.settings().length
        out = np.zeros((len(histories), self.n_items), dtype=np.float32)
        with torch.no_grad():
            vectors = self.model.tower()
            for start in range(0, len(histories), SCORE_CHUNK):
                chunk = torch.from_numpy(model_input(histories[start : start + SCORE_CHUNK], length))
                rows = None
                if tokens is not None and self.reads_features:
                    rows = torch.from_numpy(tokens[start : start + len(chunk)]).to(self.device)
                steps = spread_over_steps(rows, chunk)
                states = self.model.states(chunk.to(self.device), vectors, steps)[:, -1, :]
                out[start : start + len(chunk)] = self.model.logits(states, vectors).cpu().numpy()
        return out

    def recommend(self, histories: Sequence[np.ndarray], k: int) -> list[np.ndarray]:
        return top_k_unseen_chunked(self.scores, histories, k)

    def export(self, model_dir: Path) -> ExportResult:
        length = self.settings().length
        rng = np.random.default_rng(self.seed)
        sample = sample_item_sequences(rng, self.n_items, length)
        self.model = self.model.to("cpu").eval()
        self.device = "cpu"
        contract, inputs = self.sequence_export(sample, self.n_items, rng, model_dir)
        parity = export_and_verify(_baked(self.model), contract, inputs, model_dir / "model.onnx")
        return ExportResult(contract, parity, "model.onnx", length)


def gru_encoder(dim: int) -> Any:
    """One GRU layer over the left-padded sequence.

    Padding steps are zero vectors, as in aws-user-personalization.
    """
    from torch import nn

    class GruEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru = nn.GRU(dim, dim, batch_first=True)

        def forward(self, embedded: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
            hidden, _ = self.gru(embedded)
            return hidden

    return GruEncoder()


def bag_encoder(dim: int, hidden: int, dropout: float) -> Any:
    """Feed-forward network over [mean of the items read so far ; the latest item] at every position.

    The mean is the bag of the user's history in the input window (order-free); the latest item is
    concatenated because a bag alone cannot tell which item came last, and the next item depends most on it.
    """
    import torch
    from torch import nn

    class BagEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.network = nn.Sequential(
                nn.Linear(2 * dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, dim)
            )

        def forward(self, embedded: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
            present = real.to(embedded.dtype)[..., None]
            # Running sums make every position's bag causal: position t averages items 0..t only.
            mean = torch.cumsum(embedded * present, dim=1) / torch.cumsum(present, dim=1).clamp(min=1.0)
            return self.network(torch.cat([mean, embedded], dim=-1))

    return BagEncoder()
