"""The recipes of issue 4's second wave, each on generated data whose answer is known.

- sequence recipes (aws-hrnn, aws-hrnn-metadata, aws-hrnn-coldstart, aws-ffnn, aws-personalized-ranking-v2):
  users who always follow item i with item i + 1 must get i + 1 first;
- aws-trending-now: the item whose interactions grow fastest in the last interval comes first, and the
  interval (``trend_discovery_frequency``) changes the answer;
- aws-similar-items: co-watched pairs are each other's nearest neighbours, and a cold item's neighbours
  share its genre;
- aws-hrnn-coldstart: an item without interactions, of the genre a user watches, outranks one of another
  genre, and it is in the served catalogue.

Every export passes the ONNX parity check (``export_and_verify`` raises otherwise), and the served artifact
(``LoadedModel``) must answer what the recipe computed. The last tests run the training entrypoint the
SageMaker way: directories, ``hyperparameters.json`` and the ``items`` channel.
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
from training.data import Interactions, from_records
from training.errors import HyperparameterError, TrainingDataError
from training.item_metadata import ItemMetadata, load_item_metadata
from training.recipes import get_recipe
from training.recipes.base import Recipe
from training.synthetic import SyntheticData, generate

pytestmark = pytest.mark.smoke

RING = 40  # items of the ring data set
GENRE_SIZE = 10  # ring items i .. i + 9 share a genre


def _ring_data(users: int = 80, steps: int = 25, seed: int = 1) -> Interactions:
    """Every user walks the ring of items: i, i + 1, i + 2, ... (mod RING), from a random start."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        start = int(rng.integers(RING))
        for step in range(steps):
            rows.append((f"u{u:03d}", f"r{(start + step) % RING:03d}", 1_600_000_000 + u * 1000 + step * 10))
    users_, items, stamps = zip(*rows, strict=True)
    return from_records(users_, items, stamps)


def _genres(data: Interactions) -> ItemMetadata:
    return ItemMetadata.from_columns(
        data.item_ids, {"GENRE": [f"g{int(item[1:]) // GENRE_SIZE}" for item in data.item_ids]}
    )


def _served_matches(recipe: Recipe, data: Interactions, tmp_path: Path, histories: list[np.ndarray]) -> None:
    """The exported artifact, loaded as the runtime loads it, gives the recipe's own top 10."""
    export = recipe.export(tmp_path)
    assert export.parity.max_abs_diff <= export.parity.atol
    write_artifact(tmp_path, recipe, export, data, metrics={}, training={"interactions": data.n_interactions})
    model = LoadedModel.load(str(tmp_path))
    for history in histories:
        expected = [data.item_ids[i] for i in recipe.recommend([history], 10)[0]]
        served = [item for item, _ in model.recommend_for_user(None, [data.item_ids[i] for i in history], 10)]
        assert served == expected


SEQUENCE_CASES = {
    "aws-hrnn": {"epochs": "10"},
    "aws-hrnn-metadata": {"epochs": "10"},
    # No ring item has fewer than one interaction, so every item is warm.
    "aws-hrnn-coldstart": {
        "epochs": "8",
        "hidden_dimension": "64",
        "cold_start_max_interactions": "1",
        "item_id_dropout": "0.1",
    },
    "aws-ffnn": {"epochs": "10"},
    # One target per step: with the default horizon of 4, i + 2 .. i + 4 are as right as i + 1.
    "aws-personalized-ranking-v2": {"epochs": "10", "target_horizon": "1", "learning_rate": "0.005"},
}


@pytest.mark.parametrize("name", sorted(SEQUENCE_CASES))
def test_sequence_recipe_learns_the_next_item(name: str, tmp_path: Path) -> None:
    data = _ring_data()
    cls = get_recipe(name)
    recipe = cls(cls.parse_hyperparameters(SEQUENCE_CASES[name]), seed=5)
    if hasattr(recipe, "set_item_metadata"):
        recipe.set_item_metadata(_genres(data))
    recipe.fit(data, "cpu")
    assert recipe.epochs_trained >= 1
    index = {item: i for i, item in enumerate(data.item_ids)}
    probes, expected = [], []
    for start in range(0, RING, 3):
        walk = [(start + step) % RING for step in range(6)]
        probes.append(np.asarray([index[f"r{i:03d}"] for i in walk], dtype=np.int64))
        expected.append(index[f"r{(walk[-1] + 1) % RING:03d}"])
    first = [int(r[0]) for r in recipe.recommend(probes, 5)]
    correct = sum(f == e for f, e in zip(first, expected, strict=True))
    assert correct >= 0.9 * len(probes), f"{name}: next item first for {correct}/{len(probes)} walks"
    _served_matches(recipe, data, tmp_path, probes[:4])


def test_hrnn_metadata_needs_item_metadata() -> None:
    recipe = get_recipe("aws-hrnn-metadata")(seed=1)
    with pytest.raises(TrainingDataError, match="needs item metadata"):
        recipe.fit(_ring_data(users=30), "cpu")


def _trending_data() -> Interactions:
    """Ten hours of interactions: a steady favourite, a rising item, a fading one and background items."""
    rng = np.random.default_rng(3)
    hour = 3600
    end = 1_700_000_000 + 10 * hour
    rows: list[tuple[str, str, float]] = []

    def add(item: str, count: int, low: float, high: float) -> None:
        for stamp in rng.uniform(low, high, size=count):
            rows.append((f"u{int(rng.integers(200)):03d}", item, float(stamp)))

    add("steady", 200, end - 10 * hour, end)  # ~20 per hour throughout: most popular, not trending
    add("rising", 2, end - 2 * hour, end - hour)
    add("rising", 25, end - hour, end)
    add("fading", 40, end - 2 * hour, end - hour)
    add("fading", 2, end - hour, end)
    for b in range(20):
        add(f"b{b:02d}", 10 + b, end - 10 * hour, end)
    rows.append(("u000", "steady", float(end)))  # the newest interaction closes the last interval
    users, items, stamps = zip(*rows, strict=True)
    return from_records(users, items, stamps)


def test_trending_now_ranks_the_fastest_growing_item_first(tmp_path: Path) -> None:
    data = _trending_data()
    cls = get_recipe("aws-trending-now")
    hourly = cls(cls.parse_hyperparameters({"trend_discovery_frequency": "1 hour"}), seed=1)
    hourly.fit(data, "cpu")
    ranking = [data.item_ids[i] for i in hourly.recommend([np.zeros(0, dtype=np.int64)], data.n_items)[0]]
    assert ranking[0] == "rising"
    assert ranking.index("fading") > ranking.index("steady")
    assert ranking[-1] == "fading"  # it lost most of its interactions: the steepest decline
    # Over one-day intervals all ten hours are "now" and nothing came before: the most interacted-with
    # item grows fastest from zero.
    daily = cls(cls.parse_hyperparameters({"trend_discovery_frequency": "1 day"}), seed=1)
    daily.fit(data, "cpu")
    assert data.item_ids[int(daily.recommend([np.zeros(0, dtype=np.int64)], 1)[0][0])] == "steady"
    # Served: the graph ignores the history; seen items are still excluded.
    seen = np.asarray([data.item_ids.index("steady")])
    _served_matches(hourly, data, tmp_path, [seen, np.asarray([data.item_ids.index("rising")])])


@pytest.mark.parametrize("value", ["5 minutes", "2h", ""])
def test_trending_now_rejects_undocumented_frequencies(value: str) -> None:
    with pytest.raises(HyperparameterError, match="trend_discovery_frequency"):
        get_recipe("aws-trending-now").parse_hyperparameters({"trend_discovery_frequency": value})


def _pair_data() -> tuple[Interactions, ItemMetadata]:
    """Items 2k and 2k + 1 are always watched back to back; users favour a genre (ten items, five pairs).

    Two cold items (one interaction each, by users of other genres) have a genre in the metadata.
    """
    rng = np.random.default_rng(4)
    rows = []
    per_genre = GENRE_SIZE // 2
    for u in range(100):
        clock = 1_600_000_000 + u * 1000
        own = (u % (RING // GENRE_SIZE)) * per_genre + rng.choice(per_genre, size=4, replace=False)
        pairs = np.concatenate([own, rng.choice(RING // 2, size=2, replace=False)])
        for step, pair in enumerate(pairs):
            rows.append((f"u{u:03d}", f"r{2 * pair:03d}", clock + 20 * step))
            rows.append((f"u{u:03d}", f"r{2 * pair + 1:03d}", clock + 20 * step + 10))
    rows.append(("u000", "c1", 1_700_000_000))  # u000 favours genre 0
    rows.append(("u002", "c3", 1_700_000_000))  # u002 favours genre 2
    users, items, stamps = zip(*rows, strict=True)
    data = from_records(users, items, stamps)
    genre = {"c1": "g1", "c3": "g3"}
    metadata = ItemMetadata.from_columns(
        data.item_ids, {"GENRE": [genre.get(i) or f"g{int(i[1:]) // GENRE_SIZE}" for i in data.item_ids]}
    )
    return data, metadata


def test_similar_items_pairs_and_genres_are_nearest_neighbours(tmp_path: Path) -> None:
    data, metadata = _pair_data()
    cls = get_recipe("aws-similar-items")
    recipe = cls(cls.parse_hyperparameters({"epochs": "3"}), seed=2)
    recipe.set_item_metadata(metadata)
    recipe.fit(data, "cpu")
    index = {item: i for i, item in enumerate(data.item_ids)}
    partners = sum(
        int(recipe.neighbor_index[index[f"r{i:03d}"], 0]) == index[f"r{i ^ 1:03d}"] for i in range(RING)
    )
    assert partners >= 0.95 * RING, f"{partners}/{RING} items have their co-watched partner first"
    for cold, genre in (("c1", 1), ("c3", 3)):
        top = [data.item_ids[i] for i in recipe.neighbor_index[index[cold], :5] if i >= 0]
        assert len(top) == 5 and all(int(item[1:]) // GENRE_SIZE == genre for item in top), (cold, top)

    export = recipe.export(tmp_path)
    write_artifact(tmp_path, recipe, export, data, metrics={}, training={"interactions": data.n_interactions})
    model = LoadedModel.load(str(tmp_path))
    served = model.similar_items("r004", 3)
    assert served[0][0] == "r005" and served[0][1] > 0
    # An unknown item gets popular items, scored 0 (they are not similar, only popular).
    unknown = model.similar_items("no-such-item", 3)
    assert [score for _, score in unknown] == [0.0, 0.0, 0.0]


def test_similar_items_without_metadata_uses_co_occurrence() -> None:
    data, _ = _pair_data()
    cls = get_recipe("aws-similar-items")
    # Partners are adjacent; a wide context window mostly sees the rest of the user's genre, which
    # without metadata blurs a partner with its genre-mates (5 steps: 33 of 40 partners first).
    recipe = cls(cls.parse_hyperparameters({"epochs": "3", "context_window": "2"}), seed=2)
    recipe.fit(data, "cpu")
    index = {item: i for i, item in enumerate(data.item_ids)}
    partners = sum(
        int(recipe.neighbor_index[index[f"r{i:03d}"], 0]) == index[f"r{i ^ 1:03d}"] for i in range(RING)
    )
    assert partners >= 0.95 * RING


# -- the training entrypoint, run the SageMaker way --------------------------------------------------
ITEMS_SCHEMA = {
    "type": "record",
    "name": "Items",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRE", "type": ["null", "string"], "categorical": True},
        {"name": "CREATION_TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}
COLD = {"cold-a0": 0, "cold-b0": 0, "cold-a1": 1, "cold-b1": 1, "cold-a2": 2, "cold-b2": 2}


def _write_items(channel: Path, synthetic: SyntheticData, schema: bool) -> None:
    channel.mkdir(parents=True, exist_ok=True)
    with (channel / "part-0000.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ITEM_ID", "GENRE", "CREATION_TIMESTAMP"])
        for item, cluster in {**synthetic.cluster_of_item, **COLD}.items():
            writer.writerow([item, f"genre-{cluster}", 1_600_000_000])
    if schema:
        (channel / "schema.json").write_text(json.dumps(json.dumps(ITEMS_SCHEMA)), encoding="utf-8")


@pytest.fixture(scope="module")
def clustered() -> SyntheticData:
    # Denser than the shared fixture (more interactions per item), so items are warm under the defaults.
    return generate(n_users=90, n_items=60, n_clusters=3, min_length=25, max_length=35, seed=12)


def test_entrypoint_hrnn_coldstart_recommends_cold_items_of_the_users_genre(
    tmp_path: Path, clustered: SyntheticData
) -> None:
    _write_items(tmp_path / "input" / "data" / "items", clustered, schema=True)
    result = run_entrypoint(
        tmp_path, {"tailor_recipe": "aws-hrnn-coldstart", "epochs": "4", "hidden_dimension": "64"}, clustered
    )
    assert result.returncode == 0, f"{result.failure}\n{result.stderr[-3000:]}"
    manifest = json.loads((result.model_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["recipe"] == "aws-hrnn-coldstart" and manifest["contract"] == "sequence_scores"
    assert manifest["parity"]["max_abs_diff"] <= manifest["parity"]["atol"]
    items = json.loads((result.model_dir / "items.json").read_text(encoding="utf-8"))
    assert set(COLD) <= set(items) and items == sorted(items)
    assert manifest["training"]["items"] == len(items) == 66
    model = LoadedModel.load(str(result.model_dir))
    wins = 0
    users = sorted(clustered.cluster_of_user)[:12]
    for user in users:
        scores, _ = model.user_scores(user, [])
        best = max(COLD, key=lambda item: scores[model.item_index[item]])
        wins += COLD[best] == clustered.cluster_of_user[user]
    assert wins >= 0.9 * len(users), f"the best cold item has the user's genre for {wins}/{len(users)} users"


def test_entrypoint_similar_items_reads_an_items_channel_without_schema(
    tmp_path: Path, clustered: SyntheticData
) -> None:
    channel = tmp_path / "input" / "data" / "items"
    _write_items(channel, clustered, schema=False)
    loaded = load_item_metadata(channel)
    genre = {**clustered.cluster_of_item, **COLD}
    assert loaded is not None and loaded.numeric_fields == []
    assert all(t == [f"GENRE=genre-{genre[i]}"] for i, t in zip(loaded.item_ids, loaded.tokens, strict=True))
    result = run_entrypoint(tmp_path, {"tailor_recipe": "aws-similar-items", "epochs": "2"}, clustered)
    assert result.returncode == 0, f"{result.failure}\n{result.stderr[-3000:]}"
    manifest = json.loads((result.model_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["contract"] == "item_neighbors" and manifest["recipe_type"] == "RELATED_ITEMS"
    assert set(json.loads((result.model_dir / "metrics.json").read_text(encoding="utf-8"))) >= {
        "coverage",
        "normalized_discounted_cumulative_gain_at_10",
    }
    model = LoadedModel.load(str(result.model_dir))
    item = sorted(clustered.cluster_of_item)[0]
    neighbours = [n for n, score in model.similar_items(item, 5) if score > 0]
    same = [clustered.cluster_of_item[n] == clustered.cluster_of_item[item] for n in neighbours]
    assert len(neighbours) == 5 and all(same)


def test_entrypoint_trending_now_takes_the_frequency_from_the_solution_config(
    tmp_path: Path, clustered: SyntheticData
) -> None:
    config = {"featureTransformationParameters": {"trend_discovery_frequency": "1 hour"}}
    result = run_entrypoint(
        tmp_path,
        {"tailor_recipe": "aws-trending-now", "tailor_solution_config": json.dumps(config)},
        clustered,
    )
    assert result.returncode == 0, f"{result.failure}\n{result.stderr[-3000:]}"
    manifest = json.loads((result.model_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["recipe_type"] == "POPULAR_ITEMS"
    assert manifest["hyperparameters"] == {"trend_discovery_frequency": "1 hour"}
    assert manifest["max_sequence_length"] == 1


def test_entrypoint_fails_a_metadata_recipe_without_items_by_name(
    tmp_path: Path, clustered: SyntheticData
) -> None:
    result = run_entrypoint(tmp_path, {"tailor_recipe": "aws-hrnn-metadata", "epochs": "1"}, clustered)
    assert result.returncode == 1
    assert result.failure is not None and "aws-hrnn-metadata needs item metadata" in result.failure
    assert not (result.model_dir / "manifest.json").exists()
