"""trainingMode UPDATE: continue from the previous solution version's model instead of training anew.

Personalize's UPDATE "updates the model to consider new items" without a full retraining. Tailor's:

1. The workflow puts the model of the solution's latest ACTIVE version (its whole artifact directory)
   in the ``previous_model`` channel and sets ``tailor_training_mode=UPDATE``.
2. A recipe opts in by naming its per-item parameters in ``Recipe.warm_item_parameters`` (parameter name
   -> rows before the first item, e.g. 1 for a padding row) and by calling ``self.warm_start.apply(model)``
   on the model it built in ``fit``. A model with a metadata token vocabulary also names its per-token
   parameters (``warm_token_parameters``, the same form) and hands ``apply`` its current vocabulary per
   parameter; the buffers that describe the current catalogue (``warm_current_buffers``, e.g. which items
   are cold and their metadata tokens) are named so that they come from the freshly built model. Every
   FULL training of such a recipe saves its parameters next to the artifact (``warm_start.npz``, and the
   token vocabularies in ``warm_start.json``, see ``training/ARTIFACT.md``).
3. ``apply`` copies every parameter of the previous model; per-item rows are matched by item id, so an
   item the previous model knew keeps what it learned. A new item gets fresh parameters: the model's own
   initialisation plus the mean of the rows of the known items in the histories of its users (weighted
   by how often they occur there). From its random initialisation alone a new item was never
   recommended after one epoch on the smoke data; from its neighbourhood it was. Users have no parameters
   in these models (a user is their history), so new users need nothing. Per-token rows are matched by
   token, because the vocabulary is renumbered whenever the Items dataset gains or loses a token; a
   token the previous model did not know keeps its fresh initialisation. Per-field parameters
   (``warm_field_parameters``, e.g. the map of the Items dataset's numerical fields) are matched by field
   name column by column, so adding or removing a numerical field keeps what the others learned (a model
   saved before fields were named must keep the same fields). Any other parameter whose shape changed
   (other hyperparameters) is refused with a ``ConfigurationError``.
4. The model then trains ``UPDATE_EPOCHS`` epochs on all current data. The held-out evaluation is not
   repeated (it would need a second fit): the version reports the previous version's metrics.

aws-user-personalization and aws-hrnn-coldstart (the recipes Personalize allows UPDATE for) both warm
start. A previous version that kept no parameters (one trained before its recipe had warm start) is
recomputed instead: one fit with the configured epochs on all current data, no evaluation. Everything
here imports torch lazily: the workflow reads the channel name.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from training.errors import ConfigurationError

if TYPE_CHECKING:
    from training.data import Interactions
    from training.recipes.base import Hyperparameters, Recipe

PREVIOUS_MODEL_CHANNEL = "previous_model"
STATE_FILE = "warm_start.npz"
VOCABULARY_FILE = "warm_start.json"
UPDATE_MODE = "UPDATE"
# Epochs of an UPDATE. The Tailor defaults train FULL versions for 3 epochs twice (evaluation, final).
UPDATE_EPOCHS = 2


@dataclass(frozen=True)
class PreviousModel:
    """The artifact an UPDATE starts from."""

    manifest: dict[str, Any]
    items: list[str]
    metrics: dict[str, float]
    state: dict[str, np.ndarray]  # empty when the recipe saved none
    # Per-token parameter name -> its tokens: row ``offset + i`` of the parameter is token i.
    vocabularies: dict[str, list[str]] = field(default_factory=dict)


def requested(input_dir: Path) -> bool:
    """Whether the job's hyperparameters ask for an UPDATE (``tailor_training_mode``)."""
    path = input_dir / "config" / "hyperparameters.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False  # read_job_config reports a missing or broken file
    mode = str(raw.get("tailor_training_mode", "FULL")).strip().upper() if isinstance(raw, dict) else "FULL"
    if mode not in ("FULL", UPDATE_MODE):
        raise ConfigurationError(f"tailor_training_mode must be FULL or UPDATE, got {mode!r}.")
    return mode == UPDATE_MODE


def load_previous(channel: Path) -> PreviousModel:
    if not (channel / "manifest.json").exists():
        raise ConfigurationError(
            f"trainingMode UPDATE needs the previous solution version's model in {channel}; "
            "it is missing. Create a version with trainingMode FULL."
        )
    state_path = channel / STATE_FILE
    state: dict[str, np.ndarray] = {}
    if state_path.exists():
        with np.load(state_path) as archive:
            state = {name: archive[name] for name in archive.files}
    vocabulary_path = channel / VOCABULARY_FILE
    vocabularies: dict[str, list[str]] = {}
    if vocabulary_path.exists():
        vocabularies = json.loads(vocabulary_path.read_text(encoding="utf-8")).get("token_vocabularies", {})
    return PreviousModel(
        manifest=json.loads((channel / "manifest.json").read_text(encoding="utf-8")),
        items=json.loads((channel / "items.json").read_text(encoding="utf-8")),
        metrics=json.loads((channel / "metrics.json").read_text(encoding="utf-8")),
        state=state,
        vocabularies=vocabularies,
    )


def token_parameters(recipe: Recipe | type[Recipe]) -> dict[str, int]:
    """Per-token parameter name -> rows before the first token (e.g. 1 for a padding row)."""
    return dict(recipe.warm_token_parameters)


def field_parameters(recipe: Recipe | type[Recipe]) -> frozenset[str]:
    """Per-field parameters: their columns (dimension 1) are matched by field name."""
    return frozenset(recipe.warm_field_parameters)


def current_buffers(recipe: Recipe | type[Recipe]) -> frozenset[str]:
    """Buffers that describe the current catalogue: always the freshly built model's, never saved."""
    return frozenset(recipe.warm_current_buffers)


def save_state(recipe: Recipe, model_dir: Path) -> None:
    """Keep the trained parameters of a recipe that supports warm start next to its artifact."""
    model = getattr(recipe, "model", None)
    if not recipe.warm_item_parameters or model is None:
        return
    current = current_buffers(recipe)
    arrays = {
        name: tensor.detach().cpu().numpy()
        for name, tensor in model.state_dict().items()
        if name not in current
    }
    with (model_dir / STATE_FILE).open("wb") as handle:
        np.savez(handle, **arrays)
    # Token rows and field columns are matched by name in the next UPDATE, and the names are not in the
    # artifact otherwise.
    matched = set(token_parameters(recipe)) | field_parameters(recipe)
    vocabularies = {
        name: list(tokens)
        for name, tokens in getattr(recipe, "token_vocabularies", {}).items()
        if name in arrays and name in matched
    }
    if vocabularies:
        document = {"token_vocabularies": vocabularies}
        (model_dir / VOCABULARY_FILE).write_text(json.dumps(document), encoding="utf-8")


def previous_rows(new_items: Sequence[str], old_items: Sequence[str]) -> np.ndarray:
    """For each item (or token) of the new vocabulary, its index in the old one (-1: a new one)."""
    old_index = {item: index for index, item in enumerate(old_items)}
    return np.array([old_index.get(item, -1) for item in new_items], dtype=np.int64)


# Users whose histories place one new item (a sample of them for a very popular item).
_NEIGHBOURHOOD_USERS = 200


def neighbourhoods(
    data: Interactions, rows: np.ndarray, seed: int = 0
) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(new item, known items in its users' histories, their weights summing to 1) per new item."""
    new = np.flatnonzero(rows < 0)
    if not len(new):
        return []
    is_new = rows < 0
    order = np.argsort(data.item, kind="stable")
    by_item = data.item[order]
    starts, ends = np.searchsorted(by_item, new, "left"), np.searchsorted(by_item, new, "right")
    rng = np.random.default_rng(seed)
    found = []
    for item, start, end in zip(new, starts, ends, strict=True):
        users = np.unique(data.user[order[start:end]])
        if len(users) > _NEIGHBOURHOOD_USERS:
            users = rng.choice(users, _NEIGHBOURHOOD_USERS, replace=False)
        if not len(users):
            continue
        seen = np.concatenate([data.history(int(u)) for u in users])
        seen = seen[~is_new[seen]]
        if len(seen):
            known, counts = np.unique(seen, return_counts=True)
            found.append((int(item), known, counts / counts.sum()))
    return found


class WarmStart:
    """Loads a previous model's parameters into a freshly built model over the current catalogue."""

    def __init__(
        self,
        previous: PreviousModel,
        data: Interactions,
        item_parameters: Mapping[str, int],
        token_parameters: Mapping[str, int] | None = None,
        current_buffers: Sequence[str] = (),
        field_parameters: Sequence[str] = (),
    ):
        self.previous = previous
        self.rows = previous_rows(data.item_ids, previous.items)
        self.item_parameters = dict(item_parameters)
        self.token_parameters = dict(token_parameters or {})
        self.current_buffers = frozenset(current_buffers)
        self.field_parameters = frozenset(field_parameters)
        self.neighbourhoods = neighbourhoods(data, self.rows)

    @property
    def known_items(self) -> int:
        return int((self.rows >= 0).sum())

    @property
    def new_items(self) -> int:
        return int((self.rows < 0).sum())

    def apply(self, model: Any, vocabularies: Mapping[str, Sequence[str]] | None = None) -> None:
        """Warm-start ``model``; ``vocabularies``: the current tokens of each per-token parameter it has."""
        import torch

        state = model.state_dict()
        for name, tensor in state.items():
            if name in self.current_buffers:
                continue
            old = self.previous.state.get(name)
            if old is None:
                raise ConfigurationError(
                    f"The previous model has no parameter {name!r}, so it cannot be updated; "
                    "train with trainingMode FULL."
                )
            old_tensor = torch.from_numpy(old).to(tensor.device, tensor.dtype)
            if name in self.item_parameters:
                offset = self.item_parameters[name]
                if old_tensor.shape[1:] != tensor.shape[1:]:
                    raise _shape_error(name, old_tensor.shape, tensor.shape)
                with torch.no_grad():
                    _copy_rows(tensor, old_tensor, self.rows, offset)
                    for item, neighbours, weights in self.neighbourhoods:
                        mix = torch.from_numpy(weights).to(tensor.device, tensor.dtype)
                        tensor[item + offset] += torch.tensordot(mix, tensor[neighbours + offset], dims=1)
            elif name in self.token_parameters:
                if old_tensor.shape[1:] != tensor.shape[1:]:
                    raise _shape_error(name, old_tensor.shape, tensor.shape)
                with torch.no_grad():
                    _copy_rows(
                        tensor, old_tensor, self._token_rows(name, vocabularies), self.token_parameters[name]
                    )
            elif name in self.field_parameters and name in self.previous.vocabularies:
                if old_tensor.shape[0] != tensor.shape[0]:
                    raise _shape_error(name, old_tensor.shape, tensor.shape)
                columns = self._token_rows(name, vocabularies)
                known = np.flatnonzero(columns >= 0)
                with torch.no_grad():  # a field the previous model did not read keeps its fresh columns
                    index = torch.from_numpy(known).to(tensor.device)
                    tensor[:, index] = old_tensor[:, torch.from_numpy(columns[known]).to(tensor.device)]
            elif old_tensor.shape == tensor.shape:
                with torch.no_grad():
                    tensor.copy_(old_tensor)
            else:
                raise _shape_error(name, old_tensor.shape, tensor.shape)
        model.load_state_dict(state)

    def _token_rows(self, name: str, vocabularies: Mapping[str, Sequence[str]] | None) -> np.ndarray:
        if vocabularies is None or name not in vocabularies:
            raise ValueError(f"apply needs the current vocabulary of the per-token parameter {name!r}.")
        old = self.previous.vocabularies.get(name)
        if old is None:
            raise ConfigurationError(
                f"The previous model did not keep the tokens of {name!r}, so it cannot be updated; "
                "train with trainingMode FULL."
            )
        return previous_rows(vocabularies[name], old)


def _copy_rows(tensor: Any, old: Any, rows: np.ndarray, offset: int) -> None:
    """Rows before ``offset`` and those of known entries (``rows`` >= 0) from ``old``; new ones stay fresh."""
    import torch

    known = np.flatnonzero(rows >= 0)
    tensor[:offset] = old[:offset]
    index = torch.from_numpy(known + offset).to(tensor.device)
    source = torch.from_numpy(rows[known] + offset).to(tensor.device)
    tensor[index] = old[source]


def _shape_error(name: str, old: Any, new: Any) -> ConfigurationError:
    return ConfigurationError(
        f"Parameter {name!r} has shape {tuple(old)} in the previous model and {tuple(new)} now (were the "
        "hyperparameters, or the Items dataset's numerical fields, changed?); train with trainingMode FULL."
    )


def _with_epochs(hyperparameters: Hyperparameters, epochs: int) -> Hyperparameters:
    names = {f.name for f in dataclasses.fields(hyperparameters)}
    changes: dict[str, Any] = {}
    if "epochs" in names:
        changes["epochs"] = epochs
    if "cooccurrence_init" in names:
        changes["cooccurrence_init"] = False  # the previous model's embeddings replace it
    return dataclasses.replace(hyperparameters, **changes) if changes else hyperparameters


def train_update(
    input_dir: Path,
    model_dir: Path,
    progress: Any,
    recipe_class: type[Recipe],
    new_recipe: Callable[[Hyperparameters], Recipe],
    data: Interactions,
    device: str,
    started: float,
) -> dict[str, Any]:
    """Fit an UPDATE and write its artifact; the manifest.

    The hyperparameters are the previous model's (as resolved, after any HPO): the update continues that
    model, so its shapes must stay.
    """
    from training.artifact import write_artifact

    previous = load_previous(input_dir / "data" / PREVIOUS_MODEL_CHANNEL)
    if previous.manifest.get("recipe") != recipe_class.name:
        raise ConfigurationError(
            f"The previous model was trained with {previous.manifest.get('recipe')}, this solution uses "
            f"{recipe_class.name}; train with trainingMode FULL."
        )
    hyperparameters = recipe_class.parse_hyperparameters(previous.manifest.get("hyperparameters") or {})
    warm = bool(recipe_class.warm_item_parameters and previous.state)
    # Without warm start the model is recomputed from scratch, which needs its configured epochs.
    recipe = new_recipe(_with_epochs(hyperparameters, UPDATE_EPOCHS) if warm else hyperparameters)
    if warm:
        recipe.warm_start = WarmStart(
            previous,
            data,
            recipe.warm_item_parameters,
            token_parameters(recipe),
            tuple(current_buffers(recipe)),
            tuple(field_parameters(recipe)),
        )
    known = int((previous_rows(data.item_ids, previous.items) >= 0).sum())
    progress.emit("update", mode="warm_start" if warm else "recompute", known_items=known,
                  new_items=data.n_items - known, previous_items=len(previous.items),
                  epochs=getattr(recipe.hyperparameters, "epochs", None))  # fmt: skip

    def on_epoch(epoch: int, loss: float) -> None:
        progress.emit("epoch", phase="update", epoch=epoch, loss=round(loss, 6))

    fit_started = time.monotonic()
    recipe.fit(data, device, on_epoch)
    fit_seconds = time.monotonic() - fit_started
    recipe.hyperparameters = hyperparameters  # the manifest reports the solution's configuration
    model_dir.mkdir(parents=True, exist_ok=True)
    export = recipe.export(model_dir)
    progress.emit("export", contract=export.contract.name, **export.parity.to_json())
    save_state(recipe, model_dir)
    seconds = round(time.monotonic() - started, 3)
    manifest = write_artifact(
        model_dir,
        recipe,
        export,
        data,
        {key: float(value) for key, value in previous.metrics.items()},
        training={
            "seconds": seconds,
            "fit_seconds": round(fit_seconds, 3),
            "epochs": recipe.epochs_trained,
            "interactions": data.n_interactions,
            "users": data.n_users,
            "items": data.n_items,
            "device": device,
            "mode": "UPDATE",
            "warm_start": warm,
            **recipe.training_notes(),
        },
        extra={"seed": previous.manifest.get("seed"), "evaluation": previous.manifest.get("evaluation")},
    )
    progress.emit("completed", seconds=seconds)
    return manifest
