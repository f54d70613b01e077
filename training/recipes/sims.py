"""aws-sims: item-to-item similarity from co-occurrence in user histories.

Two items co-occur once for every user who interacted with both (a user counts once per pair however often
they interacted). With ``c(i, j)`` the co-occurrence count, ``n(i)`` the number of users of item ``i`` and
``p`` the ``popularity_discount_factor``, the similarity is

    sim(i, j) = c(i, j) / (n(i) * n(j)) ** p        when c(i, j) >= min_cointeraction_count, else none.

For the neighbours of a fixed item ``i`` the ranking is that of ``c(i, j) / n(j) ** p``: ``p = 0`` ranks by
raw co-occurrence (popular items first, whatever their correlation), ``p = 1`` by the share of ``j``'s users
who also had ``i`` (correlated items, whatever their popularity), ``p = 0.5`` is the cosine similarity of
the two items' user sets, the balance Personalize recommends. Users outside the
``[min, max]_user_history_length_percentile`` of history lengths are left out before counting.

Tailor's ``history_distance_decay`` (default 0.95) counts a user's pair of items ``decay ** (d - 1)``
instead of 1, d how many items apart the user first interacted with them (1 = the plain count above;
``min_cointeraction_count`` still counts users). Items a user had close together are related more
often than items years apart in a long history: over seeds 45-54 of ``bench/quality.py``'s split (not
the reported 42-44) it lifted NDCG@10 from 0.202 to 0.244 and MRR@25 from 0.177 to 0.203, ahead on 9
of the 10 seeds; 0.9 and 0.98 scored 0.224 and 0.244, and weighting by time apart instead of items
apart scored 0.21-0.22.

Each item keeps its top ``max_neighbors`` neighbours (index -1 pads items with fewer); the ONNX graph
(``item_neighbors``) is a lookup in that table. Items without neighbours fall back to popular items at
serving time, as Personalize's SIMS does.

Offline evaluation (GetSolutionMetrics for a RELATED_ITEMS recipe): Personalize serves SIMS per item and
does not say how it turns a held-out user's history into SIMS queries. Tailor scores each item by the
neighbour similarities of the user's last ``HISTORY_ITEMS`` visible items (consecutive repeats collapsed),
the newest weighted 1 and each older one ``HISTORY_DECAY`` times the next: the requests an application
makes on the pages of the items a user viewed lately, merged with the latest counting most. Items in the
visible history are excluded; popular items fill a list that runs out of neighbours. On MovieLens
latest-small this merge scored NDCG@10 0.211 against 0.175 for the previous evaluation (the latest
item's neighbours first, then those of older items in turn), over seeds 42-46 (``bench/quality.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.data import Interactions
from training.onnx_export import ITEM_NEIGHBORS, export_and_verify, item_neighbors_contract
from training.recipes.base import (
    EpochCallback,
    ExportResult,
    Hyperparameters,
    Recipe,
    filter_by_history_percentile,
    hyperparameter,
    top_k_unseen_chunked,
)
from training.recipes.item_item import cooccurrence_neighbors
from training.recipes.user_personalization import collapse_repeats

# How the offline evaluation merges the neighbours of a user's recent items (see the module docstring).
HISTORY_ITEMS = 32
HISTORY_DECAY = 0.7


@dataclass(frozen=True)
class SimsHyperparameters(Hyperparameters):
    # Personalize's documented tunable hyperparameters and ranges.
    default_search = {"popularity_discount_factor": None, "min_cointeraction_count": None}

    popularity_discount_factor: float = hyperparameter(
        0.5, low=0.0, high=1.0, doc="0 favours popular neighbours, 1 favours correlated ones."
    )
    min_cointeraction_count: int = hyperparameter(
        3, low=0, high=10, doc="Minimum number of users who interacted with both items."
    )
    min_user_history_length_percentile: float = hyperparameter(
        0.005, low=0.0, high=1.0, doc="Exclude users with shorter histories than this percentile."
    )
    max_user_history_length_percentile: float = hyperparameter(
        0.995, low=0.0, high=1.0, doc="Exclude users with longer histories than this percentile."
    )
    max_neighbors: int = hyperparameter(
        100, low=1, high=500, tunable=False, doc="Neighbours kept per item (Tailor setting)."
    )
    history_distance_decay: float = hyperparameter(
        0.95,
        low=0.0,
        high=1.0,
        doc="A user's pair of items d items apart counts decay^(d-1); 1 = plain co-occurrence (Tailor).",
    )


class SimsRecipe(Recipe):
    name = "aws-sims"
    recipe_type = "RELATED_ITEMS"
    description = (
        "Item-to-item similarities (SIMS) from co-occurrence of items in user histories; recommends the "
        "items most similar to a given item, and popular items when an item has too little data."
    )
    feature_transformation = "sims"
    contract_name = ITEM_NEIGHBORS
    hyperparameters_class = SimsHyperparameters
    hyperparameters: SimsHyperparameters

    def __init__(self, hyperparameters: Hyperparameters | None = None, *, seed: int = 42) -> None:
        super().__init__(hyperparameters, seed=seed)
        self.neighbor_index = np.zeros((0, 0), dtype=np.int64)
        self.neighbor_score = np.zeros((0, 0), dtype=np.float32)
        self.popular = np.zeros(0, dtype=np.int64)

    def fit(self, data: Interactions, device: str = "cpu", on_epoch: EpochCallback | None = None) -> None:
        hp = self.hyperparameters
        self.n_items = data.n_items
        counts = data.item_counts()
        self.popular = np.lexsort((np.arange(self.n_items), -counts)).astype(np.int64)
        used = filter_by_history_percentile(
            data, hp.min_user_history_length_percentile, hp.max_user_history_length_percentile
        )
        self.neighbor_index, self.neighbor_score = cooccurrence_neighbors(
            used,
            hp.max_neighbors,
            hp.popularity_discount_factor,
            hp.min_cointeraction_count,
            device,
            hp.history_distance_decay,
        )
        self.epochs_trained = 1
        if on_epoch is not None:
            on_epoch(1, 0.0)

    def scores(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """[batch, n_items]: the decayed sum of the recent items' neighbour similarities; -inf = none."""
        out = np.zeros((len(histories), self.n_items), dtype=np.float64)
        for row, history in enumerate(histories):
            recent = collapse_repeats(np.asarray(history, dtype=np.int64))[-HISTORY_ITEMS:]
            for age, anchor in enumerate(recent[::-1]):
                index = self.neighbor_index[int(anchor)]
                valid = index >= 0
                np.add.at(
                    out[row], index[valid], self.neighbor_score[int(anchor)][valid] * HISTORY_DECAY**age
                )
        out[out <= 0] = -np.inf
        return out

    def recommend(self, histories: Sequence[np.ndarray], k: int) -> list[np.ndarray]:
        results: list[np.ndarray] = []
        for history, ranked in zip(histories, top_k_unseen_chunked(self.scores, histories, k), strict=True):
            if len(ranked) < k:
                excluded = {int(i) for i in history} | {int(i) for i in ranked}
                filler = [int(i) for i in self.popular if int(i) not in excluded][: k - len(ranked)]
                ranked = np.concatenate([ranked, np.asarray(filler, dtype=np.int64)])
            results.append(ranked.astype(np.int64))
        return results

    def export(self, model_dir: Path) -> ExportResult:
        import torch

        class NeighborLookup(torch.nn.Module):
            def __init__(self, index: np.ndarray, score: np.ndarray) -> None:
                super().__init__()
                self.register_buffer("index", torch.from_numpy(index))
                self.register_buffer("score", torch.from_numpy(score))

            def forward(self, item_index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                return self.index[item_index], self.score[item_index]

        contract = item_neighbors_contract(self.neighbor_index.shape[1])
        sample = np.random.default_rng(self.seed).integers(0, self.n_items, size=8)
        parity = export_and_verify(
            NeighborLookup(self.neighbor_index, self.neighbor_score),
            contract,
            {"item_index": sample},
            model_dir / "model.onnx",
        )
        return ExportResult(contract, parity, "model.onnx", 0)
