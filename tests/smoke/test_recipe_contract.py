"""What every recipe must do, checked in-process on data whose answer is known.

The mixin idea from implicit/RecBole: one set of checks, run against every registered recipe, so a new
recipe cannot skip them. The serving check loads the exported artifact with the runtime's ``LoadedModel``
and requires the same recommendations the recipe computed in training: the runtime's input preparation
(collapse repeats, last N items, left padding) is a copy of training's, and this is what keeps them equal.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from functions.serving.model_artifact import LoadedModel
from tests.smoke.conftest import REPO
from training.artifact import write_artifact
from training.data import Interactions, from_records
from training.item_metadata import ItemMetadata, UsesItemMetadata
from training.recipes import RECIPES, get_recipe, recipe_names
from training.recipes.base import Recipe
from training.recipes.sims import SimsRecipe
from training.synthetic import SyntheticData

pytestmark = pytest.mark.smoke

# Item recommenders. Next-Best-Action ranks actions (which users may take again) from action
# interactions, so its contract is its own: tests/smoke/test_next_best_action.py; USER_SEGMENTATION
# recipes rank users for items: tests/smoke/test_segmentation_recipes.py.
ITEM_RECIPES = [
    name
    for name in recipe_names()
    if RECIPES[name].recipe_type not in ("PERSONALIZED_ACTIONS", "USER_SEGMENTATION")
]


@pytest.fixture(scope="module")
def data(synthetic: SyntheticData) -> Interactions:
    users, items, stamps, events = zip(*synthetic.rows, strict=True)
    return from_records(users, items, stamps, events)


@pytest.fixture(scope="module")
def fitted(data: Interactions, synthetic: SyntheticData) -> dict[str, Recipe]:
    # The Items dataset a metadata recipe reads: each item's cluster as its genre.
    genres = [f"genre{synthetic.cluster_of_item[item]}" for item in data.item_ids]
    metadata = ItemMetadata.from_columns(data.item_ids, {"GENRE": genres})
    out = {}
    for name in ITEM_RECIPES:
        recipe = get_recipe(name)(seed=3)
        if isinstance(recipe, UsesItemMetadata):
            recipe.set_item_metadata(metadata)
        recipe.fit(data, "cpu")
        out[name] = recipe
    return out


@pytest.mark.parametrize("name", ITEM_RECIPES)
def test_recommendations_are_unique_unseen_and_k_long(
    fitted: dict[str, Recipe], data: Interactions, name: str
) -> None:
    histories = [data.history(u) for u in range(10)]
    for history, recommended in zip(histories, fitted[name].recommend(histories, 25), strict=True):
        assert len(recommended) == 25
        assert len(set(recommended.tolist())) == 25
        assert not set(recommended.tolist()) & set(history.tolist())
        assert recommended.min() >= 0 and recommended.max() < data.n_items


@pytest.mark.parametrize("name", ITEM_RECIPES)
def test_served_artifact_matches_training_recommendations(
    fitted: dict[str, Recipe], data: Interactions, tmp_path: Path, name: str
) -> None:
    recipe = fitted[name]
    export = recipe.export(tmp_path)
    write_artifact(tmp_path, recipe, export, data, metrics={}, training={"interactions": data.n_interactions})
    model = LoadedModel.load(str(tmp_path))
    for user in range(0, 70, 7):
        history = data.history(user)
        expected = [data.item_ids[i] for i in recipe.recommend([history], 10)[0]]
        if model.contract == "sequence_scores":
            served = [item for item, _ in model.recommend_for_user(data.user_ids[user], [], 10)]
            assert served == expected
        elif model.contract == "user_feature_scores":
            # ``recommend`` scores histories as users the model does not know (the offline evaluation's
            # held-out users): served so, the history arrives as live events of an unknown user.
            events = [data.item_ids[i] for i in history]
            served = [item for item, _ in model.recommend_for_user(None, events, 10)]
            assert served == expected
        else:
            # SIMS serves per item: the served neighbours of the latest item are the trained table's.
            # (The offline evaluation merges several recent items' rows, so it is not one served list.)
            assert isinstance(recipe, SimsRecipe)
            latest = int(history[-1])
            trained = [data.item_ids[i] for i in recipe.neighbor_index[latest][:10] if i >= 0]
            # Score 0.0 marks popular items filling the list up.
            served = [item for item, score in model.similar_items(data.item_ids[latest], 10) if score > 0]
            assert served == trained


def test_user_personalization_is_reproducible(data: Interactions) -> None:
    cls = get_recipe("aws-user-personalization")
    hyperparameters = cls.parse_hyperparameters({"epochs": "3"})
    runs = []
    for _ in range(2):
        recipe = cls(hyperparameters, seed=5)
        recipe.fit(data, "cpu")
        runs.append(recipe.recommend([data.history(0), data.history(1)], 10))
    for first, second in zip(*runs, strict=True):
        assert np.array_equal(first, second)


def test_importing_the_catalogue_does_not_import_torch() -> None:
    code = "import sys, training.recipes; assert 'torch' not in sys.modules, 'torch was imported'"
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)
