"""Loading a trained model artifact and answering recommendation requests with it.

The runtime Lambda's model layer: numpy and onnxruntime only (no torch), so the contract between the two
sides is the artifact format (``training/ARTIFACT.md``). The one piece of ``training`` it imports is
``training/feature_tokens.py`` (numpy only): the rules that turn a user's record and a request's context
into ``features.json`` tokens, kept in one place so that training and serving cannot drift apart.

Scores. For ``sequence_scores`` and ``user_feature_scores`` models (the latter also reads the user's
index, 0 for a user it does not know, and the tokens of their record and context) the graph returns one
logit per catalogue item; the score of an item is its softmax probability over the whole catalogue, as
Personalize defines User-Personalization scores, so the scores of the returned items are in [0, 1] and sum
to at most 1 (items the user has seen keep their share of the denominator but are never returned). The
sequence recipes' graphs divide their logits by a temperature fitted on held-out training steps
(``training/recipes/score_temperature.py``), so these probabilities are the model's calibrated belief,
not the near-one peak that the sum of a network and the item-to-item terms would give.
Cold-start users (no known history) get the most popular items scored by their share of all training
interactions, which is the same softmax a popularity model produces. For ``item_neighbors`` models the
score is the SIMS similarity of the neighbour (see the aws-sims recipe); items that fill the list up from
the popularity ranking, when an item is unknown or has too few neighbours, score 0.0 because they are not
similar, only popular. For ``user_affinity`` models (USER_SEGMENTATION) the graph scores users, not items:
``segment`` ranks the users for one item or a mixture of items (an item-attribute query), for batch
segment jobs.

Per call: one ``InferenceSession.run`` on one thread, a softmax over the scores and ``argpartition`` for
the top n, so the cost is the graph plus O(n_items).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from training.feature_tokens import FEATURES_FILE, FeatureSpace

FORMAT_VERSION = 1
SEQUENCE_SCORES = "sequence_scores"
USER_FEATURE_SCORES = "user_feature_scores"
SEQUENCE_FEATURE_SCORES = "sequence_feature_scores"
ITEM_NEIGHBORS = "item_neighbors"
ACTION_PROPENSITY = "action_propensity"
USER_AFFINITY = "user_affinity"
CONTRACTS = (
    SEQUENCE_SCORES,
    USER_FEATURE_SCORES,
    SEQUENCE_FEATURE_SCORES,
    ITEM_NEIGHBORS,
    ACTION_PROPENSITY,
    USER_AFFINITY,
)
# The contracts that score every item for a user's history (GetRecommendations, GetPersonalizedRanking).
USER_ITEM_CONTRACTS = (SEQUENCE_SCORES, USER_FEATURE_SCORES, SEQUENCE_FEATURE_SCORES)
# The contracts whose graphs read the user's record and the request context (features.json).
FEATURE_CONTRACTS = (USER_FEATURE_SCORES, SEQUENCE_FEATURE_SCORES)
# The graph inputs each contract declares, in order (checked against manifest.json and the graph).
CONTRACT_INPUTS = {
    SEQUENCE_SCORES: ["item_sequence"],
    USER_FEATURE_SCORES: ["item_sequence", "user_index", "feature_tokens"],
    SEQUENCE_FEATURE_SCORES: ["item_sequence", "feature_tokens"],
    ITEM_NEIGHBORS: ["item_index"],
    ACTION_PROPENSITY: ["item_sequence"],
    USER_AFFINITY: ["item_index"],
}
USER_IDS_FILE = "user_ids.json"
UNKNOWN_USER = 0
# Items scored per graph call when a segment mixes many items (bounds a [chunk, n_users] block).
SEGMENT_CHUNK = 64


class ModelArtifactError(Exception):
    """The model directory is not a complete artifact of a supported format."""


class UnsupportedRequestError(Exception):
    """The request needs a different kind of model (e.g. similar items from a user-personalization model)."""


def _read_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise ModelArtifactError(f"{path.name} is missing from the model artifact {path.parent}") from None
    except json.JSONDecodeError as error:
        raise ModelArtifactError(f"{path.name} in {path.parent} is not valid JSON: {error.msg}") from None


def collapse_repeats(history: np.ndarray) -> np.ndarray:
    if len(history) < 2:
        return history
    keep = np.empty(len(history), dtype=bool)
    keep[0] = True
    np.not_equal(history[1:], history[:-1], out=keep[1:])
    return history[keep]


@dataclass
class LoadedModel:
    manifest: dict[str, Any]
    items: list[str]
    item_index: dict[str, int]
    histories: dict[str, np.ndarray]
    popular_items: np.ndarray  # int64 item indices, most popular first
    popular_scores: np.ndarray  # float64, share of all training interactions
    session: onnxruntime.InferenceSession
    # user_affinity only (segments.json): user index -> id, each item's training interactions, and the
    # factor on the score of a user who already took the item
    users: list[str] = field(default_factory=list)
    item_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    repeat_factor: float = 1.0
    # user_feature_scores only (user_ids.json): user id -> the graph's user index (position + 1)
    user_index: dict[str, int] = field(default_factory=dict)
    # user_feature_scores only (features.json): the user-record and context token vocabulary
    features: FeatureSpace | None = None
    _takers: list[np.ndarray] | None = field(default=None, repr=False)

    @property
    def contract(self) -> str:
        return str(self.manifest["contract"])

    @property
    def recipe(self) -> str:
        return str(self.manifest["recipe"])

    @property
    def max_sequence_length(self) -> int:
        return int(self.manifest["max_sequence_length"])

    @classmethod
    def load(cls, model_dir: str) -> LoadedModel:
        root = Path(model_dir)
        manifest = _read_json(root / "manifest.json")
        if manifest.get("format_version") != FORMAT_VERSION:
            version = manifest.get("format_version")
            raise ModelArtifactError(
                f"Unsupported model format_version {version!r} (expected {FORMAT_VERSION})"
            )
        if manifest.get("contract") not in CONTRACTS:
            raise ModelArtifactError(f"Unsupported model contract {manifest.get('contract')!r}")
        items = [str(item) for item in _read_json(root / "items.json")]
        histories = {
            str(user): np.asarray(indices, dtype=np.int64)
            for user, indices in _read_json(root / "users.json").items()
        }
        popular = _read_json(root / "popular.json")
        total = float(manifest.get("training", {}).get("interactions") or sum(popular["counts"]) or 1)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            session = onnxruntime.InferenceSession(
                str(root / manifest["onnx_file"]), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own untyped errors for unreadable graphs
            raise ModelArtifactError(f"Cannot load {manifest['onnx_file']}: {error}") from error
        declared = (
            [spec["name"] for spec in manifest["inputs"]],
            [spec["name"] for spec in manifest["outputs"]],
        )
        actual = [node.name for node in session.get_inputs()], [node.name for node in session.get_outputs()]
        if declared != actual:
            raise ModelArtifactError(
                f"The ONNX graph's inputs/outputs {actual} differ from the manifest {declared}"
            )
        expected_inputs = CONTRACT_INPUTS[manifest["contract"]]
        if declared[0] != expected_inputs:
            raise ModelArtifactError(
                f"The {manifest['contract']} contract has inputs {expected_inputs}, the manifest declares "
                f"{declared[0]}"
            )
        user_index: dict[str, int] = {}
        features = None
        if manifest["contract"] == USER_FEATURE_SCORES:
            known = [str(user) for user in _read_json(root / USER_IDS_FILE)]
            user_index = {user: u + 1 for u, user in enumerate(known)}
            if len(user_index) != len(known):
                raise ModelArtifactError(f"{USER_IDS_FILE} lists a user more than once")
        if manifest["contract"] in FEATURE_CONTRACTS:
            try:
                features = FeatureSpace.from_json(_read_json(root / FEATURES_FILE))
            except (KeyError, TypeError, ValueError) as error:
                raise ModelArtifactError(f"{FEATURES_FILE} is not a feature vocabulary: {error}") from error
            width = manifest["inputs"][-1]["shape"][1]
            if width != features.width:
                raise ModelArtifactError(
                    f"{FEATURES_FILE} has width {features.width}, the graph's feature_tokens {width}"
                )
        users: list[str] = []
        counts = np.zeros(0, dtype=np.int64)
        repeat_factor = 1.0
        if manifest["contract"] == USER_AFFINITY:
            segments = _read_json(root / "segments.json")
            users = [str(user) for user in segments["users"]]
            counts = np.asarray(segments["item_counts"], dtype=np.int64)
            repeat_factor = float(segments["repeat_factor"])
            if len(counts) != len(items) or not 0.0 < repeat_factor <= 1.0:
                raise ModelArtifactError(
                    f"segments.json has {len(counts)} item counts for {len(items)} items and repeat_factor "
                    f"{repeat_factor} (must be in (0, 1])"
                )
        return cls(
            manifest=manifest,
            items=items,
            item_index={item: i for i, item in enumerate(items)},
            histories=histories,
            popular_items=np.asarray(popular["items"], dtype=np.int64),
            popular_scores=np.asarray(popular["counts"], dtype=np.float64) / total,
            session=session,
            users=users,
            item_counts=counts,
            repeat_factor=repeat_factor,
            user_index=user_index,
            features=features,
        )

    def history_of(self, user_id: str | None, extra_history: Sequence[str] = ()) -> np.ndarray:
        """Training history of the user plus the known items of ``extra_history``, chronological."""
        known = self.histories.get(user_id) if user_id is not None else None
        extra = [self.item_index[item] for item in extra_history if item in self.item_index]
        if known is None:
            return np.asarray(extra, dtype=np.int64)
        if not extra:
            return known
        return np.concatenate([known, np.asarray(extra, dtype=np.int64)])

    def _popular(
        self, n: int, excluded: Iterable[int] = (), score: float | None = None
    ) -> list[tuple[str, float]]:
        skip = set(excluded)
        out: list[tuple[str, float]] = []
        for index, share in zip(self.popular_items, self.popular_scores, strict=True):
            if len(out) >= n:
                break
            if int(index) not in skip:
                out.append((self.items[index], float(share) if score is None else score))
        return out

    def popularity_vector(self) -> np.ndarray:
        """Every item's share of the training interactions (0 for items outside ``popular.json``)."""
        vector = np.zeros(len(self.items), dtype=np.float64)
        vector[self.popular_items] = self.popular_scores
        return vector

    def user_scores(
        self,
        user_id: str | None,
        extra_history: Sequence[str],
        user_record: Mapping[str, Any] | None = None,
        context: Mapping[str, str] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(score of every item, the history's item indices) for a user: the dense form of
        ``recommend_for_user`` that filters, promotions and ranking select from. Scores are softmax
        probabilities over the whole catalogue; a user with no known history gets popularity shares.
        ``user_record`` (the user's Users-dataset row) and ``context`` (the request's) reach graphs that
        read them (``user_feature_scores``); others ignore them."""
        if self.contract not in USER_ITEM_CONTRACTS:
            raise UnsupportedRequestError(
                f"Recipe {self.recipe} recommends items for an item, not for a user"
            )
        history = self.history_of(user_id, extra_history)
        # A POPULAR_ITEMS graph (trending-now) ignores the history, so it answers users without one too;
        # for the others a user with no known history gets plain popularity.
        if history.size == 0 and self.manifest.get("recipe_type") != "POPULAR_ITEMS":
            return self.popularity_vector(), history
        length = self.max_sequence_length
        sequence = np.zeros((1, length), dtype=np.int64)
        tail = collapse_repeats(history)[-length:]
        sequence[0, length - len(tail) :] = tail + 1
        feed = {"item_sequence": sequence}
        if self.contract == USER_FEATURE_SCORES:
            known = self.user_index.get(user_id, UNKNOWN_USER) if user_id is not None else UNKNOWN_USER
            feed["user_index"] = np.asarray([known], dtype=np.int64)
        if self.contract in FEATURE_CONTRACTS:
            assert self.features is not None
            feed["feature_tokens"] = self.features.encode([user_record], [context])
        logits = self.session.run(None, feed)[0][0].astype(np.float64)
        logits -= logits.max()
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum()
        return probabilities, history

    def action_scores(self, user_id: str | None, extra_history: Sequence[str]) -> np.ndarray:
        """Propensity of every action for the user (``action_propensity``): independent probabilities."""
        if self.contract != ACTION_PROPENSITY:
            raise UnsupportedRequestError(f"Recipe {self.recipe} does not predict action propensities")
        history = self.history_of(user_id, extra_history)
        length = self.max_sequence_length
        sequence = np.zeros((1, length), dtype=np.int64)
        tail = history[-length:]
        if tail.size:
            sequence[0, length - len(tail) :] = tail + 1
        return self.session.run(None, {"item_sequence": sequence})[0][0].astype(np.float64)

    def neighbor_scores(self, item_id: str) -> np.ndarray:
        """Similarity of every item to ``item_id`` (-inf for items that are not its neighbours)."""
        if self.contract != ITEM_NEIGHBORS:
            raise UnsupportedRequestError(
                f"Recipe {self.recipe} recommends items for a user, not for an item"
            )
        scores = np.full(len(self.items), -np.inf, dtype=np.float64)
        index = self.item_index.get(item_id)
        if index is None:
            return scores
        neighbors, similarity = self.session.run(None, {"item_index": np.asarray([index], dtype=np.int64)})
        keep = neighbors[0] >= 0
        scores[neighbors[0][keep]] = similarity[0][keep]
        scores[index] = -np.inf
        return scores

    def takers(self, item: int) -> np.ndarray:
        """User indices (into ``users``) that interacted with item index ``item`` in training."""
        if self._takers is None:
            position = {user: u for u, user in enumerate(self.users)}
            pairs = sorted(
                (int(i), position[user])
                for user, history in self.histories.items()
                if user in position
                for i in set(history.tolist())
            )
            found: list[list[int]] = [[] for _ in self.items]
            for i, u in pairs:
                found[i].append(u)
            self._takers = [np.asarray(users, dtype=np.int64) for users in found]
        return self._takers[item]

    def segment_log_probabilities(self, item_indices: Sequence[int]) -> np.ndarray:
        """log segment score of every user of ``users`` for the items (``user_affinity`` models).

        Per item: the graph's log P(u | i), times the model's ``repeat_factor`` for users who took the
        item in training (how often users take an item again, learnt from the data). Several items (those
        an item-attribute query matches): the mixture sum_i w_i score(u, i) with w_i proportional to the
        item's training interactions + 1, so an item weighs as much as interactions with it are common."""
        if self.contract != USER_AFFINITY:
            raise UnsupportedRequestError(f"Recipe {self.recipe} recommends items; it makes no user segments")
        indices = np.asarray(item_indices, dtype=np.int64)
        if indices.size == 0:
            raise ValueError("a segment needs at least one item known to the model")
        log_weights = np.log(self.item_counts[indices].astype(np.float64) + 1.0)
        log_weights -= np.logaddexp.reduce(log_weights)
        mixture = np.full(len(self.users), -np.inf, dtype=np.float64)
        for start in range(0, indices.size, SEGMENT_CHUNK):
            chunk = indices[start : start + SEGMENT_CHUNK]
            log_p = self.session.run(None, {"item_index": chunk})[0].astype(np.float64)
            for row, item in enumerate(chunk):
                log_p[row, self.takers(int(item))] += np.log(self.repeat_factor)
            part = np.logaddexp.reduce(log_p + log_weights[start : start + SEGMENT_CHUNK, None], axis=0)
            mixture = np.logaddexp(mixture, part)
        return mixture

    def segment(
        self, item_indices: Sequence[int], n: int, allowed_users: np.ndarray | None = None
    ) -> list[tuple[str, float]]:
        """The ``n`` users most likely to interact with the items, best first, with their score (see
        ``segment_log_probabilities``); ``allowed_users`` (bool per user of ``users``) is a job's filter."""
        scores = self.segment_log_probabilities(item_indices)
        if allowed_users is not None:
            scores = np.where(allowed_users, scores, -np.inf)
        take = min(n, len(scores))
        if take <= 0:
            return []
        top = np.argpartition(-scores, take - 1)[:take] if take < len(scores) else np.arange(len(scores))
        top = top[np.lexsort((top, -scores[top]))]
        top = top[np.isfinite(scores[top])]
        return [(self.users[u], float(np.exp(scores[u]))) for u in top]

    def _top(self, scores: np.ndarray, blocked: Iterable[int], n: int) -> list[tuple[str, float]]:
        """The ``n`` best (item_id, score) of finite ``scores`` outside ``blocked``, ties by item index."""
        masked = np.array(scores, dtype=np.float64, copy=True)
        masked[list(blocked)] = -np.inf
        take = min(n, len(masked))
        if take <= 0:
            return []
        top = np.argpartition(-masked, take - 1)[:take] if take < len(masked) else np.arange(take)
        top = top[np.lexsort((top, -masked[top]))]
        top = top[np.isfinite(masked[top])]
        return [(self.items[i], float(masked[i])) for i in top]

    # The runtime's user scoring without filters or promotions: what the smoke tests and benchmarks ask of a
    # trained artifact.
    def recommend_for_user(
        self, user_id: str | None, extra_history: list[str], n: int
    ) -> list[tuple[str, float]]:
        """Top ``n`` (item_id, score) the user has not interacted with, best first."""
        scores, history = self.user_scores(user_id, extra_history)
        return self._top(scores, history, n)

    def similar_items(self, item_id: str, n: int, exclude: Iterable[str] = ()) -> list[tuple[str, float]]:
        """Top ``n`` (item_id, similarity) for ``item_id``, filled up with popular items (score 0.0).

        Reads the graph's neighbour list in its own order (ties as training ranked them), which the dense
        ``neighbor_scores`` cannot keep."""
        if self.contract != ITEM_NEIGHBORS:
            raise UnsupportedRequestError(
                f"Recipe {self.recipe} recommends items for a user, not for an item"
            )
        if n <= 0:
            return []
        skip = {self.item_index[item] for item in exclude if item in self.item_index}
        index = self.item_index.get(item_id)
        out: list[tuple[str, float]] = []
        if index is not None:
            skip.add(index)
            neighbors, scores = self.session.run(None, {"item_index": np.asarray([index], dtype=np.int64)})
            for neighbor, score in zip(neighbors[0], scores[0], strict=True):
                if len(out) >= n or neighbor < 0:
                    break
                if int(neighbor) not in skip:
                    skip.add(int(neighbor))
                    out.append((self.items[neighbor], float(score)))
        if len(out) < n:
            out.extend(self._popular(n - len(out), skip, score=0.0))
        return out
