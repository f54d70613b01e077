"""personalize-runtime operations: campaigns resolved to a loaded model plus the group's live data.

Campaign, filter and solution-version documents are cached for ``RESOURCE_TTL_S`` so a busy campaign does
not cost a DynamoDB read per request while UpdateCampaign and DeleteFilter take effect within seconds.

A campaign switches models without downtime: when its document names a solution version this process has
not loaded yet, the version is loaded on a background thread while the previous one keeps serving; a
version that fails to load is remembered and never served (the campaign stays on the old one).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.attribution.sources import recommendation_id
from functions.config import settings
from functions.filters import FilterExpressionError, check_target
from functions.protocol.dispatch import RequestContext
from functions.protocol.errors import InvalidInputException, ResourceNotFoundException
from functions.resources import artifacts
from functions.resources import lifecycle as lc
from functions.resources.use_cases import UseCase, use_case_of
from functions.serving.model_artifact import ITEM_NEIGHBORS, LoadedModel, ModelArtifactError
from functions.serving.recommender import FilterRequest, PromotionRequest, Recommender, metadata_for
from functions.serving.selection import Chosen
from functions.stores.blobs import BlobStore
from functions.stores.history import HistoryStore, action_history_key, history_key
from functions.stores.resources import ResourceStore

logger = logging.getLogger(__name__)

RESOURCE_TTL_S = 2.0
MAX_RESULTS = 500
MAX_RESULTS_WITH_METADATA = 50
MAX_RANKING_INPUT = 500
MAX_METADATA_COLUMNS = 10
MAX_ACTION_RESULTS = 100
DEFAULT_ACTION_RESULTS = 5
DAY_S = 86_400.0
DEFAULT_RESULTS = 25


class ModelCache:
    """Loaded models (with their recommenders) by solution version; artifacts are immutable."""

    def __init__(self) -> None:
        self._models: dict[str, Recommender] = {}
        self._failed: dict[str, str] = {}
        self._loading: set[str] = set()
        self._lock = threading.Lock()

    def ready(self, version_arn: str) -> Recommender | None:
        return self._models.get(version_arn)

    def failed(self, version_arn: str) -> str | None:
        return self._failed.get(version_arn)

    def get(self, version: dict[str, Any]) -> Recommender:
        """Load synchronously (first request of a campaign: there is nothing older to serve)."""
        arn = version["solutionVersionArn"]
        found = self._models.get(arn)
        if found is not None:
            return found
        with self._lock:
            if arn not in self._models:
                self._models[arn] = Recommender(self._load(arn), version["datasetGroupArn"])
            return self._models[arn]

    def load_in_background(self, version: dict[str, Any]) -> None:
        arn = version["solutionVersionArn"]
        with self._lock:
            if arn in self._models or arn in self._loading or arn in self._failed:
                return
            self._loading.add(arn)

        def load() -> None:
            try:
                recommender = Recommender(self._load(arn), version["datasetGroupArn"])
                with self._lock:
                    self._models[arn] = recommender
            except Exception as exc:  # noqa: BLE001 - any failure keeps the old version serving
                logger.warning("solution version %s failed to load: %s", arn, exc)
                self._failed[arn] = str(exc)
            finally:
                self._loading.discard(arn)

        threading.Thread(target=load, name=f"load-{arn[-12:]}", daemon=True).start()

    @staticmethod
    def _load(solution_version_arn: str) -> LoadedModel:
        prefix = artifacts.model_prefix(solution_version_arn)
        directory = Path(settings().model_cache_dir) / prefix
        if not (directory / "manifest.json").exists():
            BlobStore().download_prefix(settings().artifacts_bucket, prefix, directory)
        return LoadedModel.load(str(directory))


MODELS = ModelCache()
_documents: dict[str, tuple[float, dict[str, Any]]] = {}
_serving: dict[str, str] = {}  # campaign ARN -> solution version ARN it serves in this process


def reset() -> None:
    """Forget every cached document and model (tests that recreate the AWS backend between cases)."""
    global MODELS
    MODELS = ModelCache()
    _documents.clear()
    _serving.clear()


def _document(arn: str, key: str, ttl: float = RESOURCE_TTL_S) -> dict[str, Any]:
    cached = _documents.get(arn)
    if cached and time.monotonic() - cached[0] < ttl:
        return cached[1]
    doc = ResourceStore().find(arn)
    if doc is None or key not in doc:
        _documents.pop(arn, None)
        raise ResourceNotFoundException(f"Could not find resource: {arn}", status=404)
    _documents[arn] = (time.monotonic(), doc)
    return doc


def _version(arn: str) -> dict[str, Any]:
    doc = _document(arn, "solutionVersionArn", ttl=3600.0 if arn in _documents else RESOURCE_TTL_S)
    if doc.get("status") != lc.ACTIVE:
        _documents.pop(arn, None)  # not cached: it may still become ACTIVE
    return doc


def _switching(key: str, wanted: str, version_of: Callable[[str], dict[str, Any]], what: str) -> Recommender:
    """The model ``key`` (a campaign or recommender) serves: ``wanted`` once it has loaded, the one it
    served before meanwhile (``version_of(model ARN)`` -> the document the cache loads from)."""
    current = _serving.get(key)
    if current and current != wanted and not MODELS.failed(wanted):
        ready = MODELS.ready(wanted)
        if ready is None:
            MODELS.load_in_background(version_of(wanted))
            return MODELS.get(version_of(current))
    if current and MODELS.failed(wanted):
        return MODELS.get(version_of(current))
    try:
        recommender = MODELS.get(version_of(wanted))
    except ModelArtifactError as exc:
        raise InvalidInputException(f"{what} cannot load its model: {exc}") from exc
    _serving[key] = wanted
    return recommender


def _campaign_recommender(campaign_arn: str) -> tuple[dict[str, Any], Recommender]:
    campaign = _document(campaign_arn, "campaignArn")
    if campaign["status"] != lc.ACTIVE:
        raise InvalidInputException(f"Campaign {campaign_arn} is {campaign['status']}, not ACTIVE.")
    recommender = _switching(
        campaign_arn, campaign["solutionVersionArn"], _version, f"Campaign {campaign_arn}"
    )
    return campaign, recommender


def _domain_recommender(recommender_arn: str) -> tuple[dict[str, Any], Recommender, UseCase]:
    """A recommender (CreateRecommender) and its use case; its model has no document of its own."""
    doc = _document(recommender_arn, "recommenderArn")
    if doc["status"] != lc.ACTIVE:
        raise InvalidInputException(
            f"Recommender {recommender_arn} is {doc['status']}, not ACTIVE"
            + (": start it with StartRecommender." if doc["status"] == lc.INACTIVE else ".")
        )
    case = use_case_of(doc["recipeArn"])
    if case is None:
        raise InvalidInputException(f"Recommender {recommender_arn} has no use case Tailor serves.")
    group = doc["datasetGroupArn"]

    def version_of(model_arn: str) -> dict[str, Any]:
        return {"solutionVersionArn": model_arn, "datasetGroupArn": group}

    recommender = _switching(
        recommender_arn, doc["tailorModelArn"], version_of, f"Recommender {recommender_arn}"
    )
    return doc, recommender, case


def _filter(
    filter_arn: str | None, values: dict[str, str] | None, group: str, where: str, target: str = "ItemID"
) -> FilterRequest | None:
    if not filter_arn:
        if values:
            raise InvalidInputException(f"{where}filterValues were given without a filterArn.")
        return None
    doc = _document(filter_arn, "filterArn")
    if doc["status"] != lc.ACTIVE:
        raise InvalidInputException(f"Filter {filter_arn} is {doc['status']}, not ACTIVE.")
    if doc["datasetGroupArn"] != group:
        raise InvalidInputException(
            f"Filter {filter_arn} belongs to dataset group {doc['datasetGroupArn']}, not to the campaign's "
            f"dataset group {group}."
        )
    try:
        check_target(doc["filterExpression"], target, filter_arn, "this request")
    except FilterExpressionError as exc:
        raise InvalidInputException(str(exc)) from exc
    return FilterRequest(doc["filterExpression"], values)


def _with_automatic_filter(
    case: UseCase, request: FilterRequest | None, user_id: str | None
) -> FilterRequest | None:
    """The use case's own filter (the items the user watched or purchased) ahead of the request's."""
    automatic = case.automatic_filter()
    if automatic is None or not user_id:
        return request
    if request is None:
        return FilterRequest(automatic)
    return FilterRequest(f"{automatic} | {request.expression}", request.values)


def _recipe_type(recommender: Recommender) -> str:
    return str(recommender.model.manifest.get("recipe_type", "USER_PERSONALIZATION"))


def _live_events(group: str, user_id: str | None) -> list[tuple[str, str]]:
    if not user_id:
        return []
    return [(e.item_id, e.event_type) for e in HistoryStore().events(history_key(group, user_id))]


def _items_out(chosen: list[Chosen], metadata: dict[str, dict[str, str]] | None) -> list[dict[str, Any]]:
    out = []
    for item in chosen:
        entry: dict[str, Any] = {"itemId": item.item_id}
        if item.score is not None:
            entry["score"] = round(float(item.score), 7)
        if item.promotion:
            entry["promotionName"] = item.promotion
        if metadata is not None:
            entry["metadata"] = metadata.get(item.item_id, {})
        out.append(entry)
    return out


def _check_num_results(n: int, limit: int) -> None:
    if n > limit:
        raise InvalidInputException(
            f"1 validation error detected: Value '{n}' at 'numResults' failed to satisfy "
            f"constraint: Member must have value less than or equal to {limit}"
        )


@dataclass(frozen=True)
class Served:
    """What a request names: a campaign or a recommender, as errors call it, and its configuration."""

    label: str  # "Campaign <arn>" / "Recommender <arn>"
    config: dict[str, Any]  # campaignConfig / recommenderConfig
    config_name: str
    use_case: UseCase | None = None

    @staticmethod
    def campaign(doc: dict[str, Any]) -> Served:
        return Served(f"Campaign {doc['campaignArn']}", doc.get("campaignConfig", {}), "campaignConfig")


class Runtime:
    def __init__(self, ctx: RequestContext) -> None:
        self.ctx = ctx

    def _metadata_columns(
        self, served: Served, recommender: Recommender, columns: dict[str, list[str]] | None
    ) -> list[str] | None:
        if not columns:
            return None
        if not served.config.get("enableMetadataWithRecommendations"):
            raise InvalidInputException(
                f"{served.label} does not return metadata: create or update it with "
                f"{served.config_name}.enableMetadataWithRecommendations set to true."
            )
        unknown_keys = [k for k in columns if k != "ITEMS"]
        if unknown_keys:
            raise InvalidInputException(f"metadataColumns: the only key is ITEMS, got '{unknown_keys[0]}'.")
        wanted = columns.get("ITEMS", [])
        if len(wanted) > MAX_METADATA_COLUMNS:
            raise InvalidInputException(f"metadataColumns.ITEMS: at most {MAX_METADATA_COLUMNS} columns.")
        _, view = recommender.state.items()
        if view is None:
            raise InvalidInputException("metadataColumns needs an Items dataset in the dataset group.")
        for column in wanted:
            spec = view.schema.field(column)
            if spec is None or spec.name.upper() == "ITEM_ID":
                known = ", ".join(s.name for s in view.schema.fields if s.name.upper() != "ITEM_ID")
                raise InvalidInputException(
                    f"metadataColumns.ITEMS: '{column}' is not a column of the Items dataset ({known})."
                )
        return wanted

    def get_recommendations(
        self,
        campaignArn: str | None = None,
        recommenderArn: str | None = None,
        itemId: str | None = None,
        userId: str | None = None,
        numResults: int | None = None,
        context: dict[str, str] | None = None,
        filterArn: str | None = None,
        filterValues: dict[str, str] | None = None,
        promotions: list[dict[str, Any]] | None = None,
        metadataColumns: dict[str, list[str]] | None = None,
    ) -> dict[str, Any]:
        if campaignArn and recommenderArn:
            raise InvalidInputException("Specify either campaignArn or recommenderArn, not both.")
        if not campaignArn and not recommenderArn:
            raise InvalidInputException("Either campaignArn or recommenderArn is required.")
        n = DEFAULT_RESULTS if numResults is None else numResults
        # The documented maxima (botocore's model states only the minimum), checked before any lookup
        # as AWS validates input first.
        _check_num_results(n, MAX_RESULTS)
        if recommenderArn:
            doc, recommender, case = _domain_recommender(recommenderArn)
            served = Served(
                f"Recommender {recommenderArn}", doc["recommenderConfig"], "recommenderConfig", case
            )
        else:
            campaign, recommender = _campaign_recommender(str(campaignArn))
            served = Served.campaign(campaign)
        columns = self._metadata_columns(served, recommender, metadataColumns)
        if columns is not None:
            _check_num_results(n, MAX_RESULTS_WITH_METADATA)
        recipe_type = _recipe_type(recommender)
        if recipe_type == "PERSONALIZED_RANKING":
            raise InvalidInputException(
                f"{served.label} ranks items (PERSONALIZED_RANKING): call GetPersonalizedRanking."
            )
        if recipe_type == "PERSONALIZED_ACTIONS":
            raise InvalidInputException(
                f"{served.label} recommends actions (PERSONALIZED_ACTIONS): call GetActionRecommendations."
            )
        group = recommender.state.group
        flt = _filter(filterArn, filterValues, group, "")
        promotion = None
        if promotions:
            spec = promotions[0]
            promo_filter = _filter(spec.get("filterArn"), spec.get("filterValues"), group, "promotions.1.")
            if promo_filter is None:
                raise InvalidInputException(
                    "promotions.1.filterArn is required: it selects the promoted items."
                )
            promotion = PromotionRequest(spec["name"], int(spec.get("percentPromotedItems", 0)), promo_filter)
        case = served.use_case
        if case is not None:
            use = case.recipe_arn
            if case.needs_item and not itemId:
                raise InvalidInputException(
                    f"{served.label} ({use}) recommends for an item: itemId is required."
                )
            if case.needs_user and not userId:
                raise InvalidInputException(
                    f"{served.label} ({use}) recommends for a user: userId is required."
                )
            flt = _with_automatic_filter(case, flt, userId)
        elif recommender.model.contract == ITEM_NEIGHBORS:
            if not itemId:
                raise InvalidInputException(f"{served.label} recommends related items: itemId is required.")
        elif not userId:
            raise InvalidInputException(f"{served.label} recommends for users: userId is required.")
        live = _live_events(group, userId)
        exploration = served.config.get("itemExplorationConfig")
        chosen = recommender.recommend(
            n,
            user_id=userId,
            item_id=itemId,
            live_events=live,
            filter_request=flt,
            promotion=promotion,
            exploration_config=exploration,
            context=context,
        )
        metadata = None
        if columns is not None:
            _, view = recommender.state.items()
            metadata = {c.item_id: metadata_for(view, c.item_id, columns) for c in chosen}
        return {
            "itemList": _items_out(chosen, metadata),
            "recommendationId": recommendation_id(str(recommenderArn or campaignArn)),
        }

    def get_personalized_ranking(
        self,
        campaignArn: str,
        inputList: list[str],
        userId: str,
        context: dict[str, str] | None = None,
        filterArn: str | None = None,
        filterValues: dict[str, str] | None = None,
        metadataColumns: dict[str, list[str]] | None = None,
    ) -> dict[str, Any]:
        if len(inputList) > MAX_RANKING_INPUT:
            raise InvalidInputException(
                "1 validation error detected: Value at 'inputList' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_RANKING_INPUT}"
            )
        campaign, recommender = _campaign_recommender(campaignArn)
        if _recipe_type(recommender) != "PERSONALIZED_RANKING":
            raise InvalidInputException(
                f"Campaign {campaignArn} was not trained with a PERSONALIZED_RANKING recipe; "
                "GetPersonalizedRanking needs one (e.g. aws-personalized-ranking)."
            )
        columns = self._metadata_columns(Served.campaign(campaign), recommender, metadataColumns)
        group = recommender.state.group
        flt = _filter(filterArn, filterValues, group, "")
        chosen = recommender.rank(userId, inputList, _live_events(group, userId), flt, context)
        metadata = None
        if columns is not None:
            _, view = recommender.state.items()
            metadata = {c.item_id: metadata_for(view, c.item_id, columns) for c in chosen}
        return {
            "personalizedRanking": _items_out(chosen, metadata),
            "recommendationId": recommendation_id(campaignArn),
        }

    def get_action_recommendations(
        self,
        campaignArn: str | None = None,
        userId: str | None = None,
        numResults: int | None = None,
        filterArn: str | None = None,
        filterValues: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Actions by the user's propensity to take them (developer guide, "Getting action
        recommendations"): actions without enough interactions to be scored come after, with 0.0;
        expired actions (EXPIRATION_TIMESTAMP passed) never appear; an action the user took less than
        its REPEAT_FREQUENCY days ago waits; equal propensities rank the higher VALUE first."""
        n = DEFAULT_ACTION_RESULTS if numResults is None else numResults
        _check_num_results(n, MAX_ACTION_RESULTS)
        if not campaignArn:
            raise InvalidInputException("campaignArn is required.")
        if not userId:
            raise InvalidInputException("userId is required.")
        campaign, recommender = _campaign_recommender(campaignArn)
        if _recipe_type(recommender) != "PERSONALIZED_ACTIONS":
            raise InvalidInputException(
                f"Campaign {campaignArn} was not trained with a PERSONALIZED_ACTIONS recipe; "
                "GetActionRecommendations needs one (aws-next-best-action)."
            )
        group = recommender.state.group
        flt = _filter(filterArn, filterValues, group, "", target="ActionID")
        model = recommender.model
        events = HistoryStore().events(action_history_key(group, userId))
        taken = [e for e in events if e.event_type.lower() == "taken"]
        scores = dict(zip(model.items, model.action_scores(userId, [e.item_id for e in taken]), strict=True))
        view = recommender.state.catalog.view("ACTIONS")
        now = time.time()
        last_taken: dict[str, float] = {}
        for event in taken:
            last_taken[event.item_id] = max(event.timestamp, last_taken.get(event.item_id, 0.0))
        ranked: list[tuple[float, float, str]] = []
        for action in dict.fromkeys([*model.items, *(view.rows if view is not None else ())]):
            row = view.rows.get(action) if view is not None else None
            expiry = (
                row.get("EXPIRATION_TIMESTAMP") or row.get("ACTION_EXPIRATION_TIMESTAMP") if row else None
            )
            if _number(expiry, math.inf) < now:
                continue
            repeat_days = _number(row.get("REPEAT_FREQUENCY") if row else None, 0.0)
            if action in last_taken and now - last_taken[action] < repeat_days * DAY_S:
                continue
            value = _number(row.get("VALUE") if row else None, 0.0)
            ranked.append((-float(scores.get(action, 0.0)), -value, action))
        ranked.sort()
        if flt is not None:
            allowed = recommender.allowed_actions(
                flt, [action for _, _, action in ranked], userId, [(e.item_id, e.event_type) for e in events]
            )
            ranked = [entry for entry in ranked if entry[2] in allowed]
        return {
            "actionList": [
                {"actionId": action, "score": round(-score, 7)} for score, _, action in ranked[:n]
            ],
            "recommendationId": recommendation_id(campaignArn),
        }


def _number(value: Any, default: float) -> float:
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default
