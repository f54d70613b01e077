"""Writing the model artifact (the contract is ``training/ARTIFACT.md``).

``manifest.json`` is written last: a model directory with a manifest is complete, one without is a failed
or interrupted job and must not be loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from training.data import Interactions
from training.recipes.base import ExportResult, Recipe

FORMAT_VERSION = 1
POPULAR_ITEMS = 1000


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(value, handle, separators=(",", ":"), ensure_ascii=False)
    tmp.replace(path)


def popular_items(data: Interactions, limit: int = POPULAR_ITEMS) -> dict[str, list[int]]:
    counts = data.item_counts()
    order = np.lexsort((np.arange(len(counts)), -counts))[:limit]
    order = order[counts[order] > 0]
    return {"items": [int(i) for i in order], "counts": [int(counts[i]) for i in order]}


def write_artifact(
    model_dir: Path,
    recipe: Recipe,
    export: ExportResult,
    data: Interactions,
    metrics: dict[str, float],
    training: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write items/users/popular/metrics JSON next to the exported ONNX file, then the manifest."""
    model_dir.mkdir(parents=True, exist_ok=True)
    _write_json(model_dir / "items.json", list(data.item_ids))
    users = {
        data.user_ids[u]: [int(i) for i in history]
        for u, history in enumerate(recipe.serving_histories(data))
        if len(history)
    }
    _write_json(model_dir / "users.json", users)
    _write_json(model_dir / "popular.json", popular_items(data))
    _write_json(model_dir / "metrics.json", metrics)
    manifest: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "recipe": recipe.name,
        "recipe_type": recipe.recipe_type,
        "contract": export.contract.name,
        "onnx_file": export.onnx_file,
        "inputs": [spec.to_json() for spec in export.contract.inputs],
        "outputs": [spec.to_json() for spec in export.contract.outputs],
        "max_sequence_length": export.max_sequence_length,
        "parity": export.parity.to_json(),
        "hyperparameters": recipe.hyperparameters.to_json(),
        "training": training,
        **(extra or {}),
    }
    _write_json(model_dir / "manifest.json", manifest)
    return manifest
