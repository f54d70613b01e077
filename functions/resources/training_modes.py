"""CreateSolutionVersion's training modes, UpdateSolution, and Personalize's automatic-training rules.

- ``trainingMode`` FULL trains on all data. UPDATE (only ``aws-user-personalization`` and
  ``aws-hrnn-coldstart``, as in Personalize, and only once the solution has an ACTIVE version trained in
  full) starts from the latest ACTIVE version's model: the workflow hands that model to the training
  job, which keeps what known items learned, gives new items and users fresh parameters and trains a few
  epochs (``training/warm_start.py``). AUTOTRAIN is the mode of versions automatic training creates.
- ``performAutoTraining`` (Personalize's default: true) with ``autoTrainingConfig.schedulingExpression``
  ``rate(N days)``, N from 1 to 30 (default 7). ``functions/resources/auto_training.py`` creates the
  versions when they are due.
- UpdateSolution changes ``performAutoTraining`` / ``autoTrainingConfig`` (and records them as
  ``latestSolutionUpdate``, ACTIVE at once: nothing has to be rebuilt for it).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from functions.protocol.errors import InvalidInputException
from functions.resources import arns, quotas
from functions.resources import lifecycle as lc
from functions.resources.recipes import recipe_catalogue
from functions.stores import workflows
from functions.stores.blobs import BlobStore
from functions.stores.resources import ResourceStore

FULL, UPDATE, AUTOTRAIN = "FULL", "UPDATE", "AUTOTRAIN"
MANUAL, AUTOMATIC = "MANUAL", "AUTOMATIC"
# Personalize: "the input solution was trained with the User-Personalization recipe or the legacy
# HRNN-Coldstart recipe".
UPDATE_RECIPES = ("aws-user-personalization", "aws-hrnn-coldstart")
DEFAULT_SCHEDULE = "rate(7 days)"
_RATE = re.compile(r"^rate\((\d+) (day|days)\)$")
MIN_DAYS, MAX_DAYS = 1, 30


def schedule_days(expression: str | None) -> int:
    """Days between automatic trainings for a schedulingExpression (None: the default, 7)."""
    text = DEFAULT_SCHEDULE if expression is None else expression
    match = _RATE.match(text)
    if match is None:
        raise InvalidInputException(
            f"schedulingExpression {text!r} is invalid: use a rate expression rate(value unit) with a "
            f"value from {MIN_DAYS} to {MAX_DAYS} and the unit day or days, for example rate(5 days)."
        )
    days = int(match.group(1))
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise InvalidInputException(
            f"schedulingExpression {text!r} is invalid: the value must be from {MIN_DAYS} to {MAX_DAYS} days."
        )
    return days


def check_auto_training_config(config: dict[str, Any] | None) -> None:
    """Validate an autoTrainingConfig (CreateSolution's solutionConfig, UpdateSolution's update config)."""
    if config and "schedulingExpression" in config:
        schedule_days(config["schedulingExpression"])


def _recipe(solution: dict[str, Any]) -> dict[str, Any] | None:
    return next((r for r in recipe_catalogue() if r["recipeArn"] == solution.get("recipeArn")), None)


def training_dataset_arn(solution: dict[str, Any]) -> str:
    """The dataset a solution trains on: action interactions for Next-Best-Action, else interactions."""
    recipe = _recipe(solution)
    on_actions = bool(recipe) and recipe["recipeType"] == "PERSONALIZED_ACTIONS"  # type: ignore[index]
    return arns.dataset_arn(
        solution["datasetGroupArn"], "ACTION_INTERACTIONS" if on_actions else "INTERACTIONS"
    )


def data_fingerprint(store: ResourceStore, solution: dict[str, Any]) -> str:
    """Changes whenever training data is imported or recorded (automatic training needs new data).

    Imports repoint the dataset at new objects; events are archived as new objects and never
    rewritten, so the dataset's keys and the number of archived objects say whether anything arrived.
    """
    from functions.config import settings
    from functions.resources import artifacts

    dataset = store.find(training_dataset_arn(solution)) or {}
    archived = BlobStore().keys(
        settings().artifacts_bucket, artifacts.event_archive_prefix(solution["datasetGroupArn"])
    )
    text = "|".join(sorted(dataset.get("tailorDataKeys", []))) + f"|events={len(archived)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def versions_of(store: ResourceStore, solution_arn: str) -> list[dict[str, Any]]:
    """The solution's versions, oldest first."""
    found = [v for v in store.list(lc.SOLUTION_VERSION) if v["solutionArn"] == solution_arn]
    return sorted(found, key=lambda v: v["creationDateTime"])


def update_base(store: ResourceStore, solution: dict[str, Any]) -> dict[str, Any]:
    """The ACTIVE version an UPDATE starts from, after checking that the solution allows UPDATE."""
    recipe = arns.recipe_name(solution.get("recipeArn") or "") or solution.get("recipeArn")
    if recipe not in UPDATE_RECIPES:
        raise InvalidInputException(
            f"trainingMode UPDATE is not supported for solution {solution['solutionArn']}: it uses recipe "
            f"{recipe}, and only solutions with {' or '.join(UPDATE_RECIPES)} can be updated. "
            "Use trainingMode FULL."
        )
    active = [v for v in versions_of(store, solution["solutionArn"]) if v["status"] == lc.ACTIVE]
    if not any(v.get("trainingMode", FULL) in (FULL, AUTOTRAIN) for v in active):
        raise InvalidInputException(
            f"trainingMode UPDATE needs an ACTIVE solution version of {solution['solutionArn']} created with "
            "trainingMode FULL. Create one with trainingMode FULL and wait for it to become ACTIVE."
        )
    return active[-1]


def start_solution_version(
    store: ResourceStore,
    solution: dict[str, Any],
    *,
    name: str | None = None,
    training_mode: str = FULL,
    training_type: str = MANUAL,
    tags: list[dict[str, str]] | None = None,
) -> str:
    """Create a solution version in CREATE PENDING and start its training workflow; its ARN."""
    base = update_base(store, solution) if training_mode == UPDATE else None
    dataset_arn = training_dataset_arn(solution)
    interactions = store.find(dataset_arn)
    if interactions is None or not interactions.get("tailorDataKeys"):
        kind = dataset_arn.rsplit("/", 1)[-1].lower().replace("_", " ")
        raise InvalidInputException(
            f"Dataset group {solution['datasetGroupArn']} has no imported {kind} data. "
            "Import it with CreateDatasetImportJob and wait for the job to become ACTIVE."
        )
    running = [v for v in store.list(lc.SOLUTION_VERSION) if v["status"] in lc.UNFINISHED]
    quotas.enforce(
        "ACTIVE_SOLUTION_VERSION_CREATIONS", len(running), "solution versions being created at once"
    )
    arn = f"{solution['solutionArn']}/{arns.short_id()}"
    stamp = lc.now()
    doc = {
        "name": name,
        "solutionVersionArn": arn,
        "solutionArn": solution["solutionArn"],
        "performHPO": solution["performHPO"],
        "performAutoML": solution["performAutoML"],
        "performIncrementalUpdate": solution.get("performIncrementalUpdate", False),
        "recipeArn": solution.get("recipeArn"),  # absent with AutoML: the job chooses the recipe
        "eventType": solution.get("eventType"),
        "datasetGroupArn": solution["datasetGroupArn"],
        "solutionConfig": solution.get("solutionConfig", {}),
        "trainingMode": training_mode,
        "trainingType": training_type,
        "status": lc.CREATE_PENDING,
        "tags": tags,
        "creationDateTime": stamp,
        "lastUpdatedDateTime": stamp,
        "tailorDataFingerprint": data_fingerprint(store, solution),
        "tailorBaseVersionArn": base["solutionVersionArn"] if base else None,
    }
    store.create(
        arn, lc.SOLUTION_VERSION, {k: v for k, v in doc.items() if v is not None}, solution["solutionArn"]
    )
    workflows.starter().start(workflows.SOLUTION_VERSION, arn)
    return arn


class TrainingOperations:
    store: ResourceStore

    def create_solution_version(
        self,
        solutionArn: str,
        name: str | None = None,
        trainingMode: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        solution = self.store.get(solutionArn, lc.SOLUTION)
        mode = trainingMode or FULL
        if mode == AUTOTRAIN:
            raise InvalidInputException(
                "trainingMode AUTOTRAIN is set by automatic training (performAutoTraining); "
                "use FULL or UPDATE."
            )
        arn = start_solution_version(self.store, solution, name=name, training_mode=mode, tags=tags)
        return {"solutionVersionArn": arn}

    def update_solution(
        self,
        solutionArn: str,
        performAutoTraining: bool | None = None,
        performIncrementalUpdate: bool | None = None,
        solutionUpdateConfig: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        solution = self.store.get(solutionArn, lc.SOLUTION)
        config = solutionUpdateConfig or {}
        check_auto_training_config(config.get("autoTrainingConfig"))
        if performIncrementalUpdate and arns.recipe_name(solution["recipeArn"]) != "aws-semantic-similarity":
            raise InvalidInputException(
                "performIncrementalUpdate is supported only for solutions that use the semantic-similarity "
                "recipe."
            )

        def apply(doc: dict[str, Any]) -> dict[str, Any]:
            if performAutoTraining is not None:
                if performAutoTraining and not doc.get("performAutoTraining"):
                    # Turning automatic training on restarts its schedule (first training within the hour).
                    doc["tailorAutoTrainingSince"] = lc.now()
                doc["performAutoTraining"] = performAutoTraining
            if performIncrementalUpdate is not None:
                doc["performIncrementalUpdate"] = performIncrementalUpdate
            if "autoTrainingConfig" in config:
                doc.setdefault("solutionConfig", {})["autoTrainingConfig"] = config["autoTrainingConfig"]
            stamp = lc.now()
            doc["latestSolutionUpdate"] = {
                "solutionUpdateConfig": {
                    "autoTrainingConfig": doc.get("solutionConfig", {}).get(
                        "autoTrainingConfig", {"schedulingExpression": DEFAULT_SCHEDULE}
                    )
                },
                "status": lc.ACTIVE,
                "performAutoTraining": bool(doc.get("performAutoTraining")),
                "performIncrementalUpdate": bool(doc.get("performIncrementalUpdate")),
                "creationDateTime": stamp,
                "lastUpdatedDateTime": stamp,
            }
            doc["lastUpdatedDateTime"] = stamp
            return doc

        self.store.update(solutionArn, apply)
        return {"solutionArn": solutionArn}
