"""Offline evaluation of a fitted recipe on Personalize's split (see ``training.split``)."""

from __future__ import annotations

from training.metrics import K_VALUES, personalize_metrics
from training.recipes.base import Recipe
from training.split import Split

TOP_K = max(K_VALUES)


def evaluate(recipe: Recipe, split: Split, catalog_size: int) -> dict[str, float]:
    """Personalize's metric set for ``recipe`` (fitted on ``split.train``) on the held-out users."""
    positions = split.evaluated()
    recommended = recipe.recommend([split.visible[i] for i in positions], TOP_K)
    recommendations = {
        i: [int(item) for item in items] for i, items in zip(positions, recommended, strict=True)
    }
    truth = {i: split.truth[i] for i in positions}
    return personalize_metrics(recommendations, truth, catalog_size)
