"""Inference time of every recipe's exported ONNX graph beside its PyTorch eager forward.

    .venv/bin/python bench/onnx_speed.py [--recipes aws-deepfm,...] [--items 1000] [--repeats 200]

Each registered recipe is trained for one epoch on generated data (``training.synthetic``: clustered users,
``--items`` items), then exported the way the training container exports it. The benchmark records the
exact module ``export_and_verify`` received (it wraps that function in every recipe module), so the eager
side is the graph's own source, not a re-implementation. Both run single-threaded, as the runtime's
``ModelCache`` configures onnxruntime (``intra_op_num_threads = 1``), on the same random input at batch 1
and batch 64, their calls alternated; the table shows the median CPU time of the calling thread over
``--repeats`` calls after warm-up (wall time on a shared machine measures the neighbours) and the ratio
ONNX / eager (below 1 means onnxruntime is faster). Recipes whose graph is a constant or a table lookup
(popularity, trending, sims) measure the per-call overhead of each runtime more than any computation.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import training.onnx_export as onnx_export  # noqa: E402
from training.data import from_records  # noqa: E402
from training.item_metadata import ItemMetadata, UsesItemMetadata  # noqa: E402
from training.recipes import get_recipe, recipe_names  # noqa: E402
from training.synthetic import generate  # noqa: E402

BATCHES = (1, 64)


@dataclass
class Captured:
    module: Any
    contract: onnx_export.ExportContract
    sample_inputs: dict[str, np.ndarray]
    path: Path


_CAPTURED: list[Captured] = []


def _capture_exports() -> None:
    """Wrap ``export_and_verify`` wherever a recipe module imported it; record each call's module."""
    captured = _CAPTURED
    original = onnx_export.export_and_verify

    def recording(module: Any, contract: Any, sample_inputs: Any, path: Any, **kwargs: Any) -> Any:
        captured.append(Captured(module, contract, dict(sample_inputs), Path(path)))
        return original(module, contract, sample_inputs, path, **kwargs)

    for name, module in list(sys.modules.items()):
        if name.startswith("training.recipes") and getattr(module, "export_and_verify", None) is original:
            module.export_and_verify = recording


def _inputs(captured: Captured, batch: int, n_items: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A batch shaped like the recipe's sample input: random valid item indices (+1 for sequences)."""
    out = {}
    for spec in captured.contract.inputs:
        sample = captured.sample_inputs[spec.name]
        shape = (batch, *sample.shape[1:])
        if spec.name in ("user_index", "feature_tokens"):  # indices of users / feature tokens, not items
            out[spec.name] = rng.integers(0, int(sample.max()) + 1, size=shape).astype(np.int64)
            continue
        low = 1 if spec.name == "item_sequence" else 0
        out[spec.name] = rng.integers(low, n_items + low, size=shape).astype(np.int64)
    return out


def _median_seconds(eager: Callable[[], Any], onnx: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Median CPU seconds of each call, the two alternated so both see the same machine.

    Both runtimes compute on the calling thread (one intra-op thread), so the thread's CPU time is the
    cost of the call; on a shared machine wall time mostly measures the other processes.
    """
    for _ in range(min(10, repeats)):
        eager()
        onnx()
    times: dict[int, list[float]] = {0: [], 1: []}
    for _ in range(repeats):
        for side, call in enumerate((eager, onnx)):
            start = time.thread_time()
            call()
            times[side].append(time.thread_time() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def measure(name: str, n_items: int, repeats: int, seed: int = 0) -> list[tuple[int, float, float]]:
    """(batch, eager seconds, onnxruntime seconds) per batch size for one recipe."""
    import onnxruntime
    import torch

    synthetic = generate(n_users=max(60, n_items // 4), n_items=n_items, n_clusters=10, seed=seed)
    users, items, stamps, _ = zip(*synthetic.rows, strict=True)
    # No event types: Next-Best-Action then reads every interaction as a TAKEN action.
    data = from_records(users, items, stamps)
    cls = get_recipe(name)
    overrides = {"epochs": "1"} if "epochs" in cls.hyperparameters_class.defaults_as_strings() else {}
    recipe = cls(cls.parse_hyperparameters(overrides), seed=seed)
    if isinstance(recipe, UsesItemMetadata):
        genres = [f"g{synthetic.cluster_of_item[item]}" for item in data.item_ids]
        recipe.set_item_metadata(ItemMetadata.from_columns(data.item_ids, {"GENRE": genres}))
    recipe.fit(data, "cpu")
    _CAPTURED.clear()
    with tempfile.TemporaryDirectory() as directory:
        recipe.export(Path(directory))
        if not _CAPTURED:
            raise RuntimeError(f"{name} exported without export_and_verify")
        graph = _CAPTURED[-1]
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(graph.path), options, providers=["CPUExecutionProvider"])
        module = graph.module.eval()
        rng = np.random.default_rng(seed)
        results = []
        for batch in BATCHES:
            feed = _inputs(graph, batch, data.n_items, rng)
            tensors = [torch.from_numpy(feed[spec.name]) for spec in graph.contract.inputs]

            def eager(tensors: list[Any] = tensors) -> Any:
                with torch.no_grad():
                    return module(*tensors)

            def onnx(feed: dict[str, np.ndarray] = feed) -> Any:
                return session.run(None, feed)

            results.append((batch, *_median_seconds(eager, onnx, repeats)))
    return results


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default=",".join(recipe_names()))
    parser.add_argument("--items", type=int, default=1000, help="catalogue size of the generated data")
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    _capture_exports()
    warnings.filterwarnings("ignore")
    print(f"{args.items} items, 1 thread each, median CPU time of {args.repeats} calls (milliseconds)\n")
    print("| recipe | eager b1 | ONNX b1 | ONNX/eager b1 | eager b64 | ONNX b64 | ONNX/eager b64 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in args.recipes.split(","):
        try:
            rows = measure(name.strip(), args.items, args.repeats)
        except Exception as error:  # one recipe that cannot train on this data must not hide the others
            print(f"| {name} | not measured: {type(error).__name__}: {error} ||||||")
            continue
        cells = []
        for _, eager, onnx in rows:
            cells += [f"{eager * 1e3:.3f}", f"{onnx * 1e3:.3f}", f"{onnx / eager:.2f}"]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
