"""The training job's HPO and AutoML steps: what is trained, and on which users it is scored.

Both steps score candidates on a **validation split carved from the training users only**: Personalize's
evaluation split (``training/split.py``) holds out 10% of the users as the test set that GetSolutionMetrics
reports; the validation split holds out ``VALIDATION_FRACTION`` of the *remaining* users the same way
(oldest 90% of their history visible, newest 10% as truth). A candidate is fitted on the other training
users and scored there, so the chosen setting never saw the test users, and the reported metrics stay an
honest estimate of the chosen model.

- ``tune_hyperparameters``: Bayesian search (``training/tuning.py``) over the hpoConfig ranges; the first
  trial is the recipe's own setting (defaults plus algorithmHyperParameters) when it lies in the ranges.
- ``choose_recipe``: each recipe of autoMLConfig.recipeList trained with its default hyperparameters; the
  best by autoMLConfig.metricName wins (ties go to the earlier recipe in the list).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from training.data import Interactions, with_items
from training.errors import TrainingDataError
from training.evaluation import evaluate
from training.recipes import get_recipe
from training.recipes.base import Hyperparameters, Recipe
from training.side_data import SideData
from training.split import Split, personalize_split
from training.tuning import AutoMLSettings, HpoSettings, Trial, tune

# Larger than the test split's 10%: trial scores only rank candidates, and on small data set a few more
# validation users make that ranking far less noisy.
VALIDATION_FRACTION = 0.2

Emit = Callable[..., None]


def new_recipe(
    recipe_class: type[Recipe], hyperparameters: Hyperparameters, seed: int, side: SideData
) -> Recipe:
    """A recipe ready to fit: its hyperparameters, seed and the side datasets it reads."""
    return side.configure(recipe_class(hyperparameters, seed=seed))


def recipe_data(recipe_class: type[Recipe], data: Interactions, side: SideData) -> Interactions:
    """The interactions a recipe trains on: cold-start recipes also see the Items dataset's new items."""
    if side.items is not None and getattr(recipe_class, "scores_items_without_interactions", False):
        return with_items(data, side.items.item_ids)
    return data


def validation_split(split: Split, seed: int) -> Split:
    """Personalize's split applied again to the training users of ``split`` (never its test users)."""
    validation = personalize_split(split.train, seed + 1, test_fraction=VALIDATION_FRACTION)
    if not validation.evaluated():
        raise TrainingDataError(
            "Too few users to score HPO or AutoML candidates: the validation split (drawn from the training "
            "users) has no user with a held-out interaction. Import more interactions or turn off "
            "performHPO/performAutoML."
        )
    return validation


def _score(recipe: Recipe, validation: Split, n_items: int, device: str) -> dict[str, float]:
    recipe.fit(validation.train, device)
    return {key: round(float(value), 6) for key, value in evaluate(recipe, validation, n_items).items()}


def _as_strings(values: Mapping[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in values.items()}


def tune_hyperparameters(
    recipe_class: type[Recipe],
    base: Mapping[str, str],
    settings: HpoSettings,
    split: Split,
    n_items: int,
    device: str,
    seed: int,
    side: SideData,
    emit: Emit,
) -> tuple[Hyperparameters, dict[str, Any]]:
    """The best hyperparameters in ``settings``' ranges and the manifest's ``tuning`` record."""
    validation = validation_split(split, seed)
    emit("tuning", phase="start", validation_users=len(validation.evaluated()), **settings.to_json())

    def objective(values: dict[str, Any]) -> dict[str, float]:
        hyperparameters = recipe_class.parse_hyperparameters({**base, **_as_strings(values)})
        return _score(new_recipe(recipe_class, hyperparameters, seed, side), validation, n_items, device)

    def on_trial(trial: Trial) -> None:
        emit("trial", metric=settings.metric, **trial.to_json())

    start = recipe_class.parse_hyperparameters(base).to_strings()
    result = tune(settings, objective, seed=seed, initial_points=[start], on_trial=on_trial)
    chosen = recipe_class.parse_hyperparameters({**base, **_as_strings(result.best.hyperparameters)})
    emit("tuning", phase="done", best_trial=result.best.number, score=round(result.best.score, 6),
         hyperparameters=_as_strings(result.best.hyperparameters))  # fmt: skip
    record = {
        **settings.to_json(),
        "validation_users": len(validation.evaluated()),
        "best_trial": result.best.number,
        "tuned": _as_strings(result.best.hyperparameters),
        "trials": [trial.to_json() for trial in result.trials],
    }
    return chosen, record


def choose_recipe(
    settings: AutoMLSettings,
    data: Interactions,
    side: SideData,
    device: str,
    seed: int,
    emit: Emit,
) -> tuple[type[Recipe], dict[str, Any]]:
    """The best recipe of ``settings.recipes`` on the validation users, and the manifest's ``automl``."""
    candidates: list[dict[str, Any]] = []
    best: tuple[float, type[Recipe]] | None = None
    for name in settings.recipes:
        recipe_class = get_recipe(name)
        if getattr(recipe_class, "needs_item_metadata", False) and side.items is None:
            candidates.append({"recipe": name, "skipped": "needs an Items dataset"})
            emit("automl_candidate", recipe=name, skipped="needs an Items dataset")
            continue
        candidate_data = recipe_data(recipe_class, data, side)
        validation = validation_split(personalize_split(candidate_data, seed), seed)
        started = time.monotonic()
        hyperparameters = recipe_class.parse_hyperparameters({})
        metrics = _score(
            new_recipe(recipe_class, hyperparameters, seed, side),
            validation,
            candidate_data.n_items,
            device,
        )
        score = metrics[settings.metric]
        seconds = round(time.monotonic() - started, 3)
        candidates.append({"recipe": name, "score": score, "seconds": seconds})
        emit("automl_candidate", recipe=name, metric=settings.metric, score=score, seconds=seconds)
        if best is None or score > best[0]:
            best = (score, recipe_class)
    if best is None:
        raise TrainingDataError(
            "AutoML found no recipe it could train: every recipe in autoMLConfig.recipeList needs an Items "
            "dataset. Import one, or list aws-hrnn."
        )
    record = {"metric_name": settings.metric, "best_recipe": best[1].name, "candidates": candidates}
    emit("automl", best_recipe=best[1].name, metric=settings.metric, score=best[0])
    return best[1], record
