"""CreateSolution's recipe choice: a named recipeArn, HPO over its ranges, or AutoML over a recipe list.

The checks are the training job's own parsers (``training/tuning.py``), run at CreateSolution so a bad
hpoConfig or autoMLConfig fails the request with InvalidInputException instead of a solution version
hours later. Personalize's rules, as its Developer Guide and API reference state them:

- ``performAutoML`` and ``recipeArn`` exclude each other; without AutoML a recipeArn is required.
- AutoML chooses among USER_PERSONALIZATION recipes (``autoMLConfig.recipeList``, by default the HRNN
  recipes whose datasets the group has) by ``autoMLConfig.metricName``; the rest of solutionConfig is
  not used for the comparison.
- ``hpoConfig`` ranges name tunable hyperparameters of the recipe, inside its documented bounds; they
  are optional (without them HPO searches the recipe's default ranges). ``hpoResourceConfig`` numbers
  are strings, at most 40 training jobs and 10 in parallel.

Tailor also refuses an hpoConfig or autoMLConfig whose perform flag is off: a setting that silently does
nothing would train a different model than the one asked for.
"""

from __future__ import annotations

from typing import Any

from functions.protocol.errors import InvalidInputException
from functions.resources import lifecycle as lc
from functions.resources.recipes import recipe_catalogue
from functions.stores.resources import ResourceStore


def _dataset_types(store: ResourceStore, dataset_group_arn: str) -> set[str]:
    return {
        d["datasetType"].upper() for d in store.list(lc.DATASET) if d["datasetGroupArn"] == dataset_group_arn
    }


def _automl_config(config: dict[str, Any], present: set[str], dataset_group_arn: str) -> dict[str, Any]:
    from training.recipes import RECIPES
    from training.tuning import DEFAULT_AUTOML_RECIPES, parse_automl_config

    automl = dict(config.get("autoMLConfig") or {})
    if automl.get("recipeList") is None:
        usable = [
            RECIPES[n].recipe_arn
            for n in DEFAULT_AUTOML_RECIPES
            if all(t in present for t in RECIPES[n].required_datasets)
        ]
        automl["recipeList"] = usable
    settings = parse_automl_config(automl)
    for name in settings.recipes:
        missing = [t for t in RECIPES[name].required_datasets if t not in present]
        if missing:
            raise InvalidInputException(
                f"solutionConfig.autoMLConfig.recipeList: {RECIPES[name].recipe_arn} needs a {missing[0]} "
                f"dataset in dataset group {dataset_group_arn}; create it or leave the recipe out."
            )
    # Stored resolved, so DescribeSolution shows what AutoML will compare.
    return {"metricName": settings.metric, "recipeList": [RECIPES[n].recipe_arn for n in settings.recipes]}


def check_search(
    store: ResourceStore,
    dataset_group_arn: str,
    recipe_arn: str | None,
    perform_hpo: bool,
    perform_automl: bool,
    solution_config: dict[str, Any] | None,
) -> dict[str, Any]:
    """The solutionConfig to store; raises InvalidInputException for anything Personalize would refuse."""
    from training.errors import TrainingError
    from training.tuning import parse_hpo_config

    config = dict(solution_config or {})
    if perform_automl and recipe_arn:
        raise InvalidInputException(
            "Specify either recipeArn or performAutoML, not both: with performAutoML Tailor chooses the "
            "recipe from solutionConfig.autoMLConfig.recipeList."
        )
    if not perform_automl:
        if not recipe_arn:
            raise InvalidInputException("recipeArn is required when performAutoML is false.")
        if not any(r["recipeArn"] == recipe_arn for r in recipe_catalogue()):
            known = ", ".join(r["recipeArn"] for r in recipe_catalogue())
            raise InvalidInputException(f"Recipe {recipe_arn} does not exist. Available recipes: {known}.")
        if config.get("autoMLConfig"):
            raise InvalidInputException(
                "solutionConfig.autoMLConfig is used only with performAutoML=true (and no recipeArn)."
            )
    if config.get("hpoConfig") and not perform_hpo and not perform_automl:
        raise InvalidInputException(
            "solutionConfig.hpoConfig is used only with performHPO=true; set performHPO or leave it out."
        )
    try:
        if perform_automl:
            config["autoMLConfig"] = _automl_config(config, _dataset_types(store, dataset_group_arn),
                                                    dataset_group_arn)  # fmt: skip
        elif perform_hpo:
            parse_hpo_config(config.get("hpoConfig"), recipe_arn or "")
    except TrainingError as error:
        raise InvalidInputException(str(error)) from None
    return config
