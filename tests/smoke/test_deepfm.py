"""aws-deepfm on generated data whose answer is known.

- ring data (every user walks items i, i + 1, i + 2, ...): the next item must come first for every
  position of the ring, with and without item metadata; the ONNX export passes the parity check and the
  served artifact (``LoadedModel``, as a campaign loads it) answers what the recipe computed, for users
  it knows (by their index in ``user_ids.json``) and users it does not;
- a click-through task with explicit labels (``train_pointwise``): a user who clicks items of one genre
  and skips the others gets a higher click probability for an unseen item of that genre;
- the user field: users with the same history and opposite labels get opposite scores, an unknown user
  the average of the two, and the exported graph reproduces all three;
- the training entrypoint, the SageMaker way, with an ``items`` channel: a complete artifact with the
  shared offline metrics, whose recommendations stay in the user's cluster.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from functions.serving.model_artifact import LoadedModel
from tests.smoke.conftest import run_entrypoint
from tests.smoke.test_more_recipes import RING, _genres, _ring_data, _write_items
from training.artifact import write_artifact
from training.errors import HyperparameterError
from training.item_metadata import ItemMetadata
from training.onnx_export import export_and_verify, user_feature_scores_contract
from training.recipes import RECIPES, get_recipe
from training.recipes.deepfm import DeepFmRecipe, PointwiseRows, build_model, train_pointwise
from training.recipes.user_personalization import model_input
from training.synthetic import SyntheticData

pytestmark = pytest.mark.smoke

FAST = {"epochs": "3", "learning_rate": "0.01", "history_length": "8", "embedding_dimension": "16"}


def _next_item_hits(recipe: DeepFmRecipe) -> int:
    histories = [np.array([(i - 2) % RING, (i - 1) % RING, i]) for i in range(RING)]
    tops = recipe.recommend(histories, 1)
    return sum(int(top[0]) == (i + 1) % RING for i, top in enumerate(tops))


@pytest.mark.parametrize("metadata", [False, True], ids=["ids-only", "with-genres"])
def test_deepfm_learns_the_next_item_and_serves_what_it_computed(metadata: bool, tmp_path: Path) -> None:
    data = _ring_data()
    recipe = DeepFmRecipe(DeepFmRecipe.parse_hyperparameters(FAST), seed=3)
    if metadata:
        recipe.set_item_metadata(_genres(data))
    recipe.fit(data)
    assert recipe.epochs_trained == 3
    assert _next_item_hits(recipe) >= RING - 1

    export = recipe.export(tmp_path)
    assert export.contract.name == "user_feature_scores" and export.max_sequence_length == 8
    assert [spec.name for spec in export.contract.inputs] == ["item_sequence", "user_index", "feature_tokens"]
    assert export.parity.max_abs_diff <= export.parity.atol
    write_artifact(tmp_path, recipe, export, data, metrics={}, training={"interactions": data.n_interactions})
    assert json.loads((tmp_path / "user_ids.json").read_text(encoding="utf-8")) == data.user_ids
    model = LoadedModel.load(str(tmp_path))
    for user in (0, 41, 79):  # known users: the served scores are the recipe's for that user index
        user_id = data.user_ids[user]
        history = data.history(user)
        logits = recipe.scores([history], recipe.user_indices([user_id]))[0]
        scores, _ = model.user_scores(user_id, [])
        want = np.exp(logits - logits.max())
        np.testing.assert_allclose(scores, want / want.sum(), atol=1e-5)
    for start in (0, 17, 33):  # unknown users with a live history: the recipe's unknown-user scores
        history = np.array([(start + step) % RING for step in range(5)])
        ids = [data.item_ids[i] for i in history]
        expected = [data.item_ids[i] for i in recipe.recommend([history], 10)[0]]
        assert [item for item, _ in model.recommend_for_user(None, ids, 10)] == expected
        scores, _ = model.user_scores(None, ids)  # the dense form GetPersonalizedRanking reorders
        logits = recipe.scores([history])[0]
        want = np.exp(logits - logits.max())
        np.testing.assert_allclose(scores, want / want.sum(), atol=1e-5)


def test_deepfm_click_probability_follows_the_genre_a_user_clicks() -> None:
    """Users click (label 1) items of their genre and skip (label 0) the others; item metadata carries it."""
    rng = np.random.default_rng(0)
    n_items, genres = 40, 4
    genre = np.arange(n_items) % genres
    sequences, items, labels = [], [], []
    for user in range(120):
        liked = user % genres
        history = rng.choice(np.flatnonzero(genre == liked), size=4, replace=False)
        for item in rng.choice(n_items, size=12, replace=False):
            sequences.append(history)
            items.append(item)
            labels.append(float(genre[item] == liked))
    rows = PointwiseRows(
        model_input(sequences, 4), np.asarray(items, dtype=np.int64), np.asarray(labels, dtype=np.float32)
    )
    metadata = ItemMetadata.from_columns([str(i) for i in range(n_items)], {"GENRE": [str(g) for g in genre]})
    model = build_model(n_items, 0, 16, 32, 0.0, metadata.features([str(i) for i in range(n_items)]))
    train_pointwise(
        model, rows, n_items, epochs=6, learning_rate=0.01, batch_size=64,
        negative_samples=1, weight_decay=0.0, seed=1,
    )  # fmt: skip
    import torch

    correct = 0
    for liked in range(genres):
        history = np.flatnonzero(genre == liked)[:3]
        with torch.no_grad():
            unknown, no_tokens = torch.zeros(1, dtype=torch.int64), torch.zeros((1, 1), dtype=torch.int64)
            inputs = torch.from_numpy(model_input([history], 4))
            probability = torch.sigmoid(model(inputs, unknown, no_tokens))[0].numpy()
        unseen = np.setdiff1d(np.arange(n_items), history)
        mine = probability[unseen][genre[unseen] == liked]
        other = probability[unseen][genre[unseen] != liked]
        correct += int(mine.min() > other.max())
        assert mine.mean() > 0.8 and other.mean() < 0.2
    assert correct == genres


def test_deepfm_user_field_separates_users_with_one_history(tmp_path: Path) -> None:
    """Even users click everything, odd users nothing, all with the same history: only the user id tells
    them apart. The unknown user (index 0, trained on the dropped rows of both) lands in between."""
    import torch

    n_items, n_users, history = 20, 20, np.array([0, 1, 2])
    rng = np.random.default_rng(0)
    users, items, labels = [], [], []
    for user in range(1, n_users + 1):
        for item in rng.choice(np.arange(3, n_items), size=12, replace=False):
            users.append(user)
            items.append(item)
            labels.append(float(user % 2 == 0))
    rows = PointwiseRows(
        model_input([history] * len(items), 4),
        np.asarray(items, dtype=np.int64),
        np.asarray(labels, dtype=np.float32),
        np.asarray(users, dtype=np.int64),
    )
    model = build_model(n_items, n_users, 8, 16, 0.0)
    train_pointwise(
        model, rows, n_items, epochs=30, learning_rate=0.02, batch_size=32,
        negative_samples=1, weight_decay=0.0, seed=2, user_id_dropout=0.3,
    )  # fmt: skip
    sequence = torch.from_numpy(model_input([history] * 3, 4))
    who = torch.tensor([2, 1, 0])  # a clicker, a skipper, a user the model does not know
    with torch.no_grad():
        probability = torch.sigmoid(model(sequence, who, torch.zeros((3, 1), dtype=torch.int64)))
        probability = probability.numpy()[:, 3:].mean(axis=1)
    clicker, skipper, unknown = probability
    assert clicker > 0.9 and skipper < 0.1, probability
    assert 0.25 < unknown < 0.75, probability

    contract = user_feature_scores_contract(4, n_items, 1)
    no_tokens = np.zeros((3, 1), dtype=np.int64)
    sample = {"item_sequence": sequence.numpy(), "user_index": who.numpy(), "feature_tokens": no_tokens}
    parity = export_and_verify(model, contract, sample, tmp_path / "model.onnx")
    assert parity.max_abs_diff <= parity.atol


def test_deepfm_is_in_the_catalogue_with_its_hyperparameters() -> None:
    info = RECIPES["aws-deepfm"]
    assert info.recipe_arn == "arn:aws:personalize:::recipe/aws-deepfm"
    assert info.recipe_type == "USER_PERSONALIZATION"
    assert get_recipe(info.recipe_arn) is DeepFmRecipe
    assert info.default_hyperparameters["negative_samples"] == "4"
    assert info.hyperparameter_ranges["embedding_dimension"] == {
        "type": "integer", "min": 4, "max": 256, "values": None, "tunable": True,
    }  # fmt: skip
    assert info.hyperparameter_ranges["history_length"]["tunable"] is False
    assert info.default_hyperparameters["user_id_dropout"] == "0.1"
    assert info.hyperparameter_ranges["user_id_dropout"] == {
        "type": "continuous", "min": 0.0, "max": 1.0, "values": None, "tunable": True,
    }  # fmt: skip
    with pytest.raises(HyperparameterError, match="negative_samples"):
        DeepFmRecipe.parse_hyperparameters({"negative_samples": "0"})
    with pytest.raises(HyperparameterError, match="Unknown hyperparameter 'hidden_units'"):
        DeepFmRecipe.parse_hyperparameters({"hidden_units": "3"})


def test_entrypoint_trains_deepfm_with_an_items_channel(tmp_path: Path, synthetic: SyntheticData) -> None:
    _write_items(tmp_path / "input" / "data" / "items", synthetic, schema=True)
    result = run_entrypoint(
        tmp_path,
        {
            "tailor_recipe": "aws-deepfm",
            "epochs": "4",
            "learning_rate": "0.01",
            "history_length": "20",
            "hidden_dimension": "32",
        },
        synthetic,
    )
    assert result.returncode == 0, f"{result.failure}\n{result.stderr[-3000:]}"
    manifest = json.loads((result.model_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["recipe"] == "aws-deepfm" and manifest["contract"] == "user_feature_scores"
    assert manifest["inputs"] == [
        {"name": "item_sequence", "dtype": "int64", "shape": ["batch", 20]},
        {"name": "user_index", "dtype": "int64", "shape": ["batch"]},
        {"name": "feature_tokens", "dtype": "int64", "shape": ["batch", 1]},
    ]
    assert manifest["outputs"][0]["shape"] == ["batch", 150]
    assert manifest["parity"]["max_abs_diff"] <= manifest["parity"]["atol"]
    metrics = json.loads((result.model_dir / "metrics.json").read_text(encoding="utf-8"))
    assert 0.0 < metrics["normalized_discounted_cumulative_gain_at_10"] <= 1.0
    model = LoadedModel.load(str(result.model_dir))
    in_cluster, total = 0, 0
    for user in sorted(synthetic.cluster_of_user)[:15]:
        for item, _ in model.recommend_for_user(user, [], 5):
            in_cluster += synthetic.cluster_of_item[item] == synthetic.cluster_of_user[user]
            total += 1
    assert in_cluster >= 0.8 * total, f"{in_cluster}/{total} recommendations in the user's cluster"
    # A user the model never saw, with live events of one cluster's items: scored by the graph (index 0).
    user = sorted(synthetic.cluster_of_user)[0]
    cluster = synthetic.cluster_of_user[user]
    events = [
        item for item in sorted(synthetic.cluster_of_item) if synthetic.cluster_of_item[item] == cluster
    ][:5]
    recommended = model.recommend_for_user("someone-new", events, 5)
    assert len(recommended) == 5 and not {item for item, _ in recommended} & set(events)
    assert sum(synthetic.cluster_of_item[item] == cluster for item, _ in recommended) >= 4


def test_without_the_history_the_graph_keeps_its_inputs_and_ignores_the_sequence(tmp_path: Path) -> None:
    """``read_history=false``: a DeepFM over the user id and features only (the CTR benchmark's choice).
    The exported graph still declares item_sequence (the contract's input), and a known user's scores do
    not depend on the sequence served with them."""
    data = _ring_data()
    settings = {**FAST, "read_history": "false"}
    recipe = DeepFmRecipe(DeepFmRecipe.parse_hyperparameters(settings), seed=3)
    recipe.fit(data)
    export = recipe.export(tmp_path)
    assert [spec.name for spec in export.contract.inputs] == ["item_sequence", "user_index", "feature_tokens"]
    assert export.parity.max_abs_diff <= export.parity.atol
    write_artifact(tmp_path, recipe, export, data, metrics={}, training={"interactions": data.n_interactions})
    model = LoadedModel.load(str(tmp_path))
    user = data.user_ids[5]
    first, _ = model.user_scores(user, [data.item_ids[1]])
    second, _ = model.user_scores(user, [data.item_ids[30], data.item_ids[7]])
    np.testing.assert_allclose(first, second, atol=1e-7)
    other, _ = model.user_scores(data.user_ids[40], [data.item_ids[1]])
    assert np.abs(first - other).max() > 1e-4  # the user id still speaks
