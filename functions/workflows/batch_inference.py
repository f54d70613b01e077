"""A batch inference job: every line of a JSON Lines input scored with one solution version.

Input lines, as Personalize takes them: ``{"userId": ...}`` (user recommendations), ``{"itemId": ...}``
(related items), ``{"userId": ..., "itemList": [...]}`` (personalized ranking), each optionally with
``"filterValues"``. The input path is one file or a folder (every object under it). For each input file
``<name>`` the job writes ``<name>.out`` under the output path, one line per input line, in order:
``{"input": <the line>, "output": {"recommendedItems": [...], "scores": [...]}, "error": null}``. A line
that cannot be answered (bad JSON, no userId or itemId, a missing filter parameter) gets
``"output": null`` and its ``"error"``; the job still succeeds. The output is written only once every
line is answered, so a failed job leaves no partial file.

Recommendations are made exactly as the runtime makes them (``Recommender``), including the user's
events recorded since training and the job's filter and ``itemExplorationConfig``.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from functions.protocol.errors import TailorError
from functions.resources import lifecycle as lc
from functions.serving.model_artifact import ITEM_NEIGHBORS
from functions.serving.recommender import FilterRequest, Recommender
from functions.serving.runtime_api import ModelCache
from functions.stores.blobs import BlobStore, split_s3_uri
from functions.stores.history import HistoryStore, history_key
from functions.stores.resources import ResourceStore
from functions.workflows.run import PENDING, RUNNING, WorkflowFailed, _set


def _input_keys(path: str) -> tuple[str, list[str]]:
    bucket, key = split_s3_uri(path)
    blobs = BlobStore()
    if key and not key.endswith("/") and blobs.exists(bucket, key):
        return bucket, [key]
    prefix = key if not key or key.endswith("/") else key + "/"
    keys = [k for k in blobs.keys(bucket, prefix) if not k.endswith("/")]
    if not keys:
        raise WorkflowFailed(f"Input data not found: nothing at {path}.")
    return bucket, keys


def answer_line(
    recommender: Recommender,
    line: str,
    n: int,
    filter_expression: str | None,
    exploration: dict[str, str] | None,
) -> dict[str, Any]:
    try:
        request = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"input": line, "output": None, "error": f"The line is not valid JSON: {exc.msg}."}
    if not isinstance(request, dict):
        return {"input": request, "output": None, "error": "The line must be a JSON object."}
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


def run_batch_inference(job_arn: str) -> None:
    job = _set(job_arn, lc.CREATE_IN_PROGRESS, expect=PENDING)
    store = ResourceStore()
    version = store.get(job["solutionVersionArn"], lc.SOLUTION_VERSION)
    expression = None
    if job.get("filterArn"):
        flt = store.find(job["filterArn"])
        if flt is None:
            raise WorkflowFailed(f"Filter {job['filterArn']} was deleted before the job ran.")
        expression = flt["filterExpression"]
    try:
        bucket, keys = _input_keys(job["jobInput"]["s3DataSource"]["path"])
        out_bucket, out_prefix = split_s3_uri(job["jobOutput"]["s3DataDestination"]["path"])
    except ValueError as exc:
        raise WorkflowFailed(str(exc)) from exc
    recommender = Recommender(ModelCache._load(version["solutionVersionArn"]), version["datasetGroupArn"])
    exploration = job.get("batchInferenceJobConfig", {}).get("itemExplorationConfig")
    blobs = BlobStore()
    outputs: list[tuple[str, bytes]] = []
    for key in keys:
        try:
            text = blobs.get(bucket, key).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WorkflowFailed(f"s3://{bucket}/{key} is not UTF-8 text: {exc}.") from exc
        except Exception as exc:  # noqa: BLE001 - any S3 failure is the user's to fix (permissions, region)
            raise WorkflowFailed(f"Could not read s3://{bucket}/{key}: {exc}") from exc
        lines = [
            json.dumps(answer_line(recommender, line, int(job["numResults"]), expression, exploration))
            for line in text.splitlines()
            if line.strip()
        ]
        name = posixpath.basename(key) + ".out"
        target = posixpath.join(out_prefix, name) if out_prefix else name
        outputs.append((target, ("\n".join(lines) + "\n").encode()))
    _set(job_arn, lc.CREATE_IN_PROGRESS, expect=RUNNING)  # a deleted or stopped job must not write
    for target, body in outputs:
        try:
            blobs.put(out_bucket, target, body)
        except Exception as exc:  # noqa: BLE001
            raise WorkflowFailed(f"Could not write s3://{out_bucket}/{target}: {exc}") from exc
    _set(job_arn, lc.ACTIVE, expect=RUNNING)
