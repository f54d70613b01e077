"""trainingMode UPDATE against FULL on MovieLens latest-small: time, and whether new items are recommended.

    .venv/bin/python bench/update_mode.py [--cut 0.9]

The interactions (Personalize's sample preparation, ``bench/quality.py``) are cut at the ``--cut``
quantile of their timestamps. A FULL version is trained on the older part (the "previous" version);
then the whole data set is trained twice: as an UPDATE from that model (``training/warm_start.py``) and
as a new FULL version. For each, the script reports the job's seconds, its fit seconds, its epochs and,
for users whose history ends in the newer part, how often the top 25 holds an item that only exists in
the newer part. Runs the training container's entrypoint, as the workflows do.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.quality import MOVIELENS, prepare_movielens  # noqa: E402
from functions.serving.model_artifact import LoadedModel  # noqa: E402
from training.warm_start import PREVIOUS_MODEL_CHANNEL  # noqa: E402

RECIPE = "aws-user-personalization"


def _job(root: Path, rows: list[list[str]], header: list[str], extra: dict[str, str]) -> dict:
    channel = root / "input" / "data" / "interactions"
    channel.mkdir(parents=True, exist_ok=True)
    with (channel / "part.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    (root / "input" / "config").mkdir(parents=True, exist_ok=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps({"tailor_recipe": RECIPE, **extra})
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    subprocess.run(
        [sys.executable, "-m", "training.entrypoint", "--input-dir", str(root / "input"),
         "--model-dir", str(root / "model"), "--output-dir", str(root / "output")],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return json.loads((root / "model" / "manifest.json").read_text())


def _new_item_share(model_dir: Path, new_items: set[str], recent_users: list[str]) -> float:
    model = LoadedModel.load(str(model_dir))
    hits = [bool({i for i, _ in model.recommend_for_user(u, [], 25)} & new_items) for u in recent_users]
    return float(np.mean(hits)) if hits else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cut", type=float, default=0.9)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tailor-update-bench-"))
    try:
        prepare_movielens(MOVIELENS, work / "all.csv")
        with (work / "all.csv").open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            rows = list(reader)
        stamp = header.index("TIMESTAMP")
        cut = float(np.quantile([float(r[stamp]) for r in rows], args.cut))
        old = [r for r in rows if float(r[stamp]) <= cut]
        old_items = {r[1] for r in old}
        new_items = {r[1] for r in rows if r[1] not in old_items}
        recent_users = sorted({r[0] for r in rows if float(r[stamp]) > cut})
        previous = _job(work / "previous", old, header, {})
        shutil.copytree(
            work / "previous" / "model", work / "update" / "input" / "data" / PREVIOUS_MODEL_CHANNEL
        )
        update = _job(work / "update", rows, header, {"tailor_training_mode": "UPDATE"})
        full = _job(work / "full", rows, header, {})
        print(f"{len(old)} older interactions, {len(rows)} in all; {len(new_items)} items only in the newer "
              f"part; {len(recent_users)} users active in it")  # fmt: skip
        print("| version | seconds | fit seconds | epochs | recent users offered a new item (top 25) |")
        print("|---|---:|---:|---:|---:|")
        for name, folder, manifest in (
            ("previous FULL (older part)", "previous", previous),
            ("UPDATE from it (all)", "update", update),
            ("FULL (all)", "full", full),
        ):
            t = manifest["training"]
            share = _new_item_share(work / folder / "model", new_items, recent_users)
            print(f"| {name} | {t['seconds']} | {t['fit_seconds']} | {t['epochs']} | {share:.3f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
