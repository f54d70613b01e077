"""The ``recommender`` workflow: train a recommender's use case, then serve it.

A recommender is trained by the same training job as a solution version (``run.trained_model`` locally,
the SageMaker path's prepare and publish steps in a deployment), on a training spec built from the use
case (``functions/resources/use_cases.py``): the Tailor recipe that trains it, its event type and the
recommender's ``trainingDataConfig``. Three moments start it: CreateRecommender (``CREATE PENDING`` ->
``CREATE IN_PROGRESS`` -> ``ACTIVE``) and an UpdateRecommender that changes the training columns
(``latestRecommenderUpdate``: ``UPDATE PENDING`` -> ``UPDATE IN_PROGRESS`` -> ``ACTIVE``, after which the
recommender serves the new model and configuration; until then it serves the old ones) and the automatic
retraining every 7 days (``functions/resources/recommender_retraining.py``), which changes only the model.

Each training writes its model under a key of its own (``tailorModelArn``), and the recommender points at
it only once the model has loaded, so a failed retraining leaves the served model untouched.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from functions.config import settings
from functions.resources import artifacts
from functions.resources import lifecycle as lc
from functions.resources.training_modes import data_fingerprint
from functions.resources.use_cases import use_case_of
from functions.stores.blobs import BlobStore
from functions.stores.resources import ResourceStore
from functions.workflows import run

logger = logging.getLogger(__name__)


def pending_update(doc: dict[str, Any]) -> dict[str, Any] | None:
    update = doc.get("latestRecommenderUpdate")
    return update if update and update["status"] in lc.UPDATING else None


def training_spec(doc: dict[str, Any]) -> dict[str, Any]:
    """What the training job reads for this recommender (the fields a solution version has)."""
    case = use_case_of(doc["recipeArn"])
    if case is None:
        raise run.WorkflowFailed(f"{doc['recipeArn']} is not a use case Tailor can train.")
    update = pending_update(doc)
    config = (update or doc)["recommenderConfig"]
    solution_config = (
        {"trainingDataConfig": config["trainingDataConfig"]} if config.get("trainingDataConfig") else {}
    )
    spec: dict[str, Any] = {
        "datasetGroupArn": doc["datasetGroupArn"],
        "recipeArn": case.trained_as_arn,
        "solutionConfig": solution_config,
    }
    if case.event_type:
        spec["eventType"] = case.event_type
    return spec


def _set_update(
    arn: str, status: str, reason: str | None = None, switch: bool = False, **fields: Any
) -> None:
    def change(doc: dict[str, Any]) -> dict[str, Any]:
        update = doc["latestRecommenderUpdate"]
        update["status"] = status
        update["lastUpdatedDateTime"] = lc.now()
        if reason:
            update["failureReason"] = reason[:1000]
        if switch:
            doc["recommenderConfig"] = update["recommenderConfig"]
            doc["tailorModelArn"] = update["tailorModelArn"]
        doc.update(fields)
        doc["lastUpdatedDateTime"] = lc.now()
        return doc

    ResourceStore().update(arn, change)


def begin(arn: str) -> dict[str, Any]:
    """Move the creation, update or automatic retraining to IN_PROGRESS; the training spec."""
    doc = ResourceStore().get(arn, lc.RECOMMENDER)
    if doc["status"] == lc.CREATE_PENDING:
        doc = run._set(arn, lc.CREATE_IN_PROGRESS, expect=run.PENDING)
    elif doc["status"] == lc.ACTIVE and pending_update(doc):
        _set_update(arn, lc.UPDATE_IN_PROGRESS)
        doc = ResourceStore().get(arn, lc.RECOMMENDER)
    elif not doc.get("tailorRetrainModelArn"):
        raise run.Superseded(doc["status"])
    return training_spec(doc)


def _switch_model(arn: str, model_arn: str, metrics: dict[str, float]) -> None:
    """Serve a retrained model (an automatic retraining's): the configuration stays as it is."""

    def change(doc: dict[str, Any]) -> dict[str, Any]:
        doc["tailorModelArn"] = model_arn
        doc["modelMetrics"] = metrics
        doc.pop("tailorRetrainModelArn", None)
        doc["lastUpdatedDateTime"] = lc.now()
        return doc

    ResourceStore().update(arn, change)


def publish(arn: str, model_dir: Path) -> None:
    """Store the model under the key the creation, update or retraining chose, check it loads, then serve
    it."""
    store = ResourceStore()
    doc = store.get(arn, lc.RECOMMENDER)
    update = pending_update(doc)
    # A StopRecommender during a retraining changes nothing here: the model is swapped all the same.
    retraining = None if update else doc.get("tailorRetrainModelArn")
    model_arn = update["tailorModelArn"] if update else retraining or doc["tailorModelArn"]
    BlobStore().upload_dir(model_dir, settings().artifacts_bucket, artifacts.model_prefix(model_arn))
    run._check_model_loads(model_arn)
    metrics = {
        name: float(value)
        for name, value in json.loads((model_dir / "metrics.json").read_text()).items()
        if isinstance(value, int | float)
    }
    if update:
        trained = {"tailorTrainedAt": lc.now(), "tailorDataFingerprint": data_fingerprint(store, doc)}
        _set_update(arn, lc.ACTIVE, switch=True, modelMetrics=metrics, **trained)
    elif retraining:
        _switch_model(arn, retraining, metrics)
    else:
        run._set(arn, lc.ACTIVE, expect=run.RUNNING, modelMetrics=metrics)


def run_recommender(arn: str) -> None:
    spec = begin(arn)
    with run.trained_model(spec, arn, lambda: False) as trained:
        assert trained is not None  # a recommender's training is never stopped
        model_dir, _hours = trained  # a recommender reports no training time
        publish(arn, model_dir)


def record_crash(arn: str, reason: str) -> None:
    """A failed update or retraining leaves the recommender ACTIVE on its current model (an update says
    why in latestRecommenderUpdate); a failed creation fails the recommender."""
    doc = ResourceStore().find(arn)
    if doc is None:
        return
    if pending_update(doc):
        _set_update(arn, lc.UPDATE_FAILED, reason)
    elif doc.get("tailorRetrainModelArn"):
        logger.warning("automatic retraining of %s failed: %s", arn, reason)

        def forget(current: dict[str, Any]) -> dict[str, Any]:
            current.pop("tailorRetrainModelArn", None)
            return current

        ResourceStore().update(arn, forget)
    elif doc.get("status") in lc.UNFINISHED:
        run._set(arn, lc.CREATE_FAILED, reason)
