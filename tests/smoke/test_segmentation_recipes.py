"""The USER_SEGMENTATION recipes (aws-item-affinity, aws-item-attribute-affinity) on known answers.

The generated data puts each user in one of three clusters and has them interact mostly with that
cluster's items, so the users of cluster c must make the segment of every item of cluster c, and, for
the attribute recipe, of the genre "cluster c" and of items of that genre nobody interacted with yet
(scored from their metadata alone). The exported graph is served by the runtime's ``LoadedModel``, which
must give the segments the recipe computed in training (the ONNX parity check, end to end).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from functions.serving.model_artifact import LoadedModel
from tests.smoke.conftest import run_entrypoint
from training.artifact import write_artifact
from training.data import Interactions, from_records, with_items
from training.errors import TrainingDataError
from training.item_metadata import ItemMetadata
from training.metrics import METRIC_KEYS
from training.recipes import RECIPES, get_recipe
from training.recipes.item_affinity import ItemAffinityRecipe
from training.segmentation import evaluate_segments, segmentation_split
from training.synthetic import SyntheticData, generate

pytestmark = pytest.mark.smoke

SEGMENTATION = sorted(name for name, info in RECIPES.items() if info.recipe_type == "USER_SEGMENTATION")
FAST = {"hidden_dimension": "32", "epochs": "10"}
COLD = {"cold-0": 0, "cold-1": 1, "cold-2": 2}  # in the Items dataset, no interactions


@pytest.fixture(scope="module")
def clustered() -> SyntheticData:
    # 30 users per cluster of 50 items, ~20 items each: an item's cluster has users who have not taken it.
    return generate(n_users=90, n_items=150, n_clusters=3, min_length=20, max_length=30, seed=21)


@pytest.fixture(scope="module")
def data(clustered: SyntheticData) -> Interactions:
    users, items, stamps, events = zip(*clustered.rows, strict=True)
    return with_items(from_records(users, items, stamps, events), COLD)


def genre_of(clustered: SyntheticData, item: str) -> int:
    return {**clustered.cluster_of_item, **COLD}[item]


@pytest.fixture(scope="module")
def metadata(data: Interactions, clustered: SyntheticData) -> ItemMetadata:
    genres = [f"cluster{genre_of(clustered, item)}" for item in data.item_ids]
    return ItemMetadata.from_columns(data.item_ids, {"GENRE": genres})


def fit(name: str, data: Interactions, metadata: ItemMetadata, seed: int = 3) -> ItemAffinityRecipe:
    cls = get_recipe(name)
    recipe = cls(cls.parse_hyperparameters(FAST), seed=seed)
    assert isinstance(recipe, ItemAffinityRecipe)
    if hasattr(recipe, "set_item_metadata"):
        recipe.set_item_metadata(metadata)
    recipe.fit(data, "cpu")
    return recipe


@pytest.fixture(scope="module")
def fitted(data: Interactions, metadata: ItemMetadata) -> dict[str, ItemAffinityRecipe]:
    return {name: fit(name, data, metadata) for name in SEGMENTATION}


def test_both_recipes_are_registered_as_documented() -> None:
    assert SEGMENTATION == ["aws-item-affinity", "aws-item-attribute-affinity"]
    for name in SEGMENTATION:
        info = RECIPES[name]
        assert info.default_hyperparameters["hidden_dimension"] == "149"
        assert (info.hyperparameter_ranges["hidden_dimension"]["min"], info.hyperparameter_ranges[
            "hidden_dimension"]["max"]) == (32, 256)  # fmt: skip
        # "You can't use hyperparameter optimization (HPO)" with either recipe.
        assert not any(r["tunable"] for r in info.hyperparameter_ranges.values())
    assert RECIPES["aws-item-affinity"].required_datasets == ("INTERACTIONS",)
    assert RECIPES["aws-item-attribute-affinity"].required_datasets == ("INTERACTIONS", "ITEMS")
    assert RECIPES["aws-item-attribute-affinity"].feature_transformation_arn.endswith(
        "/item-attribute-affinity"
    )


@pytest.mark.parametrize("name", SEGMENTATION)
def test_an_items_segment_is_its_clusters_users(
    fitted: dict[str, ItemAffinityRecipe], data: Interactions, clustered: SyntheticData, name: str
) -> None:
    warm = [i for i, item in enumerate(data.item_ids) if item not in COLD]
    segments = fitted[name].segment(warm, 10)
    hits = [
        np.mean(
            [
                clustered.cluster_of_user[data.user_ids[u]] == genre_of(clustered, data.item_ids[i])
                for u in seg
            ]
        )
        for i, seg in zip(warm, segments, strict=True)
    ]
    assert all(len(seg) == 10 and len(set(seg.tolist())) == 10 for seg in segments)
    assert np.mean(hits) >= 0.95, f"{name}: {np.mean(hits):.2f} of segment users are in the item's cluster"


def test_attribute_affinity_segments_cold_items_by_their_metadata(
    fitted: dict[str, ItemAffinityRecipe], data: Interactions, clustered: SyntheticData
) -> None:
    cold = [data.item_ids.index(item) for item in COLD]
    for item, segment in zip(COLD, fitted["aws-item-attribute-affinity"].segment(cold, 10), strict=True):
        clusters = [clustered.cluster_of_user[data.user_ids[u]] for u in segment]
        assert clusters.count(COLD[item]) >= 9, f"{item} (genre {COLD[item]}): segment clusters {clusters}"


def test_attribute_affinity_needs_usable_item_metadata(data: Interactions) -> None:
    recipe = get_recipe("aws-item-attribute-affinity")(seed=1)
    with pytest.raises(TrainingDataError, match="needs the Items dataset"):
        recipe.fit(data, "cpu")
    recipe.set_item_metadata(ItemMetadata.from_columns(data.item_ids, {"GENRE": data.item_ids}))  # type: ignore[attr-defined]
    with pytest.raises(TrainingDataError, match="no usable item metadata"):
        recipe.fit(data, "cpu")


@pytest.mark.parametrize("name", SEGMENTATION)
def test_served_segments_match_training(
    fitted: dict[str, ItemAffinityRecipe], data: Interactions, tmp_path: Path, name: str
) -> None:
    recipe = fitted[name]
    export = recipe.export(tmp_path)
    assert export.contract.name == "user_affinity" and export.parity.max_abs_diff <= export.parity.atol
    write_artifact(tmp_path, recipe, export, data, metrics={}, training={"interactions": data.n_interactions})
    model = LoadedModel.load(str(tmp_path))
    assert model.users == data.user_ids and len(model.item_counts) == data.n_items
    assert model.repeat_factor == pytest.approx(recipe.repeat_factor)
    for item in range(0, data.n_items, 7):
        graph = model.session.run(None, {"item_index": np.asarray([item], dtype=np.int64)})[0][0]
        assert np.allclose(graph, recipe.user_log_affinity([item])[0], atol=1e-4)
        served = model.segment_log_probabilities([item])
        assert np.allclose(served, recipe.segment_scores([item])[0], atol=1e-4)
        expected = [data.user_ids[u] for u in recipe.segment([item], 10)[0]]
        assert [user for user, _ in model.segment([item], 10)] == expected
    # A filter's mask removes users and nothing else.
    allowed = np.arange(len(model.users)) % 2 == 0
    mixed = model.segment(list(range(6)), len(model.users), allowed)
    assert {user for user, _ in mixed} == {u for u, ok in zip(model.users, allowed, strict=True) if ok}


def test_users_who_took_the_item_come_last_when_nobody_repeats(
    fitted: dict[str, ItemAffinityRecipe], data: Interactions
) -> None:
    recipe = fitted["aws-item-affinity"]
    assert recipe.repeat_factor == pytest.approx(1e-6)  # the generated users never take an item twice
    for item in range(0, 60, 5):
        takers = set(recipe.taken[item].tolist())
        ranking = recipe.segment([item], data.n_users)[0].tolist()
        assert set(ranking[len(ranking) - len(takers) :]) == takers and len(ranking) == data.n_users


def test_offline_metrics_beat_the_most_active_users(
    fitted: dict[str, ItemAffinityRecipe], data: Interactions, metadata: ItemMetadata
) -> None:
    split = segmentation_split(data)
    lengths = data.history_lengths()
    # 80% of each user's interactions train, the newest 20% are the truth.
    assert split.train.n_interactions == int(sum(n - max(1, int(n * 0.2)) for n in lengths if n >= 2))
    model = fit("aws-item-affinity", split.train, metadata)
    metrics = evaluate_segments(model, split, data.n_users, seed=1)
    assert set(metrics) == set(METRIC_KEYS)

    class MostActive:
        def segment(self, items: list[int], k: int) -> list[np.ndarray]:
            order = np.lexsort((np.arange(data.n_users), -split.train.history_lengths()))[:k]
            return [order for _ in items]

    baseline = evaluate_segments(MostActive(), split, data.n_users, seed=1)  # type: ignore[arg-type]
    for key in ("precision_at_10", "normalized_discounted_cumulative_gain_at_10"):
        assert metrics[key] > 3 * baseline[key], (
            f"{key}: model {metrics[key]:.3f}, baseline {baseline[key]:.3f}"
        )


def test_entrypoint_trains_attribute_affinity_with_an_items_channel(
    tmp_path: Path, clustered: SyntheticData
) -> None:
    channel = tmp_path / "input" / "data" / "items"
    channel.mkdir(parents=True)
    with (channel / "items.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ITEM_ID", "GENRE"])
        for item in [*clustered.cluster_of_item, *COLD]:
            writer.writerow([item, f"cluster{genre_of(clustered, item)}"])
    result = run_entrypoint(tmp_path, {"tailor_recipe": "aws-item-attribute-affinity", **FAST}, clustered)
    assert result.returncode == 0, f"{result.failure}\n{result.stderr[-3000:]}"
    manifest = json.loads((result.model_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["recipe_type"] == "USER_SEGMENTATION" and manifest["contract"] == "user_affinity"
    assert manifest["outputs"] == [{"name": "user_scores", "dtype": "float32", "shape": ["batch", 90]}]
    assert manifest["evaluation"]["test_items"] > 0
    metrics = json.loads((result.model_dir / "metrics.json").read_text(encoding="utf-8"))
    assert set(metrics) == set(METRIC_KEYS) and metrics["precision_at_10"] > 0
    model = LoadedModel.load(str(result.model_dir))
    assert set(COLD) <= set(model.items)
    segment = [user for user, _ in model.segment([model.item_index["cold-1"]], 10)]
    assert sum(clustered.cluster_of_user[user] == 1 for user in segment) >= 9
