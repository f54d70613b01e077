"""Personalize's offline metrics against values worked out by hand."""

from __future__ import annotations

import pytest

from training.metrics import (
    METRIC_KEYS,
    coverage,
    ndcg_at_k,
    personalize_metrics,
    precision_at_k,
    reciprocal_rank_at_k,
)

pytestmark = pytest.mark.unit

# Relevant items b (rank 2) and e (rank 5); x is relevant but not recommended.
RECOMMENDED = ["a", "b", "c", "d", "e"]
RELEVANT = {"b", "e", "x"}

# 1/log2(3) and 1/log2(6): the discounts of ranks 2 and 5.
D2 = 0.6309297535714574
D5 = 0.38685280723454163


def test_precision_counts_hits_in_top_k_over_k() -> None:
    assert precision_at_k(RECOMMENDED, RELEVANT, 5) == pytest.approx(2 / 5)
    assert precision_at_k(RECOMMENDED, RELEVANT, 2) == pytest.approx(1 / 2)
    assert precision_at_k(RECOMMENDED, RELEVANT, 1) == 0.0


def test_precision_divides_by_k_even_when_fewer_items_are_recommended() -> None:
    assert precision_at_k(["b"], RELEVANT, 10) == pytest.approx(0.1)


def test_ndcg_at_5_by_hand() -> None:
    # Personalize's ideal is the top 5 sorted by relevance: its 2 hits at ranks 1 and 2.
    # DCG = D2 + D5 = 1.01778; ideal DCG = 1 + D2 = 1.63093.
    assert ndcg_at_k(RECOMMENDED, RELEVANT, 5) == pytest.approx(1.0177825608059992 / 1.6309297535714575)
    assert ndcg_at_k(RECOMMENDED, RELEVANT, 5) == pytest.approx(0.6240505200038379)


def test_ndcg_of_a_single_hit_is_its_discount() -> None:
    # One hit at rank 2: ideal DCG is 1 (that hit at rank 1), however many items the user held out.
    assert ndcg_at_k(RECOMMENDED, RELEVANT, 2) == pytest.approx(D2)
    assert ndcg_at_k(RECOMMENDED, RELEVANT, 4) == pytest.approx(D2)


def test_textbook_ndcg_normalises_over_the_truth() -> None:
    # ideal="truth": min(5, 3) = 3 hits at the top: 1 + D2 + 1/log2(4) = 2.13093.
    assert ndcg_at_k(RECOMMENDED, RELEVANT, 5, ideal="truth") == pytest.approx(
        1.0177825608059992 / 2.1309297535714578
    )
    assert ndcg_at_k(RECOMMENDED, RELEVANT, 2, ideal="truth") == pytest.approx(D2 / (1 + D2))
    with pytest.raises(ValueError):
        ndcg_at_k(RECOMMENDED, RELEVANT, 2, ideal="other")  # type: ignore[arg-type]


def test_ndcg_is_one_for_a_perfect_list_and_zero_without_truth() -> None:
    assert ndcg_at_k(["x", "b", "e", "a"], RELEVANT, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x", "b", "e", "a"], RELEVANT, 10, ideal="truth") == pytest.approx(1.0)
    assert ndcg_at_k(RECOMMENDED, set(), 10) == 0.0
    assert ndcg_at_k([], RELEVANT, 10) == 0.0
    assert ndcg_at_k(["a", "c"], RELEVANT, 10) == 0.0


def test_reciprocal_rank_is_that_of_the_first_hit_within_25() -> None:
    assert reciprocal_rank_at_k(RECOMMENDED, RELEVANT) == pytest.approx(1 / 2)
    late = [f"n{i}" for i in range(25)] + ["b"]
    assert reciprocal_rank_at_k(late, RELEVANT) == 0.0
    assert reciprocal_rank_at_k(late[1:], RELEVANT) == pytest.approx(1 / 25)


def test_a_repeated_item_counts_once() -> None:
    assert precision_at_k(["b", "b", "b"], RELEVANT, 3) == pytest.approx(1 / 3)
    assert ndcg_at_k(["b", "b"], {"b"}, 2) == pytest.approx(1.0)


def test_coverage_is_distinct_top_25_items_over_catalogue() -> None:
    assert coverage([["a", "b"], ["b", "c"]], catalog_size=10) == pytest.approx(0.3)
    assert coverage([[f"i{i}" for i in range(30)]], catalog_size=100) == pytest.approx(0.25)


def test_invalid_arguments_raise() -> None:
    with pytest.raises(ValueError):
        precision_at_k(RECOMMENDED, RELEVANT, 0)
    with pytest.raises(ValueError):
        coverage([], catalog_size=0)


def test_personalize_metrics_averages_over_users_with_truth() -> None:
    recommendations = {
        "u1": RECOMMENDED,
        "u2": ["z"],
        "u3": ["q", "r"],  # empty truth: not evaluated, not in coverage
    }
    truth = {"u1": RELEVANT, "u2": {"z"}, "u3": set(), "u4": {"q"}}  # u4 has no recommendations
    metrics = personalize_metrics(recommendations, truth, catalog_size=10)

    assert list(metrics) == list(METRIC_KEYS)
    # Averages over u1, u2, u4 (u4 scores 0 everywhere).
    assert metrics["precision_at_5"] == pytest.approx((2 / 5 + 1 / 5 + 0) / 3)
    assert metrics["precision_at_10"] == pytest.approx((2 / 10 + 1 / 10 + 0) / 3)
    assert metrics["precision_at_25"] == pytest.approx((2 / 25 + 1 / 25 + 0) / 3)
    assert metrics["normalized_discounted_cumulative_gain_at_5"] == pytest.approx(
        (0.6240505200038379 + 1) / 3
    )
    # At K = 25 u1's list holds the same 2 hits, so its NDCG is the same as at 5.
    assert metrics["normalized_discounted_cumulative_gain_at_25"] == pytest.approx(
        (0.6240505200038379 + 1) / 3
    )
    assert metrics["mean_reciprocal_rank_at_25"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    # Distinct recommended items of evaluated users: a b c d e z -> 6 of 10.
    assert metrics["coverage"] == pytest.approx(0.6)


def test_personalize_metrics_without_evaluable_users_is_all_zero() -> None:
    assert personalize_metrics({"u": ["a"]}, {"u": set()}, catalog_size=3) == dict.fromkeys(METRIC_KEYS, 0.0)
