"""Training container entrypoint (SageMaker training-container contract).

    python -m training.entrypoint [--input-dir DIR] [--model-dir DIR] [--output-dir DIR]

Directories: CLI flag, else ``SM_INPUT_DIR`` / ``SM_MODEL_DIR`` / ``SM_OUTPUT_DIR``, else ``/opt/ml/input``,
``/opt/ml/model``, ``/opt/ml/output``. The local runner points them at a job folder and runs the very same
code as the SageMaker job.

``<input>/config/hyperparameters.json`` is a JSON object of strings (SageMaker passes every value as a
string):

- ``tailor_recipe`` (required unless ``tailor_perform_automl``): the recipe name or ARN, e.g.
  ``aws-user-personalization``.
- ``tailor_perform_hpo`` / ``tailor_perform_automl`` (optional, ``true``/``false``): CreateSolution's
  ``performHPO`` / ``performAutoML``. HPO tunes the ranges of ``solutionConfig.hpoConfig`` (without
  ranges, the recipe's ``default_search``); AutoML picks
  the recipe among ``solutionConfig.autoMLConfig.recipeList`` (``training/model_selection.py``).
- ``tailor_solution_config`` (optional): CreateSolution's ``solutionConfig`` as a JSON string. Used:
  ``eventValueThreshold``, ``algorithmHyperParameters``, ``featureTransformationParameters`` (both merged
  into the recipe's hyperparameters), ``hpoConfig`` with ``tailor_perform_hpo``, ``autoMLConfig`` with
  ``tailor_perform_automl`` (whose candidates then train with their defaults; the chosen one is then tuned
  over its default search, with ``hpoConfig``'s objective and budget when given). Other keys
  (``optimizationObjective``, ...) are not implemented; they are reported in the progress log and
  otherwise ignored.
- ``tailor_event_type`` (optional): CreateSolution's ``eventType``; only interactions of that type train.
- ``tailor_seed`` (optional, default 42): seeds the split and the model.
- ``tailor_training_mode`` (optional, FULL or UPDATE): UPDATE continues the model in the
  ``previous_model`` channel instead of training anew (``training/warm_start.py``).
- any other key: an algorithm hyperparameter of the recipe, overriding ``algorithmHyperParameters``.
  Keys starting with ``sagemaker_`` are SageMaker's own and are skipped; other unknown keys fail the job.

Data: ``<input>/data/interactions/*.csv``; ``<input>/data/items/`` (the Items dataset's CSV files and its
``schema.json``, when the dataset group has one) is read for the recipes that use item metadata
(``training/item_metadata.py``); ``<input>/data/users/`` (the Users dataset's CSV files and schema) by the
recipes that read user fields and interaction context (aws-deepfm, aws-hrnn-metadata, aws-user-personalization
and -v2, the personalized-ranking recipes; ``training/feature_tokens.py``).

Flow: load and filter the data (with AutoML, choose the recipe), hold out Personalize's evaluation split
(with HPO, tune on a validation split of the training users), train on it and compute the
offline metrics, then train again on all data (Personalize publishes a model trained on everything) and
export that model. The artifact is described in ``training/ARTIFACT.md``.

Progress: JSON lines on stdout, also appended to ``<output>/progress.jsonl``. Failure: one line a user can
act on in ``<output>/failure``, exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from training import warm_start
from training.artifact import write_artifact
from training.data import DataFilter, Interactions, load_interactions
from training.errors import ConfigurationError, TrainingError
from training.evaluation import evaluate
from training.metrics import ndcg_at_k
from training.model_selection import choose_recipe, new_recipe, recipe_data, tune_hyperparameters
from training.recipes import get_recipe
from training.recipes.base import Recipe
from training.segmentation import offline_segment_metrics
from training.side_data import load_side_data
from training.split import Split, personalize_split
from training.tuning import AutoMLSettings, HpoSettings, parse_automl_config, parse_hpo_config

DEFAULT_INPUT_DIR = "/opt/ml/input"
DEFAULT_MODEL_DIR = "/opt/ml/model"
DEFAULT_OUTPUT_DIR = "/opt/ml/output"
DEFAULT_SEED = 42
INTERACTIONS_CHANNEL = "interactions"

_RESERVED = ("tailor_recipe", "tailor_solution_config", "tailor_event_type", "tailor_seed",
             "tailor_perform_hpo", "tailor_perform_automl", "tailor_training_mode")  # fmt: skip
_USED_SOLUTION_KEYS = ("eventValueThreshold", "algorithmHyperParameters", "featureTransformationParameters")


@dataclass(frozen=True)
class JobConfig:
    recipe: str
    seed: int = DEFAULT_SEED
    data_filter: DataFilter = DataFilter()
    hyperparameters: dict[str, str] = field(default_factory=dict)
    ignored_solution_keys: tuple[str, ...] = ()
    hpo: HpoSettings | None = None
    automl: AutoMLSettings | None = None
    # With AutoML: hpoConfig's objective and budget for tuning the chosen recipe (ranges are per recipe).
    automl_hpo: dict[str, Any] = field(default_factory=dict)


def _string_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigurationError(f"{where} must be a JSON object of strings.")
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}


def parse_job_config(raw: Mapping[str, Any]) -> JobConfig:
    """Turn SageMaker's hyperparameters.json content into a JobConfig."""
    values = _string_map(dict(raw), "hyperparameters.json")
    recipe = values.get("tailor_recipe", "").strip()
    perform_hpo = _flag(values, "tailor_perform_hpo")
    perform_automl = _flag(values, "tailor_perform_automl")
    if not recipe and not perform_automl:
        raise ConfigurationError("hyperparameters.json has no tailor_recipe: name the recipe to train.")
    seed_text = values.get("tailor_seed", str(DEFAULT_SEED)).strip()
    try:
        seed = int(seed_text)
    except ValueError:
        raise ConfigurationError(f"tailor_seed must be an integer, got {seed_text!r}.") from None

    solution: dict[str, Any] = {}
    if values.get("tailor_solution_config", "").strip():
        try:
            solution = json.loads(values["tailor_solution_config"])
        except json.JSONDecodeError as error:
            raise ConfigurationError(f"tailor_solution_config is not valid JSON: {error.msg}.") from None
        if not isinstance(solution, dict):
            raise ConfigurationError("tailor_solution_config must be a JSON object (the solutionConfig).")

    threshold: float | None = None
    if solution.get("eventValueThreshold") not in (None, ""):
        try:
            threshold = float(solution["eventValueThreshold"])
        except (TypeError, ValueError):
            value = solution["eventValueThreshold"]
            raise ConfigurationError(
                f"solutionConfig.eventValueThreshold must be a number, got {value!r}."
            ) from None
    event_type = values.get("tailor_event_type", "").strip() or None

    hyperparameters: dict[str, str] = {}
    for key in ("featureTransformationParameters", "algorithmHyperParameters"):
        if key in solution:
            hyperparameters.update(_string_map(solution[key], f"solutionConfig.{key}"))
    for key, value in values.items():
        if key in _RESERVED or key.startswith("sagemaker_"):
            continue
        if key.startswith("tailor_"):
            raise ConfigurationError(
                f"Unknown setting {key!r} in hyperparameters.json. Tailor settings: {', '.join(_RESERVED)}."
            )
        hyperparameters[key] = value
    # AutoML compares the listed recipes as they are (their own defaults), then tunes the winner over its
    # default search ("when performing AutoML, performHPO is always true", botocore's CreateSolution);
    # hpoConfig ranges belong to one recipe and are not applied to the others.
    automl = parse_automl_config(solution.get("autoMLConfig")) if perform_automl else None
    hpo = parse_hpo_config(solution.get("hpoConfig"), recipe) if perform_hpo and not perform_automl else None
    automl_hpo: dict[str, Any] = {}
    used = _USED_SOLUTION_KEYS
    if automl is not None:
        used += ("autoMLConfig",)
        hyperparameters = {}
        given = solution.get("hpoConfig") or {}
        automl_hpo = {k: v for k, v in given.items() if k != "algorithmHyperParameterRanges"}
    if hpo is not None:
        used += ("hpoConfig",)
    ignored = tuple(sorted(k for k in solution if k not in used))
    return JobConfig(
        recipe, seed, DataFilter(event_type, threshold), hyperparameters, ignored, hpo, automl, automl_hpo
    )


def _flag(values: Mapping[str, str], key: str) -> bool:
    text = values.get(key, "false").strip().lower()
    if text not in ("true", "false"):
        raise ConfigurationError(f"{key} must be true or false, got {text!r}.")
    return text == "true"


def read_job_config(input_dir: Path) -> JobConfig:
    path = input_dir / "config" / "hyperparameters.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{path} not found: the training job must pass hyperparameters.") from None
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"{path} is not valid JSON: {error.msg}.") from None
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{path} must hold a JSON object.")
    return parse_job_config(raw)


class Progress:
    """JSON-lines progress on stdout and in ``<output>/progress.jsonl``."""

    def __init__(self, path: Path, stream: TextIO = sys.stdout) -> None:
        self.path = path
        self.stream = stream

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **fields}, separators=(", ", ": "))
        print(line, file=self.stream, flush=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")


def pick_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _round(metrics: Mapping[str, float]) -> dict[str, float]:
    return {key: round(float(value), 6) for key, value in metrics.items()}


def _evaluate_on_split(
    candidate: Recipe, split: Split, data: Interactions, device: str, progress: Progress
) -> dict[str, float]:
    """Fit on the split's training users and score the held-out users (reporting NDCG@10 per epoch)."""
    evaluated = split.evaluated()

    def on_epoch(epoch: int, loss: float) -> None:
        recommended = candidate.recommend([split.visible[i] for i in evaluated], 10)
        scores = [ndcg_at_k(list(r), split.truth[i], 10) for r, i in zip(recommended, evaluated, strict=True)]
        ndcg = sum(scores) / len(scores) if scores else 0.0
        progress.emit(
            "epoch", phase="evaluation", epoch=epoch, loss=round(loss, 6), ndcg_at_10=round(ndcg, 6)
        )

    candidate.fit(split.train, device, on_epoch)
    return _round(evaluate(candidate, split, data.n_items))


def train(input_dir: Path, model_dir: Path, progress: Progress) -> dict[str, Any]:
    """Run one training job; raises TrainingError for anything the user can fix."""
    started = time.monotonic()
    config = read_job_config(input_dir)
    if config.automl is None:  # with AutoML the recipe is chosen below, once the data is loaded
        recipe_class = get_recipe(config.recipe)
        hyperparameters = recipe_class.parse_hyperparameters(config.hyperparameters)
    if config.ignored_solution_keys:
        progress.emit("notice", message="solutionConfig keys not implemented and ignored",
                      keys=list(config.ignored_solution_keys))  # fmt: skip
    data: Interactions = load_interactions(input_dir / "data" / INTERACTIONS_CHANNEL, config.data_filter)
    side = load_side_data(input_dir / "data")
    device = pick_device()
    selection: dict[str, Any] = {}  # the manifest's record of HPO and AutoML
    hpo = config.hpo
    if config.automl is not None:
        recipe_class, selection["automl"] = choose_recipe(
            config.automl, data, side, device, config.seed, progress.emit
        )
        hyperparameters = recipe_class.parse_hyperparameters({})
        if recipe_class.hyperparameters_class.default_search:
            hpo = parse_hpo_config(config.automl_hpo, recipe_class.name)
    # Items without interactions join the catalogue (items.json) of a cold-start recipe.
    data = recipe_data(recipe_class, data, side)
    progress.emit(
        "start", recipe=recipe_class.name, device=device, seed=config.seed,
        interactions=data.n_interactions, users=data.n_users, items=data.n_items,
        hyperparameters=hyperparameters.to_json(),
    )  # fmt: skip
    if warm_start.requested(input_dir):  # trainingMode UPDATE: continue from the previous model
        return warm_start.train_update(
            input_dir, model_dir, progress, recipe_class,
            lambda hp: new_recipe(recipe_class, hp, config.seed, side), data, device, started,
        )  # fmt: skip

    evaluation: dict[str, int]
    if recipe_class.recipe_type == "USER_SEGMENTATION":
        # Segments rank users for items: Personalize splits each user's history 80/20 for them instead.
        metrics, evaluation = offline_segment_metrics(
            new_recipe(recipe_class, hyperparameters, config.seed, side),  # type: ignore[arg-type]
            data, config.seed, device, progress.emit,
        )  # fmt: skip
    else:
        split = personalize_split(data, config.seed)
        evaluated = split.evaluated()
        progress.emit(
            "split", train_users=int(len(split.train.active_users())), test_users=int(len(split.test_users)),
            evaluated_users=len(evaluated),
        )  # fmt: skip
        if hpo is not None:
            hyperparameters, selection["tuning"] = tune_hyperparameters(
                recipe_class, config.hyperparameters, hpo, split, data.n_items, device, config.seed,
                side, progress.emit,
            )  # fmt: skip
        metrics = _evaluate_on_split(
            new_recipe(recipe_class, hyperparameters, config.seed, side), split, data, device, progress
        )
        evaluation = {"test_users": int(len(split.test_users)), "evaluated_users": len(evaluated)}
    progress.emit("metrics", **metrics)

    final = new_recipe(recipe_class, hyperparameters, config.seed, side)
    fit_started = time.monotonic()

    def on_final_epoch(epoch: int, loss: float) -> None:
        progress.emit("epoch", phase="final", epoch=epoch, loss=round(loss, 6))

    final.fit(data, device, on_final_epoch)
    fit_seconds = time.monotonic() - fit_started
    model_dir.mkdir(parents=True, exist_ok=True)
    export = final.export(model_dir)
    progress.emit("export", contract=export.contract.name, **export.parity.to_json())
    warm_start.save_state(final, model_dir)
    seconds = round(time.monotonic() - started, 3)
    manifest = write_artifact(
        model_dir,
        final,
        export,
        data,
        metrics,
        training={
            "seconds": seconds,
            "fit_seconds": round(fit_seconds, 3),
            "epochs": final.epochs_trained,
            "interactions": data.n_interactions,
            "users": data.n_users,
            "items": data.n_items,
            "device": device,
            **final.training_notes(),
        },
        extra={
            "seed": config.seed,
            "evaluation": evaluation,
            **selection,
        },
    )
    progress.emit("completed", seconds=seconds)
    return manifest


def _directory(flag: str | None, env: str, default: str) -> Path:
    return Path(flag or os.environ.get(env) or default)


def _write_failure(output_dir: Path, reason: str) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "failure").write_text(" ".join(reason.split()) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.entrypoint", description=__doc__.split("\n")[0])
    # SageMaker starts a training image as `<image> train`: accept that word, and nothing else.
    parser.add_argument("mode", nargs="?", choices=["train"], help=argparse.SUPPRESS)
    parser.add_argument("--input-dir")
    parser.add_argument("--model-dir")
    parser.add_argument("--output-dir")
    args = parser.parse_args(argv)
    input_dir = _directory(args.input_dir, "SM_INPUT_DIR", DEFAULT_INPUT_DIR)
    model_dir = _directory(args.model_dir, "SM_MODEL_DIR", DEFAULT_MODEL_DIR)
    output_dir = _directory(args.output_dir, "SM_OUTPUT_DIR", DEFAULT_OUTPUT_DIR)
    output_dir.mkdir(parents=True, exist_ok=True)
    progress = Progress(output_dir / "progress.jsonl")
    try:
        train(input_dir, model_dir, progress)
    except TrainingError as error:
        _write_failure(output_dir, str(error))
        progress.emit("failed", reason=str(error))
        return 1
    except Exception as error:  # a bug in Tailor, not in the user's data: say so and keep the traceback
        traceback.print_exc()
        reason = f"Internal error in Tailor training: {type(error).__name__}: {error}"
        _write_failure(output_dir, reason)
        progress.emit("failed", reason=reason)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
