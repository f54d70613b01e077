"""trainingMode UPDATE through the entrypoint: warm start from a FULL model, with new items in the data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from functions.serving.model_artifact import LoadedModel
from tests.smoke.conftest import JobResult, full_then_update, run_entrypoint, with_new_items
from training.synthetic import SyntheticData
from training.warm_start import STATE_FILE, UPDATE_EPOCHS

pytestmark = pytest.mark.smoke

RECIPE = "aws-user-personalization"
NEW_ITEMS = [f"n{i:04d}" for i in range(5)]


@pytest.fixture(scope="module")
def full_and_update(
    tmp_path_factory: pytest.TempPathFactory, synthetic: SyntheticData
) -> tuple[JobResult, JobResult]:
    # Two thirds of cluster 0's users go on to watch the new items.
    takers = 2 * sum(c == 0 for c in synthetic.cluster_of_user.values()) // 3
    rows = with_new_items(synthetic, NEW_ITEMS, takers)
    return full_then_update(tmp_path_factory, {"tailor_recipe": RECIPE}, synthetic, rows)


def _manifest(job: JobResult) -> dict:
    return json.loads((job.model_dir / "manifest.json").read_text(encoding="utf-8"))


def test_full_training_keeps_the_parameters_an_update_starts_from(full_and_update) -> None:
    full, _ = full_and_update
    assert (full.model_dir / STATE_FILE).is_file()


def test_update_warm_starts_and_trains_far_less(full_and_update) -> None:
    full, update = full_and_update
    events = update.events()
    [announced] = [e for e in events if e["event"] == "update"]
    assert announced["mode"] == "warm_start"
    assert (announced["known_items"], announced["new_items"]) == (150, len(NEW_ITEMS))
    # No held-out evaluation fit, and UPDATE_EPOCHS epochs instead of the full run's 3 + 3.
    assert not any(e["event"] == "epoch" and e["phase"] == "evaluation" for e in events)
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == list(range(1, UPDATE_EPOCHS + 1))
    assert len([e for e in full.events() if e["event"] == "epoch"]) == 6
    manifest = _manifest(update)
    assert manifest["training"]["mode"] == "UPDATE" and manifest["training"]["epochs"] == UPDATE_EPOCHS
    assert manifest["hyperparameters"] == _manifest(full)["hyperparameters"]
    # The evaluation is not repeated: the version reports the metrics it was updated from.
    metrics = [json.loads((j.model_dir / "metrics.json").read_text()) for j in (full, update)]
    assert metrics[0] == metrics[1]


def test_the_updated_model_recommends_new_items(full_and_update) -> None:
    _, update = full_and_update
    model = LoadedModel.load(str(update.model_dir))
    assert set(NEW_ITEMS) <= set(model.items)
    # Cluster-0 users who have not seen the new items, after watching the first of them.
    users = json.loads((update.model_dir / "users.json").read_text())
    fresh = [
        user
        for user, history in users.items()
        if int(user[1:]) % 3 == 0 and not {model.items[i] for i in history} & set(NEW_ITEMS)
    ]
    assert len(fresh) >= 4
    hits = 0
    for user in fresh:
        top = [item for item, _ in model.recommend_for_user(user, [NEW_ITEMS[0]], 10)]
        hits += bool(set(top) & set(NEW_ITEMS[1:]))
    assert hits >= len(fresh) // 2, f"{hits} of {len(fresh)} users were offered a new item"


def test_update_without_the_previous_model_fails_with_a_reason(
    tmp_path: Path, synthetic: SyntheticData
) -> None:
    job = run_entrypoint(tmp_path, {"tailor_recipe": RECIPE, "tailor_training_mode": "UPDATE"}, synthetic)
    assert job.returncode == 1
    assert "trainingMode UPDATE needs the previous solution version's model" in (job.failure or "")
