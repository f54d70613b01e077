"""The recipes that read the Users dataset and interaction context (aws-deepfm, aws-hrnn-metadata,
aws-user-personalization and -v2), on data whose answer is known.

Every user's history mixes all items, so the history cannot say what comes next; two other facts do:
- the context: on DEVICE=mobile a user picks one of items 0-19, on desktop one of items 20-39;
- the user's record: users whose Users row says SEGMENT=even pick even items, SEGMENT=odd odd ones.
So for a user the model has never seen, with a live history, the record plus the request's context must
pick the quarter of the catalogue the data says, and the served artifact (``LoadedModel``, as a
campaign loads it) must answer exactly what the recipe computed. The same data then goes through the
training entrypoint with a ``users`` channel and a DEVICE column, as the control plane writes them.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from functions.serving.model_artifact import LoadedModel, ModelArtifactError
from tests.smoke.conftest import REPO, full_then_update
from training.artifact import write_artifact
from training.data import Interactions, from_records
from training.item_metadata import ItemMetadata
from training.recipes import get_recipe
from training.recipes.deepfm import DeepFmRecipe
from training.recipes.hrnn import HrnnMetadataRecipe
from training.synthetic import SyntheticData

pytestmark = pytest.mark.smoke

N_ITEMS, N_USERS, STEPS = 40, 120, 24
FAST = {"epochs": "8", "learning_rate": "0.01", "history_length": "8", "embedding_dimension": "16"}


def _quarter(segment: str, device: str) -> set[int]:
    low = 0 if device == "mobile" else 20
    return {i for i in range(low, low + 20) if i % 2 == (0 if segment == "even" else 1)}


def _data() -> tuple[Interactions, dict[str, dict[str, str]]]:
    rng = np.random.default_rng(5)
    users, items, stamps, devices = [], [], [], []
    records: dict[str, dict[str, str]] = {}
    for u in range(N_USERS):
        user = f"u{u:03d}"
        segment = "even" if u % 2 == 0 else "odd"
        records[user] = {"SEGMENT": segment, "AGE": str(20 + u % 40)}
        for step in range(STEPS):
            device = "mobile" if rng.random() < 0.5 else "desktop"
            users.append(user)
            items.append(f"i{int(rng.choice(sorted(_quarter(segment, device)))):02d}")
            stamps.append(1_600_000_000 + u * 1000 + step)
            devices.append(device)
    return from_records(users, items, stamps, context={"DEVICE": devices}), records


UNKNOWN = np.zeros(1, dtype=np.int64)  # DeepFM's user index of a user it did not train on


def _check_served_quarters(model: LoadedModel, data: Interactions, space: Any, recipe_logits: Any) -> None:
    """For a new user with each segment's record and each device's context: the served top 5 are the
    quarter the data says, and the served scores are the recipe's (``recipe_logits(history, tokens)``)."""
    index = {item: i for i, item in enumerate(data.item_ids)}
    for segment, start in (("even", 0), ("odd", 1)):
        # A history of the segment's items from both halves: it says the parity, never the device.
        history_ids = [f"i{i:02d}" for i in (start + 2, start + 24, start + 8, start + 30)]
        history = np.asarray([index[i] for i in history_ids])
        for device in ("mobile", "desktop"):
            record, context = {"SEGMENT": segment, "AGE": "33"}, {"DEVICE": device}
            scores, _ = model.user_scores("someone-new", history_ids, record, context)
            best = [model.items[i] for i in np.argsort(-scores) if model.items[i] not in history_ids][:5]
            assert set(best) <= {f"i{i:02d}" for i in _quarter(segment, device)}, (segment, device, best)
            logits = recipe_logits(history, space.encode([record], [context]))
            want = np.exp(logits - logits.max())
            np.testing.assert_allclose(scores, want / want.sum(), atol=1e-5)


def test_user_record_and_context_pick_what_the_data_says_and_are_served_the_same(tmp_path: Path) -> None:
    data, records = _data()
    recipe = DeepFmRecipe(DeepFmRecipe.parse_hyperparameters(FAST), seed=1)
    recipe.set_user_metadata(records, {"SEGMENT": "categorical", "AGE": "numeric"})
    recipe.fit(data)
    space = recipe.feature_space
    assert {"USERS.SEGMENT=even", "USERS.SEGMENT=odd", "CONTEXT.DEVICE=mobile"} <= set(space.vocabulary)
    assert any(token.startswith("USERS.AGE#") for token in space.vocabulary)

    export = recipe.export(tmp_path)
    assert [spec.name for spec in export.contract.inputs] == ["item_sequence", "user_index", "feature_tokens"]
    assert export.parity.max_abs_diff <= export.parity.atol
    write_artifact(tmp_path, recipe, export, data, metrics={}, training={"interactions": data.n_interactions})
    model = LoadedModel.load(str(tmp_path))

    _check_served_quarters(model, data, recipe.feature_space, lambda h, t: recipe.scores([h], UNKNOWN, t)[0])
    # Without record or context the graph still answers (all tokens 0).
    assert len(model.recommend_for_user(None, ["i02", "i24"], 5)) == 5

    # A history of both parities (its latest item odd) says less about the segment: the record moves the
    # mass towards its items.
    mixed = ["i02", "i03", "i24", "i25"]
    even_items = np.asarray([int(item[1:]) % 2 == 0 for item in data.item_ids])
    mass = {}
    for segment in ("even", "odd"):
        scores, _ = model.user_scores("someone-new", mixed, {"SEGMENT": segment}, {"DEVICE": "mobile"})
        mass[segment] = float(scores[even_items].sum())
    assert mass["even"] > 5 * mass["odd"], mass

    # A known user: their own record comes from the Users data the recipe trained with.
    user = data.user_ids[0]
    known = recipe.record_tokens([user], [{"DEVICE": "desktop"}])
    best = np.argsort(-recipe.scores([data.history(0)], recipe.user_indices([user]), known)[0])
    seen = {data.item_ids[i] for i in data.history(0)}
    quarter = {f"i{i:02d}" for i in _quarter("even", "desktop")}
    picked = [data.item_ids[i] for i in best if data.item_ids[i] not in seen]
    left = min(len(quarter - seen), 3)  # a long history has taken most of its quarter already
    assert left > 0 and set(picked[:left]) <= quarter, (picked, quarter - seen)


def test_entrypoint_reads_the_users_channel_and_the_interactions_context(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    data, records = _data()
    root = tmp_path / "input" / "data"
    (root / "interactions").mkdir(parents=True)
    with (root / "interactions" / "part-0000.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["USER_ID", "ITEM_ID", "TIMESTAMP", "DEVICE"])
        assert data.context is not None
        for row in range(data.n_interactions):
            writer.writerow([
                data.user_ids[data.user[row]], data.item_ids[data.item[row]], int(data.timestamp[row]),
                data.context["DEVICE"][row],
            ])  # fmt: skip
    (root / "interactions" / "schema.json").write_text(json.dumps({
        "type": "record", "name": "Interactions", "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
            {"name": "TIMESTAMP", "type": "long"}, {"name": "DEVICE", "type": "string", "categorical": True},
        ], "version": "1.0",
    }))  # fmt: skip
    (root / "users").mkdir()
    with (root / "users" / "part-0000.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["USER_ID", "SEGMENT", "AGE"])
        for user, record in records.items():
            writer.writerow([user, record["SEGMENT"], record["AGE"]])
    (tmp_path / "input" / "config").mkdir()
    (tmp_path / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({"tailor_recipe": "aws-deepfm", **FAST})
    )
    completed = subprocess.run(
        [sys.executable, "-m", "training.entrypoint", "--input-dir", str(tmp_path / "input"),
         "--model-dir", str(tmp_path / "model"), "--output-dir", str(tmp_path / "output")],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    features = json.loads((tmp_path / "model" / "features.json").read_text())
    assert {f["name"]: (f["source"], f["kind"]) for f in features["fields"]} == {
        "AGE": ("USERS", "numeric"),
        "SEGMENT": ("USERS", "categorical"),
        "DEVICE": ("CONTEXT", "categorical"),
    }
    model = LoadedModel.load(str(tmp_path / "model"))
    history = ["i03", "i24", "i08", "i31"]
    scores, _ = model.user_scores("new", history, {"SEGMENT": "odd"}, {"DEVICE": "mobile"})
    best = [model.items[i] for i in np.argsort(-scores) if model.items[i] not in history][:5]
    assert set(best) <= {f"i{i:02d}" for i in _quarter("odd", "mobile")}, best
    # The held-out users are scored with their Users record (no context): better than a coin's half.
    metrics = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert metrics["precision_at_5"] > 0.0

    # A campaign refuses an artifact whose vocabulary does not fit its graph, saying which file.
    broken = tmp_path / "broken"
    shutil.copytree(tmp_path / "model", broken)
    (broken / "features.json").write_text(json.dumps({**features, "width": features["width"] + 1}))
    with pytest.raises(ModelArtifactError, match="features.json has width"):
        LoadedModel.load(str(broken))
    (broken / "features.json").write_text(json.dumps({"vocabulary": []}))
    with pytest.raises(ModelArtifactError, match="features.json is not a feature vocabulary"):
        LoadedModel.load(str(broken))


SEQUENCE_RECIPES = {
    "aws-hrnn-metadata": {"epochs": "10", "hidden_dimension": "32", "bptt": "8"},
    "aws-user-personalization": {"epochs": "10", "hidden_dimension": "32", "bptt": "8"},
    "aws-user-personalization-v2": {"epochs": "30", "hidden_dimension": "32", "max_sequence_length": "8"},
}


@pytest.mark.parametrize("name", sorted(SEQUENCE_RECIPES))
def test_sequence_recipes_read_the_record_and_context_and_serve_them(name: str, tmp_path: Path) -> None:
    """The network's state plus the pooled tokens: the same known answers as DeepFM's, through the
    ``sequence_feature_scores`` graph; without Users data or context it stays a ``sequence_scores`` model."""
    data, records = _data()
    half = ["low" if int(item[1:]) < 20 else "high" for item in data.item_ids]
    metadata = ItemMetadata.from_columns(data.item_ids, {"HALF": half})
    recipe_class = get_recipe(name)

    def new_recipe() -> Any:
        recipe = recipe_class(recipe_class.parse_hyperparameters(SEQUENCE_RECIPES[name]), seed=1)
        if isinstance(recipe, HrnnMetadataRecipe):
            recipe.set_item_metadata(metadata)
        return recipe

    recipe = new_recipe()
    recipe.set_user_metadata(records, {"SEGMENT": "categorical", "AGE": "numeric"})
    recipe.fit(data)
    export = recipe.export(tmp_path)
    assert export.contract.name == "sequence_feature_scores"
    assert [spec.name for spec in export.contract.inputs] == ["item_sequence", "feature_tokens"]
    assert export.parity.max_abs_diff <= export.parity.atol
    write_artifact(tmp_path, recipe, export, data, metrics={}, training={"interactions": data.n_interactions})
    model = LoadedModel.load(str(tmp_path))
    _check_served_quarters(model, data, recipe.feature_space, lambda h, t: recipe.scores([h], t)[0])

    plain = new_recipe()
    plain.fit(from_records(
        [data.user_ids[u] for u in data.user], [data.item_ids[i] for i in data.item], data.timestamp
    ))  # fmt: skip
    (tmp_path / "plain").mkdir()
    assert plain.export(tmp_path / "plain").contract.name == "sequence_scores"


def test_user_personalization_update_keeps_the_feature_table_by_token(
    tmp_path_factory: pytest.TempPathFactory, synthetic: SyntheticData
) -> None:
    """trainingMode UPDATE of a model with Users tokens: the feature table is warm-started row by token,
    and a segment that appears only in the UPDATE's Users data gets a fresh row."""

    def users(root: Path, updating: bool) -> None:
        channel = root / "input" / "data" / "users"
        channel.mkdir(parents=True)
        lines = ["USER_ID,SEGMENT"]
        for user, cluster in sorted(synthetic.cluster_of_user.items()):
            segment = "late" if updating and cluster == 0 else f"c{cluster}"
            lines.append(f"{user},{segment}")
        (channel / "part-0000.csv").write_text("\n".join(lines) + "\n")

    settings = {"tailor_recipe": "aws-user-personalization", "epochs": "2", "hidden_dimension": "32"}
    full, update = full_then_update(tmp_path_factory, settings, synthetic, synthetic.rows, users)
    for job in (full, update):
        manifest = json.loads((job.model_dir / "manifest.json").read_text())
        assert manifest["contract"] == "sequence_feature_scores"
        # The job reports the share of each item-to-item weight it serves (term_scale.py).
        assert manifest["training"]["item_item_scale"] in (1.0, 0.5, 0.25, 0.125, 0.0)
        assert manifest["training"]["cooccurrence_scale"] in (1.0, 0.5, 0.25, 0.125, 0.0)
        assert manifest["training"]["transition_scale"] in (1.0, 0.5, 0.25, 0.125, 0.0)
        assert manifest["training"]["item_item_scale_checked_on"] > 0
    assert json.loads((update.model_dir / "manifest.json").read_text())["training"]["warm_start"] is True
    before = json.loads((full.model_dir / "features.json").read_text())["vocabulary"]
    after = json.loads((update.model_dir / "features.json").read_text())["vocabulary"]
    assert "USERS.SEGMENT=c0" in before and "USERS.SEGMENT=late" in after and "USERS.SEGMENT=c0" not in after
    saved = json.loads((full.model_dir / "warm_start.json").read_text())["token_vocabularies"]
    assert saved == {"features.embedding.weight": before}
    model = LoadedModel.load(str(update.model_dir))
    assert len(model.recommend_for_user(sorted(synthetic.cluster_of_user)[0], [], 5)) == 5


def test_a_numerical_context_field_is_binned_and_picks_what_the_data_says(tmp_path: Path) -> None:
    # Near (DISTANCE under 10) users pick items 0-19, far ones items 20-39; the history mixes both.
    rng = np.random.default_rng(9)
    users, items, stamps, distances = [], [], [], []
    for u in range(N_USERS):
        for step in range(STEPS):
            near = rng.random() < 0.5
            distance = rng.uniform(0.1, 10.0) if near else rng.uniform(10.0, 100.0)
            users.append(f"u{u:03d}")
            items.append(f"i{int(rng.integers(0, 20)) + (0 if near else 20):02d}")
            stamps.append(1_600_000_000 + u * 1000 + step)
            distances.append(round(distance, 2))
    data = from_records(users, items, stamps, context={"DISTANCE": distances})
    recipe = DeepFmRecipe(DeepFmRecipe.parse_hyperparameters(FAST), seed=1)
    recipe.fit(data)
    (field,) = recipe.feature_space.fields
    assert (field.source, field.name, field.kind) == ("CONTEXT", "DISTANCE", "numeric")

    export = recipe.export(tmp_path)
    write_artifact(tmp_path, recipe, export, data, metrics={}, training={"interactions": data.n_interactions})
    model = LoadedModel.load(str(tmp_path))
    history = ["i03", "i27", "i11", "i35"]
    index = np.asarray([data.item_ids.index(i) for i in history])
    for distance, low in (("3.5", 0), (90, 20)):  # a request's context value may be text or a number
        context = {"distance": distance}
        scores, _ = model.user_scores("someone-new", history, None, context)
        best = [model.items[i] for i in np.argsort(-scores) if model.items[i] not in history][:5]
        assert {int(item[1:]) for item in best} <= set(range(low, low + 20)), (distance, best)
        logits = recipe.scores([index], UNKNOWN, recipe.feature_space.encode([None], [context]))[0]
        want = np.exp(logits - logits.max())
        np.testing.assert_allclose(scores, want / want.sum(), atol=1e-5)
