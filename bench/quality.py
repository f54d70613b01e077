"""Offline quality of Tailor's recipes beside Amazon Personalize's published numbers.

    .venv/bin/python bench/quality.py [--recipes aws-sims,...] [--seeds 3] [--set key=value ...]

Data: MovieLens latest-small prepared as the Amazon Personalize samples do (a ``click`` for every rating
> 1 and a ``watch`` for every rating > 3, 158,371 interactions), read from ``../shared/data/ml-latest-small``
relative to the repository root; without it, a generated data set is used and a warning says the numbers
are not comparable. Each recipe is trained and scored on Personalize's split (10% of users held out, their
newest 10% of interactions as ground truth) once per seed, with the same code the training container
runs; the table shows mean ± sample standard deviation over seeds.

Personalize's numbers are the ones it reported for this data set in its samples. Tailor's metrics follow
the definitions of Personalize's Developer Guide (``training/metrics.py``: NDCG@K is normalised by the
top K recommendations sorted by relevance, so one hit at rank r scores 1/log2(r + 1)); Personalize's
evaluation code itself is not public. One published number cannot come from those definitions on this
split: with 61 evaluated users x 25 recommendations, coverage over 9,477 items is at most 0.161, yet
Personalize reports 0.186 for SIMS (it probably queries SIMS once per item, not once per user). Only
61 users are scored per seed, so the spread between seeds is large: read differences below about 0.03
as noise. A second table gives, for NDCG@10 and MRR@25, a 95% bootstrap interval of each mean (each seed's
users resampled with replacement, ``training/metric_intervals.py``), the share of resamples at or above
Personalize's number, and the standard error that one split of 61 users carries, which Personalize's own
number, measured on one split, carries too.

aws-user-personalization-v2 has no published number on this data; it is shown against
aws-user-personalization's, which Personalize says v2 improves on.

aws-personalized-ranking: the Developer Guide ("Evaluating a solution version with metrics") gives one
split for every recipe type but USER_SEGMENTATION (90% of users train; the oldest 90% of each held-out
user's interactions are the input, their newest 10% the truth) and the same metric definitions, with no
candidate list for PERSONALIZED_RANKING. So the offline query ranks the whole catalogue for the user, as
it does for user-personalization, and that is how it is scored here. Personalize published only NDCG@10
(0.0707) for it on this data.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from training.data import Interactions, load_interactions  # noqa: E402
from training.evaluation import held_out_lists  # noqa: E402
from training.metric_intervals import bootstrap_interval, standard_error  # noqa: E402
from training.metrics import per_user_metrics, personalize_metrics  # noqa: E402
from training.recipes import get_recipe  # noqa: E402
from training.split import personalize_split  # noqa: E402
from training.synthetic import generate, write_csv  # noqa: E402

MOVIELENS = REPO.parent / "shared" / "data" / "ml-latest-small"
DEFAULT_RECIPES = (
    "aws-popularity-count",
    "aws-sims",
    "aws-user-personalization",
    "aws-user-personalization-v2",
    "aws-personalized-ranking",
)

PUBLISHED: dict[str, dict[str, float]] = {
    "aws-user-personalization": {
        "normalized_discounted_cumulative_gain_at_10": 0.2687,
        "mean_reciprocal_rank_at_25": 0.269,
        "precision_at_10": 0.0571,
        "coverage": 0.0791,
        "normalized_discounted_cumulative_gain_at_25": 0.3321,
        "precision_at_25": 0.0379,
    },
    "aws-sims": {
        "normalized_discounted_cumulative_gain_at_10": 0.2234,
        "mean_reciprocal_rank_at_25": 0.1669,
        "precision_at_10": 0.0588,
        "coverage": 0.1861,
    },
    "aws-personalized-ranking": {"normalized_discounted_cumulative_gain_at_10": 0.0707},
}
# Recipes without a published number of their own, compared with the recipe Personalize says they improve.
COMPARED_WITH = {"aws-user-personalization-v2": "aws-user-personalization"}
SHOWN = (
    ("normalized_discounted_cumulative_gain_at_10", "NDCG@10"),
    ("mean_reciprocal_rank_at_25", "MRR@25"),
    ("precision_at_10", "P@10"),
    ("coverage", "coverage"),
    ("normalized_discounted_cumulative_gain_at_25", "NDCG@25"),
    ("precision_at_25", "P@25"),
)


def prepare_movielens(source: Path, target: Path) -> int:
    """Write the Personalize sample preparation of ratings.csv as an interactions CSV; return rows."""
    rows = 0
    with (
        (source / "ratings.csv").open(newline="", encoding="utf-8") as src,
        target.open("w", newline="", encoding="utf-8") as dst,
    ):
        reader = csv.DictReader(src)
        writer = csv.writer(dst)
        writer.writerow(("USER_ID", "ITEM_ID", "EVENT_TYPE", "TIMESTAMP"))
        for record in reader:
            rating = float(record["rating"])
            for event, threshold in (("click", 1.0), ("watch", 3.0)):
                if rating > threshold:
                    writer.writerow((record["userId"], record["movieId"], event, record["timestamp"]))
                    rows += 1
    return rows


def load_dataset(workdir: Path) -> tuple[Interactions, str, bool]:
    """The interactions, a description, and whether Personalize's numbers apply to them."""
    channel = workdir / "interactions"
    channel.mkdir(parents=True, exist_ok=True)
    if (MOVIELENS / "ratings.csv").exists():
        rows = prepare_movielens(MOVIELENS, channel / "interactions.csv")
        description = f"MovieLens latest-small, Personalize sample preparation ({rows} rows)"
        return load_interactions(channel), description, True
    warnings.warn(
        f"{MOVIELENS} not found: using a generated data set, NOT comparable to Personalize's numbers.",
        stacklevel=1,
    )
    write_csv(
        generate(n_users=600, n_items=2000, n_clusters=20, min_length=30, max_length=200), channel / "x.csv"
    )
    return load_interactions(channel), "generated clusters (fallback)", False


def run(recipes: list[str], seeds: list[int], overrides: dict[str, str], verbose: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data, description, comparable = load_dataset(Path(tmp))
    print(
        f"Data: {description}: {data.n_interactions} interactions, {data.n_users} users, {data.n_items} items"
    )
    results: dict[str, list[dict[str, float]]] = {}
    per_user: dict[str, list[dict[str, list[float]]]] = {}
    seconds: dict[str, list[float]] = {}
    splits = {seed: personalize_split(data, seed) for seed in seeds}
    for seed, split in splits.items():
        repeated = sum(split.last_repeated[i] for i in split.evaluated())
        print(
            f"  seed {seed}: {repeated} of {len(split.evaluated())} evaluated users have their newest "
            "visible item among their held-out interactions (a repeat: never recommended by Tailor, not in "
            "the truth)"
        )
    for name in recipes:
        cls = get_recipe(name)
        known = set(cls.hyperparameters_class.defaults_as_strings())
        hyperparameters = cls.parse_hyperparameters({k: v for k, v in overrides.items() if k in known})
        for seed, split in splits.items():
            recipe = cls(hyperparameters, seed=seed)
            started = time.monotonic()
            recipe.fit(split.train, "cpu")
            seconds.setdefault(name, []).append(time.monotonic() - started)
            recommendations, truth = held_out_lists(recipe, split)
            metrics = personalize_metrics(recommendations, truth, data.n_items)
            results.setdefault(name, []).append(metrics)
            per_user.setdefault(name, []).append(per_user_metrics(recommendations, truth))
            if verbose:
                shown = ", ".join(f"{label} {metrics[key]:.4f}" for key, label in SHOWN)
                notes = "".join(f", {key} {value}" for key, value in recipe.training_notes().items())
                print(f"  {name} seed {seed}: {shown} ({seconds[name][-1]:.1f} s{notes})", flush=True)
    published = PUBLISHED if comparable else {}
    print_table(results, seconds, len(seeds), published)
    print_intervals(per_user, published, len(splits[seeds[0]].evaluated()))


def _cell(values: list[float]) -> str:
    mean = statistics.fmean(values)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.4f} ± {spread:.4f}"


def print_table(
    results: dict[str, list[dict[str, float]]],
    seconds: dict[str, list[float]],
    n: int,
    published: dict[str, dict[str, float]],
) -> None:
    header = f"| recipe | metric | Tailor (mean ± sd, {n} seeds) | Amazon Personalize |"
    print()
    print(header)
    print("|---|---|---|---|")
    for name, runs in results.items():
        for key, label in SHOWN:
            value = published.get(COMPARED_WITH.get(name, name), {}).get(key)
            theirs = f"{value:.4f}" if value is not None else "-"
            print(f"| {name} | {label} | {_cell([r[key] for r in runs])} | {theirs} |")
        print(f"| {name} | fit seconds (2-core CPU) | {_cell(seconds[name])} | - |")
    print()
    for name, reference in COMPARED_WITH.items():
        if name in results:
            print(f"{name} is shown beside Personalize's {reference} numbers (none are published for it).")


INTERVAL_KEYS = (
    ("normalized_discounted_cumulative_gain_at_10", "NDCG@10"),
    ("mean_reciprocal_rank_at_25", "MRR@25"),
)


def print_intervals(
    per_user: dict[str, list[dict[str, list[float]]]], published: dict[str, dict[str, float]], users: int
) -> None:
    """The 95% bootstrap interval of each mean (users resampled within each seed), the share of resamples
    at or above Personalize's number, and the standard error a single split of ``users`` users carries,
    which Personalize's published number, measured on one split, carries too."""
    print()
    print(
        "| recipe | metric | mean | 95% interval, users resampled | resamples >= Personalize | "
        f"standard error of one {users}-user split |"
    )
    print("|---|---|---|---|---|---|")
    for name, seeds in per_user.items():
        for key, label in INTERVAL_KEYS:
            reference = published.get(COMPARED_WITH.get(name, name), {}).get(key)
            interval = bootstrap_interval([values[key] for values in seeds], reference)
            share = "-" if interval.share_at_least is None else f"{interval.share_at_least:.2f}"
            pooled = [value for values in seeds for value in values[key]]
            error = standard_error(pooled, users)
            print(
                f"| {name} | {label} | {interval.mean:.4f} | {interval.low:.4f} - {interval.high:.4f} | "
                f"{share} | {error:.4f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipes", default=",".join(DEFAULT_RECIPES))
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (42, 43, ...)")
    # Choose settings on other seeds than the reported 42-44, so the table does not reward overfitting them.
    parser.add_argument("--first-seed", type=int, default=42, help="the first seed")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="hyperparameter override"
    )
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set)
    run(args.recipes.split(","), [args.first_seed + i for i in range(args.seeds)], overrides, not args.quiet)


if __name__ == "__main__":
    main()
