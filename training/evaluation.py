"""Offline evaluation of a fitted recipe on Personalize's split (see ``training.split``)."""

from __future__ import annotations

from training.metrics import K_VALUES, personalize_metrics
from training.recipes.base import Recipe
from training.split import Split

TOP_K = max(K_VALUES)


def evaluate(recipe: Recipe, split: Split, catalog_size: int) -> dict[str, float]:
    """Personalize's metric set for ``recipe`` (fitted on ``split.train``) on the held-out users."""
    positions = split.evaluated()
    histories = [split.visible[i] for i in positions]
    recommend_users = getattr(recipe, "recommend_users", None)
    if recommend_users is not None:  # the recipe reads the held-out users' Users-dataset records
        users = [split.train.user_ids[int(split.test_users[i])] for i in positions]
        recommended = recommend_users(users, histories, TOP_K)
    else:
        recommended = recipe.recommend(histories, TOP_K)
    recommendations = {
        i: [int(item) for item in items] for i, items in zip(positions, recommended, strict=True)
    }
    truth = {i: split.truth[i] for i in positions}
    return personalize_metrics(recommendations, truth, catalog_size)
