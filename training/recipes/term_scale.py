"""How much of the item-to-item terms a sequence model keeps, measured on the data it trains on.

The EASE, co-occurrence and transition terms of aws-user-personalization and -v2 (``item_item.py``) have
fixed default weights, chosen on MovieLens latest-small. On other data they can be worth less: on MovieLens
100K (RecBole's protocol) a quarter to a half of them ranked the validation target better at every seed, and
where a Users record or the request's context, not the history alone, says what comes next they can outvote
the network (``tests/smoke/test_term_scale.py``: the full terms put 8.7% of the GRU's top 3 in the half of
the catalogue the request's DEVICE rules out). So the recipe measures what each term is worth before it
serves them:

- ``hold_out_last_steps`` keeps back the newest step (the trailing run of one item) of up to
  ``HELD_OUT_USERS`` training users whose newest item is new to them; the network and a copy of the terms
  train without those rows;
- ``choose_scales`` scores each held-out step with the network's logits (given the step's own record and
  context, as a request carries them, when the network reads features) plus each term times its scale,
  for every combination of ``SCALES`` (125 for three terms), and keeps the one with the best mean reciprocal
  rank of the held-out item among the items the user has not had (the earlier one on a tie, so larger
  shares win ties);
- for a network without feature tokens the configured weights are the prior: another combination replaces them
  only when its gain over them is at least ``MIN_GAIN_Z`` standard errors of the paired per-step
  difference. On MovieLens latest-small, where the weights were chosen, the held-out steps' differences
  were within their noise and a free choice (of the first two terms) lowered the test MRR@25 on 6 of 8
  seeds;
- the served terms are rebuilt on all rows with each weight times its scale (a term at 0 is left out).

The served network keeps its training without the held-out steps (at most ``HELD_OUT_USERS`` steps, one per
user).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from training.data import Interactions

HELD_OUT_USERS = 1000
SCALES = (1.0, 0.5, 0.25, 0.125, 0.0)
MIN_GAIN_Z = 2.5


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


def reciprocal_ranks(scores: np.ndarray, histories: Sequence[np.ndarray], targets: np.ndarray) -> np.ndarray:
    """Per row of ``scores`` [n, items], 1 / the rank of its target among the items not in its history."""
    return _masked_reciprocal_ranks(_without_histories(scores, histories), targets)


def _without_histories(scores: np.ndarray, histories: Sequence[np.ndarray]) -> np.ndarray:
    """A copy of ``scores`` with each row's history at -inf."""
    masked = np.array(scores, copy=True)
    for row, history in enumerate(histories):
        masked[row, history] = -np.inf
    return masked


def _masked_reciprocal_ranks(masked: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """``reciprocal_ranks`` of scores whose histories are already at -inf."""
    wanted = masked[np.arange(len(targets)), targets][:, None]
    return 1.0 / (1 + np.count_nonzero(masked > wanted, axis=1))


def choose_scales(
    network: np.ndarray,
    terms: Sequence[np.ndarray],
    histories: Sequence[np.ndarray],
    targets: np.ndarray,
    min_z: float = 0.0,
    scales: Sequence[float] = SCALES,
) -> tuple[tuple[float, ...], dict[tuple[float, ...], float]]:
    """The scales of ``terms`` (each [n, items], weighted as served) added to ``network`` [n, items] that
    rank ``targets`` best (mean reciprocal rank over the items not in each history), and that mean for
    every combination. With ``min_z`` > 0 the full weights stay unless the best combination beats them by
    ``min_z`` standard errors of the per-step difference."""
    # 125 combinations for three terms: mask the histories once (-inf stays -inf whatever a term adds) and
    # reuse two buffers, instead of copying and masking per combination.
    masked = _without_histories(network, histories)
    scores, scaled = np.empty_like(masked), np.empty_like(masked)
    ranks: dict[tuple[float, ...], np.ndarray] = {}
    for combination in itertools.product(scales, repeat=len(terms)):
        np.copyto(scores, masked)
        for scale, term in zip(combination, terms, strict=True):
            if scale:
                np.multiply(term, scaled.dtype.type(scale), out=scaled)
                scores += scaled
        ranks[tuple(float(s) for s in combination)] = _masked_reciprocal_ranks(scores, targets)
    quality = {combination: float(r.mean()) for combination, r in ranks.items()}
    best = max(quality.values())
    chosen = next(combination for combination in quality if quality[combination] == best)
    full = tuple(1.0 for _ in terms)
    if min_z > 0 and chosen != full:
        gain = ranks[chosen] - ranks[full]
        error = float(gain.std(ddof=1)) / np.sqrt(len(gain)) if len(gain) > 1 else 0.0
        if gain.mean() <= min_z * error:
            chosen = full
    return chosen, quality
