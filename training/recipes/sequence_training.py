"""The training loop of the next-item sequence recipes (aws-user-personalization, -v2, HRNN, FFNN).

Every one of them learns the same task from the same windows (``user_personalization.build_windows``):
at each scored step, the full-softmax log-probability of the next item(s) over the whole catalogue,
weighted by the step's recency weight. What differs between them is how a batch of windows becomes
logits (a GRU, a transformer, an encoder over metadata-aware item vectors) and the optimizer, so those
are the arguments; the epochs, batches, one-cycle schedule, micro-batching, gradient clipping and loss
reporting are here once.

Loss. For a step with targets y_1..y_H (the next H items; 0 = none), the loss is
-sum_h a_h log p(y_h) / sum_h a_h over the present targets, with a_h = ``horizon_decay ** (h - 1)``
(1 for every h when ``horizon_decay`` is 1), times the step's weight; a batch's loss is divided by the
sum of its scored steps' weights, so batches of different sizes weigh alike.

Memory. A batch's logits are [scored steps, n_items]; batches whose logits would exceed
``LOGIT_BUDGET`` cells are split into micro-batches whose gradients accumulate before the one optimizer
step, so large catalogues train with the same batch semantics.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from training.data import Interactions
from training.recipes.base import EpochCallback

if TYPE_CHECKING:
    import torch

    from training.recipes.user_personalization import Windows

LOGIT_BUDGET = 24_000_000
GRAD_CLIP = 5.0
# Small data sets would get one or two optimizer steps per epoch at the configured batch size; shrinking
# the batch keeps at least this many steps so they train in the same number of epochs.
MIN_STEPS_PER_EPOCH = 8

# (windows' inputs [B, L] on the device, scored-step mask [B, L][, feature tokens [B, L, T] when the
# windows carry them]) -> logits [scored steps, n_items].
LogitsFunction = Callable[..., "torch.Tensor"]


def fit_next_item(
    model: Any,
    optimizer: Any,
    windows: Windows,
    logits_of: LogitsFunction,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    n_items: int,
    targets_per_window: int,
    rng: np.random.Generator,
    device: str,
    horizon_decay: float = 1.0,
    on_epoch: EpochCallback | None = None,
) -> None:
    """Train ``model`` (in place) for ``epochs`` passes over ``windows``; see the module docstring.

    ``targets_per_window`` is how many steps of a window carry loss at most (it sizes micro-batches);
    ``on_epoch`` is called after each epoch, with the model in eval mode, with the mean training loss.
    """
    import torch

    n_windows = windows.inputs.shape[0]
    batch_size = max(1, min(batch_size, n_windows // MIN_STEPS_PER_EPOCH))
    steps_per_epoch = max(1, math.ceil(n_windows / batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=learning_rate, total_steps=epochs * steps_per_epoch, pct_start=0.1
    )
    inputs = torch.from_numpy(windows.inputs)
    targets = torch.from_numpy(windows.targets)
    weights = torch.from_numpy(windows.weights)
    side = None if windows.side is None else torch.from_numpy(windows.side)
    horizon = targets.shape[-1]
    horizon_weight = horizon_decay ** torch.arange(horizon, dtype=torch.float32, device=device)
    micro = max(1, LOGIT_BUDGET // max(1, n_items * max(1, targets_per_window)))

    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.from_numpy(rng.permutation(n_windows))
        total_loss, total_weight = 0.0, 0.0
        for step in range(steps_per_epoch):
            batch = order[step * batch_size : (step + 1) * batch_size]
            if len(batch) == 0:
                scheduler.step()
                continue
            optimizer.zero_grad(set_to_none=True)
            batch_weight = float(weights[batch].masked_fill(targets[batch][..., 0] == 0, 0.0).sum())
            for part in torch.split(batch, micro):
                x = inputs[part].to(device)
                y = targets[part].to(device)
                w = weights[part].to(device)
                mask = y[..., 0] > 0
                if not bool(mask.any()):
                    continue
                # The softmax in float32 whatever the matmuls ran in: its sum spans the catalogue.
                extra = () if side is None else (side[part].to(device),)
                log_p = torch.log_softmax(logits_of(x, mask, *extra).float(), dim=-1)
                future = y[mask]
                ahead = (future > 0) * horizon_weight
                picked = log_p.gather(1, (future - 1).clamp(min=0)) * ahead
                losses = -picked.sum(dim=1) / ahead.sum(dim=1)
                loss = (losses * w[mask]).sum() / max(batch_weight, 1e-12)
                loss.backward()
                total_loss += float(loss.detach()) * batch_weight
                total_weight += float(w[mask].sum())
            torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
            optimizer.step()
            scheduler.step()
        model.eval()
        if on_epoch is not None:
            on_epoch(epoch, total_loss / max(total_weight, 1e-12))
    model.eval()


def recency_weights(data: Interactions, enabled: bool) -> list[np.ndarray]:
    """Per user, each interaction's loss weight: its timestamp's percentile in the data, 0.5 .. 1.5."""
    stamps = data.timestamps_by_user()
    if not enabled:
        return [np.ones(len(t), dtype=np.float32) for t in stamps]
    ordered = np.sort(data.timestamp)
    scale = max(len(ordered) - 1, 1)
    return [(0.5 + np.searchsorted(ordered, t, side="left") / scale).astype(np.float32) for t in stamps]


def collapsed_sequences(
    data: Interactions, recency: bool
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Histories of 2+ steps with consecutive repeats collapsed, each step's loss weight, and each step's
    interaction row (the first of a repeat run)."""
    sequences: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    offsets = data.user_offsets
    for user, (history, weight) in enumerate(
        zip(data.histories(), recency_weights(data, recency), strict=True)
    ):
        if len(history) < 2:
            continue
        keep = np.ones(len(history), dtype=bool)
        keep[1:] = history[1:] != history[:-1]
        sequences.append(history[keep])
        weights.append(weight[keep])
        rows.append(offsets[user] + np.flatnonzero(keep))
    return sequences, weights, rows
