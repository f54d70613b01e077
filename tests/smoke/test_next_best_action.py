"""aws-next-best-action on action interactions whose answer is known, served from its ONNX export, and
through the training entrypoint the SageMaker way."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from functions.serving.model_artifact import LoadedModel
from tests.smoke.conftest import REPO
from training.artifact import write_artifact
from training.data import Interactions, from_records
from training.recipes import get_recipe

pytestmark = pytest.mark.smoke

DAY = 86_400.0
# Two journeys: whoever takes the first action takes the second within days.
JOURNEYS = (("join", "download"), ("subscribe", "buy"))


def _rows(users: int = 260) -> list[tuple[str, str, float, str]]:
    rows = []
    for u in range(users):
        first, second = JOURNEYS[u % 2]
        t = 1_700_000_000 + u * 30 * DAY
        rows += [
            (f"u{u}", "rate", t, "VIEWED"),
            (f"u{u}", first, t + 60, "TAKEN"),
            (f"u{u}", "rate", t + DAY, "NOT_TAKEN"),
            (f"u{u}", second, t + 2 * DAY, "TAKEN"),
        ]
    return rows


@pytest.fixture(scope="module")
def data() -> Interactions:
    users, actions, stamps, events = zip(*_rows(), strict=True)
    return from_records(users, actions, stamps, events)


@pytest.fixture(scope="module")
def recipe(data: Interactions):
    fitted = get_recipe("aws-next-best-action")(seed=1)
    fitted.fit(data, "cpu")
    return fitted


def test_the_next_step_of_a_journey_ranks_first(recipe, data: Interactions) -> None:
    index = {action: i for i, action in enumerate(data.item_ids)}
    for first, second in JOURNEYS:
        top = recipe.recommend([np.asarray([index[first]])], 3)[0]
        assert data.item_ids[int(top[0])] == second


def test_declined_actions_score_low(recipe, data: Interactions) -> None:
    index = {action: i for i, action in enumerate(data.item_ids)}
    scores = recipe._scores([np.asarray([index["join"]])])[0]
    assert scores[index["download"]] > 0.5 > scores[index["rate"]]


def test_served_propensities_match_training(recipe, data: Interactions, tmp_path: Path) -> None:
    export = recipe.export(tmp_path)
    write_artifact(tmp_path, recipe, export, data, metrics={}, training={"interactions": data.n_interactions})
    model = LoadedModel.load(str(tmp_path))
    assert model.contract == "action_propensity"
    users = json.loads((tmp_path / "users.json").read_text())
    assert users["u0"] == [data.item_ids.index("join"), data.item_ids.index("download")]  # TAKEN only
    for user in ("u0", "u1", "never-seen"):
        history = [np.asarray(users.get(user, []), dtype=np.int64)]
        expected = recipe._scores(history)[0]
        assert np.allclose(model.action_scores(user, []), expected, atol=1e-5)


def test_entrypoint_trains_it_the_sagemaker_way(tmp_path: Path) -> None:
    channel = tmp_path / "input" / "data" / "interactions"
    channel.mkdir(parents=True)
    lines = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE"] + [f"{u},{a},{int(t)},{e}" for u, a, t, e in _rows()]
    (channel / "part-0000.csv").write_text("\n".join(lines) + "\n")
    config = tmp_path / "input" / "config"
    config.mkdir()
    (config / "hyperparameters.json").write_text(
        json.dumps({"tailor_recipe": "aws-next-best-action", "epochs": "5"})
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "training.entrypoint",
            "--input-dir",
            str(tmp_path / "input"),
            "--model-dir",
            str(tmp_path / "model"),
            "--output-dir",
            str(tmp_path / "output"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={"OMP_NUM_THREADS": "1", "PATH": ""},
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["contract"] == "action_propensity" and manifest["recipe_type"] == "PERSONALIZED_ACTIONS"
    assert manifest["hyperparameters"]["action_optimization_period"] == 14


def test_no_taken_events_is_a_clear_training_error(tmp_path: Path) -> None:
    rows = [(u, a, t, "VIEWED") for u, a, t, _ in _rows()]
    users, actions, stamps, events = zip(*rows, strict=True)
    with pytest.raises(Exception, match="TAKEN"):
        get_recipe("aws-next-best-action")(seed=1).fit(from_records(users, actions, stamps, events), "cpu")
