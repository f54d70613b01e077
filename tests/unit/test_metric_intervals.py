"""The bootstrap interval the quality benchmark prints beside each mean (training/metric_intervals.py)."""

import numpy as np
import pytest

from training.metric_intervals import bootstrap_interval, standard_error
from training.metrics import per_user_metrics, personalize_metrics


def test_mean_is_the_mean_of_seed_means_not_of_pooled_users():
    interval = bootstrap_interval([[1.0, 1.0, 1.0, 1.0], [0.0]], resamples=200)
    assert interval.mean == pytest.approx(0.5)  # pooled users would give 0.8
    # The one-user seed contributes 0 to every resample and the other 1, so nothing moves.
    assert interval.low == pytest.approx(0.5) and interval.high == pytest.approx(0.5)


def test_constant_values_give_a_point_and_the_share_against_a_reference():
    interval = bootstrap_interval([[0.3] * 50, [0.3] * 40], reference=0.25, resamples=500)
    assert (interval.low, interval.high) == pytest.approx((0.3, 0.3))
    assert interval.share_at_least == 1.0
    assert bootstrap_interval([[0.3] * 50], reference=0.31, resamples=500).share_at_least == 0.0


def test_interval_width_shrinks_with_the_square_root_of_the_users():
    rng = np.random.default_rng(1)
    few, many = rng.exponential(0.25, 100), rng.exponential(0.25, 1600)
    small = bootstrap_interval([few], resamples=4000)
    large = bootstrap_interval([many], resamples=4000)
    ratio = (small.high - small.low) / (large.high - large.low)
    # sqrt(1600 / 100) = 4, times the ratio of the two samples' own spreads.
    assert ratio == pytest.approx(4 * few.std() / many.std(), rel=0.15)


def test_the_interval_covers_the_true_mean_about_as_often_as_its_level():
    rng = np.random.default_rng(7)
    covered = 0
    for trial in range(200):
        seeds = [rng.normal(0.27, 0.3, 61) for _ in range(3)]
        interval = bootstrap_interval(seeds, resamples=1000, seed=trial)
        covered += interval.low <= 0.27 <= interval.high
    assert 0.88 <= covered / 200 <= 0.99


def test_same_seed_same_interval_and_bad_input_is_refused():
    values = [[0.1, 0.5, 0.0, 1.0], [0.2, 0.0, 0.33]]
    assert bootstrap_interval(values, seed=3) == bootstrap_interval(values, seed=3)
    with pytest.raises(ValueError):
        bootstrap_interval([[0.1], []])
    with pytest.raises(ValueError):
        bootstrap_interval([[0.1]], level=1.0)


def test_standard_error_of_a_mean_over_n_users():
    assert standard_error([0.0, 1.0] * 50, 100) == pytest.approx(np.std([0.0, 1.0] * 50, ddof=1) / 10)


def test_per_user_values_average_to_the_reported_metrics():
    recommendations = {"a": [1, 2, 3], "b": [4, 5, 6], "c": [7, 8, 9]}
    truth = {"a": {2}, "b": {9}, "c": {7, 9}, "d": set()}
    per_user = per_user_metrics(recommendations, truth)
    assert per_user["mean_reciprocal_rank_at_25"] == [0.5, 0.0, 1.0]
    reported = personalize_metrics(recommendations, truth, catalog_size=10)
    for key, values in per_user.items():
        assert reported[key] == pytest.approx(sum(values) / 3)
    assert "coverage" not in per_user
