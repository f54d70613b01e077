"""personalize-runtime operations: campaigns resolved to a loaded model plus the user's live history."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

from functions.config import settings
from functions.protocol.dispatch import RequestContext
from functions.protocol.errors import InvalidInputException, ResourceNotFoundException
from functions.resources import artifacts
from functions.resources import lifecycle as lc
from functions.serving.model_artifact import LoadedModel
from functions.stores.blobs import BlobStore
from functions.stores.history import HistoryStore, history_key
from functions.stores.resources import ResourceStore

# A campaign document is re-read at most this often, so UpdateCampaign takes effect within seconds
# while a busy campaign does not cost a DynamoDB read per request.
CAMPAIGN_TTL_S = 2.0
MAX_RESULTS = 500


class ModelCache:
    """Loaded models by solution version. Artifacts are immutable, so an entry never goes stale."""

    def __init__(self) -> None:
        self._models: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()

    def get(self, solution_version_arn: str) -> LoadedModel:
        model = self._models.get(solution_version_arn)
        if model is not None:
            return model
        with self._lock:
            if solution_version_arn not in self._models:
                self._models[solution_version_arn] = self._load(solution_version_arn)
            return self._models[solution_version_arn]

    @staticmethod
    def _load(solution_version_arn: str) -> LoadedModel:
        prefix = artifacts.model_prefix(solution_version_arn)
        directory = Path(settings().model_cache_dir) / prefix
        if not (directory / "manifest.json").exists():
            BlobStore().download_prefix(settings().artifacts_bucket, prefix, directory)
        return LoadedModel.load(str(directory))


MODELS = ModelCache()
_campaigns: dict[str, tuple[float, dict[str, Any]]] = {}
_versions: dict[str, dict[str, Any]] = {}


def _campaign(arn: str) -> dict[str, Any]:
    cached = _campaigns.get(arn)
    if cached and time.monotonic() - cached[0] < CAMPAIGN_TTL_S:
        return cached[1]
    doc = ResourceStore().find(arn)
    if doc is None or "campaignArn" not in doc:
        _campaigns.pop(arn, None)
        raise ResourceNotFoundException(f"Could not find resource: {arn}", status=404)
    _campaigns[arn] = (time.monotonic(), doc)
    return doc


def _version(arn: str) -> dict[str, Any]:
    if arn not in _versions:
        doc = ResourceStore().get(arn, lc.SOLUTION_VERSION)
        if doc["status"] != lc.ACTIVE:
            return doc  # not cached: it may still become ACTIVE
        _versions[arn] = doc
    return _versions[arn]


class Runtime:
    def __init__(self, ctx: RequestContext) -> None:
        self.ctx = ctx

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
        if recommenderArn and not campaignArn:
            raise InvalidInputException("Recommenders are not supported by Tailor yet; use a campaignArn.")
        if not campaignArn:
            raise InvalidInputException("Either campaignArn or recommenderArn is required.")
        if filterArn or promotions or metadataColumns:
            raise InvalidInputException(
                "filterArn, promotions and metadataColumns are not supported by Tailor yet."
            )
        if numResults is not None and numResults > MAX_RESULTS:
            # The documented maximum; botocore's model states only the minimum.
            raise InvalidInputException(
                f"1 validation error detected: Value '{numResults}' at 'numResults' failed to satisfy "
                f"constraint: Member must have value less than or equal to {MAX_RESULTS}"
            )
        campaign = _campaign(campaignArn)
        if campaign["status"] not in (lc.ACTIVE,):
            raise InvalidInputException(f"Campaign {campaignArn} is {campaign['status']}, not ACTIVE.")
        version = _version(campaign["solutionVersionArn"])
        model = MODELS.get(version["solutionVersionArn"])
        n = numResults or 25
        if model.contract == "item_neighbors":
            if not itemId:
                raise InvalidInputException(
                    f"Campaign {campaignArn} recommends related items: itemId is required."
                )
            ranked = model.similar_items(itemId, n)
        else:
            if not userId:
                raise InvalidInputException(
                    f"Campaign {campaignArn} recommends for users: userId is required."
                )
            live = HistoryStore().events(history_key(version["datasetGroupArn"], userId))
            ranked = model.recommend_for_user(userId, [e.item_id for e in live], n)
        return {
            "itemList": [{"itemId": item, "score": round(float(score), 7)} for item, score in ranked],
            "recommendationId": f"RID-{uuid.uuid4()}",
        }
