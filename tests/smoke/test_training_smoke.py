"""Each recipe trains through ``python -m training.entrypoint`` and its artifact serves sensibly."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from functions.serving.model_artifact import LoadedModel, UnsupportedRequestError
from tests.smoke.conftest import JobResult, run_entrypoint
from training.metrics import METRIC_KEYS
from training.synthetic import SyntheticData

pytestmark = pytest.mark.smoke

RECIPES = ("aws-popularity-count", "aws-sims", "aws-user-personalization")
CONTRACTS = {
    "aws-popularity-count": "sequence_scores",
    "aws-sims": "item_neighbors",
    "aws-user-personalization": "sequence_scores",
}


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory, synthetic: SyntheticData) -> dict[str, JobResult]:
    results = {}
    for recipe in RECIPES:
        result = run_entrypoint(tmp_path_factory.mktemp(recipe), {"tailor_recipe": recipe}, synthetic)
        assert result.returncode == 0, f"{recipe} failed: {result.failure}\n{result.stderr[-3000:]}"
        results[recipe] = result
    return results


@pytest.fixture(scope="module")
def models(jobs: dict[str, JobResult]) -> dict[str, LoadedModel]:
    return {recipe: LoadedModel.load(str(job.model_dir)) for recipe, job in jobs.items()}


def _read(job: JobResult, name: str) -> object:
    return json.loads((job.model_dir / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("recipe", RECIPES)
def test_artifact_files_and_manifest_contract(jobs: dict[str, JobResult], recipe: str) -> None:
    job = jobs[recipe]
    for name in ("manifest.json", "model.onnx", "items.json", "users.json", "popular.json", "metrics.json"):
        assert (job.model_dir / name).is_file(), name
    assert job.failure is None
    manifest = _read(job, "manifest.json")
    assert isinstance(manifest, dict)
    items = _read(job, "items.json")
    assert isinstance(items, list) and len(items) == 150 and items == sorted(items)
    assert manifest["format_version"] == 1
    assert manifest["recipe"] == recipe
    assert manifest["contract"] == CONTRACTS[recipe]
    assert manifest["onnx_file"] == "model.onnx"
    assert manifest["parity"]["max_abs_diff"] <= manifest["parity"]["atol"] <= 1e-3
    training = manifest["training"]
    assert training["device"] in ("cpu", "cuda")
    assert training["items"] == 150 and training["users"] == 70
    assert training["interactions"] == sum(len(v) for v in _read(job, "users.json").values())
    assert training["epochs"] >= 1 and training["seconds"] > 0
    if manifest["contract"] == "sequence_scores":
        length = manifest["max_sequence_length"]
        assert manifest["inputs"] == [{"name": "item_sequence", "dtype": "int64", "shape": ["batch", length]}]
        assert manifest["outputs"] == [{"name": "scores", "dtype": "float32", "shape": ["batch", 150]}]
    else:
        assert manifest["inputs"] == [{"name": "item_index", "dtype": "int64", "shape": ["batch"]}]
        k = manifest["outputs"][0]["shape"][1]
        assert manifest["outputs"] == [
            {"name": "neighbor_index", "dtype": "int64", "shape": ["batch", k]},
            {"name": "neighbor_score", "dtype": "float32", "shape": ["batch", k]},
        ]
    popular = _read(job, "popular.json")
    assert isinstance(popular, dict)
    assert popular["counts"] == sorted(popular["counts"], reverse=True)
    assert len(popular["items"]) == len(popular["counts"]) == 150


@pytest.mark.parametrize("recipe", RECIPES)
def test_metrics_and_progress(jobs: dict[str, JobResult], recipe: str) -> None:
    job = jobs[recipe]
    metrics = _read(job, "metrics.json")
    assert isinstance(metrics, dict)
    assert sorted(metrics) == sorted(METRIC_KEYS)
    assert all(0.0 <= value <= 1.0 for value in metrics.values())
    events = job.events()
    kinds = [event["event"] for event in events]
    assert kinds[0] == "start" and kinds[-1] == "completed"
    assert "metrics" in kinds and "export" in kinds
    epochs = [event for event in events if event["event"] == "epoch" and event["phase"] == "evaluation"]
    assert epochs and all("loss" in event and "ndcg_at_10" in event for event in epochs)
    stdout_events = [json.loads(line) for line in job.stdout.splitlines() if line.startswith("{")]
    assert stdout_events == events


@pytest.mark.parametrize("recipe", ["aws-sims", "aws-user-personalization"])
def test_learned_recipes_beat_popularity(jobs: dict[str, JobResult], recipe: str) -> None:
    baseline = _read(jobs["aws-popularity-count"], "metrics.json")
    learned = _read(jobs[recipe], "metrics.json")
    assert isinstance(baseline, dict) and isinstance(learned, dict)
    key = "normalized_discounted_cumulative_gain_at_10"
    assert learned[key] > baseline[key] + 0.1, (learned, baseline)


@pytest.mark.parametrize("recipe", ["aws-popularity-count", "aws-user-personalization"])
def test_recommendations_exclude_seen_items(
    models: dict[str, LoadedModel], synthetic: SyntheticData, recipe: str
) -> None:
    model = models[recipe]
    for user in ("u0000", "u0001", "u0002"):
        seen = {model.items[i] for i in model.histories[user]}
        recommended = model.recommend_for_user(user, [], 20)
        assert len(recommended) == 20
        assert not seen & {item for item, _ in recommended}
        scores = [score for _, score in recommended]
        assert scores == sorted(scores, reverse=True)
        assert all(0.0 <= score <= 1.0 for score in scores) and sum(scores) <= 1.0 + 1e-6


def test_user_personalization_recommends_the_users_cluster(
    models: dict[str, LoadedModel], synthetic: SyntheticData
) -> None:
    model = models["aws-user-personalization"]
    hits = []
    for user, cluster in list(synthetic.cluster_of_user.items())[:30]:
        recommended = [item for item, _ in model.recommend_for_user(user, [], 10)]
        hits.append(np.mean([synthetic.cluster_of_item[item] == cluster for item in recommended]))
    assert np.mean(hits) > 0.8


def test_extra_history_is_used_and_excluded(models: dict[str, LoadedModel], synthetic: SyntheticData) -> None:
    model = models["aws-user-personalization"]
    cluster_items = [item for item, c in synthetic.cluster_of_item.items() if c == 2][:5]
    recommended = model.recommend_for_user(None, [*cluster_items, "never-seen-item"], 10)
    ids = [item for item, _ in recommended]
    assert len(ids) == 10 and not set(ids) & set(cluster_items)
    # Five items of cluster 2 are the whole history of this anonymous user: that is what it should follow.
    assert Counter(synthetic.cluster_of_item[item] for item in ids).most_common(1)[0][0] == 2


def test_cold_start_gets_popular_items(models: dict[str, LoadedModel]) -> None:
    model = models["aws-user-personalization"]
    expected = [model.items[i] for i in model.popular_items[:5]]
    for user in (None, "somebody-new"):
        recommended = model.recommend_for_user(user, ["unknown-item"], 5)
        assert [item for item, _ in recommended] == expected
        assert all(0.0 < score < 1.0 for _, score in recommended)


def test_similar_items_come_from_the_items_cluster(
    models: dict[str, LoadedModel], synthetic: SyntheticData
) -> None:
    model = models["aws-sims"]
    shares = []
    for item in ("i0003", "i0060", "i0120", "i0149"):
        similar = model.similar_items(item, 10)
        assert len(similar) == 10 and item not in {i for i, _ in similar}
        shares.append(
            np.mean([synthetic.cluster_of_item[i] == synthetic.cluster_of_item[item] for i, _ in similar])
        )
    assert np.mean(shares) >= 0.8


def test_similar_items_fall_back_to_popular(models: dict[str, LoadedModel]) -> None:
    model = models["aws-sims"]
    unknown = model.similar_items("no-such-item", 7)
    assert [item for item, _ in unknown] == [model.items[i] for i in model.popular_items[:7]]
    assert all(score == 0.0 for _, score in unknown)
    many = model.similar_items("i0003", 140)
    assert len(many) == 140 and len({item for item, _ in many}) == 140


def test_requests_for_the_other_recipe_type_are_refused(models: dict[str, LoadedModel]) -> None:
    with pytest.raises(UnsupportedRequestError):
        models["aws-sims"].recommend_for_user("u0000", [], 5)
    with pytest.raises(UnsupportedRequestError):
        models["aws-user-personalization"].similar_items("i0003", 5)


def test_too_little_data_fails_with_a_readable_reason(tmp_path: Path, synthetic: SyntheticData) -> None:
    result = run_entrypoint(tmp_path, {"tailor_recipe": "aws-sims"}, synthetic, rows=synthetic.rows[:512])
    assert result.returncode == 1
    assert result.failure is not None
    assert "not enough interactions: found 512, need at least 1000" in result.failure
    assert result.failure.count("\n") == 1
    assert not (result.model_dir / "manifest.json").exists()
    assert result.events()[-1]["event"] == "failed"


def test_threshold_without_event_values_fails_with_a_reason(tmp_path: Path, synthetic: SyntheticData) -> None:
    config = {
        "tailor_recipe": "aws-popularity-count",
        "tailor_solution_config": json.dumps({"eventValueThreshold": "1"}),
    }
    result = run_entrypoint(tmp_path, config, synthetic)
    assert result.returncode == 1
    assert result.failure is not None and "EVENT_VALUE" in result.failure


def test_unknown_recipe_fails_with_the_available_names(tmp_path: Path, synthetic: SyntheticData) -> None:
    result = run_entrypoint(tmp_path, {"tailor_recipe": "aws-semantic-similarity"}, synthetic)
    assert result.returncode == 1
    assert result.failure is not None
    assert "Unknown recipe 'aws-semantic-similarity'" in result.failure
    assert "aws-user-personalization" in result.failure


def test_unknown_hyperparameter_fails_naming_it(tmp_path: Path, synthetic: SyntheticData) -> None:
    solution = {"algorithmHyperParameters": {"hidden_dimension": "64", "hiden_dimension": "32"}}
    config = {"tailor_recipe": "aws-user-personalization", "tailor_solution_config": json.dumps(solution)}
    result = run_entrypoint(tmp_path, config, synthetic)
    assert result.returncode == 1
    assert result.failure is not None and "'hiden_dimension'" in result.failure
