"""Warm start (trainingMode UPDATE): rows follow item ids and tokens; new items start from neighbours."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from training.data import Interactions
from training.errors import ConfigurationError
from training.item_metadata import ItemFeatures
from training.recipes.hrnn import HrnnColdstartRecipe
from training.recipes.neural_sequence import (
    CATALOGUE_BUFFERS,
    TOKEN_EMBEDDING,
    _item_tower,
    _scorer,
    gru_encoder,
)
from training.warm_start import (
    VOCABULARY_FILE,
    PreviousModel,
    WarmStart,
    current_buffers,
    load_previous,
    previous_rows,
    save_state,
    token_parameters,
)


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


# -- per-token rows and current-catalogue buffers (aws-hrnn-coldstart's model) -----------------------------
class _TokenModel(torch.nn.Module):
    def __init__(self, n_items: int, n_tokens: int, gate: float = 1.0) -> None:
        super().__init__()
        self.item_bias = torch.nn.Parameter(torch.randn(n_items))
        self.token_embedding = torch.nn.Embedding(n_tokens + 1, 2, padding_idx=0)
        self.register_buffer("id_gate", torch.full((n_items,), gate))


TOKENS = {"token_embedding.weight": 1}


def _token_previous(model: torch.nn.Module, items: list[str], tokens: list[str]) -> PreviousModel:
    state = {name: t.detach().numpy().copy() for name, t in model.state_dict().items() if name != "id_gate"}
    return PreviousModel({"recipe": "r"}, items, {}, state, {"token_embedding.weight": tokens})


def test_token_rows_follow_their_token_and_a_new_token_starts_fresh():
    torch.manual_seed(1)
    old = _TokenModel(2, 3)
    # A new token that sorts first renumbers every known one; "G=c" is gone.
    new = _TokenModel(2, 3, gate=0.0)
    fresh = new.token_embedding.weight.detach().clone()
    previous = _token_previous(old, ["a", "b"], ["G=a", "G=b", "G=c"])
    warm = WarmStart(previous, _data(["a", "b"], [[0, 1]]), {"item_bias": 0}, TOKENS, ["id_gate"])
    warm.apply(new, {"token_embedding.weight": ["G=new", "G=a", "G=b"]})
    old_t, new_t = old.token_embedding.weight.detach(), new.token_embedding.weight.detach()
    assert torch.equal(new_t[0], old_t[0])  # padding
    assert torch.equal(new_t[1], fresh[1])  # G=new
    assert torch.equal(new_t[2], old_t[1]) and torch.equal(new_t[3], old_t[2])  # G=a, G=b
    # The current catalogue's buffer is the new model's, even though the previous one had another value.
    assert torch.equal(new.id_gate, torch.zeros(2))
    assert torch.equal(new.item_bias, old.item_bias)


def test_a_grown_vocabulary_is_no_shape_error_but_a_wider_token_row_is():
    old = _TokenModel(1, 1)
    data = _data(["a"], [[0]])
    warm = WarmStart(_token_previous(old, ["a"], ["G=a"]), data, {"item_bias": 0}, TOKENS, ["id_gate"])
    warm.apply(_TokenModel(1, 4), {"token_embedding.weight": ["G=a", "G=b", "G=c", "G=d"]})
    wider = _TokenModel(1, 1)
    wider.token_embedding = torch.nn.Embedding(2, 3, padding_idx=0)
    with pytest.raises(ConfigurationError, match="trainingMode FULL"):
        warm.apply(wider, {"token_embedding.weight": ["G=a"]})


def test_a_previous_model_without_its_tokens_cannot_be_updated():
    old = _TokenModel(1, 1)
    state = {name: t.detach().numpy().copy() for name, t in old.state_dict().items()}
    warm = WarmStart(PreviousModel({}, ["a"], {}, state), _data(["a"], [[0]]), {"item_bias": 0}, TOKENS)
    with pytest.raises(ConfigurationError, match="did not keep the tokens"):
        warm.apply(_TokenModel(1, 1), {"token_embedding.weight": ["G=a"]})


def _coldstart(n_items: int, vocabulary: list[str], cold: list[bool]) -> HrnnColdstartRecipe:
    """An aws-hrnn-coldstart recipe holding its real (untrained) model over one metadata token per item."""
    recipe = HrnnColdstartRecipe()  # the model below is narrower than its hyperparameters allow: no matter
    tokens = np.arange(1, n_items + 1, dtype=np.int64)[:, None] % (len(vocabulary) + 1)
    features = ItemFeatures(vocabulary, tokens, np.zeros((n_items, 0), dtype=np.float32))
    tower = _item_tower(n_items, 8, features, None)
    tower.id_gate.copy_(torch.tensor([0.0 if c else 1.0 for c in cold]))
    recipe.model = _scorer(n_items, 8, tower, gru_encoder(8), 0.0)
    recipe.token_vocabularies = {TOKEN_EMBEDDING: vocabulary}
    return recipe


def test_coldstart_round_trip_keeps_items_and_tokens_and_takes_the_current_catalogue(tmp_path: Path):
    torch.manual_seed(2)
    old = _coldstart(3, ["G=a", "G=b"], [False, False, True])
    for name, content in {"manifest.json": {"recipe": "aws-hrnn-coldstart"}, "metrics.json": {},
                          "items.json": ["a", "b", "c"]}.items():  # fmt: skip
        (tmp_path / name).write_text(json.dumps(content), encoding="utf-8")
    save_state(old, tmp_path)
    assert json.loads((tmp_path / VOCABULARY_FILE).read_text()) == {
        "token_vocabularies": {TOKEN_EMBEDDING: ["G=a", "G=b"]}
    }
    previous = load_previous(tmp_path)
    assert not set(CATALOGUE_BUFFERS) & set(previous.state)  # the catalogue is never taken from it

    # Item "n" and token "G=0" are new; "c" is no longer cold; the token matrix is renumbered.
    new = _coldstart(4, ["G=0", "G=a", "G=b"], [False, False, False, True])
    fresh = {name: t.detach().clone() for name, t in new.model.state_dict().items()}
    data = _data(["a", "b", "c", "n"], [[0, 1, 2], [3]])
    warm = WarmStart(previous, data, HrnnColdstartRecipe.warm_item_parameters,
                     token_parameters(new), tuple(current_buffers(new)))  # fmt: skip
    warm.apply(new.model, new.token_vocabularies)
    before, after = old.model.state_dict(), new.model.state_dict()
    ids = "tower.item_id.weight"
    assert torch.equal(after[ids][:3], before[ids]) and torch.equal(after[ids][3], fresh[ids][3])
    assert torch.equal(after["item_bias"][:3], before["item_bias"])
    assert torch.equal(after[TOKEN_EMBEDDING][[0, 2, 3]], before[TOKEN_EMBEDDING])
    assert torch.equal(after[TOKEN_EMBEDDING][1], fresh[TOKEN_EMBEDDING][1])
    for name in CATALOGUE_BUFFERS:
        assert torch.equal(after[name], fresh[name])
    assert torch.equal(after["encoder.gru.weight_hh_l0"], before["encoder.gru.weight_hh_l0"])
