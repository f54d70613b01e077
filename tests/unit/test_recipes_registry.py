"""The recipe registry, its catalogue and typed hyperparameter parsing."""

from __future__ import annotations

import pytest

from training.errors import HyperparameterError, UnknownRecipeError
from training.recipes import RECIPES, get_recipe, recipe_names
from training.recipes.sims import SimsHyperparameters
from training.recipes.user_personalization import UserPersonalizationHyperparameters

pytestmark = pytest.mark.unit

NAMES = (
    "aws-deepfm",
    "aws-ffnn",
    "aws-hrnn",
    "aws-hrnn-coldstart",
    "aws-hrnn-metadata",
    "aws-item-affinity",
    "aws-item-attribute-affinity",
    "aws-next-best-action",
    "aws-personalized-ranking",
    "aws-personalized-ranking-v2",
    "aws-popularity-count",
    "aws-similar-items",
    "aws-sims",
    "aws-trending-now",
    "aws-user-personalization",
    "aws-user-personalization-v2",
)


def test_registry_has_every_recipe() -> None:
    assert recipe_names() == sorted(NAMES)
    for name in NAMES:
        cls = get_recipe(name)
        assert cls.name == name
        assert get_recipe(f"arn:aws:personalize:::recipe/{name}") is cls


@pytest.mark.parametrize(
    "name", ["aws-deep-fm", "AWS-SIMS", "", "arn:aws:personalize:::recipe/aws-semantic-similarity", "sims"]
)
def test_unknown_recipe_raises_and_names_the_choices(name: str) -> None:
    with pytest.raises(UnknownRecipeError) as caught:
        get_recipe(name)
    message = str(caught.value)
    assert repr(name) in message
    for known in NAMES:
        assert known in message


def test_catalogue_describes_each_recipe() -> None:
    assert sorted(RECIPES) == sorted(NAMES)
    expected_types = {
        "aws-deepfm": "USER_PERSONALIZATION",
        "aws-ffnn": "USER_PERSONALIZATION",
        "aws-hrnn": "USER_PERSONALIZATION",
        "aws-hrnn-coldstart": "USER_PERSONALIZATION",
        "aws-hrnn-metadata": "USER_PERSONALIZATION",
        "aws-item-affinity": "USER_SEGMENTATION",
        "aws-item-attribute-affinity": "USER_SEGMENTATION",
        "aws-next-best-action": "PERSONALIZED_ACTIONS",
        "aws-personalized-ranking": "PERSONALIZED_RANKING",
        "aws-personalized-ranking-v2": "PERSONALIZED_RANKING",
        "aws-popularity-count": "USER_PERSONALIZATION",
        "aws-similar-items": "RELATED_ITEMS",
        "aws-sims": "RELATED_ITEMS",
        "aws-trending-now": "POPULAR_ITEMS",
        "aws-user-personalization": "USER_PERSONALIZATION",
        "aws-user-personalization-v2": "USER_PERSONALIZATION",
    }
    for name, info in RECIPES.items():
        assert info.name == name
        assert info.recipe_arn == f"arn:aws:personalize:::recipe/{name}"
        assert info.algorithm_arn == f"arn:aws:personalize:::algorithm/{name}"
        assert info.feature_transformation_arn.startswith("arn:aws:personalize:::feature-transformation/")
        assert info.recipe_type == expected_types[name]
        assert info.description
        # Next-Best-Action learns from action interactions; every other recipe from item interactions.
        expected = "ACTION_INTERACTIONS" if info.recipe_type == "PERSONALIZED_ACTIONS" else "INTERACTIONS"
        assert expected in info.required_datasets
        assert all(isinstance(v, str) for v in info.default_hyperparameters.values())
        assert set(info.hyperparameter_ranges) == set(info.default_hyperparameters)


def test_documented_personalize_defaults() -> None:
    up = RECIPES["aws-user-personalization"].default_hyperparameters
    assert up["hidden_dimension"] == "149"
    assert up["bptt"] == "32"
    assert up["recency_mask"] == "true"
    assert up["min_user_history_length_percentile"] == "0.0"
    assert up["max_user_history_length_percentile"] == "0.99"
    sims = RECIPES["aws-sims"].default_hyperparameters
    assert sims["popularity_discount_factor"] == "0.5"
    assert sims["min_cointeraction_count"] == "3"
    assert sims["min_user_history_length_percentile"] == "0.005"
    assert sims["max_user_history_length_percentile"] == "0.995"
    assert dict(RECIPES["aws-popularity-count"].default_hyperparameters) == {}


def test_ranges_follow_the_field_types() -> None:
    ranges = RECIPES["aws-user-personalization"].hyperparameter_ranges
    assert ranges["hidden_dimension"]["type"] == "integer"
    assert (ranges["hidden_dimension"]["min"], ranges["hidden_dimension"]["max"]) == (32, 256)
    assert ranges["recency_mask"]["type"] == "categorical"
    assert ranges["max_user_history_length_percentile"]["type"] == "continuous"


def test_hyperparameters_parse_from_strings() -> None:
    parsed = get_recipe("aws-user-personalization").parse_hyperparameters(
        {"hidden_dimension": "64", "recency_mask": "False", "learning_rate": "0.01"}
    )
    assert isinstance(parsed, UserPersonalizationHyperparameters)
    assert parsed.hidden_dimension == 64
    assert parsed.recency_mask is False
    assert parsed.learning_rate == pytest.approx(0.01)
    assert parsed.bptt == 32  # default kept
    assert parsed.to_strings()["recency_mask"] == "false"
    assert type(parsed).from_strings(parsed.to_strings()) == parsed


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"hidden_dim": "64"}, "'hidden_dim'"),
        ({"hidden_dimension": "sixty"}, "integer"),
        ({"hidden_dimension": "1000"}, "[32, 256]"),
        ({"hidden_dimension": "64.5"}, "integer"),
        ({"recency_mask": "yes"}, "true or false"),
        ({"learning_rate": "nan"}, "finite"),
        (
            {"min_user_history_length_percentile": "0.9", "max_user_history_length_percentile": "0.5"},
            "exceed",
        ),
    ],
)
def test_bad_hyperparameters_are_rejected_by_name(raw: dict[str, str], fragment: str) -> None:
    with pytest.raises(HyperparameterError) as caught:
        get_recipe("aws-user-personalization").parse_hyperparameters(raw)
    assert fragment in str(caught.value)


def test_unknown_key_message_lists_the_valid_ones() -> None:
    with pytest.raises(HyperparameterError) as caught:
        get_recipe("aws-sims").parse_hyperparameters({"bptt": "8"})
    message = str(caught.value)
    assert "'bptt'" in message and "aws-sims" in message and "popularity_discount_factor" in message
    with pytest.raises(HyperparameterError):
        get_recipe("aws-popularity-count").parse_hyperparameters({"anything": "1"})


def test_sims_hyperparameters_types() -> None:
    parsed = SimsHyperparameters.from_strings(
        {"popularity_discount_factor": "0.25", "min_cointeraction_count": "0"}
    )
    assert parsed.popularity_discount_factor == pytest.approx(0.25)
    assert parsed.min_cointeraction_count == 0


def test_documented_defaults_of_the_second_wave() -> None:
    """Defaults, ranges and tunability as the Personalize developer guide lists them."""
    trending = RECIPES["aws-trending-now"]
    assert dict(trending.default_hyperparameters) == {"trend_discovery_frequency": "2 hours"}
    assert trending.hyperparameter_ranges["trend_discovery_frequency"]["tunable"] is False
    similar = RECIPES["aws-similar-items"]
    assert similar.default_hyperparameters["popularity_discount_factor"] == "0.0"
    for key in ("item_id_hidden_dim", "item_metadata_hidden_dim"):
        assert similar.default_hyperparameters[key] == "100"
        assert (similar.hyperparameter_ranges[key]["min"], similar.hyperparameter_ranges[key]["max"]) == (
            30,
            200,
        )
        assert similar.hyperparameter_ranges[key]["tunable"] is True
    hrnn = RECIPES["aws-hrnn"]
    assert hrnn.default_hyperparameters["hidden_dimension"] == "43"
    assert (hrnn.hyperparameter_ranges["bptt"]["min"], hrnn.hyperparameter_ranges["bptt"]["tunable"]) == (
        1,
        False,
    )
    assert RECIPES["aws-hrnn-metadata"].hyperparameter_ranges["bptt"]["min"] == 2
    coldstart = RECIPES["aws-hrnn-coldstart"].default_hyperparameters
    assert coldstart["hidden_dimension"] == "149"
    assert coldstart["cold_start_max_interactions"] == "15"
    assert coldstart["cold_start_max_duration"] == "5.0"
    assert coldstart["cold_start_relative_from"] == "latestItem"
    assert RECIPES["aws-personalized-ranking-v2"].default_hyperparameters["apply_recency_bias"] == "true"
    assert RECIPES["aws-hrnn-coldstart"].required_datasets == ("INTERACTIONS", "ITEMS")
    assert RECIPES["aws-hrnn-metadata"].required_datasets == ("INTERACTIONS", "ITEMS")
    assert RECIPES["aws-similar-items"].optional_datasets == ("ITEMS",)


def test_string_hyperparameters_accept_only_documented_values() -> None:
    coldstart = get_recipe("aws-hrnn-coldstart")
    assert coldstart.parse_hyperparameters({"cold_start_relative_from": "currentTime"})
    with pytest.raises(HyperparameterError, match="cold_start_relative_from"):
        coldstart.parse_hyperparameters({"cold_start_relative_from": "yesterday"})
    with pytest.raises(HyperparameterError, match=r"\[1, "):
        coldstart.parse_hyperparameters({"cold_start_max_interactions": "0"})


@pytest.mark.parametrize(
    "name",
    [
        n
        for n in recipe_names()
        if "min_user_history_length_percentile" in get_recipe(n).hyperparameters_class.defaults_as_strings()
    ],
)
def test_history_percentiles_must_be_ordered(name: str) -> None:
    recipe = get_recipe(name)
    with pytest.raises(HyperparameterError, match="must not exceed"):
        recipe.parse_hyperparameters(
            {"min_user_history_length_percentile": "0.9", "max_user_history_length_percentile": "0.5"}
        )
    recipe.parse_hyperparameters(
        {"min_user_history_length_percentile": "0.5", "max_user_history_length_percentile": "0.5"}
    )
