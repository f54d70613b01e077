"""The score temperature (training/recipes/score_temperature.py): the T that best predicts held-out items."""

from __future__ import annotations

import numpy as np
import pytest

from training.recipes.score_temperature import MAX_TEMPERATURE, fit_temperature, mean_log_loss


def _sampled(temperature: float, seed: int, rows: int = 4000, items: int = 40) -> tuple[np.ndarray, ...]:
    """Logits and targets drawn from softmax(logits / temperature): the answer is ``temperature``."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 4.0, size=(rows, items))
    p = np.exp(logits / temperature - (logits / temperature).max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    targets = np.array([rng.choice(items, p=row) for row in p])
    return logits.astype(np.float32), targets


@pytest.mark.parametrize("truth", [0.5, 3.0, 12.0])
def test_recovers_the_temperature_the_targets_were_drawn_with(truth: float) -> None:
    logits, targets = _sampled(truth, seed=int(truth * 10))
    fitted = fit_temperature(logits, targets)
    assert fitted == pytest.approx(truth, rel=0.1)
    loss = mean_log_loss(logits, targets, fitted)
    assert loss <= mean_log_loss(logits, targets, fitted * 0.8)
    assert loss <= mean_log_loss(logits, targets, fitted * 1.25)


def test_logits_that_say_nothing_get_near_uniform_scores() -> None:
    rng = np.random.default_rng(5)
    logits = rng.normal(0.0, 4.0, size=(3000, 40)).astype(np.float32)
    targets = rng.integers(0, 40, size=3000)
    assert fit_temperature(logits, targets) > 0.2 * MAX_TEMPERATURE


def test_no_held_out_rows_leave_the_logits_as_they_are() -> None:
    assert fit_temperature(np.zeros((0, 5), dtype=np.float32), np.zeros(0, dtype=np.int64)) == 1.0


def test_the_loss_is_the_softmax_log_loss() -> None:
    logits = np.array([[0.0, np.log(3.0)], [np.log(3.0), 0.0]])
    # softmax([0, log 3]) = [1/4, 3/4]: targets 1 and 1 -> -(log 3/4 + log 1/4) / 2
    expected = -(np.log(0.75) + np.log(0.25)) / 2
    assert mean_log_loss(logits, np.array([1, 1]), 1.0) == pytest.approx(expected)
