"""How much of the item-to-item terms a feature-reading sequence model keeps.

The EASE and co-occurrence terms of aws-user-personalization and -v2 (``item_item.py``) read the input
items only. Where a Users record or the request's context, not the history alone, says what comes next,
they can outvote the network at their fixed weights: on ``tests/smoke/test_term_scale.py``'s data (DEVICE
picks the half of the catalogue, the terms point at both halves) the full terms put 5.4% of the GRU's top
3 in the wrong half. So when the network reads feature tokens, the recipe measures what the terms are
worth on the data before it serves them:

- ``hold_out_last_steps`` keeps back the newest step (the trailing run of one item) of up to
  ``HELD_OUT_USERS`` training users whose newest item is new to them; the network and a copy of the terms
  train without those rows;
- ``choose_scale`` scores each held-out step with the network's logits (given the step's own record and
  context, as a request carries them) plus ``scale`` times the terms, for each of ``SCALES``, and keeps
  the scale with the best mean reciprocal rank of the held-out item among the items the user has not had
  (the earlier scale on a tie, so the configured weights stay unless a smaller share ranks better);
- the served terms are rebuilt on all rows with both weights times that scale (none at 0).

The served network keeps its training without the held-out steps (at most ``HELD_OUT_USERS`` steps).

A model without feature tokens keeps the configured weights and is trained exactly as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from training.data import Interactions

HELD_OUT_USERS = 300
SCALES = (1.0, 0.5, 0.25, 0.125, 0.0)


@dataclass(frozen=True)
class HeldOutSteps:
    keep: np.ndarray  # bool [n_interactions]: the rows the network and the checked terms train on
    users: np.ndarray  # int64 user index of each held-out step
    histories: list[np.ndarray]  # each user's items before the held-out step, chronological
    targets: np.ndarray  # int64 item index of each held-out step
    rows: np.ndarray  # int64 interaction row of each held-out step (its context)

    def __len__(self) -> int:
        return len(self.targets)


def hold_out_last_steps(
    data: Interactions,
    steps: Sequence[np.ndarray],
    step_rows: Sequence[np.ndarray],
    rng: np.random.Generator,
    limit: int = HELD_OUT_USERS,
) -> HeldOutSteps | None:
    """The newest step of up to ``limit`` users with two or more earlier distinct steps and a newest item
    they had not had before; None when no user qualifies. ``steps`` and ``step_rows`` are the users'
    collapsed histories and each step's first interaction row (``sequence_training.collapsed_sequences``)."""
    candidates: list[tuple[int, int, int]] = []  # (user, first row of the newest run, its last row)
    for items, at in zip(steps, step_rows, strict=True):
        if len(items) < 3 or items[-1] in items[:-1]:
            continue
        user = int(data.user[at[0]])
        candidates.append((user, int(at[-1]), int(data.user_offsets[user + 1]) - 1))
    if not candidates:
        return None
    chosen = sorted(rng.choice(len(candidates), size=min(limit, len(candidates)), replace=False))
    keep = np.ones(data.n_interactions, dtype=bool)
    users, histories, targets, rows = [], [], [], []
    for position in chosen:
        user, first, last = candidates[position]
        keep[first : last + 1] = False
        users.append(user)
        histories.append(data.item[int(data.user_offsets[user]) : first].copy())
        targets.append(int(data.item[last]))
        rows.append(last)
    return HeldOutSteps(
        keep=keep,
        users=np.asarray(users, dtype=np.int64),
        histories=histories,
        targets=np.asarray(targets, dtype=np.int64),
        rows=np.asarray(rows, dtype=np.int64),
    )


def choose_scale(
    network: np.ndarray,
    terms: np.ndarray,
    histories: Sequence[np.ndarray],
    targets: np.ndarray,
    scales: Sequence[float] = SCALES,
) -> tuple[float, dict[float, float]]:
    """The scale of ``terms`` [n, items] added to ``network`` [n, items] that ranks ``targets`` best (mean
    reciprocal rank over the items not in each history), and that mean for every scale."""
    quality: dict[float, float] = {}
    rows = np.arange(len(targets))
    for scale in scales:
        scores = network + scale * terms
        for row, history in enumerate(histories):
            scores[row, history] = -np.inf
        wanted = scores[rows, targets][:, None]
        ranks = 1 + (scores > wanted).sum(axis=1)
        quality[float(scale)] = float(np.mean(1.0 / ranks))
    best = max(quality.values())
    return next(scale for scale in quality if quality[scale] == best), quality
