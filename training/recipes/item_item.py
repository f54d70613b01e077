"""Item-to-item scores as neighbour tables, and as terms inside a served sequence graph.

Three tables, one row per item: its ``k`` best neighbours and their weights.

- ``cooccurrence_neighbors``: ``c(i, j) / (n(i) * n(j)) ** p`` (``c`` the number of users who interacted
  with both, ``n`` the users per item, ``p`` the popularity discount). With a ``distance_decay`` below 1
  a user's pair counts ``decay ** (d - 1)`` instead of 1, d how many items apart the two are in that
  user's history. aws-sims serves this table.
- ``ease_neighbors``: the largest weights of each item's row in EASE's closed-form item-item regression.
- ``transition_neighbors``: the same for a closed-form regression of each next item on the items before
  it (directed, unlike the other two).

``item_item_term`` is such a table as a torch module that exports to ONNX as plain ops (Gather, Mul,
ScatterElements with add): for the ``sequence_scores`` input (the last L items + 1, left-padded with 0)
it sums the neighbour rows of the input items, the newest weighted 1, the one before ``decay``, then
``decay ** 2`` and so on, into one score per catalogue item. On MovieLens latest-small the items a user
interacts with next follow their last few items much more than their whole history: EASE over the
whole history scored NDCG@10 0.198, with a decay of 0.8 0.271 (seeds 42-46, ``bench/quality.py``'s
split). A GRU trained on 549 users learns that item-to-item signal only in part (0.198 alone on seed
42), so the sequence recipes (aws-user-personalization, -v2) add three closed-form terms to their logits
inside the exported graph (``with_item_item``; one model, one artifact): EASE's table, the
distance-weighted co-occurrence table and the transition table (``ItemItemHyperparameters``). Each term is
scaled to at most 1 per input before its weight applies. The second term came from aws-sims: counting only
pairs close in a history lifted SIMS from NDCG@10 0.202 to 0.244 over seeds 45-54, and added to the GRU
and EASE it lifted user-personalization's MRR@25 from 0.236 to 0.255 over seeds 42-46. The third lifted it
from 0.220 to 0.234 over seeds 45-52 (``transition_neighbors``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from training.data import Interactions
from training.recipes.base import Hyperparameters, hyperparameter

# Dense work per block of item rows stays under this many float32 cells (~64 MB).
_BLOCK_CELLS = 16_000_000
# EASE's inversion is cubic in the items it covers: 5,000 items take seconds on a CPU and 200 MB in
# float64. Items seen by fewer than 3 users carry no reliable row of their own.
EASE_MAX_ITEMS = 5000
EASE_MIN_USERS = 3
# The co-occurrence term's table: SIMS's cosine (discount 0.5) over pairs that 3+ users share.
COOCCURRENCE_NEIGHBORS = 200
COOCCURRENCE_DISCOUNT = 0.5
COOCCURRENCE_MIN_USERS = 3


@dataclass(frozen=True)
class ItemItemHyperparameters(Hyperparameters):
    """The item-to-item terms a sequence recipe adds to its logits (all Tailor settings)."""

    item_item_weight: float = hyperparameter(
        8.0,
        low=0.0,
        high=100.0,
        doc="Weight of the EASE item-to-item term in the scores; 0 = off; scaled down where held-out steps "
        "rank clearly better (with Users or context features: where they rank better at all) (Tailor).",
    )
    item_item_decay: float = hyperparameter(
        0.85, low=0.0, high=1.0, doc="Item-to-item term: weight of each older history item (Tailor)."
    )
    item_item_neighbors: int = hyperparameter(
        200, low=1, high=1000, tunable=False, doc="Item-to-item term: neighbours kept per item (Tailor)."
    )
    item_item_l2: float = hyperparameter(
        200.0, low=1.0, high=10000.0, doc="Item-to-item term: EASE's L2 regularisation (Tailor)."
    )
    cooccurrence_weight: float = hyperparameter(
        8.0,
        low=0.0,
        high=100.0,
        doc="Weight of the co-occurrence term in the scores; 0 = off; scaled down where held-out steps "
        "rank clearly better (with Users or context features: where they rank better at all) (Tailor).",
    )
    cooccurrence_decay: float = hyperparameter(
        0.7, low=0.0, high=1.0, doc="Co-occurrence term: weight of each older history item (Tailor)."
    )
    cooccurrence_distance_decay: float = hyperparameter(
        0.95,
        low=0.0,
        high=1.0,
        doc="Co-occurrence term: a user's pair of items d items apart counts decay^(d-1) (Tailor).",
    )
    transition_weight: float = hyperparameter(
        4.0,
        low=0.0,
        high=100.0,
        doc="Weight of the transition term (a regression of each next item on the items before it) in the "
        "scores; 0 = off; scaled down where held-out steps rank clearly better (with Users or context "
        "features: where they rank better at all) (Tailor).",
    )
    transition_decay: float = hyperparameter(
        0.7, low=0.0, high=1.0, doc="Transition term: weight of each older history item (Tailor)."
    )
    transition_l2: float = hyperparameter(
        100.0, low=1.0, high=10000.0, doc="Transition term: the regression's L2 regularisation (Tailor)."
    )

    @property
    def any_term(self) -> bool:
        """Whether ``item_item_terms`` builds at least one term."""
        return self.item_item_weight > 0 or self.cooccurrence_weight > 0 or self.transition_weight > 0


# Pairs further apart than this weigh less than this share of an adjacent pair and are left out.
_NEGLIGIBLE_WEIGHT = 1e-4


def first_interaction_order(data: Interactions, decay: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Every user's items in the order of their first interaction with each (repeats dropped), concatenated;
    each entry's user; and how many items apart two entries can be before ``decay ** (d - 1)`` is
    negligible (at most the longest history)."""
    sequences = []
    owners = []
    for user, history in enumerate(data.histories()):
        _, first = np.unique(history, return_index=True)
        sequences.append(history[np.sort(first)])
        owners.append(np.full(len(first), user, dtype=np.int64))
    items = np.concatenate(sequences) if sequences else np.zeros(0, dtype=np.int64)
    owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
    longest = max((len(s) for s in sequences), default=1)
    if decay <= 0:
        reach = 1
    elif decay >= 1:
        reach = longest
    else:
        reach = int(np.ceil(np.log(_NEGLIGIBLE_WEIGHT) / np.log(decay))) + 1
    return items, owner, max(1, min(longest - 1, reach))


class _DistanceWeightedCounts:
    """``c(i, j)`` with each user's pair weighted ``decay ** (d - 1)``, d how many items apart they are.

    A user's history is read as the order in which they first interacted with each item (repeats are
    dropped), so a pair counts once per user, as in the plain count. Rows are computed per block of
    anchor items, offset by offset, so memory is one dense block however long the histories are.
    """

    def __init__(self, data: Interactions, decay: float) -> None:
        self.items, self.owner, self.max_distance = first_interaction_order(data, decay)
        self.decay = decay
        self.n_items = data.n_items

    def block(self, start: int, stop: int) -> np.ndarray:
        cells: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        for distance in range(1, self.max_distance + 1):
            same_user = self.owner[:-distance] == self.owner[distance:]
            earlier, later = self.items[:-distance][same_user], self.items[distance:][same_user]
            for anchor, other in ((earlier, later), (later, earlier)):
                inside = (anchor >= start) & (anchor < stop)
                cells.append((anchor[inside] - start) * self.n_items + other[inside])
                weights.append(np.full(len(cells[-1]), self.decay ** (distance - 1)))
        size = (stop - start) * self.n_items
        if not cells:
            return np.zeros((stop - start, self.n_items), dtype=np.float32)
        counts = np.bincount(np.concatenate(cells), weights=np.concatenate(weights), minlength=size)
        return counts.reshape(stop - start, self.n_items).astype(np.float32)


def item_user_pairs(data: Interactions) -> tuple[np.ndarray, np.ndarray]:
    """(items, users): one pair per user who interacted with an item, sorted by item then user, so the
    tables count users, not interactions."""
    n_users = max(data.n_users, 1)
    pairs = np.unique(data.item * np.int64(n_users) + data.user)
    return pairs // n_users, pairs % n_users


def cooccurrence_neighbors(
    data: Interactions,
    k: int,
    discount: float,
    min_cointeractions: int,
    device: str = "cpu",
    distance_decay: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Per item, its ``k`` most similar items (index -1 pads) and their similarity (0 pads).

    Similar items need at least ``max(min_cointeractions, 1)`` users in common; an item is not its own
    neighbour. Ties rank the lower item index first. With ``distance_decay`` below 1 the count in the
    numerator weighs each user's pair by how close the two items are in the history
    (``_DistanceWeightedCounts``); the threshold still counts users.
    """
    import torch

    n_items = data.n_items
    items, users = item_user_pairs(data)
    users_per_item = np.bincount(items, minlength=n_items).astype(np.float64)
    item_ptr = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(users_per_item.astype(np.int64), out=item_ptr[1:])

    k = min(k, max(n_items - 1, 1))
    index = np.full((n_items, k), -1, dtype=np.int64)
    score = np.zeros((n_items, k), dtype=np.float32)
    threshold = max(min_cointeractions, 1)
    scale = torch.from_numpy(np.power(np.maximum(users_per_item, 1.0), discount))
    weighted = _DistanceWeightedCounts(data, distance_decay) if distance_decay < 1.0 else None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's sparse CSR "beta" notices
        device_t = torch.device(device)
        by_user = np.lexsort((items, users))
        user_ptr = np.zeros(data.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(users, minlength=data.n_users), out=user_ptr[1:])
        x = torch.sparse_csr_tensor(
            torch.from_numpy(user_ptr),
            torch.from_numpy(items[by_user]),
            torch.ones(len(items), dtype=torch.float32),
            size=(data.n_users, n_items),
        ).to(device_t)
        block = max(1, _BLOCK_CELLS // max(n_items, 1))
        for start in range(0, n_items, block):
            stop = min(start + block, n_items)
            lo, hi = item_ptr[start], item_ptr[stop]
            xt_block = torch.sparse_csr_tensor(
                torch.from_numpy(item_ptr[start : stop + 1] - lo),
                torch.from_numpy(users[lo:hi]),
                torch.ones(int(hi - lo), dtype=torch.float32),
                size=(stop - start, data.n_users),
            ).to(device_t)
            co = torch.sparse.mm(xt_block, x).to_dense()
            rows = torch.arange(stop - start, device=device_t)
            co[rows, rows + start] = 0.0
            counted = co if weighted is None else torch.from_numpy(weighted.block(start, stop)).to(device_t)
            sim = counted / (scale[start:stop, None] * scale[None, :]).to(device_t, torch.float32)
            sim = torch.where(co >= threshold, sim, torch.zeros_like(sim))
            values, indices = torch.topk(sim, k, dim=1)
            values, indices = values.cpu().numpy(), indices.cpu().numpy()
            valid = values > 0
            index[start:stop] = np.where(valid, indices, -1)
            score[start:stop] = np.where(valid, values, 0.0)
    return index, score


def item_item_term(index: np.ndarray, score: np.ndarray, length: int, decay: float) -> Any:
    """nn.Module: ``item_sequence`` [B, length] (item + 1, 0 = padding) -> scores [B, n_items].

    ``index``/``score`` are a neighbour table (``cooccurrence_neighbors``); padded neighbours (-1) and
    the padding input add nothing.
    """
    import torch
    from torch import nn

    n_items, k = index.shape
    # Only items with a neighbour get a row in the graph's table (EASE covers at most EASE_MAX_ITEMS), so
    # its size follows those items, not the catalogue: ``row`` maps item + 1 to its row, 0 = none. Row 0
    # is empty: padding inputs and items without neighbours add nothing (index 0 with weight 0).
    has_row = np.flatnonzero((index >= 0).any(axis=1))
    row = np.zeros(n_items + 1, dtype=np.int64)
    row[has_row + 1] = np.arange(1, len(has_row) + 1)
    table_index = np.zeros((len(has_row) + 1, k), dtype=np.int64)
    table_score = np.zeros((len(has_row) + 1, k), dtype=np.float32)
    table_index[1:] = np.maximum(index[has_row], 0)
    table_score[1:] = np.where(index[has_row] >= 0, score[has_row], 0.0)
    # Position length - 1 is the newest item.
    position = (decay ** np.arange(length - 1, -1, -1, dtype=np.float64)).astype(np.float32)

    class ItemItemTerm(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.n_items = n_items
            self.register_buffer("row", torch.from_numpy(row))
            self.register_buffer("neighbor_index", torch.from_numpy(table_index))
            self.register_buffer("neighbor_score", torch.from_numpy(table_score))
            self.register_buffer("position_weight", torch.from_numpy(position))

        def forward(self, item_sequence: torch.Tensor) -> torch.Tensor:
            batch = item_sequence.shape[0]
            rows = self.row[item_sequence]
            targets = self.neighbor_index[rows].reshape(batch, -1)
            weights = (self.neighbor_score[rows] * self.position_weight[None, :, None]).reshape(batch, -1)
            out = torch.zeros(batch, self.n_items, dtype=weights.dtype, device=weights.device)
            return out.scatter_add(1, targets, weights)

    return ItemItemTerm()


def _regression_items(items: np.ndarray, n_items: int, min_users: int, max_items: int) -> np.ndarray:
    """The sorted item indices a closed-form regression covers: the ``max_items`` with the most users among
    those with at least ``min_users`` (``items``: one entry per (item, user) pair)."""
    users_per_item = np.bincount(items, minlength=n_items)
    eligible = np.flatnonzero(users_per_item >= max(min_users, 1))
    by_popularity = eligible[np.lexsort((eligible, -users_per_item[eligible]))]
    return np.sort(by_popularity[:max_items])


def _top_k_rows(weights: Any, kept: np.ndarray, n_items: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """A neighbour table from a dense [kept, kept] weight matrix: each kept item's ``k`` largest positive
    weights (index -1 / weight 0 pad; items outside ``kept`` get no neighbours)."""
    import torch

    index = np.full((n_items, max(k, 1)), -1, dtype=np.int64)
    score = np.zeros((n_items, max(k, 1)), dtype=np.float32)
    if k == 0:
        return index, score
    values, columns = torch.topk(weights.float(), k, dim=1)
    values, columns = values.numpy(), columns.numpy()
    valid = values > 0
    index[kept, :k] = np.where(valid, kept[columns], -1)
    score[kept, :k] = np.where(valid, values, 0.0)
    return index, score


def ease_neighbors(
    data: Interactions, k: int, l2: float, min_users: int, max_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per item, the ``k`` largest weights of its row in EASE's item-item matrix (index -1 pads).

    EASE (Steck, "Embarrassingly Shallow Autoencoders", WWW 2019) is the closed-form least-squares
    regression of every item's column of the user-item matrix on the other items' columns, with L2
    penalty ``l2`` and a zero diagonal: B = I - P diag(1 / diag(P)), P = (X^T X + l2 I)^-1. Unlike
    cosine co-occurrence it discounts neighbours that are explained by other neighbours already, so
    the weights of a history's items add up instead of repeating the popular ones. The inversion is
    cubic in the number of items, so it covers the ``max_items`` items with the most users among those
    with at least ``min_users``; other items get no row and are never scored by this term.
    """
    import torch

    n_items = data.n_items
    items, users = item_user_pairs(data)
    kept = _regression_items(items, n_items, min_users, max_items)
    k = min(k, max(len(kept) - 1, 0))
    if k == 0:
        return _top_k_rows(None, kept, n_items, 0)
    column = np.full(n_items, -1, dtype=np.int64)
    column[kept] = np.arange(len(kept))
    keep = column[items] >= 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notice that sparse invariant checks are off
        x = torch.sparse_coo_tensor(
            torch.from_numpy(np.stack([users[keep], column[items[keep]]])),
            torch.ones(int(keep.sum()), dtype=torch.float64),
            size=(data.n_users, len(kept)),
        ).coalesce()
        gram = torch.sparse.mm(x.t().coalesce(), x).to_dense()
    gram.diagonal().add_(l2)
    precision = torch.linalg.inv(gram)
    weights = -precision / precision.diagonal()[None, :]
    weights.fill_diagonal_(0.0)
    return _top_k_rows(weights, kept, n_items, k)


def transition_neighbors(
    data: Interactions, k: int, l2: float, decay: float, min_users: int, max_items: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per item, the ``k`` largest weights of its row in a ridge regression of each next item on the items
    before it (index -1 pads).

    EASE reconstructs the items a user has from the other items they have, in any order; what a user does
    next follows their last few items and their direction (a sequel after the film, not the film after the
    sequel). This regression (the transition half of SLIST: Choi et al., "Session-aware Linear Item-Item
    Models", WWW 2021) learns exactly that. Each step of each training history (its first interaction
    with an item, repeats dropped as in the co-occurrence counts) is one row: the input is the items before
    it, the newest weighted 1 and each older one ``decay`` times the one after it, the target the step's
    item. W = (X^T X + l2 I)^-1 X^T Y over the items ``ease_neighbors`` covers; the served term sums the
    rows of the input's items with the same decay, so it scores a history as the regression was fitted.
    On MovieLens latest-small, added to the GRU and the two other terms at weight 4, it lifted MRR@25
    from 0.220 to 0.234 and NDCG@10 from 0.266 to 0.278 (seeds 45-52; MRR@25 higher on 6 of 8 seeds, one
    tie).
    """
    import torch

    n_items = data.n_items
    kept = _regression_items(item_user_pairs(data)[0], n_items, min_users, max_items)
    k = min(k, max(len(kept) - 1, 0))
    column = np.full(n_items, -1, dtype=np.int64)
    column[kept] = np.arange(len(kept))
    items, owner, max_distance = first_interaction_order(data, decay)
    steps = column[items]
    rows, columns, values = [], [], []
    for distance in range(1, max_distance + 1):
        target = np.arange(distance, len(steps))
        source = steps[:-distance]
        inside = (owner[:-distance] == owner[distance:]) & (source >= 0) & (steps[distance:] >= 0)
        rows.append(target[inside])
        columns.append(source[inside])
        values.append(np.full(int(inside.sum()), decay ** (distance - 1)))
    if k == 0 or not sum(len(r) for r in rows):
        return _top_k_rows(None, kept, n_items, 0)
    targets = np.flatnonzero(steps >= 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notice that sparse invariant checks are off
        x = torch.sparse_coo_tensor(
            torch.from_numpy(np.stack([np.concatenate(rows), np.concatenate(columns)])),
            torch.from_numpy(np.concatenate(values)),
            size=(len(steps), len(kept)),
            dtype=torch.float64,
        ).coalesce()
        y = torch.sparse_coo_tensor(
            torch.from_numpy(np.stack([targets, steps[targets]])),
            torch.ones(len(targets), dtype=torch.float64),
            size=(len(steps), len(kept)),
        ).coalesce()
        xt = x.t().coalesce()
        gram = torch.sparse.mm(xt, x).to_dense()
        cross = torch.sparse.mm(xt, y).to_dense()
    gram.diagonal().add_(l2)
    weights = torch.linalg.solve(gram, cross)
    del gram, cross
    weights.fill_diagonal_(0.0)  # with repeats dropped an item never follows itself
    return _top_k_rows(weights, kept, n_items, k)


def item_item_terms(data: Interactions, hp: ItemItemHyperparameters, length: int, device: str) -> Any:
    """nn.Module: the weighted sum of the enabled terms, each scaled to at most 1 per input over the items
    not in the input (which get 0); None if none.

    A history without neighbours in a term gets nothing from it.
    """
    import torch
    from torch import nn

    parts: list[tuple[Any, float]] = []
    names: list[str] = []  # the hyperparameter each part's weight comes from
    if hp.item_item_weight > 0:
        names.append("item_item_weight")
        index, score = ease_neighbors(
            data, hp.item_item_neighbors, hp.item_item_l2, EASE_MIN_USERS, EASE_MAX_ITEMS
        )
        parts.append((item_item_term(index, score, length, hp.item_item_decay), hp.item_item_weight))
    if hp.cooccurrence_weight > 0:
        names.append("cooccurrence_weight")
        index, score = cooccurrence_neighbors(
            data,
            COOCCURRENCE_NEIGHBORS,
            COOCCURRENCE_DISCOUNT,
            COOCCURRENCE_MIN_USERS,
            device,
            hp.cooccurrence_distance_decay,
        )
        parts.append((item_item_term(index, score, length, hp.cooccurrence_decay), hp.cooccurrence_weight))
    if hp.transition_weight > 0:
        names.append("transition_weight")
        index, score = transition_neighbors(
            data,
            hp.item_item_neighbors,
            hp.transition_l2,
            hp.transition_decay,
            EASE_MIN_USERS,
            EASE_MAX_ITEMS,
        )
        parts.append((item_item_term(index, score, length, hp.transition_decay), hp.transition_weight))
    if not parts:
        return None

    class WeightedTerms(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.terms = nn.ModuleList([term for term, _ in parts])
            self.names = list(names)
            self.weights = [float(weight) for _, weight in parts]
            self.n_items = data.n_items
            self.mask_input_items = True  # False reproduces the earlier graph (benchmark comparisons)

        def weighted_parts(self, item_sequence: torch.Tensor, only: int | None = None) -> list[torch.Tensor]:
            """Each term's weighted, scaled scores [B, n_items]; with ``only``, that term's alone."""
            # The input's own items get nothing from these terms: "near what you had" says nothing about
            # having it again (the runtime never returns them), and left in they would take the maximum
            # that scales the term for every other item.
            present = torch.zeros(
                (item_sequence.shape[0], self.n_items + 1), dtype=torch.float32, device=item_sequence.device
            )
            present = present.scatter(1, item_sequence, torch.ones_like(item_sequence, dtype=torch.float32))
            fresh = 1.0 - present[:, 1:] if self.mask_input_items else torch.ones_like(present[:, 1:])
            out = []
            for position, (term, weight) in enumerate(zip(self.terms, self.weights, strict=True)):
                if only is not None and position != only:
                    continue
                scores = term(item_sequence) * fresh
                out.append(weight * scores / scores.amax(dim=1, keepdim=True).clamp(min=1e-12))
            return out

        def forward(self, item_sequence: torch.Tensor) -> torch.Tensor:
            parts = self.weighted_parts(item_sequence)
            total = parts[0]
            for part in parts[1:]:
                total = total + part
            return total

        def part(self, position: int) -> nn.Module:
            """One weighted term alone, as a module (to score held-out steps term by term)."""
            terms = self

            class Part(nn.Module):
                def forward(self, item_sequence: torch.Tensor) -> torch.Tensor:
                    return terms.weighted_parts(item_sequence, only=position)[0]

            return Part()

    return WeightedTerms().to(device)


def with_item_item(model: Any, terms: Any, features: bool = False, temperature: float = 1.0) -> Any:
    """nn.Module: ``(model(item_sequence) + terms(item_sequence)) / temperature`` (``terms`` from
    ``item_item_terms``; None: the model alone; ``temperature`` from ``score_temperature.py``); with
    ``features``, ``forward(item_sequence, feature_tokens)`` and the tokens go to the model only (the
    item-to-item terms read items, not who or where)."""
    import torch
    from torch import nn

    inverse = 1.0 / temperature

    class WithItemItem(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model
            self.terms = terms

        def tempered(self, scores: torch.Tensor) -> torch.Tensor:
            return scores if inverse == 1.0 else scores * inverse

        def forward(self, item_sequence: torch.Tensor) -> torch.Tensor:
            scores = self.model(item_sequence)
            return self.tempered(scores if self.terms is None else scores + self.terms(item_sequence))

    class WithItemItemAndFeatures(WithItemItem):
        def forward(self, item_sequence: torch.Tensor, feature_tokens: torch.Tensor) -> torch.Tensor:
            scores = self.model(item_sequence, feature_tokens)
            return self.tempered(scores if self.terms is None else scores + self.terms(item_sequence))

    if features:
        return WithItemItemAndFeatures().eval()
    return model if terms is None and inverse == 1.0 else WithItemItem().eval()
