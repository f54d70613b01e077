"""trainingMode UPDATE of aws-hrnn-coldstart: a warm start although the catalogue and its metadata changed.

The second data set adds items (with interactions, cold by the recipe's rule) and a genre the first did
not have; the new genre sorts first, so every known token is renumbered. It also adds a numerical field,
LENGTH, before the PRICE the first had: PRICE's column of the numerical map moves, LENGTH's starts fresh.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from functions.serving.model_artifact import LoadedModel
from tests.smoke.conftest import JobResult, full_then_update, with_new_items
from training.data import load_interactions, with_items
from training.item_metadata import ITEMS_CHANNEL, load_item_metadata
from training.recipes.hrnn import HrnnColdstartRecipe
from training.recipes.neural_sequence import CATALOGUE_BUFFERS, NUMERIC_MAP, TOKEN_EMBEDDING
from training.synthetic import SyntheticData
from training.warm_start import (
    PREVIOUS_MODEL_CHANNEL,
    STATE_FILE,
    UPDATE_EPOCHS,
    VOCABULARY_FILE,
    WarmStart,
    current_buffers,
    field_parameters,
    load_previous,
    token_parameters,
)

pytestmark = pytest.mark.smoke

RECIPE = "aws-hrnn-coldstart"
HYPERPARAMETERS = {"tailor_recipe": RECIPE, "epochs": "3", "hidden_dimension": "32"}
NEW_ITEMS = [f"n{i:04d}" for i in range(5)]
NEW_GENRE = "GENRE=documentary"  # sorts before every genre-<cluster> token
ITEMS_WITHOUT_INTERACTIONS = {"cold-a": 0, "cold-b": 1}


def _write_items(channel: Path, genres: dict[str, str], with_length: bool) -> None:
    channel.mkdir(parents=True, exist_ok=True)
    with (channel / "part-0000.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["ITEM_ID", "GENRE", "PRICE", *(["LENGTH"] if with_length else [])])
        for n, (item, genre) in enumerate(sorted(genres.items())):
            writer.writerow([item, genre, f"{1 + n % 7}.5", *([str(90 + n % 40)] if with_length else [])])


def _genres(data: SyntheticData, new: bool) -> dict[str, str]:
    known = {**data.cluster_of_item, **ITEMS_WITHOUT_INTERACTIONS}
    genres = {item: f"genre-{cluster}" for item, cluster in known.items()}
    return {**genres, **dict.fromkeys(NEW_ITEMS, NEW_GENRE.split("=")[1])} if new else genres


@pytest.fixture(scope="module")
def full_and_update(
    tmp_path_factory: pytest.TempPathFactory, synthetic: SyntheticData
) -> tuple[JobResult, JobResult]:
    # Ten of cluster 0's users watch the new items (few interactions: cold items), which bring a new genre.
    def items_dataset(root: Path, updating: bool) -> None:
        _write_items(root / "input" / "data" / ITEMS_CHANNEL, _genres(synthetic, new=updating), updating)

    rows = with_new_items(synthetic, NEW_ITEMS, 10)
    return full_then_update(tmp_path_factory, HYPERPARAMETERS, synthetic, rows, items_dataset)


def _manifest(job: JobResult) -> dict:
    return json.loads((job.model_dir / "manifest.json").read_text(encoding="utf-8"))


def _vocabulary(job: JobResult, parameter: str = TOKEN_EMBEDDING) -> list[str]:
    return json.loads((job.model_dir / VOCABULARY_FILE).read_text(encoding="utf-8"))["token_vocabularies"][
        parameter
    ]


def test_full_training_keeps_the_parameters_and_tokens_an_update_starts_from(full_and_update) -> None:
    full, _ = full_and_update
    assert (full.model_dir / STATE_FILE).is_file()
    assert _vocabulary(full) == ["GENRE=genre-0", "GENRE=genre-1", "GENRE=genre-2"]
    assert _vocabulary(full, NUMERIC_MAP) == ["PRICE"]


def test_update_warm_starts_for_update_epochs(full_and_update) -> None:
    full, update = full_and_update
    events = update.events()
    [announced] = [e for e in events if e["event"] == "update"]
    assert announced["mode"] == "warm_start"
    assert (announced["known_items"], announced["new_items"]) == (152, len(NEW_ITEMS))
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == list(range(1, UPDATE_EPOCHS + 1))
    assert len([e for e in full.events() if e["event"] == "epoch"]) == 6  # 3 evaluation + 3 final
    manifest = _manifest(update)
    assert manifest["training"]["warm_start"] is True and manifest["training"]["mode"] == "UPDATE"
    assert manifest["training"]["epochs"] == UPDATE_EPOCHS
    assert manifest["hyperparameters"] == _manifest(full)["hyperparameters"]
    # The next UPDATE matches tokens against this version's vocabulary.
    assert _vocabulary(update) == [NEW_GENRE, *_vocabulary(full)]
    assert _vocabulary(update, NUMERIC_MAP) == ["LENGTH", "PRICE"]


def test_the_updated_model_exports_and_serves_the_new_items(full_and_update) -> None:
    _, update = full_and_update
    manifest = _manifest(update)
    assert manifest["parity"]["max_abs_diff"] <= manifest["parity"]["atol"]
    model = LoadedModel.load(str(update.model_dir))
    assert set(NEW_ITEMS) | set(ITEMS_WITHOUT_INTERACTIONS) <= set(model.items)
    scores, _ = model.user_scores("u0000", [])
    assert len(scores) == len(model.items) and np.isfinite(scores).all()
    assert len(model.recommend_for_user("u0000", [], 10)) == 10


class _Applied(Exception):
    """Stops ``fit`` once the warm start is applied: the rows before training are what is checked."""


def test_the_warm_start_keeps_known_items_and_tokens_and_takes_the_current_catalogue(full_and_update) -> None:
    """The update's own inputs, in process, up to the warm start."""
    _, update = full_and_update
    previous = load_previous(update.input_dir / "data" / PREVIOUS_MODEL_CHANNEL)
    metadata = load_item_metadata(update.input_dir / "data" / ITEMS_CHANNEL)
    assert metadata is not None
    data = with_items(load_interactions(update.input_dir / "data" / "interactions"), metadata.item_ids)
    recipe = HrnnColdstartRecipe(
        HrnnColdstartRecipe.parse_hyperparameters(previous.manifest["hyperparameters"])
    )
    recipe.set_item_metadata(metadata)
    warm = WarmStart(previous, data, recipe.warm_item_parameters, token_parameters(recipe),
                     tuple(current_buffers(recipe)), tuple(field_parameters(recipe)))  # fmt: skip
    recipe.warm_start = warm
    snapshots: list[dict[str, torch.Tensor]] = []
    apply = warm.apply

    def recorded(model, vocabularies=None) -> None:
        snapshots.append({name: t.detach().clone() for name, t in model.state_dict().items()})
        apply(model, vocabularies)
        snapshots.append({name: t.detach().clone() for name, t in model.state_dict().items()})
        raise _Applied

    warm.apply = recorded  # type: ignore[method-assign]
    with pytest.raises(_Applied):
        recipe.fit(data, "cpu")
    fresh, started = snapshots
    old = {name: torch.from_numpy(array) for name, array in previous.state.items()}

    old_index = {item: i for i, item in enumerate(previous.items)}
    known = [i for i, item in enumerate(data.item_ids) if item in old_index]
    new = [data.item_ids.index(item) for item in NEW_ITEMS]
    source = [old_index[data.item_ids[i]] for i in known]
    ids = "tower.item_id.weight"
    assert torch.equal(started[ids][known], old[ids][source])
    assert torch.equal(started["item_bias"][known], old["item_bias"][source])
    assert not torch.equal(started[ids][new], fresh[ids][new])  # moved towards their users' items

    vocabulary = recipe.token_vocabularies[TOKEN_EMBEDDING]
    old_vocabulary = previous.vocabularies[TOKEN_EMBEDDING]
    assert vocabulary[0] == NEW_GENRE and vocabulary[1:] == old_vocabulary
    tokens = started[TOKEN_EMBEDDING]
    assert torch.equal(tokens[2:], old[TOKEN_EMBEDDING][1:])  # each known token its own row, one down
    assert torch.equal(tokens[1], fresh[TOKEN_EMBEDDING][1])  # the new genre starts fresh
    # The numerical map's columns follow their field: PRICE keeps what it learned, LENGTH starts fresh.
    assert recipe.token_vocabularies[NUMERIC_MAP] == ["LENGTH", "PRICE"]
    assert previous.vocabularies[NUMERIC_MAP] == ["PRICE"]
    assert torch.equal(started[NUMERIC_MAP][:, 1], old[NUMERIC_MAP][:, 0])
    assert torch.equal(started[NUMERIC_MAP][:, 0], fresh[NUMERIC_MAP][:, 0])
    for name in CATALOGUE_BUFFERS:
        assert torch.equal(started[name], fresh[name])
    assert bool(started["tower.id_gate"][new].eq(0).all())  # the new items are cold in this version
    assert bool(started["tower.tokens"][new].eq(1).any(dim=1).all())  # and carry the new genre
