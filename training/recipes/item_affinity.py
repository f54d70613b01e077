"""aws-item-affinity: for an item, the users most likely to interact with it (USER_SEGMENTATION).

Amazon Personalize's Item-Affinity recipe (developer guide, "Item-Affinity recipe") "creates a user segment
(group of users) for each item that you specify": the users it predicts will most likely interact with the
item, each segment "sorted in descending order based on the probability that each user will interact with"
it. It needs the Interactions dataset (Items and Users are optional), has one documented hyperparameter,
``hidden_dimension`` (default 149, range [32, 256]), and cannot be tuned by HPO. Segments come from batch
segment jobs only (no campaign), and only users present at training time are segmented.

Tailor's model is a factorisation with a user side and an item side in one ``hidden_dimension`` space:

- each user u has a vector p_u and a bias b_u (how active the user is);
- each item i has a vector q_i (an id embedding; for aws-item-attribute-affinity plus a map of its item
  metadata, see ``item_attribute_affinity.py``) and a bias c_i.

Training maximises, for every interaction (u, i), both log P(u | i) = log softmax_u(q_i . p_u + b_u) ("which
user took this item": exactly what a segment ranks) and log P(i | u) = log softmax_i(p_u . q_i + c_i) (which
spreads the signal over the items of a user with few interactions), with full softmaxes, Adam and
``epochs`` passes over the interactions in shuffled batches. On small data the 149 dimensions memorise
who took which item without a penalty, and the users who have not taken it get near-random scores: on
the integration data (2,000 interactions) the users of an item's cluster who had not taken it filled 93%
of the top places of its segment they could fill without a penalty and 100% with Adam weight decay
0.003 to 0.015 (0.03 collapsed the model), while on MovieLens latest-small (100,000 interactions) a
decay of 0.003 lowered held-out NDCG@10 from 0.287 to 0.262. Both fit one L2 penalty on the summed
objective, ``l2_penalty`` = 6 (decay = penalty / interactions: 0.003 and 0.00006; on MovieLens that
gave NDCG@10 0.295). Five epochs scored as well as twenty on the integration data (NDCG@10 0.717 and
0.708) at a quarter of the cost, hence the default.

A factorisation scores the users who already took an item highest: it learnt the item from them. Whether
they take it again depends on the domain (a film is watched once, groceries are bought every week), so
the segment weighs a user who already interacted with the item by the data's repeat share rho: the
share of interactions that repeat an earlier interaction of the same user with the same item at a later
time (same-timestamp rows, such as a click and a watch of one rating, are one interaction). Segment score
= P(u | i) * (rho if u took i in training else 1); with rho = 0 (no user ever repeats) those users come
last (rho is floored at 1e-6 so they still fill a segment longer than the other users). Nobody is left
out, as Personalize documents no exclusion for segments.

The graph (contract ``user_affinity``, ``training/ARTIFACT.md``) maps an item index to log P(u | i) for
every user; ``segments.json`` names the users (``users``), gives each item's training interactions
(``item_counts``, with which the runtime weights the items an item-attribute query matches) and rho
(``repeat_factor``); ``users.json`` says who took which item.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.data import Interactions
from training.item_metadata import ItemFeatures, pool_item_metadata
from training.onnx_export import USER_AFFINITY, export_and_verify, user_affinity_contract
from training.recipes.base import EpochCallback, ExportResult, Hyperparameters, Recipe, hyperparameter
from training.recipes.item_item import item_user_pairs

SEGMENTS_FILE = "segments.json"
MIN_REPEAT_FACTOR = 1e-6
# Cells of one [batch, n_users] or [batch, n_items] logit block: bounds the memory of a training step.
_LOGIT_BUDGET = 8_000_000
# Items scored per graph call when the whole catalogue is segmented (evaluation).
_SCORE_CHUNK = 256


@dataclass(frozen=True)
class ItemAffinityHyperparameters(Hyperparameters):
    hidden_dimension: int = hyperparameter(
        149, low=32, high=256, tunable=False, doc="Hidden variables: the size of the user and item vectors."
    )
    epochs: int = hyperparameter(
        5, low=1, high=500, tunable=False, doc="Passes over the interactions (Tailor)."
    )
    learning_rate: float = hyperparameter(
        0.01, low=1e-5, high=1.0, tunable=False, doc="Adam learning rate (Tailor)."
    )
    batch_size: int = hyperparameter(
        512, low=1, high=65536, tunable=False, doc="Interactions per optimizer step (Tailor)."
    )
    l2_penalty: float = hyperparameter(
        6.0,
        low=0.0,
        high=1000.0,
        tunable=False,
        doc="L2 penalty on the whole objective (summed over interactions); Adam's weight decay is it "
        "divided by the number of interactions (Tailor).",
    )


def _model(n_users: int, n_items: int, dim: int, features: ItemFeatures | None, cold: np.ndarray) -> Any:
    import torch
    from torch import nn

    class Affinity(nn.Module):
        """User vectors and biases; item vectors = id embedding (zero for cold items) + metadata map."""

        def __init__(self) -> None:
            super().__init__()
            self.user = nn.Embedding(n_users, dim)
            self.user_bias = nn.Parameter(torch.zeros(n_users))
            self.item = nn.Embedding(n_items, dim)
            self.item_bias = nn.Parameter(torch.zeros(n_items))
            nn.init.normal_(self.user.weight, std=0.1)
            nn.init.normal_(self.item.weight, std=0.1)
            # Items without interactions have nothing to learn an id vector from: their id half is off.
            self.register_buffer("id_weight", torch.from_numpy((~cold).astype(np.float32)))
            self.use_metadata = features is not None and not features.empty
            if self.use_metadata:
                assert features is not None
                self.register_buffer("tokens", torch.from_numpy(features.tokens))
                self.register_buffer("numeric", torch.from_numpy(features.numeric))
                self.token_embedding = nn.Embedding(features.n_tokens + 1, dim, padding_idx=0)
                nn.init.normal_(self.token_embedding.weight, std=0.1)
                self.numeric_map = nn.Linear(max(features.n_numeric, 1), dim, bias=False)

        def item_vectors(self, id_dropout: float = 0.0) -> torch.Tensor:
            weight = self.id_weight
            if id_dropout > 0.0 and self.training and self.use_metadata:
                # Hiding warm items' ids at random makes the metadata map place items on its own.
                weight = weight * (torch.rand_like(weight) >= id_dropout).float()
            vectors = self.item.weight * weight[:, None]
            if self.use_metadata:
                meta = pool_item_metadata(self.token_embedding, self.numeric_map, self.tokens, self.numeric)
                vectors = vectors + meta
            return vectors

    return Affinity()


def repeat_share(data: Interactions) -> float:
    """Share of interactions that repeat a (user, item) pair at a later time (see the module docstring)."""
    if data.n_interactions == 0:
        return 0.0
    events = np.unique(np.stack([data.user, data.item, data.timestamp.astype(np.int64)]), axis=1)
    pairs = np.unique(events[:2], axis=1)
    return float(events.shape[1] - pairs.shape[1]) / float(events.shape[1])


def takers(data: Interactions) -> list[np.ndarray]:
    """Per item index: the sorted user indices that interacted with it."""
    items, users = item_user_pairs(data)
    return np.split(users, np.searchsorted(items, np.arange(1, data.n_items)))


def _graph(item_vectors: np.ndarray, user_vectors: np.ndarray, user_bias: np.ndarray) -> Any:
    import torch
    from torch import nn

    class UserAffinity(nn.Module):
        """item_index [batch] -> log P(user | item) [batch, n_users]."""

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("items", torch.from_numpy(item_vectors.astype(np.float32)))
            self.register_buffer("users_t", torch.from_numpy(user_vectors.astype(np.float32).T.copy()))
            self.register_buffer("bias", torch.from_numpy(user_bias.astype(np.float32)))

        def forward(self, item_index: torch.Tensor) -> torch.Tensor:
            logits = self.items[item_index] @ self.users_t + self.bias
            return torch.log_softmax(logits, dim=1)

    return UserAffinity()


class ItemAffinityRecipe(Recipe):
    name = "aws-item-affinity"
    recipe_type = "USER_SEGMENTATION"
    description = (
        "Creates a user segment for each item you specify: the users most likely to interact with the item, "
        "ranked by a user-item affinity model trained on the Interactions dataset. Use it with batch segment "
        "jobs."
    )
    feature_transformation = "item-affinity"
    contract_name = USER_AFFINITY
    hyperparameters_class = ItemAffinityHyperparameters
    hyperparameters: ItemAffinityHyperparameters
    optional_datasets = ("ITEMS", "USERS")
    # Share of warm items whose id vector is hidden per step when item metadata is used.
    id_dropout = 0.0

    def __init__(self, hyperparameters: Hyperparameters | None = None, *, seed: int = 42) -> None:
        super().__init__(hyperparameters, seed=seed)
        self.n_users = 0
        self.user_ids: list[str] = []
        self.counts = np.zeros(0, dtype=np.int64)
        self.item_vectors = np.zeros((0, 0), dtype=np.float32)
        self.user_vectors = np.zeros((0, 0), dtype=np.float32)
        self.user_bias = np.zeros(0, dtype=np.float32)
        self.taken: list[np.ndarray] = []
        self.repeat_factor = 1.0

    def item_features(self, data: Interactions) -> ItemFeatures | None:
        """Item metadata features aligned with ``data.item_ids``; none for plain Item-Affinity."""
        return None

    def fit(self, data: Interactions, device: str = "cpu", on_epoch: EpochCallback | None = None) -> None:
        import torch
        from torch.nn import functional

        hp = self.hyperparameters
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.n_users, self.n_items, self.user_ids = data.n_users, data.n_items, list(data.user_ids)
        self.counts = data.item_counts()
        self.taken = takers(data)
        self.repeat_factor = max(repeat_share(data), MIN_REPEAT_FACTOR)
        model = _model(
            self.n_users, self.n_items, hp.hidden_dimension, self.item_features(data), self.counts == 0
        )
        model = model.to(device)
        # The penalty belongs to the summed objective, so per (mean-loss) step it shrinks as data grows.
        decay = hp.l2_penalty / max(data.n_interactions, 1)
        optimizer = torch.optim.Adam(model.parameters(), lr=hp.learning_rate, weight_decay=decay)
        pairs = np.stack([data.user, data.item], axis=1).astype(np.int64)
        micro = max(1, _LOGIT_BUDGET // max(self.n_users, self.n_items, 1))
        for epoch in range(1, hp.epochs + 1):
            model.train()
            order = rng.permutation(len(pairs))
            total = 0.0
            for start in range(0, len(order), hp.batch_size):
                batch = torch.from_numpy(pairs[order[start : start + hp.batch_size]]).to(device)
                optimizer.zero_grad(set_to_none=True)
                for part in torch.split(batch, micro):
                    users, items = part[:, 0], part[:, 1]
                    item_vectors = model.item_vectors(self.id_dropout)
                    user_vectors = model.user.weight
                    # "Which user took this item" (the segment's ranking) and "which item did this user take".
                    by_item = item_vectors[items] @ user_vectors.T + model.user_bias
                    by_user = user_vectors[users] @ item_vectors.T + model.item_bias
                    loss = (
                        functional.cross_entropy(by_item, users, reduction="sum")
                        + functional.cross_entropy(by_user, items, reduction="sum")
                    ) / len(batch)
                    loss.backward()
                    total += float(loss.detach()) * len(part)
                optimizer.step()
            self.epochs_trained = epoch
            model.eval()
            with torch.no_grad():
                self.item_vectors = model.item_vectors().cpu().numpy().astype(np.float32)
                self.user_vectors = model.user.weight.cpu().numpy().astype(np.float32)
                self.user_bias = model.user_bias.cpu().numpy().astype(np.float32)
            if on_epoch is not None:
                on_epoch(epoch, total / max(len(pairs), 1))

    def user_log_affinity(self, items: Sequence[int]) -> np.ndarray:
        """log P(user | item) [len(items), n_users], computed as the exported graph computes it."""
        logits = self.item_vectors[np.asarray(items, dtype=np.int64)] @ self.user_vectors.T + self.user_bias
        logits = logits.astype(np.float64)
        peak = logits.max(axis=1, keepdims=True)
        return logits - peak - np.log(np.exp(logits - peak).sum(axis=1, keepdims=True))

    def segment_scores(self, items: Sequence[int]) -> np.ndarray:
        """log segment score [len(items), n_users]: log P(u | i), plus log rho where u took i."""
        scores = self.user_log_affinity(items)
        for row, item in enumerate(items):
            scores[row, self.taken[item]] += np.log(self.repeat_factor)
        return scores

    def segment(self, items: Sequence[int], k: int) -> list[np.ndarray]:
        """The ``k`` users with the highest segment score for each item, best first (ties by user index)."""
        out: list[np.ndarray] = []
        items = list(items)
        for start in range(0, len(items), _SCORE_CHUNK):
            for row in self.segment_scores(items[start : start + _SCORE_CHUNK]):
                take = min(k, len(row))
                top = np.argpartition(-row, take - 1)[:take] if take < len(row) else np.arange(len(row))
                out.append(top[np.lexsort((top, -row[top]))].astype(np.int64))
        return out

    def recommend(self, histories: Sequence[np.ndarray], k: int) -> list[np.ndarray]:
        raise TypeError(
            f"{self.name} is a USER_SEGMENTATION recipe: it ranks users for an item (segment), not items "
            "for a user."
        )

    def export(self, model_dir: Path) -> ExportResult:
        model_dir.mkdir(parents=True, exist_ok=True)
        contract = user_affinity_contract(self.n_users)
        sample = np.arange(min(self.n_items, 8), dtype=np.int64)
        graph = _graph(self.item_vectors, self.user_vectors, self.user_bias)
        parity = export_and_verify(graph, contract, {"item_index": sample}, model_dir / "model.onnx")
        segments = {
            "users": self.user_ids,
            "item_counts": [int(c) for c in self.counts],
            "repeat_factor": self.repeat_factor,
        }
        (model_dir / SEGMENTS_FILE).write_text(json.dumps(segments), encoding="utf-8")
        return ExportResult(contract=contract, parity=parity, onnx_file="model.onnx", max_sequence_length=0)
