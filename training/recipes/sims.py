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

Each item keeps its top ``max_neighbors`` neighbours (index -1 pads items with fewer); the ONNX graph
(``item_neighbors``) is a lookup in that table. Items without neighbours fall back to popular items at
serving time, as Personalize's SIMS does.

Offline evaluation (GetSolutionMetrics for a RELATED_ITEMS recipe): Personalize serves SIMS per item, so a
held-out user is scored on the items similar to their most recent visible interaction, the request an
application makes on the item page a user just viewed. When that item has fewer unseen neighbours than
requested, the list continues with the neighbours of the next most recent items, then with popular items;
items in the visible history are excluded throughout.
"""

from __future__ import annotations

import warnings
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
)

# Dense work per block of item rows stays under this many float32 cells (~64 MB).
_BLOCK_CELLS = 16_000_000


@dataclass(frozen=True)
class SimsHyperparameters(Hyperparameters):
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

    def __post_init__(self) -> None:
        if self.min_user_history_length_percentile > self.max_user_history_length_percentile:
            raise ValueError(
                "min_user_history_length_percentile must not exceed max_user_history_length_percentile."
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
        import torch

        hp = self.hyperparameters
        self.n_items = data.n_items
        counts = data.item_counts()
        self.popular = np.lexsort((np.arange(self.n_items), -counts)).astype(np.int64)
        used = filter_by_history_percentile(
            data, hp.min_user_history_length_percentile, hp.max_user_history_length_percentile
        )
        # One (item, user) pair per user who interacted with the item, sorted by item then user.
        pairs = np.unique(used.item * np.int64(used.n_users) + used.user)
        items, users = pairs // used.n_users, pairs % used.n_users
        users_per_item = np.bincount(items, minlength=self.n_items).astype(np.float64)
        item_ptr = np.zeros(self.n_items + 1, dtype=np.int64)
        np.cumsum(users_per_item.astype(np.int64), out=item_ptr[1:])

        k = min(hp.max_neighbors, max(self.n_items - 1, 1))
        self.neighbor_index = np.full((self.n_items, k), -1, dtype=np.int64)
        self.neighbor_score = np.zeros((self.n_items, k), dtype=np.float32)
        threshold = max(hp.min_cointeraction_count, 1)
        discount = torch.from_numpy(np.power(np.maximum(users_per_item, 1.0), hp.popularity_discount_factor))

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's sparse CSR "beta" notices
            device_t = torch.device(device)
            by_user = np.lexsort((items, users))
            user_ptr = np.zeros(used.n_users + 1, dtype=np.int64)
            np.cumsum(np.bincount(users, minlength=used.n_users), out=user_ptr[1:])
            x = torch.sparse_csr_tensor(
                torch.from_numpy(user_ptr),
                torch.from_numpy(items[by_user]),
                torch.ones(len(pairs), dtype=torch.float32),
                size=(used.n_users, self.n_items),
            ).to(device_t)
            block = max(1, _BLOCK_CELLS // max(self.n_items, 1))
            for start in range(0, self.n_items, block):
                stop = min(start + block, self.n_items)
                lo, hi = item_ptr[start], item_ptr[stop]
                xt_block = torch.sparse_csr_tensor(
                    torch.from_numpy(item_ptr[start : stop + 1] - lo),
                    torch.from_numpy(users[lo:hi]),
                    torch.ones(int(hi - lo), dtype=torch.float32),
                    size=(stop - start, used.n_users),
                ).to(device_t)
                co = torch.sparse.mm(xt_block, x).to_dense()
                rows = torch.arange(stop - start, device=device_t)
                co[rows, rows + start] = 0.0  # an item is not its own neighbour
                sim = co / (discount[start:stop, None] * discount[None, :]).to(device_t, torch.float32)
                sim = torch.where(co >= threshold, sim, torch.zeros_like(sim))
                values, indices = torch.topk(sim, k, dim=1)
                values, indices = values.cpu().numpy(), indices.cpu().numpy()
                valid = values > 0
                self.neighbor_index[start:stop] = np.where(valid, indices, -1)
                self.neighbor_score[start:stop] = np.where(valid, values, 0.0)
        self.epochs_trained = 1
        if on_epoch is not None:
            on_epoch(1, 0.0)

    def recommend(self, histories: Sequence[np.ndarray], k: int) -> list[np.ndarray]:
        results: list[np.ndarray] = []
        for history in histories:
            excluded = {int(i) for i in history}
            chosen: list[int] = []
            for anchor in history[::-1]:
                for neighbor in self.neighbor_index[int(anchor)]:
                    if neighbor < 0 or len(chosen) >= k:
                        break
                    if int(neighbor) not in excluded:
                        excluded.add(int(neighbor))
                        chosen.append(int(neighbor))
                if len(chosen) >= k:
                    break
            for item in self.popular:
                if len(chosen) >= k:
                    break
                if int(item) not in excluded:
                    excluded.add(int(item))
                    chosen.append(int(item))
            results.append(np.asarray(chosen, dtype=np.int64))
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
