"""Warm start (trainingMode UPDATE): parameters follow item ids; new items start from their neighbourhood."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.data import Interactions
from training.errors import ConfigurationError
from training.warm_start import PreviousModel, WarmStart, previous_rows


class _Model(torch.nn.Module):
    def __init__(self, n_items: int, dim: int = 3) -> None:
        super().__init__()
        self.item_embedding = torch.nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.item_bias = torch.nn.Parameter(torch.zeros(n_items))
        self.project = torch.nn.Linear(dim, dim)


def _data(item_ids: list[str], histories: list[list[int]]) -> Interactions:
    user = np.concatenate([np.full(len(h), u) for u, h in enumerate(histories)]).astype(np.int64)
    item = np.concatenate([np.array(h) for h in histories]).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum([len(h) for h in histories])]).astype(np.int64)
    return Interactions([f"u{u}" for u in range(len(histories))], item_ids, user, item,
                        np.arange(len(item), dtype=np.float64), None, None, offsets)  # fmt: skip


def _previous(model: _Model, items: list[str]) -> PreviousModel:
    state = {name: t.detach().numpy().copy() for name, t in model.state_dict().items()}
    return PreviousModel({"recipe": "r"}, items, {}, state)


def test_previous_rows_match_by_id():
    assert previous_rows(["b", "d", "a"], ["a", "b", "c"]).tolist() == [1, -1, 0]


def test_known_items_keep_their_rows_and_a_new_item_starts_from_its_users_items():
    torch.manual_seed(0)
    old = _Model(3)
    # New catalogue a, b, c and the new item n, whose user also watched a (twice) and c.
    data = _data(["a", "b", "c", "n"], [[0, 0, 2, 3], [1]])
    new = _Model(4)
    fresh_n = new.item_embedding.weight[4].detach().clone()
    warm = WarmStart(_previous(old, ["b", "a", "c"]), data, {"item_embedding.weight": 1, "item_bias": 0})
    assert (warm.known_items, warm.new_items) == (3, 1)
    warm.apply(new)
    old_e, new_e = old.item_embedding.weight.detach(), new.item_embedding.weight.detach()
    assert (
        torch.equal(new_e[1], old_e[2])
        and torch.equal(new_e[2], old_e[1])
        and torch.equal(new_e[3], old_e[3])
    )
    assert torch.equal(new_e[0], old_e[0])  # padding row
    expected = fresh_n + (2 * old_e[2] + old_e[3]) / 3
    assert torch.allclose(new_e[4], expected)
    assert torch.equal(new.project.weight, old.project.weight)


def test_a_changed_shape_is_refused_with_a_reason():
    data = _data(["a"], [[0]])
    warm = WarmStart(_previous(_Model(1, dim=3), ["a"]), data, {"item_embedding.weight": 1, "item_bias": 0})
    with pytest.raises(ConfigurationError, match="trainingMode FULL"):
        warm.apply(_Model(1, dim=4))
