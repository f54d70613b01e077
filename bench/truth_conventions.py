"""How much Personalize's unpublished evaluation conventions could move the MRR@25 that is compared.

    .venv/bin/python bench/truth_conventions.py [--recipes aws-user-personalization] [--seeds 3]

Amazon Personalize's evaluation code is not public. On the sample preparation of MovieLens latest-small
(a ``click`` and a ``watch`` row with one timestamp for every rating above 3) three of its conventions
matter and none is documented: whether a held-out item the user already has in the visible history counts
as relevant, whether a list may hold such items, and whether the 90/10 cut is taken over events or over
distinct items. Each recipe is fitted once per seed on Personalize's split (the same fit ``quality.py``
scores) and its lists are scored under each convention:

- reported: ``quality.py``'s numbers. The cut is over events, held-out repeats of visible items are left
  out of the truth, lists never hold a seen item (as Tailor serves them).
- repeats counted, lists over all items: every held-out item is relevant, and the list is the model's
  top 25 over the whole catalogue, seen items included (as Personalize serves without a filter).
- repeats counted, newest visible item first: the same truth, and the list is the newest visible item
  followed by the reported list. This is what a model that has learnt "a click is followed by a watch of
  the same film" would return, so it bounds what exploiting the duplicated rows could score.
- cut over distinct items: each held-out user's history reduced to its first interaction with each item,
  the newest 10% of those items are the truth and the input ends where the first of them starts.

Only recipes that expose their score matrix (``scores``: the sequence recipes) can be run here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import load_dataset  # noqa: E402

from training.data import Interactions  # noqa: E402
from training.metrics import personalize_metrics  # noqa: E402
from training.recipes import get_recipe  # noqa: E402
from training.recipes.base import Recipe, top_k_unseen  # noqa: E402
from training.split import Split, personalize_split, truth_size  # noqa: E402

TOP_K = 25
NO_HISTORY = np.zeros(0, dtype=np.int64)  # top_k_unseen then masks nothing
SHOWN = (
    ("normalized_discounted_cumulative_gain_at_10", "NDCG@10"),
    ("mean_reciprocal_rank_at_25", "MRR@25"),
    ("precision_at_10", "P@10"),
)

Lists = dict[int, list[int]]
Truth = dict[int, set[int]]


def held_out_tail(data: Interactions, split: Split, position: int) -> np.ndarray:
    """The held-out user's newest interactions, repeats of visible items included."""
    history = data.history(int(split.test_users[position]))
    return history[len(history) - truth_size(len(history)) :]


def newest_first(visible: np.ndarray, ranked: Sequence[int]) -> list[int]:
    newest = int(visible[-1])
    return ([newest] + [item for item in ranked if item != newest])[:TOP_K]


def distinct_item_cut(history: np.ndarray) -> tuple[np.ndarray, set[int]]:
    """Input and truth when the 90/10 cut is taken over the user's distinct items in first-seen order."""
    _, first = np.unique(history, return_index=True)
    first = np.sort(first)
    cut = len(first) - truth_size(len(first))
    return history[: int(first[cut])], {int(item) for item in history[first[cut:]]}


def conventions(recipe: Recipe, data: Interactions, split: Split) -> dict[str, tuple[Lists, Truth]]:
    positions = split.evaluated()
    visible = [split.visible[i] for i in positions]
    scores = recipe.scores(visible)  # type: ignore[attr-defined]
    unseen = top_k_unseen(scores, visible, TOP_K)
    anything = top_k_unseen(scores, [NO_HISTORY] * len(visible), TOP_K)
    counted = {i: {int(item) for item in held_out_tail(data, split, i)} for i in positions}
    distinct = [distinct_item_cut(data.history(int(split.test_users[i]))) for i in positions]
    distinct_lists = recipe.recommend([history for history, _ in distinct], TOP_K)
    return {
        "reported": (
            {i: [int(x) for x in items] for i, items in zip(positions, unseen, strict=True)},
            {i: split.truth[i] for i in positions},
        ),
        "repeats counted, lists over all items": (
            {i: [int(x) for x in items] for i, items in zip(positions, anything, strict=True)},
            counted,
        ),
        "repeats counted, newest visible item first": (
            {
                i: newest_first(split.visible[i], [int(x) for x in items])
                for i, items in zip(positions, unseen, strict=True)
            },
            counted,
        ),
        "cut over distinct items": (
            {i: [int(x) for x in items] for i, items in zip(positions, distinct_lists, strict=True)},
            {i: truth for i, (_, truth) in zip(positions, distinct, strict=True)},
        ),
    }


def run(recipes: list[str], seeds: list[int], log: Callable[[str], None]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data, description, comparable = load_dataset(Path(tmp))
    log(f"Data: {description}: {data.n_interactions} interactions")
    if not comparable:
        log("(generated data: the conventions' effects say nothing about Personalize's numbers)")
    table: dict[tuple[str, str], list[dict[str, float]]] = {}
    for name in recipes:
        cls = get_recipe(name)
        if not hasattr(cls, "scores"):
            raise SystemExit(f"{name} does not expose its scores; only the sequence recipes can be run")
        for seed in seeds:
            split = personalize_split(data, seed)
            recipe = cls(cls.hyperparameters_class(), seed=seed)
            started = time.monotonic()
            recipe.fit(split.train, "cpu")
            log(f"  {name} seed {seed}: fitted in {time.monotonic() - started:.0f} s")
            for convention, (lists, truth) in conventions(recipe, data, split).items():
                metrics = personalize_metrics(lists, truth, data.n_items)
                table.setdefault((name, convention), []).append(metrics)
                shown = ", ".join(f"{label} {metrics[key]:.4f}" for key, label in SHOWN)
                log(f"    {convention}: {shown}")
    log("")
    log("| recipe | convention | " + " | ".join(label for _, label in SHOWN) + " |")
    log("|---|---|" + "---|" * len(SHOWN))
    for (name, convention), runs in table.items():
        cells = " | ".join(f"{statistics.fmean(run[key] for run in runs):.4f}" for key, _ in SHOWN)
        log(f"| {name} | {convention} | {cells} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipes", default="aws-user-personalization")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds")
    parser.add_argument("--first-seed", type=int, default=42)
    args = parser.parse_args()
    seeds = [args.first_seed + i for i in range(args.seeds)]
    run(args.recipes.split(","), seeds, lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()
