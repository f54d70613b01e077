#!/usr/bin/env bash
# Trains aws-user-personalization-v2 on MovieLens 100K on the GPU and on the CPU and prints both times.
#
#   bench/gpu_check.sh [path/to/ml-100k]        (default: ../shared/data/ml-100k from the repository root)
#
# Environment: PYTHON (default .venv/bin/python, else python3), EPOCHS (default: the recipe's default),
# CPU_THREADS (torch threads for the CPU run; default: all cores). Every rating of u.data is one
# interaction (100,000 rows, 943 users, 1,682 items); the whole data set is trained once per device with
# the same seed, so the two runs do the same work. Without a CUDA device the GPU run is skipped and the
# script says so; it still times the CPU run and exits 0.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${1:-$ROOT/../shared/data/ml-100k}"
PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
if [[ ! -f "$DATA/u.data" ]]; then
  echo "MovieLens 100K not found: $DATA/u.data (pass the ml-100k directory as the first argument)" >&2
  exit 2
fi

cd "$ROOT"
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" - "$DATA/u.data" <<'PY'
import os
import sys
import time

import torch

from training.data import from_records
from training.recipes import get_recipe

path = sys.argv[1]
users, items, stamps = [], [], []
with open(path, encoding="utf-8") as handle:
    for line in handle:
        user, item, _rating, stamp = line.split("\t")
        users.append(user)
        items.append(item)
        stamps.append(float(stamp))
data = from_records(users, items, stamps)
recipe_class = get_recipe("aws-user-personalization-v2")
overrides = {"epochs": os.environ["EPOCHS"]} if os.environ.get("EPOCHS") else {}
hyperparameters = recipe_class.parse_hyperparameters(overrides)
print(
    f"MovieLens 100K: {data.n_interactions} interactions, {data.n_users} users, {data.n_items} items; "
    f"aws-user-personalization-v2, {hyperparameters.epochs} epochs, torch {torch.__version__}",
    flush=True,
)
if os.environ.get("CPU_THREADS"):
    torch.set_num_threads(int(os.environ["CPU_THREADS"]))


def timed_fit(device: str) -> float:
    recipe = recipe_class(hyperparameters, seed=42)
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    recipe.fit(data, device)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    # A sanity check that the run learned something: the top-10 for user 0 must exclude their history.
    history = data.history(0)
    top = recipe.recommend([history], 10)[0]
    assert len(top) == 10 and not set(top.tolist()) & set(history.tolist())
    return seconds


results = {}
if torch.cuda.is_available():
    name = torch.cuda.get_device_name(0)
    bf16 = torch.cuda.is_bf16_supported()
    print(f"GPU: {name} (bfloat16 autocast: {'yes' if bf16 else 'no'})", flush=True)
    timed_fit("cuda")  # warm-up: CUDA context, kernels and autotuning are not training time
    results["cuda"] = timed_fit("cuda")
    print(f"GPU training: {results['cuda']:.1f} s", flush=True)
else:
    print("GPU: none present (torch.cuda.is_available() is false); GPU time not measured", flush=True)
print(f"CPU: {os.cpu_count()} cores, {torch.get_num_threads()} torch threads", flush=True)
results["cpu"] = timed_fit("cpu")
print(f"CPU training: {results['cpu']:.1f} s", flush=True)
if "cuda" in results:
    print(f"GPU speed-up: {results['cpu'] / results['cuda']:.1f}x", flush=True)
PY
