"""How far a metric averaged over a few dozen users moves with the draw of those users.

Personalize's split scores 10% of the users: 61 on MovieLens latest-small. A recipe's mean over three
seeds and a number Personalize published for one split both carry that sampling noise, and a spread over
three seeds says little about it. So ``bench/quality.py`` also reports a percentile bootstrap interval:
each seed's users are resampled with replacement (every seed is a different split, so users are drawn
within their own seed), and each resample's metric is the mean over seeds of the per-seed means, the
number the table shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RESAMPLES = 10_000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    mean: float  # the mean over seeds of each seed's mean
    low: float
    high: float
    share_at_least: float | None  # the share of resampled means at or above the reference, if one was given


def bootstrap_interval(
    per_seed: Sequence[Sequence[float]],
    reference: float | None = None,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = 0,
) -> Interval:
    """The ``level`` percentile interval of the mean over seeds of per-seed user means, each seed's users
    (one value per user) resampled with replacement within the seed."""
    groups = [np.asarray(values, dtype=np.float64) for values in per_seed]
    if not groups or any(len(values) == 0 for values in groups):
        raise ValueError("every seed needs at least one user's value")
    if not 0 < level < 1:
        raise ValueError("level must be between 0 and 1")
    rng = np.random.default_rng(seed)
    means = np.zeros(resamples)
    for values in groups:
        draws = rng.integers(0, len(values), size=(resamples, len(values)))
        means += values[draws].mean(axis=1)
    means /= len(groups)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    share = None if reference is None else float(np.mean(means >= reference))
    return Interval(
        mean=float(np.mean([values.mean() for values in groups])),
        low=float(low),
        high=float(high),
        share_at_least=share,
    )


def standard_error(values: Sequence[float], n: int) -> float:
    """The standard error of a mean over ``n`` users whose values spread like ``values``."""
    if len(values) < 2 or n < 1:
        raise ValueError("need two or more values and n >= 1")
    return float(np.std(np.asarray(values, dtype=np.float64), ddof=1) / np.sqrt(n))
