"""aws-user-personalization-v2 (the transformer): a known answer, ONNX parity, and a SageMaker-style job.

The generic recipe contract (unique unseen recommendations, served artifact equal to training's) runs for
this recipe too, from ``test_recipe_contract.py``, because it iterates over every registered recipe.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from functions.serving.model_artifact import LoadedModel
from tests.smoke.conftest import REPO
from training.artifact import write_artifact
from training.data import Interactions, from_records
from training.errors import HyperparameterError
from training.metrics import METRIC_KEYS
from training.recipes import get_recipe
from training.recipes.sequence_training import collapsed_sequences
from training.recipes.user_personalization_v2 import (
    UserPersonalizationV2Hyperparameters,
    UserPersonalizationV2Recipe,
)
from training.synthetic import SyntheticData, write_csv

pytestmark = pytest.mark.smoke

N_ITEMS = 40
SMALL = {"hidden_dimension": "32", "max_sequence_length": "8", "epochs": "30", "learning_rate": "0.005"}


def _successor_rows(n_users: int = 60, seed: int = 1) -> list[tuple[str, str, int, str]]:
    """Every user walks the items in order (i is always followed by i + 1, wrapping), from a random start."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        start = int(rng.integers(N_ITEMS))
        for step in range(int(rng.integers(12, 20))):
            rows.append((f"u{u:03d}", f"i{(start + step) % N_ITEMS:03d}", 1_600_000_000 + step, "click"))
    return rows


@pytest.fixture(scope="module")
def successor_data() -> Interactions:
    users, items, stamps, events = zip(*_successor_rows(), strict=True)
    return from_records(users, items, stamps, events)


@pytest.fixture(scope="module")
def trained(successor_data: Interactions) -> UserPersonalizationV2Recipe:
    cls = get_recipe("aws-user-personalization-v2")
    recipe = cls(cls.parse_hyperparameters(SMALL), seed=7)
    assert isinstance(recipe, UserPersonalizationV2Recipe)
    recipe.fit(successor_data, "cpu")
    return recipe


def test_users_who_follow_i_with_i_plus_1_get_i_plus_1_first(
    trained: UserPersonalizationV2Recipe, successor_data: Interactions
) -> None:
    index = {item: i for i, item in enumerate(successor_data.item_ids)}
    histories, expected = [], []
    for last in range(N_ITEMS):
        walk = [f"i{(last - back) % N_ITEMS:03d}" for back in range(4, -1, -1)]
        histories.append(np.array([index[item] for item in walk], dtype=np.int64))
        expected.append(index[f"i{(last + 1) % N_ITEMS:03d}"])
    first = [int(top[0]) for top in trained.recommend(histories, 5)]
    assert first == expected


def test_onnx_export_passes_parity_and_serves_the_same_list(
    trained: UserPersonalizationV2Recipe, successor_data: Interactions, tmp_path: Path
) -> None:
    export = trained.export(tmp_path)
    assert export.contract.name == "sequence_scores"
    assert export.max_sequence_length == 8
    assert export.parity.max_abs_diff <= export.parity.atol == 1e-4
    write_artifact(tmp_path, trained, export, successor_data, metrics={}, training={"interactions": 1})
    model = LoadedModel.load(str(tmp_path))
    for user in range(0, successor_data.n_users, 6):
        history = successor_data.history(user)
        expected = [successor_data.item_ids[i] for i in trained.recommend([history], 10)[0]]
        served = [item for item, _ in model.recommend_for_user(successor_data.user_ids[user], [], 10)]
        assert served == expected


def test_apply_recency_bias_weights_newer_steps_more(successor_data: Interactions) -> None:
    cls = get_recipe("aws-user-personalization-v2")
    biased = cls.parse_hyperparameters({})
    flat = cls.parse_hyperparameters({"apply_recency_bias": "false"})
    assert isinstance(biased, UserPersonalizationV2Hyperparameters) and biased.apply_recency_bias
    assert isinstance(flat, UserPersonalizationV2Hyperparameters) and not flat.apply_recency_bias
    # What fit trains on: the collapsed sequences, each step weighted by its timestamp's percentile.
    sequences, weights, _ = collapsed_sequences(successor_data, biased.apply_recency_bias)
    _, flat_weights, _ = collapsed_sequences(successor_data, flat.apply_recency_bias)
    assert all((np.diff(w) >= 0).all() and w[-1] > w[0] for w in weights)
    assert all(0.5 <= w.min() and w.max() <= 1.5 for w in weights)
    assert all((w == 1.0).all() for w in flat_weights)
    assert [len(s) for s in sequences] == [len(w) for w in flat_weights]


def test_hyperparameters_are_validated() -> None:
    cls = get_recipe("aws-user-personalization-v2")
    with pytest.raises(HyperparameterError, match="multiple of num_heads"):
        cls.parse_hyperparameters({"hidden_dimension": "30", "num_heads": "4"})
    with pytest.raises(HyperparameterError, match="apply_recency_bias"):
        cls.parse_hyperparameters({"apply_recency_bias": "maybe"})
    with pytest.raises(HyperparameterError, match="Unknown hyperparameter 'bptt'"):
        cls.parse_hyperparameters({"bptt": "8"})


def test_training_job_runs_the_sagemaker_way(tmp_path: Path, synthetic: SyntheticData) -> None:
    """`<image> train` with SageMaker's directories from SM_* variables and the hyperparameters file."""
    input_dir, model_dir, output_dir = tmp_path / "input", tmp_path / "model", tmp_path / "output"
    (input_dir / "config").mkdir(parents=True)
    hyperparameters = {"tailor_recipe": "arn:aws:personalize:::recipe/aws-user-personalization-v2", **SMALL}
    hyperparameters["epochs"] = "3"
    (input_dir / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters), encoding="utf-8")
    write_csv(synthetic, input_dir / "data" / "interactions" / "part-00000.csv")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "SM_INPUT_DIR": str(input_dir),
        "SM_MODEL_DIR": str(model_dir),
        "SM_OUTPUT_DIR": str(output_dir),
    }
    completed = subprocess.run(
        [sys.executable, "-m", "training.entrypoint", "train"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert not (output_dir / "failure").exists()
    manifest = json.loads((model_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["recipe"] == "aws-user-personalization-v2"
    assert manifest["contract"] == "sequence_scores"
    assert manifest["max_sequence_length"] == 8
    assert manifest["inputs"] == [{"name": "item_sequence", "dtype": "int64", "shape": ["batch", 8]}]
    assert manifest["outputs"] == [{"name": "scores", "dtype": "float32", "shape": ["batch", 150]}]
    assert manifest["hyperparameters"]["apply_recency_bias"] is True
    assert manifest["training"]["epochs"] == 3
    metrics = json.loads((model_dir / "metrics.json").read_text(encoding="utf-8"))
    assert sorted(metrics) == sorted(METRIC_KEYS)
    # The clustered synthetic data is learnable: far above popularity's NDCG@10 on it (about 0.1).
    assert metrics["normalized_discounted_cumulative_gain_at_10"] > 0.4
    events = [json.loads(line) for line in (output_dir / "progress.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in events if e["event"] == "epoch" and e["phase"] == "evaluation"] == [1, 2, 3]
    model = LoadedModel.load(str(model_dir))
    recommended = model.recommend_for_user("u0000", [], 10)
    assert len(recommended) == 10
    assert not {model.items[i] for i in model.histories["u0000"]} & {item for item, _ in recommended}
