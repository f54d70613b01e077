"""Shared fixtures of the smoke tier: a small generated data set and a runner for the entrypoint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from training.synthetic import SyntheticData, generate, write_csv
from training.warm_start import PREVIOUS_MODEL_CHANNEL

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class JobResult:
    returncode: int
    stdout: str
    stderr: str
    input_dir: Path
    model_dir: Path
    output_dir: Path

    @property
    def failure(self) -> str | None:
        path = self.output_dir / "failure"
        return path.read_text(encoding="utf-8") if path.exists() else None

    def events(self) -> list[dict]:
        lines = (self.output_dir / "progress.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]


@pytest.fixture(scope="session")
def synthetic() -> SyntheticData:
    """~2,000 interactions, 70 users in 3 clusters of 50 items: learnable, small enough for seconds."""
    data = generate(n_users=70, n_items=150, n_clusters=3, min_length=25, max_length=40, seed=11)
    assert len(data.rows) >= 1500
    return data


def run_entrypoint(
    root: Path,
    hyperparameters: dict[str, str],
    data: SyntheticData | None,
    rows: Sequence[tuple[str, str, int, str]] | None = None,
) -> JobResult:
    input_dir, model_dir, output_dir = root / "input", root / "model", root / "output"
    (input_dir / "config").mkdir(parents=True, exist_ok=True)
    (input_dir / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters), encoding="utf-8")
    if data is not None:
        subset = (
            data if rows is None else SyntheticData(list(rows), data.cluster_of_item, data.cluster_of_user)
        )
        write_csv(subset, input_dir / "data" / "interactions" / "part-00000.csv")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    completed = subprocess.run(
        [sys.executable, "-m", "training.entrypoint", "--input-dir", str(input_dir),
         "--model-dir", str(model_dir), "--output-dir", str(output_dir)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    return JobResult(
        completed.returncode, completed.stdout, completed.stderr, input_dir, model_dir, output_dir
    )


def with_new_items(data: SyntheticData, items: Sequence[str], takers: int) -> list[tuple[str, str, int, str]]:
    """``data``'s rows plus: the first ``takers`` users of cluster 0 click ``items`` in order, a minute
    apart, after their own history (the new data an UPDATE brings in)."""
    rows = list(data.rows)
    last = {user: max(t for u, _, t, _ in data.rows if u == user) for user in data.cluster_of_user}
    chosen = [u for u, c in sorted(data.cluster_of_user.items()) if c == 0][:takers]
    for user in chosen:
        rows.extend((user, item, last[user] + 60 * (k + 1), "click") for k, item in enumerate(items))
    return rows


def full_then_update(
    tmp_path_factory: pytest.TempPathFactory,
    hyperparameters: dict[str, str],
    data: SyntheticData,
    update_rows: Sequence[tuple[str, str, int, str]],
    prepare: Callable[[Path, bool], None] | None = None,
) -> tuple[JobResult, JobResult]:
    """A FULL training job, then an UPDATE from its model on ``update_rows``; ``prepare(root, updating)``
    adds other channels (an Items dataset) before each job."""
    first = tmp_path_factory.mktemp("full")
    if prepare is not None:
        prepare(first, False)
    full = run_entrypoint(first, hyperparameters, data)
    assert full.returncode == 0, full.failure or full.stderr[-3000:]
    root = tmp_path_factory.mktemp("update")
    shutil.copytree(full.model_dir, root / "input" / "data" / PREVIOUS_MODEL_CHANNEL)
    if prepare is not None:
        prepare(root, True)
    update = run_entrypoint(root, {**hyperparameters, "tailor_training_mode": "UPDATE"}, data, update_rows)
    assert update.returncode == 0, update.failure or update.stderr[-3000:]
    return full, update
