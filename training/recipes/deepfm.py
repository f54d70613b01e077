"""aws-deepfm: a factorization machine plus a deep network (DeepFM, Guo et al. 2017) over the user's id,
their Users-dataset fields and context, their history, their latest item and the candidate item with its
metadata.

Amazon Personalize has no DeepFM recipe page; the name and the hyperparameters below are Tailor's own,
named in Personalize's style and marked "(Tailor)".

Fields. DeepFM scores a (user, item) pair from one embedding per field. The graph gets the user's index,
item sequence and feature tokens (``user_feature_scores`` contract, ``training/ARTIFACT.md``). The user
side has the user id's embedding (what the history cannot say, e.g. how generous this user's ratings
are), the mean of the history's item embeddings (the bag: what the user likes, SVD++-style), the latest
item's embedding (what they are doing now) and one vector per Users-dataset or context field (the mean
of that field's token embeddings, ``training/feature_tokens.py``). ``read_history`` false leaves out
the bag and the latest item. The item side is the candidate's id embedding and, with the Items dataset,
its metadata embedding (mean of its categorical and textual token embeddings plus a linear map of its
numerical fields).

User index 0 is "a user the model does not know": new users, users the percentile filter dropped, and
the offline evaluation's held-out users (``recommend`` and ``scores`` without user indices). Training
replaces the user by index 0 on a random ``user_id_dropout`` share of its rows each epoch, so row 0 learns
the average user and those users are scored from their history, record and context.

Score for user u with history h and item i (the logit of "u interacts with i"):

    first order  w0 + b_user(u) + b_bag(h) + b_last(h) + sum_f b_f + b_item(i) + b_meta(i)
    FM           sum over field pairs <v_a, v_b>: every pair among the user side's fields (user, bag,
                 last, each feature field f), <item, meta>, and <sum of the user side, item + meta>
    deep         MLP([user ; bag ; last ; f_1 ; ... ; item ; meta]) with two ReLU layers

The pair term splits into user and item halves plus one dot product, and the MLP's first layer is a sum
of a user half and an item half, so scoring all items for a batch of users costs one [B, N, H] activation
rather than N separate forward passes; that is the exported graph (``item_sequence``, ``user_index``,
``feature_tokens`` -> ``scores``).

Training is pointwise, as DeepFM is a click-through model: binary cross-entropy of each observed next item
(label 1) against ``negative_samples`` items drawn uniformly per positive (label 0), with the history
before that interaction as the user side. ``train_pointwise`` takes explicit (user, history, item, label)
rows as well, which is how ``bench/recbole_compare.py`` trains it on MovieLens ratings as a CTR task.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from training.data import Interactions
from training.errors import TrainingDataError
from training.item_metadata import ItemFeatures, ItemMetadata, pool_item_metadata
from training.onnx_export import (
    USER_FEATURE_SCORES,
    export_and_verify,
    sample_item_sequences,
    user_feature_scores_contract,
)
from training.recipes.base import (
    SCORE_CHUNK,
    EpochCallback,
    ExportResult,
    Hyperparameters,
    Recipe,
    filter_by_history_percentile,
    hyperparameter,
    top_k_unseen_chunked,
)
from training.recipes.feature_reader import FeatureReader
from training.recipes.sequence_training import collapsed_sequences
from training.recipes.user_personalization import model_input

if TYPE_CHECKING:
    import torch

# On small data a full batch leaves too few optimizer steps to learn anything (as in
# user-personalization): the recipe shrinks its batch to give at least this many steps per epoch.
_MIN_STEPS_PER_EPOCH = 20
# Largest [users x items x hidden] deep-part activation materialised when scoring the whole catalogue.
_ACTIVATION_BUDGET = 16_000_000
# The artifact's list of the users the graph knows (training/ARTIFACT.md): user index u + 1 is entry u.
USER_IDS_FILE = "user_ids.json"
UNKNOWN_USER = 0


@dataclass(frozen=True)
class DeepFmHyperparameters(Hyperparameters):
    # Tailor's recipe: the settings that moved the MovieLens CTR benchmark, in their useful ranges.
    default_search = {"learning_rate": (1e-3, 1e-2), "dropout": (0.0, 0.5), "l2_regularization": (1e-6, 1e-3)}

    embedding_dimension: int = hyperparameter(
        32, low=4, high=256, doc="Embedding size of every field (Tailor)."
    )
    hidden_dimension: int = hyperparameter(
        64, low=8, high=512, doc="Units of each of the deep part's two hidden layers (Tailor)."
    )
    history_length: int = hyperparameter(
        50, low=1, high=200, tunable=False, doc="Newest items read as the user side (serving input) (Tailor)."
    )
    negative_samples: int = hyperparameter(
        4, low=1, high=100, doc="Items drawn at random as non-clicks per observed interaction (Tailor)."
    )
    min_user_history_length_percentile: float = hyperparameter(
        0.0, low=0.0, high=1.0, tunable=False, doc="Drop users with shorter histories than this percentile."
    )
    max_user_history_length_percentile: float = hyperparameter(
        0.99, low=0.0, high=1.0, tunable=False, doc="Drop users with longer histories than this percentile."
    )
    epochs: int = hyperparameter(10, low=1, high=500, doc="Passes over the interactions (Tailor).")
    learning_rate: float = hyperparameter(0.005, low=1e-5, high=0.1, doc="Adam learning rate (Tailor).")
    batch_size: int = hyperparameter(256, low=1, high=8192, doc="Interactions per optimizer step (Tailor).")
    dropout: float = hyperparameter(0.1, low=0.0, high=0.9, doc="Dropout in the deep part (Tailor).")
    l2_regularization: float = hyperparameter(
        1e-6, low=0.0, high=0.1, doc="Adam weight decay on every parameter (Tailor)."
    )
    user_id_dropout: float = hyperparameter(
        0.1,
        low=0.0,
        high=1.0,
        doc=(
            "Share of training interactions (redrawn each epoch) scored as if the user were unknown, so that "
            "users absent from training get the average user's field; 1.0 ignores user ids (Tailor)."
        ),
    )
    read_history: bool = hyperparameter(
        True,
        doc=(
            "Read the user's item history (its mean and latest item) as fields; false leaves the user id, "
            "Users fields and context, as a click-through DeepFM over known users (Tailor)."
        ),
    )


def build_model(
    n_items: int,
    n_users: int,
    dim: int,
    hidden: int,
    dropout: float,
    features: ItemFeatures | None = None,
    token_fields: np.ndarray | None = None,
    read_history: bool = True,
) -> Any:
    """The DeepFM module: ``pair_logits(sequence, users, items, tokens)`` for training, ``forward(sequence,
    users, tokens)`` for serving; user index 0 is the unknown user, 1..``n_users`` the known ones; tokens
    are ``FeatureSpace`` indices (0 = padding) of the user's record and context, and ``token_fields``
    (``FeatureSpace.token_fields``) the field of each token: each field is pooled into its own vector."""
    import torch
    from torch import nn

    use_metadata = features is not None and not features.empty
    fields_of_tokens = np.zeros(1, dtype=np.int64) if token_fields is None else np.asarray(token_fields)
    n_fields = max(1, int(fields_of_tokens[1:].max()) + 1 if len(fields_of_tokens) > 1 else 1)

    class DeepFm(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # History items (bag and latest) and candidate items are different fields with their own
            # tables: "after A comes B" is not symmetric, and one table would force it to be.
            self.context = nn.Embedding(n_items + 1, dim, padding_idx=0)
            self.context_bias = nn.Embedding(n_items + 1, 2, padding_idx=0)  # bag and latest weights
            self.candidate = nn.Embedding(n_items, dim)
            self.candidate_bias = nn.Parameter(torch.zeros(n_items))
            self.global_bias = nn.Parameter(torch.zeros(()))
            # Row 0 is not padding: it is the unknown user, trained on the rows whose user was dropped.
            self.user = nn.Embedding(n_users + 1, dim)
            self.user_bias = nn.Embedding(n_users + 1, 1)
            # Users-dataset and context tokens: one pooled vector per field (AGE, GENDER, DEVICE, ...), its
            # last column a first-order weight. Without features, one field that is always empty.
            self.register_buffer("token_field", torch.from_numpy(fields_of_tokens))
            self.register_buffer("field_ids", torch.arange(n_fields))
            self.feature = nn.Embedding(len(fields_of_tokens), dim + 1, padding_idx=0)
            nn.init.normal_(self.feature.weight, std=0.05)
            with torch.no_grad():
                self.feature.weight[0].zero_()
            for table in (self.context, self.candidate, self.user):
                nn.init.normal_(table.weight, std=0.05)
            nn.init.zeros_(self.context_bias.weight)
            nn.init.zeros_(self.user_bias.weight)
            with torch.no_grad():
                self.context.weight[0].zero_()
            if use_metadata:
                assert features is not None
                self.register_buffer("tokens", torch.from_numpy(features.tokens))
                self.register_buffer("numeric", torch.from_numpy(features.numeric))
                self.token_embedding = nn.Embedding(features.n_tokens + 1, dim + 1, padding_idx=0)
                nn.init.normal_(self.token_embedding.weight, std=0.05)
                with torch.no_grad():
                    self.token_embedding.weight[0].zero_()
                self.numeric_map = nn.Linear(max(features.n_numeric, 1), dim + 1, bias=False)
            fields = 4 if use_metadata else 3
            self.user_layer = nn.Linear(((3 if read_history else 1) + n_fields) * dim, hidden)
            self.item_layer = nn.Linear((fields - 2) * dim, hidden, bias=False)
            self.deep = nn.Sequential(
                nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout)
            )
            self.deep_out = nn.Linear(hidden, 1)

        def user_side(
            self, sequence: torch.Tensor, users: torch.Tensor, tokens: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            """(field vectors [B, 3 + F, D] (1 + F without the history), first-order + within-user pair
            terms [B], deep half [B, H])."""
            person = self.user(users)
            own = [person]
            constant = self.global_bias + self.user_bias(users)[:, 0]
            if read_history:
                present = (sequence > 0).to(self.context.weight.dtype)
                count = present.sum(dim=1, keepdim=True).clamp(min=1.0)
                bag = (self.context(sequence) * present[..., None]).sum(dim=1) / count
                latest = sequence[:, -1]
                own += [bag, self.context(latest)]
                constant = constant + (self.context_bias(sequence)[..., 0] * present).sum(dim=1) / count[:, 0]
                constant = constant + self.context_bias(latest)[:, 1]
            # [B, W, F]: token w of the row belongs to field f (padding to none).
            member = self.token_field[tokens][..., None] == self.field_ids
            member = (member & (tokens > 0)[..., None]).to(self.feature.weight.dtype)
            per_field = member.transpose(1, 2) @ self.feature(tokens)  # [B, F, D + 1]
            per_field = per_field / member.sum(dim=1)[..., None].clamp(min=1.0)
            fields = torch.cat([torch.stack(own, dim=1), per_field[..., :-1]], dim=1)
            total = fields.sum(dim=1)
            pairs = 0.5 * ((total * total).sum(dim=1) - (fields * fields).sum(dim=(1, 2)))
            constant = constant + per_field[..., -1].sum(dim=1) + pairs
            deep = self.user_layer(fields.flatten(1))
            return fields, constant, deep

        def item_side(self, items: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            """For item indices of any shape S: (field sum [*S, D], constant [*S], deep half [*S, H])."""
            vector = self.candidate(items)
            constant = self.candidate_bias[items]
            if not use_metadata:
                return vector, constant, self.item_layer(vector)
            pooled = pool_item_metadata(
                self.token_embedding, self.numeric_map, self.tokens[items], self.numeric[items]
            )
            meta, meta_bias = pooled[..., :-1], pooled[..., -1]
            constant = constant + meta_bias + (vector * meta).sum(dim=-1)
            return vector + meta, constant, self.item_layer(torch.cat([vector, meta], dim=-1))

        def combine(
            self,
            user: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
            item: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
        ) -> torch.Tensor:
            """Logits [B, K] from user terms [B, ...] and item terms [B or 1, K, ...]."""
            user_fields, user_constant, user_deep = user
            item_sum, item_constant, item_deep = item
            cross = (item_sum * user_fields.sum(dim=1)[:, None, :]).sum(dim=-1)
            hidden = self.deep(user_deep[:, None, :] + item_deep)
            deep = self.deep_out(hidden)[..., 0]
            return user_constant[:, None] + item_constant + cross + deep

        def pair_logits(
            self,
            sequence: torch.Tensor,
            users: torch.Tensor,
            items: torch.Tensor,
            tokens: torch.Tensor | None = None,
        ) -> torch.Tensor:
            """sequence [B, L] (item + 1, left-padded), users [B], items [B, K] item indices, tokens [B, W]
            (None = no feature tokens) -> logits [B, K]."""
            if tokens is None:
                tokens = torch.zeros((sequence.shape[0], 1), dtype=torch.int64, device=sequence.device)
            return self.combine(self.user_side(sequence, users, tokens), self.item_side(items))

        def forward(
            self, item_sequence: torch.Tensor, user_index: torch.Tensor, feature_tokens: torch.Tensor
        ) -> torch.Tensor:
            everything = torch.arange(n_items, device=item_sequence.device)[None, :]
            user = self.user_side(item_sequence, user_index, feature_tokens)
            scores = self.combine(user, self.item_side(everything))
            if not read_history:
                # Adds 0, but keeps item_sequence an input of the graph: the contract declares it, and the
                # exporter drops inputs the computation does not reach.
                scores = scores + 0.0 * item_sequence[:, :1].to(scores.dtype)
            return scores

    return DeepFm()


@dataclass(frozen=True)
class PointwiseRows:
    """Labelled (user, history, item) rows: the user side as the model input and the candidate item."""

    sequences: np.ndarray  # int64 [M, L], item + 1, 0 = left padding
    items: np.ndarray  # int64 [M]
    labels: np.ndarray | None  # float32 [M]; None = all positives, negatives drawn per epoch
    users: np.ndarray | None = None  # int64 [M] user index (0 = unknown, u + 1 = u-th user); None = all 0
    tokens: np.ndarray | None = None  # int64 [M, W] feature tokens (user record + context); None = none


def next_item_rows(data: Interactions, length: int) -> tuple[PointwiseRows, np.ndarray, np.ndarray]:
    """Every step after a user's first (consecutive repeats collapsed) as a positive, with the ``length``
    items before it as the user side.

    Users are numbered 1, 2, ... in user-index order, counting only those with a row (a user without one
    would have an untrained embedding, so the model treats them as unknown); the second value holds the
    user indices of users 1, 2, ...; the third, per row, the interaction row of its positive (for its
    context; a repeat run of one item counts as its first row)."""
    sequences: list[np.ndarray] = []
    items: list[int] = []
    users: list[int] = []
    owners: list[int] = []
    sources: list[np.ndarray] = []
    steps_of, _, rows_of = collapsed_sequences(data, recency=False)
    for steps, at in zip(steps_of, rows_of, strict=True):
        if len(steps) < 2:
            continue
        owners.append(int(data.user[at[0]]))
        for t in range(1, len(steps)):
            sequences.append(steps[max(0, t - length) : t])
            items.append(int(steps[t]))
            users.append(len(owners))
        sources.append(at[1:])
    rows = PointwiseRows(
        model_input(sequences, length),
        np.asarray(items, dtype=np.int64),
        None,
        np.asarray(users, dtype=np.int64),
    )
    at = np.concatenate(sources) if sources else np.zeros(0, dtype=np.int64)
    return rows, np.asarray(owners, dtype=np.int64), at


def train_pointwise(
    model: Any,
    rows: PointwiseRows,
    n_items: int,
    *,
    epochs: int,
    learning_rate: float,
    batch_size: int,
    negative_samples: int,
    weight_decay: float,
    seed: int,
    user_id_dropout: float = 0.0,
    device: str = "cpu",
    on_epoch: EpochCallback | None = None,
) -> None:
    """Binary cross-entropy on ``rows``: explicit labels, or positives plus uniformly drawn negatives.

    Each epoch a fresh ``user_id_dropout`` share of the rows is scored with the unknown user's index."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    n_rows = rows.items.shape[0]
    if n_rows == 0:
        raise TrainingDataError("DeepFM found no interaction with a history before it to learn from.")
    sequences = torch.from_numpy(rows.sequences)
    items = torch.from_numpy(rows.items)
    row_users = np.zeros(n_rows, dtype=np.int64) if rows.users is None else rows.users
    users = torch.from_numpy(row_users)
    labels = None if rows.labels is None else torch.from_numpy(rows.labels.astype(np.float32))
    tokens = None if rows.tokens is None else torch.from_numpy(rows.tokens)
    loss_function = torch.nn.BCEWithLogitsLoss()
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.from_numpy(rng.permutation(n_rows))
        total, steps = 0.0, 0
        for start in range(0, n_rows, batch_size):
            batch = order[start : start + batch_size]
            x = sequences[batch].to(device)
            u = users[batch]
            if user_id_dropout > 0.0:
                dropped = torch.from_numpy(rng.random(len(batch)) < user_id_dropout)
                u = u.masked_fill(dropped, UNKNOWN_USER)
            u = u.to(device)
            if labels is None:
                drawn = torch.from_numpy(rng.integers(0, n_items, size=(len(batch), negative_samples)))
                candidates = torch.cat([items[batch][:, None], drawn], dim=1).to(device)
                targets = torch.zeros(candidates.shape, device=device)
                targets[:, 0] = 1.0
            else:
                candidates = items[batch][:, None].to(device)
                targets = labels[batch][:, None].to(device)
            optimizer.zero_grad(set_to_none=True)
            t = None if tokens is None else tokens[batch].to(device)
            loss = loss_function(model.pair_logits(x, u, candidates, t), targets)
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
            steps += 1
        model.eval()
        if on_epoch is not None:
            on_epoch(epoch, total / max(steps, 1))
    model.eval()


def catalogue_logits(
    model: Any,
    sequences: np.ndarray,
    users: np.ndarray,
    tokens: np.ndarray,
    n_items: int,
    hidden: int,
    device: str,
) -> np.ndarray:
    """Logits [B, n_items] for model inputs, in user chunks that bound the deep part's activation."""
    import torch

    chunk = max(1, min(SCORE_CHUNK, _ACTIVATION_BUDGET // max(1, n_items * hidden)))
    out = np.zeros((sequences.shape[0], n_items), dtype=np.float32)
    model.eval()
    with torch.no_grad():
        for start in range(0, sequences.shape[0], chunk):
            x = torch.from_numpy(sequences[start : start + chunk]).to(device)
            u = torch.from_numpy(users[start : start + chunk]).to(device)
            t = torch.from_numpy(tokens[start : start + chunk]).to(device)
            out[start : start + len(x)] = model(x, u, t).float().cpu().numpy()
    return out


class DeepFmRecipe(FeatureReader, Recipe):
    name = "aws-deepfm"
    recipe_type = "USER_PERSONALIZATION"
    description = (
        "Predicts the items a user will interact with with a factorization machine plus a deep network over "
        "the user's id, Users-dataset fields and context, their history, their latest item and each item's "
        "id and metadata (DeepFM)."
    )
    feature_transformation = "JSON-percentile-filtering"
    contract_name = USER_FEATURE_SCORES
    hyperparameters_class = DeepFmHyperparameters
    hyperparameters: DeepFmHyperparameters
    optional_datasets: ClassVar[tuple[str, ...]] = ("ITEMS", "USERS")

    def __init__(self, hyperparameters: Any = None, *, seed: int = 42) -> None:
        super().__init__(hyperparameters, seed=seed)
        self.model: Any = None
        self.device = "cpu"
        self.item_metadata: ItemMetadata | None = None
        self.user_ids: list[str] = []  # user index u + 1 is user_ids[u]

    def set_item_metadata(self, metadata: ItemMetadata | None) -> None:
        self.item_metadata = metadata

    def fit(self, data: Interactions, device: str = "cpu", on_epoch: EpochCallback | None = None) -> None:
        import torch

        hp = self.hyperparameters
        torch.manual_seed(self.seed)
        self.n_items = data.n_items
        self.device = device
        features = None if self.item_metadata is None else self.item_metadata.features(data.item_ids)
        used = filter_by_history_percentile(
            data, hp.min_user_history_length_percentile, hp.max_user_history_length_percentile
        )
        rows, owners, sources = next_item_rows(used, hp.history_length)
        rows = replace(rows, tokens=self.interaction_tokens(used, sources))
        if hp.user_id_dropout >= 1.0:
            # No row would train a user's embedding, so the graph knows no user: all get index 0.
            rows, owners = replace(rows, users=None), owners[:0]
        self.user_ids = [used.user_ids[u] for u in owners]
        self.model = build_model(
            data.n_items,
            len(self.user_ids),
            hp.embedding_dimension,
            hp.hidden_dimension,
            hp.dropout,
            features,
            self.feature_space.token_fields(),
            hp.read_history,
        )

        train_pointwise(
            self.model,
            rows,
            data.n_items,
            epochs=hp.epochs,
            learning_rate=hp.learning_rate,
            batch_size=max(1, min(hp.batch_size, rows.items.shape[0] // _MIN_STEPS_PER_EPOCH)),
            negative_samples=hp.negative_samples,
            weight_decay=hp.l2_regularization,
            seed=self.seed,
            user_id_dropout=hp.user_id_dropout,
            device=device,
            on_epoch=self.counting_epochs(on_epoch),
        )

    def user_indices(self, user_ids: Sequence[str | None]) -> np.ndarray:
        """The graph's user index of each id: its position in ``user_ids`` + 1, 0 when unknown or None."""
        position = {user: u + 1 for u, user in enumerate(self.user_ids)}
        return np.asarray([position.get(user, UNKNOWN_USER) for user in user_ids], dtype=np.int64)

    def scores(
        self,
        histories: Sequence[np.ndarray],
        users: np.ndarray | None = None,
        tokens: np.ndarray | None = None,
    ) -> np.ndarray:
        """Logits [batch, n_items] for chronological item-index histories (the served computation), for the
        given user indices and feature tokens; without them, as for users the model does not know and who
        have no record (the offline evaluation's held-out users are not in training)."""
        hp = self.hyperparameters
        inputs = model_input(histories, hp.history_length)
        if users is None:
            users = np.full(len(histories), UNKNOWN_USER, dtype=np.int64)
        if tokens is None:
            tokens = np.zeros((len(histories), self.feature_space.width), dtype=np.int64)
        return catalogue_logits(
            self.model, inputs, users, tokens, self.n_items, hp.hidden_dimension, self.device
        )

    def recommend(self, histories: Sequence[np.ndarray], k: int) -> list[np.ndarray]:
        return top_k_unseen_chunked(self.scores, histories, k)

    def token_scores(self, histories: Sequence[np.ndarray], tokens: np.ndarray) -> np.ndarray:
        """The offline evaluation's held-out users: index 0 (not in training) with their record's tokens."""
        return self.scores(histories, None, tokens)

    def export(self, model_dir: Path) -> ExportResult:
        length = self.hyperparameters.history_length
        rng = np.random.default_rng(self.seed)
        sample = sample_item_sequences(rng, self.n_items, length)
        users = rng.integers(0, len(self.user_ids) + 1, size=8).astype(np.int64)
        users[0] = UNKNOWN_USER  # the first row is also the batch of one
        users[-1] = len(self.user_ids)
        width = self.feature_space.width
        tokens = rng.integers(0, self.feature_space.n_tokens + 1, size=(8, width)).astype(np.int64)
        tokens[0] = 0
        self.model = self.model.to("cpu").eval()
        self.device = "cpu"
        contract = user_feature_scores_contract(length, self.n_items, width)
        parity = export_and_verify(
            self.model,
            contract,
            {"item_sequence": sample, "user_index": users, "feature_tokens": tokens},
            model_dir / "model.onnx",
        )
        (model_dir / USER_IDS_FILE).write_text(json.dumps(self.user_ids), encoding="utf-8")
        self.feature_space.write(model_dir)
        return ExportResult(contract, parity, "model.onnx", length)
