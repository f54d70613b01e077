"""The recipe catalogue as ListRecipes and DescribeRecipe return it.

Read from the training package's registry, so the control plane can only offer recipes that the
training container can actually train.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

# Personalize reports its built-in recipes with fixed creation dates; ours is the day the catalogue
# was first published, so responses are stable across restarts.
CATALOGUE_DATE = 1_764_374_400.0  # 2025-11-29T00:00:00Z


@lru_cache(maxsize=1)
def recipe_catalogue() -> tuple[dict[str, Any], ...]:
    from training.recipes import RECIPES

    return tuple(
        {
            "name": info.name,
            "recipeArn": info.recipe_arn,
            "algorithmArn": info.algorithm_arn,
            "featureTransformationArn": info.feature_transformation_arn,
            "status": "ACTIVE",
            "description": info.description,
            "recipeType": str(info.recipe_type),
            "creationDateTime": CATALOGUE_DATE,
            "lastUpdatedDateTime": CATALOGUE_DATE,
            "tailorRequiredDatasets": tuple(info.required_datasets),
        }
        for info in sorted(RECIPES.values(), key=lambda i: i.name)
    )


@lru_cache(maxsize=1)
def use_case_catalogue() -> tuple[dict[str, Any], ...]:
    """Domain dataset group use cases (``use_cases.py``), as ListRecipes lists them: each with its domain,
    and the algorithm of the Tailor recipe that trains it."""
    from functions.resources.use_cases import USE_CASES

    custom = {r["name"]: r for r in recipe_catalogue()}
    return tuple(
        {
            "name": case.name,
            "recipeArn": case.recipe_arn,
            "algorithmArn": custom[case.trained_as]["algorithmArn"],
            "featureTransformationArn": custom[case.trained_as]["featureTransformationArn"],
            "status": "ACTIVE",
            "description": f"{case.description} (Tailor trains it with {case.trained_as}.)",
            "recipeType": custom[case.trained_as]["recipeType"],
            "domain": case.domain,
            "creationDateTime": CATALOGUE_DATE,
            "lastUpdatedDateTime": CATALOGUE_DATE,
        }
        for case in sorted(USE_CASES.values(), key=lambda u: u.name)
    )


def listed_recipes() -> tuple[dict[str, Any], ...]:
    """What ListRecipes and DescribeRecipe know: the custom recipes, then the domain use cases."""
    return recipe_catalogue() + use_case_catalogue()
