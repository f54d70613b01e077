"""A batch inference job: every line of a JSON Lines input scored with one solution version.

Input lines, as Personalize takes them: ``{"userId": ...}`` (user recommendations), ``{"itemId": ...}``
(related items), ``{"userId": ..., "itemList": [...]}`` (personalized ranking), each optionally with
``"filterValues"``. Reading the input and writing ``<name>.out`` per input file, one line per input line,
in order, is ``json_lines_job``'s; an answered line is ``{"input": <the line>, "output":
{"recommendedItems": [...], "scores": [...]}, "error": null}``. A line that cannot be answered (bad JSON,
no userId or itemId, a missing filter parameter) gets ``"output": null`` and its ``"error"``; the job
still succeeds.

Recommendations are made exactly as the runtime makes them (``Recommender``), including the user's
events recorded since training and the job's filter and ``itemExplorationConfig``.
"""

from __future__ import annotations

from typing import Any

from functions.protocol.errors import TailorError
from functions.serving.model_artifact import ITEM_NEIGHBORS
from functions.serving.recommender import FilterRequest, Recommender
from functions.serving.runtime_api import ModelCache
from functions.stores.history import HistoryStore, history_key
from functions.workflows.json_lines_job import Answer, run_json_lines_job


def answer_request(
    recommender: Recommender,
    request: dict[str, Any],
    n: int,
    filter_expression: str | None,
    exploration: dict[str, str] | None,
) -> dict[str, Any]:
    try:
        user_id, item_id, items = request.get("userId"), request.get("itemId"), request.get("itemList")
        values = request.get("filterValues")
        if values is not None and not isinstance(values, dict):
            raise ValueError("filterValues must be an object of parameter name to values.")
        flt = FilterRequest(filter_expression, values) if filter_expression else None
        group = recommender.state.group
        live = (
            [(e.item_id, e.event_type) for e in HistoryStore().events(history_key(group, str(user_id)))]
            if user_id
            else []
        )
        recipe_type = recommender.model.manifest.get("recipe_type")
        if recipe_type == "PERSONALIZED_RANKING":
            if not user_id or not isinstance(items, list):
                raise ValueError("A personalized-ranking job needs userId and itemList on every line.")
            chosen = recommender.rank(str(user_id), [str(i) for i in items], live, flt)
        elif recommender.model.contract == ITEM_NEIGHBORS:
            if not item_id:
                raise ValueError("A related-items job needs itemId on every line.")
            chosen = recommender.recommend(n, user_id=user_id, item_id=str(item_id), filter_request=flt)
        else:
            if not user_id:
                raise ValueError("A user-personalization job needs userId on every line.")
            chosen = recommender.recommend(
                n, user_id=str(user_id), live_events=live, filter_request=flt, exploration_config=exploration
            )
    except (ValueError, TailorError) as exc:
        message = exc.message if isinstance(exc, TailorError) else str(exc)
        return {"input": request, "output": None, "error": message}
    return {
        "input": request,
        "output": {
            "recommendedItems": [c.item_id for c in chosen],
            "scores": [round(float(c.score), 7) if c.score is not None else None for c in chosen],
        },
        "error": None,
    }


def _prepare(
    job: dict[str, Any], version: dict[str, Any], filter_expression: str | None, line_count: int
) -> Answer:
    recommender = Recommender(ModelCache._load(version["solutionVersionArn"]), version["datasetGroupArn"])
    exploration = job.get("batchInferenceJobConfig", {}).get("itemExplorationConfig")
    n = int(job["numResults"])
    return lambda request: answer_request(recommender, request, n, filter_expression, exploration)


def run_batch_inference(job_arn: str) -> None:
    run_json_lines_job(job_arn, _prepare)
