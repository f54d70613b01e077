"""Offline evaluation of a fitted recipe on Personalize's split (see ``training.split``)."""

from __future__ import annotations

from training.metrics import K_VALUES, personalize_metrics
from training.recipes.base import Recipe
from training.split import Split

TOP_K = max(K_VALUES)


def held_out_lists(recipe: Recipe, split: Split) -> tuple[dict[int, list[int]], dict[int, set[int]]]:
    """The top ``TOP_K`` recommendations of ``recipe`` (fitted on ``split.train``) and the truth, for each
    evaluated held-out user (keyed by position in the split)."""
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
    return recommendations, {i: split.truth[i] for i in positions}


def evaluate(recipe: Recipe, split: Split, catalog_size: int) -> dict[str, float]:
    """Personalize's metric set for ``recipe`` (fitted on ``split.train``) on the held-out users."""
    recommendations, truth = held_out_lists(recipe, split)
    return personalize_metrics(recommendations, truth, catalog_size)
