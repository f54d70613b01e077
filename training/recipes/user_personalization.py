"""aws-user-personalization: a GRU next-item model in the spirit of Personalize's HRNN.

Model: item embedding -> dropout -> one GRU layer (``hidden_dimension`` units) -> dropout -> linear -> dot
product with the (tied) item embeddings plus a per-item bias = one logit per item. It is trained to predict
each next item of a user's history (or, with ``target_horizon`` > 1, each of the next few) with
full-softmax cross-entropy over the catalogue.

Item embeddings start from a truncated SVD of the user-item matrix (``cooccurrence_init``), so before any
training the dot product of two items approximates their cosine co-occurrence, the SIMS signal. On small
data (MovieLens latest-small has 549 training users for 9.5k items, most seen a handful of times) an
embedding learned from random initialisation never caught up with plain item-to-item co-occurrence, and
training long made it worse (it memorises the training users' sequences); starting from co-occurrence and
training a few epochs keeps what the counts know and adds order. The Tailor defaults (3 epochs, Adam
5e-3 with a one-cycle schedule, 32 windows per step, dropout 0.3) were chosen on that data set with
``bench/quality.py``.

Item-to-item terms (Tailor, ``item_item_*``, ``cooccurrence_*`` and ``transition_*``,
``ItemItemHyperparameters``). The served scores are the GRU's logits plus ``item_item_weight`` times an EASE
item-to-item score of the input items (the newest weighted 1 and each older one ``item_item_decay`` times
the next; EASE's top ``item_item_neighbors`` weights per item, L2 ``item_item_l2``) plus
``cooccurrence_weight`` times a distance-weighted co-occurrence score (SIMS's table, a user's pair d items
apart counting ``cooccurrence_distance_decay ** (d - 1)``, merged with ``cooccurrence_decay``) plus
``transition_weight`` times a directed one (a ridge regression of each next item on the decayed items before
it, ``transition_*``), each scaled to at most 1 per input (``training/recipes/item_item.py``). They are part
of the exported graph (gathers and scatter-adds over neighbour tables), so the runtime and the
``sequence_scores`` contract are unchanged; the GRU is trained alone, the terms are closed-form, and the
share of each weight served is checked on held-out training steps (``term_scale.py``). On the same steps
a score temperature is fitted and the graph's logits are divided by it, so the runtime's softmax scores
are calibrated next-item probabilities (``score_temperature.py``; rankings do not change). On MovieLens
latest-small (seed 42) the GRU alone scored NDCG@10 0.198, EASE alone 0.241 and their sum with weight 8
0.272; the co-occurrence term lifted MRR@25 from 0.236 to 0.255 over seeds 42-46, the transition term from
0.220 to 0.234 over seeds 45-52. The 3-seed table is in the README.

Sequences. A user's history, chronological, with consecutive repeats of one item collapsed (a ``click``
and a ``watch`` of the same item are one step, see ``training.data`` for the tie order). Training windows
hold ``bptt`` inputs; windows start every ``bptt // 2`` steps and only the newest half of a window's targets
carry loss (all of them in a history's oldest window), so every target after the first few has at least
``bptt // 2`` items of context, close to what serving gives it (the last ``bptt`` items). Short windows are
left-padded with 0, as the serving input is.

``recency_mask`` (Personalize: "consider the latest popularity trends"): when true, each training target's
loss is weighted by how recent the interaction is in the data set's time range, from 0.5 for the oldest
to 1.5 for the newest, so recent behaviour shapes the model more. When false all targets weigh the same.

``min/max_user_history_length_percentile`` drop users with extreme history lengths from training (their
histories are still used as input when recommending for them).

The code is the same on CPU and CUDA (``device``); seeds fix initialisation and batch order.
"""

from __future__ import annotations

import dataclasses
import warnings
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from training.data import Interactions
from training.onnx_export import (
    SEQUENCE_SCORES,
    export_and_verify,
    sample_item_sequences,
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
from training.recipes.feature_reader import FEATURE_EMBEDDING, FeatureReader, feature_pool, spread_over_steps
from training.recipes.item_item import (
    ItemItemHyperparameters,
    item_item_terms,
    item_user_pairs,
    with_item_item,
)
from training.recipes.score_temperature import fit_temperature
from training.recipes.sequence_training import collapsed_sequences, fit_next_item
from training.recipes.term_scale import MIN_GAIN_Z, HeldOutSteps, choose_scales, hold_out_last_steps

if TYPE_CHECKING:
    import torch

# The manifest's name (``training`` section) for the share of each term weight the graph serves.
SCALE_NOTES = {
    "item_item_weight": "item_item_scale",
    "cooccurrence_weight": "cooccurrence_scale",
    "transition_weight": "transition_scale",
}


@dataclass(frozen=True)
class UserPersonalizationHyperparameters(ItemItemHyperparameters):
    # Personalize's documented tunable hyperparameters and ranges.
    default_search = {"hidden_dimension": (32, 256), "bptt": (2, 32), "recency_mask": None}

    hidden_dimension: int = hyperparameter(149, low=32, high=256, doc="GRU units and item embedding size.")
    bptt: int = hyperparameter(32, low=2, high=32, doc="Time steps per training window and serving input.")
    recency_mask: bool = hyperparameter(True, doc="Weight recent interactions more in training.")
    min_user_history_length_percentile: float = hyperparameter(
        0.0, low=0.0, high=1.0, doc="Exclude users with shorter histories than this percentile."
    )
    max_user_history_length_percentile: float = hyperparameter(
        0.99, low=0.0, high=1.0, doc="Exclude users with longer histories than this percentile."
    )
    epochs: int = hyperparameter(3, low=1, high=500, doc="Passes over the training windows (Tailor).")
    learning_rate: float = hyperparameter(0.005, low=1e-5, high=1.0, doc="Adam learning rate (Tailor).")
    batch_size: int = hyperparameter(32, low=1, high=4096, doc="Windows per optimizer step (Tailor).")
    dropout: float = hyperparameter(
        0.3, low=0.0, high=0.9, doc="Dropout on embeddings and GRU output (Tailor)."
    )
    cooccurrence_init: bool = hyperparameter(
        True, doc="Start item embeddings from the SVD of the co-occurrence (Tailor)."
    )
    target_horizon: int = hyperparameter(
        1, low=1, high=64, doc="Each step learns to predict the next this-many items (Tailor)."
    )


def collapse_repeats(history: np.ndarray) -> np.ndarray:
    """Drop an item that repeats the item right before it."""
    if len(history) < 2:
        return history
    keep = np.ones(len(history), dtype=bool)
    keep[1:] = history[1:] != history[:-1]
    return history[keep]


def model_input(histories: Sequence[np.ndarray], length: int) -> np.ndarray:
    """The ``item_sequence`` tensor: last ``length`` collapsed items + 1, left-padded with 0."""
    out = np.zeros((len(histories), length), dtype=np.int64)
    for row, history in enumerate(histories):
        tail = collapse_repeats(np.asarray(history, dtype=np.int64))[-length:]
        if len(tail):
            out[row, length - len(tail) :] = tail + 1
    return out


def sequence_logits(
    model: Any,
    histories: Sequence[np.ndarray],
    length: int,
    n_items: int,
    device: str,
    tokens: np.ndarray | None = None,
) -> np.ndarray:
    """The exported graph's computation (``model_input`` [+ ``feature_tokens``] -> logits) for histories,
    in chunks; ``tokens`` only for a graph that reads them."""
    import torch

    model.eval()
    out = np.zeros((len(histories), n_items), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(histories), SCORE_CHUNK):
            chunk = model_input(histories[start : start + SCORE_CHUNK], length)
            inputs = [torch.from_numpy(chunk).to(device)]
            if tokens is not None:
                inputs.append(torch.from_numpy(tokens[start : start + len(chunk)]).to(device))
            out[start : start + len(chunk)] = model(*inputs).float().cpu().numpy()
    return out


@dataclass(frozen=True)
class Windows:
    inputs: np.ndarray  # int64 [W, L], item + 1, 0 = padding
    targets: np.ndarray  # int64 [W, L, H], the next H items + 1; 0 = none (or the step carries no loss)
    weights: np.ndarray  # float32 [W, L], loss weight of the step
    # int64 [W, L, T] feature tokens of each step's target interaction (its user's record and context:
    # what the request will say when the model predicts it); None when the recipe reads no features
    side: np.ndarray | None = None


def build_windows(
    sequences: Sequence[np.ndarray],
    weights: Sequence[np.ndarray],
    length: int,
    horizon: int = 1,
    side: Sequence[np.ndarray] | None = None,
) -> Windows:
    """Training windows of ``length`` inputs; step i's targets are the items i+1 .. i+horizon, and its
    ``side`` row (per sequence: int64 [n, T]) that of step i+1."""
    stride = max(1, length // 2)
    inputs: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    target_weights: list[np.ndarray] = []
    sides: list[np.ndarray] = []
    width = side[0].shape[1] if side else 1
    ahead = np.arange(1, horizon + 1)
    for number, (seq, weight) in enumerate(zip(sequences, weights, strict=True)):
        n = len(seq)
        end = n - 1  # index of the newest next-item target in the window
        while end >= 1:
            start = max(0, end - length)  # index of the oldest input
            span = end - start
            steps = np.arange(start, end)
            future = steps[:, None] + ahead[None, :]
            y = np.where(future < n, seq[np.minimum(future, n - 1)] + 1, 0)
            first_scored = end - stride + 1 if end - stride >= 1 else 1
            y[steps + 1 < first_scored] = 0
            x = np.zeros(length, dtype=np.int64)
            x[length - span :] = seq[start:end] + 1
            padded = np.zeros((length, horizon), dtype=np.int64)
            padded[length - span :] = y
            w = np.zeros(length, dtype=np.float32)
            w[length - span :] = weight[start + 1 : end + 1]
            inputs.append(x)
            targets.append(padded)
            target_weights.append(w)
            if side is not None:
                tokens = np.zeros((length, width), dtype=np.int64)
                tokens[length - span :] = side[number][start + 1 : end + 1]
                sides.append(tokens)
            end -= stride
    if not inputs:
        return Windows(
            np.zeros((0, length), dtype=np.int64),
            np.zeros((0, length, horizon), dtype=np.int64),
            np.zeros((0, length), dtype=np.float32),
            None if side is None else np.zeros((0, length, width), dtype=np.int64),
        )
    return Windows(
        np.stack(inputs), np.stack(targets), np.stack(target_weights), np.stack(sides) if sides else None
    )


def cooccurrence_embeddings(data: Interactions, dim: int, seed: int) -> np.ndarray:
    """Item vectors whose dot products approximate the items' cosine co-occurrence.

    Truncated SVD of the user-item matrix with columns scaled by 1/sqrt(users per item): with
    A = U S V^T, (V S)(V S)^T is the cosine similarity of the items' user sets (the SIMS similarity with
    popularity_discount_factor 0.5), which item-to-item recommenders show is a strong signal even where
    a learned embedding sees an item only a few times.
    """
    import torch

    items, users = item_user_pairs(data)
    per_item = np.bincount(items, minlength=data.n_items).astype(np.float64)
    values = 1.0 / np.sqrt(per_item[items])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notice that sparse invariant checks are off
        matrix = torch.sparse_coo_tensor(
            torch.from_numpy(np.stack([users, items])),
            torch.from_numpy(values.astype(np.float32)),
            size=(data.n_users, data.n_items),
        ).coalesce()
    rank = min(dim, data.n_users, data.n_items)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    _, singular, right = torch.svd_lowrank(matrix, q=rank, niter=4)
    torch.random.set_rng_state(generator_state)
    vectors = np.zeros((data.n_items, dim), dtype=np.float32)
    vectors[:, :rank] = (right * singular).numpy()
    norms = np.linalg.norm(vectors, axis=1)
    scale = float(norms[norms > 0].mean()) if (norms > 0).any() else 1.0
    return vectors / scale


def _build_model(
    n_items: int, dim: int, dropout: float, init: np.ndarray | None = None, n_feature_tokens: int = 0
) -> Any:
    import torch
    from torch import nn

    class GruScorer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.item_embedding = nn.Embedding(n_items + 1, dim, padding_idx=0)
            nn.init.normal_(self.item_embedding.weight, std=0.05)
            with torch.no_grad():
                if init is not None:
                    self.item_embedding.weight[1:] = torch.from_numpy(init)
                self.item_embedding.weight[0].zero_()
            self.gru = nn.GRU(dim, dim, batch_first=True)
            self.dropout = nn.Dropout(dropout)
            self.project = nn.Linear(dim, dim)
            self.item_bias = nn.Parameter(torch.zeros(n_items))
            self.features = feature_pool(n_feature_tokens, dim)  # Users and context tokens, if any

        def encode(self, item_sequence: torch.Tensor, tokens: torch.Tensor | None = None) -> torch.Tensor:
            """States [B, L, dim]; ``tokens`` [B, L, T]: each step's feature tokens (None: none)."""
            hidden, _ = self.gru(self.dropout(self.item_embedding(item_sequence)))
            if self.features is not None and tokens is not None:
                hidden = hidden + self.features(tokens)
            return self.project(self.dropout(hidden))

        def logits(self, states: torch.Tensor) -> torch.Tensor:
            return states @ self.item_embedding.weight[1:].T + self.item_bias

        def forward(
            self, item_sequence: torch.Tensor, feature_tokens: torch.Tensor | None = None
        ) -> torch.Tensor:
            return self.logits(
                self.encode(item_sequence, spread_over_steps(feature_tokens, item_sequence))[:, -1, :]
            )

    return GruScorer()


class ItemItemSequenceRecipe(FeatureReader, Recipe):
    """A next-item network served with the closed-form item-to-item terms (``training.recipes.item_item``):
    aws-user-personalization and -v2. ``fit`` sets ``model`` and ``item_item``; the served module, the
    offline scores and the ONNX export read the last ``input_length()`` items, and with a Users dataset
    or context columns the request's feature tokens (``feature_reader.py``), which the network adds to its
    state (``model.encode(item_sequence, tokens)``)."""

    warm_token_parameters: ClassVar[Mapping[str, int]] = {FEATURE_EMBEDDING: 1}

    def __init__(self, hyperparameters: Hyperparameters | None = None, *, seed: int = 42) -> None:
        super().__init__(hyperparameters, seed=seed)
        self.model: Any = None
        self.item_item: Any = None
        self.device = "cpu"
        # The steps that decide the terms' scales (``term_scale.py``), and the result.
        self.held_out: HeldOutSteps | None = None
        self.term_scales: dict[str, float] = {}  # weight hyperparameter -> the share of it served
        self.term_quality: dict[tuple[float, ...], float] = {}
        self.temperature = 1.0  # the served logits are divided by it (``score_temperature.py``)

    @abstractmethod
    def input_length(self) -> int:
        """Items the served graph reads (the newest last, left-padded with 0)."""

    @property
    def token_vocabularies(self) -> dict[str, list[str]]:
        """The feature table's tokens, for an UPDATE's warm start to match rows by token."""
        return {FEATURE_EMBEDDING: list(self.feature_space.vocabulary)} if self.reads_features else {}

    def training_windows(
        self, used: Interactions, recency: bool, length: int, horizon: int, rng: np.random.Generator
    ) -> tuple[Windows, Interactions]:
        """The network's training windows and the rows they come from, on which the terms are first
        built: with item-to-item terms, ``used`` without the held-out steps that ``scale_terms`` checks the
        terms on; else ``used``. The feature vocabulary is fitted on the rows the network trains on."""
        hp = self.hyperparameters
        sequences, weights, rows = collapsed_sequences(used, recency)
        self.held_out = None
        self.temperature = 1.0
        if hp.any_term:
            self.held_out = hold_out_last_steps(used, sequences, rows, rng)
        if self.held_out is None:
            return build_windows(sequences, weights, length, horizon, self.step_tokens(used, rows)), used
        kept = used.select_rows(self.held_out.keep)
        sequences, weights, rows = collapsed_sequences(kept, recency)
        return build_windows(sequences, weights, length, horizon, self.step_tokens(kept, rows)), kept

    def scale_terms(self, used: Interactions, length: int) -> None:
        """Once the network has trained: each term's scale on the held-out steps, and the served terms
        rebuilt on all of ``used`` at those scales (``term_scale.py``)."""
        held, hp = self.held_out, self.hyperparameters
        if held is None or self.item_item is None:
            return
        tokens = None
        if self.reads_features:
            users = [used.user_ids[u] for u in held.users]
            tokens = self.record_tokens(users, used.context_rows(held.rows))
        network = sequence_logits(self.model, held.histories, length, self.n_items, self.device, tokens)
        terms = [
            sequence_logits(self.item_item.part(i), held.histories, length, self.n_items, self.device)
            for i in range(len(self.item_item.names))
        ]
        # Without features the configured weights are the prior, replaced only on clear evidence; with
        # features the terms read less than the network, so the best share is taken as it is.
        min_z = 0.0 if self.reads_features else MIN_GAIN_Z
        scales, self.term_quality = choose_scales(network, terms, held.histories, held.targets, min_z)
        self.term_scales = dict(zip(self.item_item.names, scales, strict=True))
        served = network  # no longer needed as the network's alone: summed in place
        for scale, term in zip(scales, terms, strict=True):
            if scale:
                served += np.float32(scale) * term
        self.temperature = fit_temperature(served, held.targets)
        scaled = dataclasses.replace(
            hp, **{name: getattr(hp, name) * scale for name, scale in self.term_scales.items()}
        )
        self.item_item = item_item_terms(used, scaled, length, self.device)

    def training_notes(self) -> dict[str, Any]:
        if self.held_out is None or not self.term_scales:
            return {}
        notes: dict[str, Any] = {SCALE_NOTES[name]: scale for name, scale in self.term_scales.items()}
        notes["item_item_scale_checked_on"] = len(self.held_out)
        notes["score_temperature"] = round(self.temperature, 4)
        return notes

    def served(self) -> Any:
        """The module the runtime runs (and ``scores`` evaluates): the network plus the item-to-item terms,
        divided by the score temperature; it takes ``(item_sequence, feature_tokens)`` when the network
        reads feature tokens."""
        return with_item_item(self.model, self.item_item, self.reads_features, self.temperature)

    def scores(self, histories: Sequence[np.ndarray], tokens: np.ndarray | None = None) -> np.ndarray:
        """Logits [batch, n_items] for chronological item-index histories, with each row's feature tokens
        (None: no record and no context) when the network reads them."""
        if not self.reads_features:
            tokens = None
        elif tokens is None:
            tokens = np.zeros((len(histories), self.feature_space.width), dtype=np.int64)
        served = self.served()
        return sequence_logits(served, histories, self.input_length(), self.n_items, self.device, tokens)

    def recommend(self, histories: Sequence[np.ndarray], k: int) -> list[np.ndarray]:
        return top_k_unseen_chunked(self.scores, histories, k)

    def export(self, model_dir: Path) -> ExportResult:
        length = self.input_length()
        sample = sample_item_sequences(np.random.default_rng(self.seed), self.n_items, length)
        self.model = self.model.to("cpu").eval()
        if self.item_item is not None:
            self.item_item = self.item_item.to("cpu")
        self.device = "cpu"
        rng = np.random.default_rng(self.seed + 1)
        contract, inputs = self.sequence_export(sample, self.n_items, rng, model_dir)
        parity = export_and_verify(self.served(), contract, inputs, model_dir / "model.onnx")
        return ExportResult(contract, parity, "model.onnx", length)


class UserPersonalizationRecipe(ItemItemSequenceRecipe):
    name = "aws-user-personalization"
    recipe_type = "USER_PERSONALIZATION"
    description = (
        "Predicts the items a user will interact with next from their ordered interaction history, with a "
        "recurrent neural network (GRU) trained on all users' histories."
    )
    feature_transformation = "user-personalization"
    contract_name = SEQUENCE_SCORES
    hyperparameters_class = UserPersonalizationHyperparameters
    optional_datasets = ("ITEMS", "USERS")
    warm_item_parameters = {"item_embedding.weight": 1, "item_bias": 0}  # trainingMode UPDATE
    hyperparameters: UserPersonalizationHyperparameters

    def input_length(self) -> int:
        return self.hyperparameters.bptt

    def fit(self, data: Interactions, device: str = "cpu", on_epoch: EpochCallback | None = None) -> None:
        import torch

        hp = self.hyperparameters
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.n_items = data.n_items
        self.device = device
        used = filter_by_history_percentile(
            data, hp.min_user_history_length_percentile, hp.max_user_history_length_percentile
        )
        windows, seen = self.training_windows(used, hp.recency_mask, hp.bptt, hp.target_horizon, rng)
        init = cooccurrence_embeddings(seen, hp.hidden_dimension, self.seed) if hp.cooccurrence_init else None
        self.item_item = item_item_terms(seen, hp, hp.bptt, device)
        self.model = _build_model(
            self.n_items, hp.hidden_dimension, hp.dropout, init, self.feature_space.n_tokens
        ).to(device)
        if self.warm_start is not None:
            self.warm_start.apply(self.model, self.token_vocabularies)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=hp.learning_rate)
        model = self.model

        def logits_of(
            x: torch.Tensor, mask: torch.Tensor, tokens: torch.Tensor | None = None
        ) -> torch.Tensor:
            return model.logits(model.encode(x, tokens)[mask])

        fit_next_item(
            model,
            optimizer,
            windows,
            logits_of,
            epochs=hp.epochs,
            batch_size=hp.batch_size,
            learning_rate=hp.learning_rate,
            n_items=self.n_items,
            targets_per_window=hp.bptt // 2,
            rng=rng,
            device=device,
            on_epoch=self.counting_epochs(on_epoch),
        )
        self.scale_terms(used, hp.bptt)
