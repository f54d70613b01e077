"""Automatic training: create the solution versions whose schedule is due.

Personalize's rules (Developer Guide, "Configuring automatic training"):

- a solution with ``performAutoTraining`` trains every ``rate(N days)`` (default 7), counted from its
  first automatic training;
- the first automatic training starts within one hour after the solution became ACTIVE (or after
  UpdateSolution turned automatic training on); a solution version created manually within that hour
  replaces it, and the schedule still counts from the end of the hour;
- a training happens only if interaction data (imported or recorded events; action interactions for
  Next-Best-Action) arrived since the last training.

Automatic versions have ``trainingType`` AUTOMATIC and ``trainingMode`` AUTOTRAIN (a full training).
``create_due_versions`` is the one entry point: ``tailor serve`` calls it from a scheduler thread
(``tailor_local.scheduler``), a deployment from an EventBridge schedule (``functions/handlers/scheduler.py``).
Concurrent callers cannot both train one slot: each slot is claimed on the solution's document first.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from functions.protocol.errors import TailorError
from functions.resources import lifecycle as lc
from functions.resources.training_modes import (
    AUTOMATIC,
    AUTOTRAIN,
    data_fingerprint,
    schedule_days,
    start_solution_version,
)
from functions.stores.resources import ResourceStore

logger = logging.getLogger(__name__)

FIRST_TRAINING_DELAY_S = 3600.0
DAY_S = 86400.0


class _SlotTaken(Exception):
    """Another scheduler claimed this slot first."""


def due_slot(solution: dict[str, Any], versions: list[dict[str, Any]], now: float) -> float | None:
    """The start of the schedule slot a new automatic version is due for, or None.

    ``versions`` are the solution's versions. Slots are ``first + k * interval`` with ``first`` one hour
    after automatic training began; each slot gets at most one automatic version.
    """
    if not solution.get("performAutoTraining") or solution.get("status") != lc.ACTIVE:
        return None
    config = (solution.get("solutionConfig") or {}).get("autoTrainingConfig") or {}
    interval = schedule_days(config.get("schedulingExpression")) * DAY_S
    since = float(solution.get("tailorAutoTrainingSince", solution["creationDateTime"]))
    first = since + FIRST_TRAINING_DELAY_S
    if now < first:
        return None
    slot = first + math.floor((now - first) / interval) * interval
    if float(solution.get("tailorAutoTrainingSlot", -math.inf)) >= slot:
        return None
    if any(v.get("trainingType") == AUTOMATIC and v["creationDateTime"] >= slot for v in versions):
        return None
    if slot == first and any(
        v.get("trainingType") != AUTOMATIC and since <= v["creationDateTime"] < first for v in versions
    ):
        return None  # a manual version in the first hour skips the first automatic training
    return slot


def create_due_versions(now: float | None = None, store: ResourceStore | None = None) -> list[str]:
    """Start an automatic solution version for every solution that is due; their ARNs."""
    store = store or ResourceStore()
    now = lc.now() if now is None else now
    by_solution: dict[str, list[dict[str, Any]]] = {}
    for version in store.list(lc.SOLUTION_VERSION):
        by_solution.setdefault(version["solutionArn"], []).append(version)
    created: list[str] = []
    for solution in store.list(lc.SOLUTION):
        arn = solution["solutionArn"]
        versions = sorted(by_solution.get(arn, []), key=lambda v: v["creationDateTime"])
        try:
            slot = due_slot(solution, versions, now)
        except TailorError as exc:  # a stored schedule that no longer parses: say so, skip it
            logger.warning("automatic training of %s skipped: %s", arn, exc.message)
            continue
        if slot is None:
            continue
        if any(v["status"] in lc.UNFINISHED for v in versions):
            continue  # one training at a time; the slot is still due at the next check
        try:
            store.update(arn, lambda doc, slot=slot: _claim(doc, slot))
        except _SlotTaken:
            continue
        active = [v for v in versions if v["status"] == lc.ACTIVE]
        if active and active[-1].get("tailorDataFingerprint") == data_fingerprint(store, solution):
            logger.info("automatic training of %s skipped: no new interaction data since the last one", arn)
            continue
        try:
            created.append(
                start_solution_version(store, solution, training_mode=AUTOTRAIN, training_type=AUTOMATIC)
            )
        except TailorError as exc:
            logger.warning("automatic training of %s not started: %s", arn, exc.message)
    return created


def _claim(doc: dict[str, Any], slot: float) -> dict[str, Any]:
    if float(doc.get("tailorAutoTrainingSlot", -math.inf)) >= slot:
        raise _SlotTaken(doc["solutionArn"])
    doc["tailorAutoTrainingSlot"] = slot
    return doc


def start_due_training(now: float | None = None) -> list[str]:
    """What the schedulers run: the due automatic solution versions and recommender retrainings; the
    ARNs of what started."""
    from functions.resources.recommender_retraining import retrain_due_recommenders

    return [*create_due_versions(now), *retrain_due_recommenders(now)]
