"""What the next-item recipes that read Users-dataset fields and interaction context share.

A recipe class that mixes in ``FeatureReader`` and sets ``uses_feature_tokens`` receives the Users
dataset from the entrypoint (``training/side_data.py``), fits a ``FeatureSpace`` on it and on the
interactions' context columns, and gives every training step the tokens of its target interaction: its
user's record and the context it happened in, which is what a request says when the model predicts the
next item. ``feature_pool`` is the model side: the mean embedding of a row's tokens, added to the
sequence state before the item scoring. A model trained without any token (no Users dataset, no context
column, or nothing seen twice) has no pool and exports its plain contract.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from training.data import Interactions
from training.feature_tokens import FeatureSpace, Row
from training.onnx_export import ExportContract, sequence_feature_scores_contract, sequence_scores_contract
from training.recipes.base import SCORE_CHUNK, top_k_unseen

# The pool's table in a model's state_dict, for trainingMode UPDATE's per-token warm start (row 0 padding).
FEATURE_EMBEDDING = "features.embedding.weight"


class FeatureReader:
    """Mixin for ``Recipe`` subclasses; ``uses_feature_tokens`` False keeps a subclass out."""

    uses_feature_tokens: ClassVar[bool] = True
    user_records: Mapping[str, Row] = {}
    user_kinds: Mapping[str, str] = {}
    feature_space: FeatureSpace = FeatureSpace()

    def set_user_metadata(self, users: Mapping[str, Row] | None, kinds: Mapping[str, str]) -> None:
        if self.uses_feature_tokens:
            self.user_records = users or {}
            self.user_kinds = dict(kinds) if users else {}

    @property
    def reads_features(self) -> bool:
        """Whether the fitted model has feature tokens (the recipe reads them and the data had some)."""
        return self.feature_space.n_tokens > 0

    def interaction_tokens(self, used: Interactions, rows: np.ndarray) -> np.ndarray | None:
        """Fit ``feature_space`` on ``used``; the tokens [len(rows), width] of the interactions at ``rows``
        (their user's record and their context); None when the model reads none."""
        self.feature_space = FeatureSpace()
        if not self.uses_feature_tokens:
            return None
        contexts = used.context_rows()
        self.feature_space = FeatureSpace.fit(
            self.user_records, self.user_kinds, contexts, used.context_kinds()
        )
        if not self.reads_features:
            return None
        records = [self.user_records.get(user) for user in used.user_ids]
        return self.feature_space.encode([records[used.user[r]] for r in rows], [contexts[r] for r in rows])

    def step_tokens(self, used: Interactions, rows: Sequence[np.ndarray]) -> list[np.ndarray] | None:
        """``interaction_tokens`` per training sequence (``rows``: each step's interaction row)."""
        flat = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        tokens = self.interaction_tokens(used, flat)
        if tokens is None:
            return None
        return np.split(tokens, np.cumsum([len(steps) for steps in rows])[:-1])

    def sequence_export(
        self, sample: np.ndarray, n_items: int, rng: np.random.Generator, model_dir: Path
    ) -> tuple[ExportContract, dict[str, np.ndarray]]:
        """The contract and parity inputs of a sequence graph for ``sample`` (``item_sequence`` rows):
        ``sequence_scores``, or with feature tokens ``sequence_feature_scores`` (random tokens from
        ``rng``; ``features.json`` written into ``model_dir``)."""
        length = sample.shape[1]
        if not self.reads_features:
            return sequence_scores_contract(length, n_items), {"item_sequence": sample}
        width = self.feature_space.width
        tokens = rng.integers(0, self.feature_space.n_tokens + 1, size=(len(sample), width))
        self.feature_space.write(model_dir)
        contract = sequence_feature_scores_contract(length, n_items, width)
        return contract, {"item_sequence": sample, "feature_tokens": tokens.astype(np.int64)}

    def record_tokens(
        self, user_ids: Sequence[str | None], contexts: Sequence[Row | None] | None = None
    ) -> np.ndarray:
        """``feature_tokens`` rows [len(user_ids), width] for users (their Users records) and contexts."""
        records = [self.user_records.get(user) if user is not None else None for user in user_ids]
        return self.feature_space.encode(records, contexts)

    def token_scores(self, histories: Sequence[np.ndarray], tokens: np.ndarray) -> np.ndarray:
        """Logits [batch, n_items] for histories with feature tokens; recipes whose ``scores`` take other
        inputs override this."""
        return self.scores(histories, tokens)  # type: ignore[attr-defined,no-any-return]

    def recommend_users(
        self, user_ids: Sequence[str], histories: Sequence[np.ndarray], k: int
    ) -> list[np.ndarray]:
        """``recommend`` with the users' Users-dataset records and no context: the offline evaluation's
        held-out users (``training/evaluation.py``)."""
        if not self.reads_features:
            return self.recommend(histories, k)  # type: ignore[attr-defined,no-any-return]
        tokens = self.record_tokens(user_ids)
        results: list[np.ndarray] = []
        for start in range(0, len(histories), SCORE_CHUNK):
            chunk = list(histories[start : start + SCORE_CHUNK])
            scores = self.token_scores(chunk, tokens[start : start + len(chunk)])
            results.extend(top_k_unseen(scores, chunk, k))
        return results


def feature_pool(n_tokens: int, dim: int) -> Any:
    """nn.Module: tokens [..., T] (0 = padding) -> their mean embedding [..., dim]; None without tokens."""
    if n_tokens <= 0:
        return None
    import torch
    from torch import nn

    class FeaturePool(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(n_tokens + 1, dim, padding_idx=0)
            nn.init.normal_(self.embedding.weight, std=0.05)
            with torch.no_grad():
                self.embedding.weight[0].zero_()

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            held = (tokens > 0).to(self.embedding.weight.dtype)
            pooled = (self.embedding(tokens) * held[..., None]).sum(dim=-2)
            return pooled / held.sum(dim=-1, keepdim=True).clamp(min=1.0)

    return FeaturePool()


def spread_over_steps(feature_tokens: Any, item_sequence: Any) -> Any:
    """A request's tokens [B, T] as every step's [B, L, T] (only the newest step's state is served);
    None stays None."""
    if feature_tokens is None:
        return None
    return feature_tokens[:, None, :].expand(-1, item_sequence.shape[1], -1)
