"""Recipe registry and catalogue, keyed by Personalize recipe name.

``get_recipe`` returns the class registered under a name (or its recipe ARN) and raises
``UnknownRecipeError`` for anything else: a request for a recipe Tailor does not implement must fail, not
train some other model. ``RECIPES`` describes each recipe for the control plane's ListRecipes /
DescribeRecipe / DescribeAlgorithm.

Importing this package does not import torch (the recipe modules import it inside fit/export), so the
control plane can read the catalogue cheaply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from training.errors import UnknownRecipeError
from training.recipes.base import Hyperparameters, Recipe, RecipeType
from training.recipes.deepfm import DeepFmRecipe
from training.recipes.ffnn import FfnnRecipe
from training.recipes.hrnn import HrnnColdstartRecipe, HrnnMetadataRecipe, HrnnRecipe
from training.recipes.item_affinity import ItemAffinityRecipe
from training.recipes.item_attribute_affinity import ItemAttributeAffinityRecipe
from training.recipes.next_best_action import NextBestActionRecipe
from training.recipes.personalized_ranking import PersonalizedRankingRecipe
from training.recipes.personalized_ranking_v2 import PersonalizedRankingV2Recipe
from training.recipes.popularity import PopularityCountRecipe
from training.recipes.similar_items import SimilarItemsRecipe
from training.recipes.sims import SimsRecipe
from training.recipes.trending_now import TrendingNowRecipe
from training.recipes.user_personalization import UserPersonalizationRecipe
from training.recipes.user_personalization_v2 import UserPersonalizationV2Recipe

ARN_PREFIX = "arn:aws:personalize:::"

_REGISTRY: dict[str, type[Recipe]] = {
    cls.name: cls
    for cls in (UserPersonalizationRecipe, SimsRecipe, PopularityCountRecipe, PersonalizedRankingRecipe)
}
_REGISTRY[NextBestActionRecipe.name] = NextBestActionRecipe
_REGISTRY[UserPersonalizationV2Recipe.name] = UserPersonalizationV2Recipe
_REGISTRY[DeepFmRecipe.name] = DeepFmRecipe
for _cls in (
    TrendingNowRecipe,
    SimilarItemsRecipe,
    PersonalizedRankingV2Recipe,
    HrnnRecipe,
    HrnnMetadataRecipe,
    HrnnColdstartRecipe,
    FfnnRecipe,
    ItemAffinityRecipe,
    ItemAttributeAffinityRecipe,
):
    _REGISTRY[_cls.name] = _cls


@dataclass(frozen=True)
class RecipeInfo:
    name: str
    recipe_arn: str
    algorithm_arn: str
    feature_transformation_arn: str
    recipe_type: RecipeType
    description: str
    default_hyperparameters: Mapping[str, str]
    hyperparameter_ranges: Mapping[str, Mapping[str, Any]]
    required_datasets: tuple[str, ...]
    optional_datasets: tuple[str, ...]


def _info(cls: type[Recipe]) -> RecipeInfo:
    return RecipeInfo(
        name=cls.name,
        recipe_arn=f"{ARN_PREFIX}recipe/{cls.name}",
        algorithm_arn=f"{ARN_PREFIX}algorithm/{cls.name}",
        feature_transformation_arn=f"{ARN_PREFIX}feature-transformation/{cls.feature_transformation}",
        recipe_type=cls.recipe_type,
        description=cls.description,
        default_hyperparameters=MappingProxyType(cls.hyperparameters_class.defaults_as_strings()),
        hyperparameter_ranges=MappingProxyType(cls.hyperparameters_class.ranges()),
        required_datasets=cls.required_datasets,
        optional_datasets=cls.optional_datasets,
    )


RECIPES: Mapping[str, RecipeInfo] = MappingProxyType({name: _info(cls) for name, cls in _REGISTRY.items()})


def recipe_names() -> list[str]:
    return sorted(_REGISTRY)


def get_recipe(name: str) -> type[Recipe]:
    """The recipe class for a recipe name or ``arn:aws:personalize:::recipe/<name>``."""
    key = name.strip()
    if key.startswith(f"{ARN_PREFIX}recipe/"):
        key = key[len(f"{ARN_PREFIX}recipe/") :]
    try:
        return _REGISTRY[key]
    except KeyError:
        raise UnknownRecipeError(name, recipe_names()) from None


__all__ = [
    "RECIPES",
    "Hyperparameters",
    "Recipe",
    "RecipeInfo",
    "UnknownRecipeError",
    "get_recipe",
    "recipe_names",
]
