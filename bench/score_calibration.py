"""How well the served scores of a sequence recipe predict the next item, with and without its score
temperature (``training/recipes/score_temperature.py``).

    .venv/bin/python bench/score_calibration.py [--recipes aws-user-personalization,...] [--seeds 3]

Data and split as ``bench/quality.py`` (MovieLens latest-small, Personalize's split). For each held-out
user the runtime's score is the softmax over the whole catalogue of the graph's logits, and the user's
next item is the first held-out interaction with an item not in the visible 90%. Per recipe and seed the
table shows the fitted temperature and, with it and without it (T = 1): the mean score of the top item
(seen items are never returned), how often that top item is the next one, and the log-loss of the next
item. A calibrated model's mean top score is close to its top-item hit rate.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from quality import load_dataset  # noqa: E402

from training.data import Interactions  # noqa: E402
from training.recipes import get_recipe  # noqa: E402
from training.recipes.base import top_k_unseen  # noqa: E402
from training.recipes.score_temperature import mean_log_loss  # noqa: E402
from training.split import Split, personalize_split  # noqa: E402


def next_items(split: Split, data: Interactions) -> tuple[list[int], list[int]]:
    """(positions into the split's test users, their next item) for users who have one."""
    positions, targets = [], []
    for position, user in enumerate(split.test_users):
        visible = split.visible[position]
        seen = set(visible.tolist())
        later = [int(i) for i in data.history(int(user))[len(visible) :] if int(i) not in seen]
        if later:
            positions.append(position)
            targets.append(later[0])
    return positions, targets


def calibration(logits: np.ndarray, histories: list[np.ndarray], targets: np.ndarray) -> tuple[float, ...]:
    """(mean top score, top-item hit rate, mean log-loss of the target) for softmax(logits), the top item
    being the best one not in the history, as the runtime returns it."""
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    probabilities = np.exp(shifted)
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    top = np.array([best[0] for best in top_k_unseen(probabilities, histories, 1)])
    rows = np.arange(len(targets))
    hit_rate = float((top == targets).mean())
    return float(probabilities[rows, top].mean()), hit_rate, mean_log_loss(logits, targets, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default="aws-user-personalization,aws-user-personalization-v2")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=42)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data, description, _ = load_dataset(Path(tmp))
    print(f"Data: {description}")
    print()
    print("| recipe | seed | users | T | mean top score (T / 1) | top is next | log-loss (T / 1) |")
    print("|---|---:|---:|---:|---|---:|---|")
    for name in args.recipes.split(","):
        cls = get_recipe(name)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            split = personalize_split(data, seed)
            recipe = cls(cls.parse_hyperparameters({}), seed=seed)
            recipe.fit(split.train, "cpu")
            positions, targets = next_items(split, data)
            histories = [split.visible[p] for p in positions]
            tempered = recipe.scores(histories)
            temperature = float(recipe.temperature)
            score_t, hit, loss_t = calibration(tempered, histories, np.asarray(targets))
            score_1, _, loss_1 = calibration(tempered * temperature, histories, np.asarray(targets))
            print(
                f"| {name} | {seed} | {len(targets)} | {temperature:.2f} | {score_t:.3f} / {score_1:.3f} "
                f"| {hit:.3f} | {loss_t:.2f} / {loss_1:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
