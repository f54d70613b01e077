"""A POPULAR_ITEMS model (aws-trending-now) serves users without any history from its graph (the
trending order), not from plain popularity as the other sequence-score models do."""

from __future__ import annotations

from pathlib import Path

import pytest

from functions.serving.model_artifact import LoadedModel
from tests.smoke.test_more_recipes import _trending_data
from training.artifact import write_artifact
from training.recipes import get_recipe

pytestmark = pytest.mark.smoke


def test_a_user_without_history_gets_the_trending_order(tmp_path: Path) -> None:
    data = _trending_data()
    cls = get_recipe("aws-trending-now")
    recipe = cls(cls.parse_hyperparameters({"trend_discovery_frequency": "1 hour"}), seed=1)
    recipe.fit(data, "cpu")
    export = recipe.export(tmp_path)
    write_artifact(tmp_path, recipe, export, data, metrics={}, training={"interactions": data.n_interactions})
    model = LoadedModel.load(str(tmp_path))
    scores, history = model.user_scores("a-user-never-seen", [])
    assert history.size == 0
    assert data.item_ids[int(scores.argmax())] == "rising"  # popularity alone would say "steady"
    assert data.item_ids[int(model.popularity_vector().argmax())] == "steady"
