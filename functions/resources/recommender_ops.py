"""Recommenders: a Domain dataset group's use cases, trained and served without solutions or campaigns.

CreateRecommender stores the recommender as ``CREATE PENDING`` and starts the ``recommender`` workflow
(``functions/workflows/recommender.py``), which trains the use case's model (``use_cases.py``) with the
same training job as a solution version and makes the recommender ``ACTIVE`` once the model loads.
GetRecommendations with ``recommenderArn`` then serves it (``functions/serving/runtime_api.py``).

UpdateRecommender records ``latestRecommenderUpdate``. An update that changes the training columns
(``trainingDataConfig``) retrains, as Personalize does, and the recommender keeps serving its current model
and configuration until the update is ``ACTIVE``; any other update (request rate, exploration, metadata)
has nothing to train and applies at once. StopRecommender and StartRecommender switch between ``ACTIVE``
and ``INACTIVE`` (the model is kept; an inactive recommender serves nothing). The weekly retraining is
``recommender_retraining.py``'s; the ``RECOMMENDERS`` quota is Personalize's 15.
"""

from __future__ import annotations

from typing import Any

from functions.protocol.errors import InvalidInputException, ResourceInUseException
from functions.resources import arns, quotas
from functions.resources import lifecycle as lc
from functions.resources.batch_ops import check_exploration
from functions.resources.group_schemas import group_schemas
from functions.resources.operations_base import Operations
from functions.resources.recipes import recipe_catalogue
from functions.resources.training_columns import check_training_data_config
from functions.resources.training_modes import data_fingerprint
from functions.resources.use_cases import USE_CASES, UseCase, use_case_of
from functions.stores import workflows
from functions.stores.resources import ResourceStore

CONFIG = "recommenderConfig"
DEFAULT_REQUESTS_PER_SECOND = 1
# Internal fields of the stored document that DescribeRecommender leaves out.
PRIVATE = ("tags", "tailorModelArn", "tailorRetrainModelArn", "tailorTrainedAt", "tailorDataFingerprint")


def refuse_use_case(recipe_arn: str | None) -> None:
    """CreateSolution's rule: a use case is created with CreateRecommender, not as a solution."""
    case = use_case_of(recipe_arn or "")
    if case is not None:
        raise InvalidInputException(
            f"Recipe {recipe_arn} is a {case.domain} use case: create a recommender with CreateRecommender "
            "instead of a solution. Custom solutions take a custom recipe (ListRecipes without a domain)."
        )


def check_recommender_config(
    store: ResourceStore, dataset_group_arn: str, config: dict[str, Any] | None
) -> dict[str, Any]:
    """The recommenderConfig to store, with Personalize's default request rate."""
    config = dict(config or {})
    check_exploration(config.get("itemExplorationConfig"), CONFIG)
    if config.get("trainingDataConfig"):
        check_training_data_config(config, group_schemas(store, dataset_group_arn), CONFIG)
    config.setdefault("minRecommendationRequestsPerSecond", DEFAULT_REQUESTS_PER_SECOND)
    return config


def _use_case(recipe_arn: str, group: dict[str, Any]) -> UseCase:
    case = use_case_of(recipe_arn)
    domain = group.get("domain")
    if case is None:
        custom = any(r["recipeArn"] == recipe_arn for r in recipe_catalogue())
        kind = "a custom recipe" if custom else "not a recipe Tailor knows"
        listed = ", ".join(u.recipe_arn for u in USE_CASES.values() if not domain or u.domain == domain)
        raise InvalidInputException(
            f"Recipe {recipe_arn} is {kind}: a recommender takes a Domain dataset group use case ({listed}). "
            "Train a custom recipe with CreateSolution and deploy it with CreateCampaign."
        )
    if not domain:
        raise InvalidInputException(
            f"Dataset group {group['datasetGroupArn']} is a Custom dataset group: recommenders need a Domain "
            "dataset group (CreateDatasetGroup with domain VIDEO_ON_DEMAND or ECOMMERCE). In a Custom "
            "dataset group, use solutions and campaigns."
        )
    if case.domain != domain:
        raise InvalidInputException(
            f"Recipe {recipe_arn} is a {case.domain} use case, and dataset group {group['datasetGroupArn']} "
            f"is a {domain} dataset group."
        )
    return case


class RecommenderOperations(Operations):
    def create_recommender(
        self,
        name: str,
        datasetGroupArn: str,
        recipeArn: str,
        recommenderConfig: dict[str, Any] | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        group = self._get(datasetGroupArn, lc.DATASET_GROUP)
        case = _use_case(recipeArn, group)
        present = {
            d["datasetType"].upper()
            for d in self.store.list(lc.DATASET)
            if d["datasetGroupArn"] == datasetGroupArn
        }
        missing = [t for t in case.required_datasets if t not in present]
        if missing:
            raise InvalidInputException(
                f"Use case {recipeArn} needs a {missing[0]} dataset in dataset group {datasetGroupArn}; "
                "create it first."
            )
        config = check_recommender_config(self.store, datasetGroupArn, recommenderConfig)
        quotas.enforce("RECOMMENDERS", len(self.store.list(lc.RECOMMENDER)), "recommenders")
        arn = self._arn(f"recommender/{name}")
        doc = self._new_doc(
            name=name,
            recommenderArn=arn,
            datasetGroupArn=datasetGroupArn,
            recipeArn=recipeArn,
            recommenderConfig=config,
            status=lc.CREATE_PENDING,
            tags=tags,
            # The model's key: a new one per training, so a retrained model never overwrites the served one.
            tailorModelArn=f"{arn}/{arns.short_id()}",
        )
        # When it was last trained and on what data (``recommender_retraining.py``).
        doc["tailorTrainedAt"] = doc["creationDateTime"]
        doc["tailorDataFingerprint"] = data_fingerprint(self.store, doc)
        self.store.create(arn, lc.RECOMMENDER, doc, parent_arn=datasetGroupArn)
        workflows.starter().start(workflows.RECOMMENDER, arn)
        return {"recommenderArn": arn}

    def describe_recommender(self, recommenderArn: str) -> dict[str, Any]:
        doc = self._get(recommenderArn, lc.RECOMMENDER)
        for key in PRIVATE:
            doc.pop(key, None)
        update = doc.get("latestRecommenderUpdate")
        if update:
            update.pop("tailorModelArn", None)
        return {"recommender": doc}

    def list_recommenders(
        self, datasetGroupArn: str | None = None, nextToken: str | None = None, maxResults: int | None = None
    ) -> dict[str, Any]:
        return self._list_page(
            lc.RECOMMENDER,
            "recommenders",
            "RecommenderSummary",
            nextToken,
            maxResults,
            where=lambda d: not datasetGroupArn or d["datasetGroupArn"] == datasetGroupArn,
            scope=datasetGroupArn or "",
        )

    def update_recommender(self, recommenderArn: str, recommenderConfig: dict[str, Any]) -> dict[str, Any]:
        current = self._get(recommenderArn, lc.RECOMMENDER)
        config = check_recommender_config(self.store, current["datasetGroupArn"], recommenderConfig)
        retrain = config.get("trainingDataConfig") != current["recommenderConfig"].get("trainingDataConfig")

        def request(doc: dict[str, Any]) -> dict[str, Any]:
            if doc["status"] != lc.ACTIVE:
                raise ResourceInUseException(
                    f"Recommender {recommenderArn} is {doc['status']}; it can be updated once it is ACTIVE."
                )
            latest = doc.get("latestRecommenderUpdate")
            if latest and latest["status"] in lc.UPDATING:
                raise ResourceInUseException(
                    f"Recommender {recommenderArn} already has an update in progress."
                )
            if retrain and doc.get("tailorRetrainModelArn"):
                raise ResourceInUseException(
                    f"Recommender {recommenderArn} is being retrained (its weekly retraining); update its "
                    "training columns once that is done."
                )
            stamp = lc.now()
            doc["latestRecommenderUpdate"] = {
                "recommenderConfig": config,
                # Without new training columns there is nothing to train: the update applies at once.
                "status": lc.UPDATE_PENDING if retrain else lc.ACTIVE,
                "creationDateTime": stamp,
                "lastUpdatedDateTime": stamp,
                "tailorModelArn": f"{recommenderArn}/{arns.short_id()}" if retrain else doc["tailorModelArn"],
            }
            if not retrain:
                doc["recommenderConfig"] = config
            doc["lastUpdatedDateTime"] = stamp
            return doc

        self.store.update(recommenderArn, request)
        if retrain:
            workflows.starter().start(workflows.RECOMMENDER, recommenderArn)
        return {"recommenderArn": recommenderArn}

    def _switch(self, recommender_arn: str, source: str, target: str, verb: str) -> dict[str, Any]:
        def change(doc: dict[str, Any]) -> dict[str, Any]:
            if doc["status"] != source:
                raise ResourceInUseException(
                    f"Recommender {recommender_arn} is {doc['status']}; only an {source} recommender can be "
                    f"{verb}."
                )
            return lc.set_status(doc, target)

        self._get(recommender_arn, lc.RECOMMENDER)
        self.store.update(recommender_arn, change)
        return {"recommenderArn": recommender_arn}

    def stop_recommender(self, recommenderArn: str) -> dict[str, Any]:
        return self._switch(recommenderArn, lc.ACTIVE, lc.INACTIVE, "stopped")

    def start_recommender(self, recommenderArn: str) -> dict[str, Any]:
        return self._switch(recommenderArn, lc.INACTIVE, lc.ACTIVE, "started")

    def delete_recommender(self, recommenderArn: str) -> None:
        doc = self._get(recommenderArn, lc.RECOMMENDER)
        if doc["status"] in lc.UNFINISHED:
            raise ResourceInUseException(
                f"Recommender {recommenderArn} is still being created ({doc['status']})."
            )
        latest = doc.get("latestRecommenderUpdate")
        if latest and latest["status"] in lc.UPDATING:
            raise ResourceInUseException(f"Recommender {recommenderArn} has an update in progress.")
        self.store.delete(recommenderArn)
