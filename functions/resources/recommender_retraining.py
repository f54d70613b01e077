"""Recommenders retrain themselves: a full retraining every 7 days, as Personalize's recommenders do.

Developer Guide, "Domain recommenders": "Amazon Personalize automatically retrains the models backing
your recommenders every 7 days. This is a full retraining that creates entirely new models based on the
entirety of the data in your datasets." Tailor counts the 7 days from the recommender's last training
and, as its automatic training of solutions does, skips a retraining when no interaction data arrived
since (the slot is used all the same). The retraining writes a model key of its own
(``tailorRetrainModelArn``); the recommender keeps serving its model until the new one has loaded
(``functions/workflows/recommender.py``), and a failed retraining leaves it as it was.

The scheduler calls ``retrain_due_recommenders`` beside ``auto_training.create_due_versions``.
"""

from __future__ import annotations

import logging
from typing import Any

from functions.resources import arns
from functions.resources import lifecycle as lc
from functions.resources.training_modes import data_fingerprint
from functions.stores import workflows
from functions.stores.resources import ResourceStore

logger = logging.getLogger(__name__)

RETRAIN_INTERVAL_S = 7 * 86400.0


class _NotDue(Exception):
    """The recommender changed since it was read (another scheduler, an update): nothing to do."""


def is_due(doc: dict[str, Any], now: float) -> bool:
    update = doc.get("latestRecommenderUpdate") or {}
    return (
        doc.get("status") == lc.ACTIVE
        and update.get("status") not in lc.UPDATING
        and not doc.get("tailorRetrainModelArn")
        and now - float(doc.get("tailorTrainedAt", doc["creationDateTime"])) >= RETRAIN_INTERVAL_S
    )


def retrain_due_recommenders(now: float | None = None, store: ResourceStore | None = None) -> list[str]:
    """Start the retraining of every recommender that is due and has new data; their ARNs."""
    store = store or ResourceStore()
    now = lc.now() if now is None else now
    started: list[str] = []
    for doc in store.list(lc.RECOMMENDER):
        if not is_due(doc, now):
            continue
        arn = doc["recommenderArn"]
        fingerprint = data_fingerprint(store, doc)
        retrain = fingerprint != doc.get("tailorDataFingerprint")

        def claim(current: dict[str, Any], retrain: bool = retrain, fingerprint: str = fingerprint) -> dict:
            if not is_due(current, now):
                raise _NotDue(current["recommenderArn"])
            current["tailorTrainedAt"] = now  # the slot is used, retrained or not
            if retrain:
                current["tailorRetrainModelArn"] = f"{current['recommenderArn']}/{arns.short_id()}"
                current["tailorDataFingerprint"] = fingerprint
            return current

        try:
            store.update(arn, claim)
        except _NotDue:
            continue
        if not retrain:
            logger.info("retraining of %s skipped: no new interaction data since the last one", arn)
            continue
        workflows.starter().start(workflows.RECOMMENDER, arn)
        started.append(arn)
    return started
