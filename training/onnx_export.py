"""ONNX export against a declared contract, published only after a parity check.

Each recipe declares which contract its graph implements (``sequence_scores``, ``user_feature_scores``,
``sequence_feature_scores``, ``item_neighbors``, ``action_propensity`` or ``user_affinity``, see
``training/ARTIFACT.md``).
``export_and_verify`` exports with the pinned opset, checks that the graph has exactly the declared inputs
and outputs, runs it in onnxruntime on sample inputs (the full sample batch and a batch of one, so the
dynamic batch axis is exercised) and compares with PyTorch: float outputs within ``atol``, integer outputs
exactly. Any difference raises ``ExportParityError``; an export counts only after this passes.

torch is imported inside the functions so that importing this module (for the contract declarations)
stays cheap.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from training.errors import ExportParityError

if TYPE_CHECKING:
    import torch

OPSET_VERSION = 17
DEFAULT_ATOL = 1e-4
BATCH = "batch"

SEQUENCE_SCORES = "sequence_scores"
USER_FEATURE_SCORES = "user_feature_scores"
SEQUENCE_FEATURE_SCORES = "sequence_feature_scores"
ITEM_NEIGHBORS = "item_neighbors"
ACTION_PROPENSITY = "action_propensity"
USER_AFFINITY = "user_affinity"

_ORT_TYPES = {"int64": "tensor(int64)", "float32": "tensor(float)"}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str  # "int64" | "float32"
    shape: tuple[str | int, ...]  # "batch" is the only symbolic dimension

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclass(frozen=True)
class ExportContract:
    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


def sequence_scores_contract(max_sequence_length: int, n_items: int) -> ExportContract:
    """item_sequence: item index + 1, 0 = left padding, newest last -> scores: one logit per item."""
    return ExportContract(
        name=SEQUENCE_SCORES,
        inputs=(TensorSpec("item_sequence", "int64", (BATCH, max_sequence_length)),),
        outputs=(TensorSpec("scores", "float32", (BATCH, n_items)),),
    )


def sequence_feature_scores_contract(
    max_sequence_length: int, n_items: int, feature_width: int
) -> ExportContract:
    """``sequence_scores`` plus feature_tokens (``features.json`` token indices of the user's record and
    the request context), for sequence models that read them (aws-hrnn-metadata)."""
    return ExportContract(
        name=SEQUENCE_FEATURE_SCORES,
        inputs=(
            TensorSpec("item_sequence", "int64", (BATCH, max_sequence_length)),
            TensorSpec("feature_tokens", "int64", (BATCH, feature_width)),
        ),
        outputs=(TensorSpec("scores", "float32", (BATCH, n_items)),),
    )


def sample_item_sequences(rng: np.random.Generator, n_items: int, length: int, rows: int = 8) -> np.ndarray:
    """A parity-check batch of ``item_sequence`` inputs (item index + 1): random items, with rows 0-3
    left-padded by 0, 1, length // 2 and length - 1 zeros, as short histories reach the graph."""
    sample = rng.integers(1, n_items + 1, size=(rows, length)).astype(np.int64)
    for row, pad in enumerate((0, 1, length // 2, length - 1)):
        sample[row, :pad] = 0
    return sample


def user_feature_scores_contract(
    max_sequence_length: int, n_items: int, feature_width: int
) -> ExportContract:
    """``sequence_scores`` plus user_index (0 = a user unknown to the model, u + 1 = ``user_ids.json[u]``)
    and feature_tokens (``features.json`` token indices of the user's record and the request context)."""
    return ExportContract(
        name=USER_FEATURE_SCORES,
        inputs=(
            TensorSpec("item_sequence", "int64", (BATCH, max_sequence_length)),
            TensorSpec("user_index", "int64", (BATCH,)),
            TensorSpec("feature_tokens", "int64", (BATCH, feature_width)),
        ),
        outputs=(TensorSpec("scores", "float32", (BATCH, n_items)),),
    )


def action_propensity_contract(max_sequence_length: int, n_actions: int) -> ExportContract:
    """item_sequence: action index + 1 of the user's TAKEN actions, 0 = left padding, newest last ->
    propensity: the probability that the user takes each action within the optimization period."""
    return ExportContract(
        name=ACTION_PROPENSITY,
        inputs=(TensorSpec("item_sequence", "int64", (BATCH, max_sequence_length)),),
        outputs=(TensorSpec("propensity", "float32", (BATCH, n_actions)),),
    )


def user_affinity_contract(n_users: int) -> ExportContract:
    """item_index -> user_scores: log P(user | item) for every user of ``segments.json``'s ``users``."""
    return ExportContract(
        name=USER_AFFINITY,
        inputs=(TensorSpec("item_index", "int64", (BATCH,)),),
        outputs=(TensorSpec("user_scores", "float32", (BATCH, n_users)),),
    )


def item_neighbors_contract(neighbors: int) -> ExportContract:
    """item_index -> the item's K nearest neighbours (index -1 = none) and their similarity."""
    return ExportContract(
        name=ITEM_NEIGHBORS,
        inputs=(TensorSpec("item_index", "int64", (BATCH,)),),
        outputs=(
            TensorSpec("neighbor_index", "int64", (BATCH, neighbors)),
            TensorSpec("neighbor_score", "float32", (BATCH, neighbors)),
        ),
    )


@dataclass(frozen=True)
class ParityReport:
    atol: float
    max_abs_diff: float

    def to_json(self) -> dict[str, float]:
        return {"atol": self.atol, "max_abs_diff": self.max_abs_diff}


def _check_signature(session: Any, contract: ExportContract) -> None:
    for kind, declared, actual in (
        ("input", contract.inputs, session.get_inputs()),
        ("output", contract.outputs, session.get_outputs()),
    ):
        if [spec.name for spec in declared] != [node.name for node in actual]:
            raise ExportParityError(
                f"ONNX {kind}s {[n.name for n in actual]} differ from the {contract.name} contract "
                f"{[s.name for s in declared]}."
            )
        for spec, node in zip(declared, actual, strict=True):
            if node.type != _ORT_TYPES[spec.dtype]:
                raise ExportParityError(
                    f"ONNX {kind} {spec.name} has type {node.type}, contract says {spec.dtype}."
                )
            if len(node.shape) != len(spec.shape):
                raise ExportParityError(
                    f"ONNX {kind} {spec.name} has rank {len(node.shape)}, contract says {spec.shape}."
                )
            for actual_dim, declared_dim in zip(node.shape, spec.shape, strict=True):
                if isinstance(declared_dim, int) and actual_dim != declared_dim:
                    raise ExportParityError(
                        f"ONNX {kind} {spec.name} has shape {node.shape}, contract says {list(spec.shape)}."
                    )


def _compare(
    contract: ExportContract, expected: list[np.ndarray], actual: list[np.ndarray], atol: float
) -> float:
    worst = 0.0
    for spec, want, got in zip(contract.outputs, expected, actual, strict=True):
        if want.shape != got.shape:
            raise ExportParityError(
                f"Output {spec.name}: onnxruntime shape {got.shape}, PyTorch {want.shape}."
            )
        if spec.dtype == "int64":
            if not np.array_equal(want, got):
                raise ExportParityError(f"Output {spec.name}: onnxruntime and PyTorch indices differ.")
            continue
        both_inf = np.isinf(want) & np.isinf(got) & (np.sign(want) == np.sign(got))
        diff = np.where(both_inf, 0.0, np.abs(want.astype(np.float64) - got.astype(np.float64)))
        largest = float(np.nanmax(diff)) if diff.size else 0.0
        if np.isnan(diff).any() or largest > atol:
            raise ExportParityError(
                f"Output {spec.name}: onnxruntime differs from PyTorch by {largest:.3g} (atol {atol:g}); "
                "the model was not published."
            )
        worst = max(worst, largest)
    return worst


def export_and_verify(
    module: torch.nn.Module,
    contract: ExportContract,
    sample_inputs: Mapping[str, np.ndarray],
    path: str | Path,
    atol: float = DEFAULT_ATOL,
) -> ParityReport:
    """Export ``module`` to ``path`` and prove onnxruntime reproduces it; raise ExportParityError if not."""
    import onnx
    import onnxruntime
    import torch

    names = [spec.name for spec in contract.inputs]
    if sorted(sample_inputs) != sorted(names):
        raise ValueError(f"sample inputs {sorted(sample_inputs)} do not match contract inputs {names}")
    module = module.eval()
    tensors = tuple(torch.from_numpy(np.ascontiguousarray(sample_inputs[name])) for name in names)
    dynamic_axes = {spec.name: {0: BATCH} for spec in (*contract.inputs, *contract.outputs)}
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            tensors,
            str(path),
            input_names=names,
            output_names=[spec.name for spec in contract.outputs],
            dynamic_axes=dynamic_axes,
            opset_version=OPSET_VERSION,
            dynamo=False,
        )
    onnx.checker.check_model(str(path))

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    _check_signature(session, contract)

    worst = 0.0
    for batch in (tensors, tuple(t[:1] for t in tensors)):
        with torch.no_grad():
            expected = module(*batch)
        expected_list = [expected] if isinstance(expected, torch.Tensor) else list(expected)
        want = [t.detach().cpu().numpy() for t in expected_list]
        got = session.run(None, {name: t.numpy() for name, t in zip(names, batch, strict=True)})
        worst = max(worst, _compare(contract, want, got, atol))
    return ParityReport(atol=atol, max_abs_diff=worst)
