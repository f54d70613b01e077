"""The one base class every recipe implements, and the typed hyperparameter machinery.

A recipe's hyperparameters live in one frozen dataclass (its defaults, types and valid ranges in one
place). SageMaker hands hyperparameters over as strings; ``Hyperparameters.from_strings`` parses them
against the dataclass and rejects unknown keys and bad values with a message naming the key, because a
silently ignored typo would train a different model than the one the user asked for.

This module must stay import-light (no torch): the control plane imports the recipe catalogue.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self, get_type_hints

import numpy as np

from training.data import Interactions
from training.errors import HyperparameterError
from training.onnx_export import ExportContract, ParityReport

if TYPE_CHECKING:
    from training.warm_start import WarmStart

RecipeType = Literal[
    "USER_PERSONALIZATION",
    "RELATED_ITEMS",
    "PERSONALIZED_RANKING",
    "PERSONALIZED_ACTIONS",
    "POPULAR_ITEMS",
    "USER_SEGMENTATION",
]

# Called after every training epoch with (epoch number from 1, mean training loss).
EpochCallback = Callable[[int, float], None]

_TRUE = {"true"}
_FALSE = {"false"}


def hyperparameter(
    default: Any, *, low: float | None = None, high: float | None = None, tunable: bool = True, doc: str = ""
) -> Any:
    """A hyperparameter field: its default, inclusive valid range and whether HPO may tune it."""
    return field(default=default, metadata={"low": low, "high": high, "tunable": tunable, "doc": doc})


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class Hyperparameters:
    """Base of every recipe's hyperparameter dataclass (fields declared with ``hyperparameter``).

    A subclass that adds its own ``__post_init__`` checks calls ``super().__post_init__()``.

    ``default_search`` is what performHPO searches when the solution gives no
    ``algorithmHyperParameterRanges`` (Personalize makes them optional): per hyperparameter, a
    (low, high) range, or None for its whole valid range (both values of a boolean). Recipes list the
    hyperparameters Personalize documents as tunable, with its ranges, and for Tailor's own recipes a
    few whose useful range is narrower than what is valid (500 epochs is valid, not a default search).
    """

    default_search: ClassVar[Mapping[str, tuple[float, float] | None]] = {}

    def __post_init__(self) -> None:
        # Personalize's pair of history-length percentiles, declared by every recipe that filters users.
        low = getattr(self, "min_user_history_length_percentile", None)
        high = getattr(self, "max_user_history_length_percentile", None)
        if low is not None and high is not None and low > high:
            raise ValueError(
                "min_user_history_length_percentile must not exceed max_user_history_length_percentile."
            )

    @classmethod
    def from_strings(cls, raw: Mapping[str, Any], recipe: str = "") -> Self:
        known = {f.name: f for f in fields(cls)}
        types = get_type_hints(cls)
        values: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in known:
                valid = ", ".join(sorted(known)) or "none"
                raise HyperparameterError(
                    f"Unknown hyperparameter {key!r} for recipe {recipe or cls.__name__}. "
                    f"Valid hyperparameters: {valid}."
                )
            values[key] = cls._parse(key, value, types[key], known[key].metadata)
        try:
            resolved = cls(**values)
        except ValueError as error:
            raise HyperparameterError(str(error)) from None
        return resolved

    @staticmethod
    def _parse(key: str, value: Any, kind: type, metadata: Mapping[str, Any]) -> Any:
        text = _format(value).strip()
        if kind is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise HyperparameterError(f"Hyperparameter {key!r} must be true or false, got {text!r}.")
        if kind is int:
            try:
                number: float = int(text)
            except ValueError:
                raise HyperparameterError(
                    f"Hyperparameter {key!r} must be an integer, got {text!r}."
                ) from None
        elif kind is float:
            try:
                number = float(text)
            except ValueError:
                raise HyperparameterError(f"Hyperparameter {key!r} must be a number, got {text!r}.") from None
            if not math.isfinite(number):
                raise HyperparameterError(f"Hyperparameter {key!r} must be finite, got {text!r}.")
        else:
            return text
        low, high = metadata.get("low"), metadata.get("high")
        if (low is not None and number < low) or (high is not None and number > high):
            raise HyperparameterError(
                f"Hyperparameter {key!r} must be in [{_format(low)}, {_format(high)}], got {text!r}."
            )
        return number

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def to_strings(self) -> dict[str, str]:
        return {key: _format(value) for key, value in self.to_json().items()}

    @classmethod
    def defaults_as_strings(cls) -> dict[str, str]:
        return {f.name: _format(f.default) for f in fields(cls) if f.default is not MISSING}

    @classmethod
    def default_search_ranges(cls) -> dict[str, list[dict[str, Any]]]:
        """``default_search`` as an ``algorithmHyperParameterRanges`` object (validated like one)."""
        types = get_type_hints(cls)
        declared = {f.name: f for f in fields(cls)}
        out: dict[str, list[dict[str, Any]]] = {}
        for name, bounds in cls.default_search.items():
            kind = types[name]
            if kind is bool:
                out.setdefault("categoricalHyperParameterRanges", []).append(
                    {"name": name, "values": ["true", "false"]}
                )
                continue
            low, high = (
                bounds
                if bounds is not None
                else (declared[name].metadata["low"], declared[name].metadata["high"])
            )
            key = "integerHyperParameterRanges" if kind is int else "continuousHyperParameterRanges"
            cast = int if kind is int else float
            out.setdefault(key, []).append({"name": name, "minValue": cast(low), "maxValue": cast(high)})
        return out

    @classmethod
    def ranges(cls) -> dict[str, dict[str, Any]]:
        """Per hyperparameter: type, inclusive bounds and tunability (DescribeAlgorithm's ranges)."""
        types = get_type_hints(cls)
        out: dict[str, dict[str, Any]] = {}
        for f in fields(cls):
            kind = types[f.name]
            out[f.name] = {
                "type": {bool: "categorical", int: "integer", float: "continuous"}.get(kind, "categorical"),
                "min": f.metadata.get("low"),
                "max": f.metadata.get("high"),
                "values": ["true", "false"] if kind is bool else None,
                "tunable": bool(f.metadata.get("tunable", True)),
            }
        return out


@dataclass(frozen=True)
class ExportResult:
    contract: ExportContract
    parity: ParityReport
    onnx_file: str
    max_sequence_length: int


class Recipe(ABC):
    """A trainable recommender registered under its Personalize recipe name.

    Life cycle: construct with resolved hyperparameters and a seed, ``fit`` once, then ``recommend`` (for
    the offline evaluation) and ``export`` (the ONNX graph for the runtime). Recommendations never contain
    an item of the given history: the runtime excludes seen items, and the evaluation must score the model
    the way it is served.
    """

    name: ClassVar[str]
    recipe_type: ClassVar[RecipeType]
    description: ClassVar[str]
    feature_transformation: ClassVar[str]
    contract_name: ClassVar[str]
    hyperparameters_class: ClassVar[type[Hyperparameters]]
    required_datasets: ClassVar[tuple[str, ...]] = ("INTERACTIONS",)
    optional_datasets: ClassVar[tuple[str, ...]] = ()
    # Warm start for trainingMode UPDATE (training/warm_start.py): the model's per-item parameters, by
    # state_dict name -> rows before the first item. A recipe that names them keeps ``self.model`` and
    # calls ``self.warm_start.apply(self.model)`` in ``fit`` when ``self.warm_start`` is set.
    warm_item_parameters: ClassVar[Mapping[str, int]] = {}
    # With warm start, also: per-token parameters (matched by token, e.g. metadata token embeddings; rows
    # before the first token) and the buffers that describe the current catalogue (never carried over).
    warm_token_parameters: ClassVar[Mapping[str, int]] = {}
    # ... per-field parameters whose columns are matched by field name (e.g. the map of the Items
    # dataset's numerical fields, [dim, fields]) ...
    warm_field_parameters: ClassVar[tuple[str, ...]] = ()
    warm_current_buffers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, hyperparameters: Hyperparameters | None = None, *, seed: int = 42) -> None:
        resolved = hyperparameters if hyperparameters is not None else self.hyperparameters_class()
        if not isinstance(resolved, self.hyperparameters_class):
            raise TypeError(f"{self.name} expects {self.hyperparameters_class.__name__}")
        self.hyperparameters = resolved
        self.seed = seed
        self.epochs_trained = 0
        self.n_items = 0
        self.warm_start: WarmStart | None = None

    def counting_epochs(self, on_epoch: EpochCallback | None) -> EpochCallback:
        """An epoch callback that records ``epochs_trained`` and then calls ``on_epoch``."""

        def done(epoch: int, loss: float) -> None:
            self.epochs_trained = epoch
            if on_epoch is not None:
                on_epoch(epoch, loss)

        return done

    @classmethod
    def parse_hyperparameters(cls, raw: Mapping[str, Any]) -> Hyperparameters:
        return cls.hyperparameters_class.from_strings(raw, cls.name)

    @abstractmethod
    def fit(self, data: Interactions, device: str = "cpu", on_epoch: EpochCallback | None = None) -> None:
        """Train on ``data``; ``device`` is "cpu" or "cuda" and must not change the result's semantics."""

    def training_notes(self) -> dict[str, Any]:
        """What the fit decided from the data beyond the hyperparameters, for the manifest's
        ``training`` (e.g. the item-to-item terms' scale); none by default."""
        return {}

    @abstractmethod
    def recommend(self, histories: Sequence[np.ndarray], k: int) -> list[np.ndarray]:
        """Top-k item indices per history (chronological item indices), seen items excluded."""

    def serving_histories(self, data: Interactions) -> list[np.ndarray]:
        """Each user's history as the runtime feeds it to the exported graph (``users.json``)."""
        return list(data.histories())

    @abstractmethod
    def export(self, model_dir: Path) -> ExportResult:
        """Write the ONNX graph into ``model_dir`` after it passed the parity check."""


def top_k_unseen(scores: np.ndarray, histories: Sequence[np.ndarray], k: int) -> list[np.ndarray]:
    """Row-wise top-k of ``scores`` [batch, n_items] skipping each row's history, best first."""
    scores = np.array(scores, dtype=np.float64, copy=True)
    results: list[np.ndarray] = []
    if k <= 0:
        return [np.zeros(0, dtype=np.int64) for _ in histories]
    n_items = scores.shape[1]
    for row, history in zip(scores, histories, strict=True):
        if len(history):
            row[history] = -np.inf
        take = min(k, n_items)
        candidates = np.argpartition(-row, take - 1)[:take] if take < n_items else np.arange(n_items)
        # Stable order: by score, then by item index, so equal scores rank deterministically.
        ordered = candidates[np.lexsort((candidates, -row[candidates]))]
        results.append(ordered[np.isfinite(row[ordered])][:k].astype(np.int64))
    return results


# Histories scored per forward pass: [chunk, n_items] logits bound the memory of an evaluation.
SCORE_CHUNK = 256


def top_k_unseen_chunked(
    scores: Callable[[list[np.ndarray]], np.ndarray], histories: Sequence[np.ndarray], k: int
) -> list[np.ndarray]:
    """``top_k_unseen`` over ``scores(chunk)`` for ``SCORE_CHUNK`` histories at a time."""
    results: list[np.ndarray] = []
    for start in range(0, len(histories), SCORE_CHUNK):
        chunk = list(histories[start : start + SCORE_CHUNK])
        results.extend(top_k_unseen(scores(chunk), chunk, k))
    return results


def filter_by_history_percentile(data: Interactions, low: float, high: float) -> Interactions:
    """Drop users whose history length lies outside the [low, high] percentiles of history lengths.

    Personalize's ``min/max_user_history_length_percentile``: the top percentile is usually bots or shared
    accounts whose long histories would dominate training.
    """
    lengths = data.history_lengths()
    active = lengths > 0
    if low <= 0.0 and high >= 1.0:
        return data
    lo, hi = np.quantile(lengths[active], [low, high])
    keep = active & (lengths >= lo) & (lengths <= hi)
    if not keep.any():
        return data
    return data.subset(np.flatnonzero(keep))
