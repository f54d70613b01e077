"""The temperature that turns a sequence model's served logits into next-item probabilities.

The runtime scores an item by its softmax probability over the catalogue, as Personalize defines
User-Personalization scores. The served logits are the network's plus the item-to-item terms at their
weights (up to 8 + 8 + 4 on MovieLens latest-small), and a sum that large makes the softmax peak on one
item: the local demo showed a top score of 0.9995 and 0.0000 for the next nine, although the top item is
the user's next one for about one user in six. Dividing the logits by one constant ``T`` changes no
ranking and no offline metric, only how much the scores claim. ``T`` is the one that best predicts
held-out next items (temperature scaling: Guo et al., "On Calibration of Modern Neural Networks", ICML
2017), fitted on the steps the item-to-item terms' scales are checked on (``term_scale.py``), whose items
the network and the checked terms did not train on.
"""

from __future__ import annotations

import math

import numpy as np

# Bounds of T: a model whose held-out steps say nothing gets near-uniform scores, not an unbounded T.
MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 100.0
_STEPS = 40  # golden-section steps over log(1 / T): the bracket shrinks to 0.618 ** 40 of its width
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
_CHUNK_CELLS = 1 << 22  # float64 cells per block of the log-loss: 32 MB, whatever the catalogue size


def mean_log_loss(logits: np.ndarray, targets: np.ndarray, temperature: float) -> float:
    """Mean of -log softmax(logits / temperature)[target] over the rows of ``logits`` [n, items]."""
    rows = max(1, _CHUNK_CELLS // max(logits.shape[1], 1))
    total = 0.0
    for start in range(0, len(targets), rows):
        scaled = logits[start : start + rows].astype(np.float64) / temperature
        top = scaled.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(scaled - top).sum(axis=1)) + top[:, 0]
        total += float((log_norm - scaled[np.arange(len(scaled)), targets[start : start + rows]]).sum())
    return total / len(targets)


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The ``T`` in [MIN_TEMPERATURE, MAX_TEMPERATURE] that minimises ``mean_log_loss``; 1.0 without rows.

    The loss is convex in 1 / T (a log-sum-exp of a linear function minus a linear one), so it has one
    minimum on the bracket and a golden-section search over log(1 / T) finds it."""
    if len(targets) == 0:
        return 1.0
    low, high = -math.log(MAX_TEMPERATURE), -math.log(MIN_TEMPERATURE)  # log(1 / T)

    def loss(log_inverse: float) -> float:
        return mean_log_loss(logits, targets, math.exp(-log_inverse))

    a, b = high - _GOLDEN * (high - low), low + _GOLDEN * (high - low)
    loss_a, loss_b = loss(a), loss(b)
    for _ in range(_STEPS):
        if loss_a <= loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - _GOLDEN * (high - low)
            loss_a = loss(a)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + _GOLDEN * (high - low)
            loss_b = loss(b)
    return math.exp(-(low + high) / 2.0)
