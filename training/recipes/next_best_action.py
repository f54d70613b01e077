"""aws-next-best-action: the probability that a user takes each action within the optimization period.

Amazon Personalize's Next-Best-Action recipe (developer guide, "Next-Best-Action recipe") ranks the
actions of the Actions dataset by the user's propensity to take them within ``action_optimization_period``
days, learning from the Action interactions dataset (``TAKEN``, ``NOT_TAKEN`` and ``VIEWED`` events).
Propensities are independent probabilities, not a distribution over actions: several actions can be
likely at once.

The model is a multi-label classifier: the user's TAKEN actions so far (a bag, embedded and averaged) go
through a hidden layer to one sigmoid per action. Training examples are cut from each user's timeline:
at every TAKEN event, the actions taken before it are the input and the actions TAKEN within the period
from it are the positive labels; actions the user was shown (``VIEWED``) or declined (``NOT_TAKEN``) in the
same window without taking them are the explicit negatives and weigh more than the implicit ones.

The workflow hands the Action interactions dataset to the training job in the ``interactions`` channel
with ACTION_ID as the item column, so the shared loader, split and metrics apply unchanged (an "item" is an
action here). The export declares the ``action_propensity`` contract (training/ARTIFACT.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.data import Interactions
from training.errors import TrainingDataError
from training.onnx_export import ACTION_PROPENSITY, action_propensity_contract, export_and_verify
from training.recipes.base import EpochCallback, ExportResult, Hyperparameters, Recipe, hyperparameter

TAKEN = "taken"
SHOWN = frozenset({"not_taken", "viewed"})
DAY_S = 86_400.0


@dataclass(frozen=True)
class NextBestActionHyperparameters(Hyperparameters):
    # Personalize documents no tunable Next-Best-Action hyperparameter; Tailor searches these two.
    default_search = {"hidden_dimension": (32, 128), "learning_rate": (1e-3, 3e-2)}

    action_optimization_period: int = hyperparameter(
        14, low=7, high=28, tunable=False, doc="Days after now in which a recommended action should be taken."
    )
    hidden_dimension: int = hyperparameter(64, low=16, high=256)
    max_history_length: int = hyperparameter(50, low=5, high=200, tunable=False)
    epochs: int = hyperparameter(30, low=1, high=200)
    learning_rate: float = hyperparameter(0.01, low=1e-4, high=0.1)
    explicit_negative_weight: float = hyperparameter(3.0, low=1.0, high=10.0)


class NextBestActionRecipe(Recipe):
    name = "aws-next-best-action"
    recipe_type = "PERSONALIZED_ACTIONS"
    description = (
        "Predicts, for each action, the probability that the user takes it within the action optimization "
        "period, from the actions the user took, viewed or declined before."
    )
    feature_transformation = "next-best-action"
    contract_name = ACTION_PROPENSITY
    hyperparameters_class = NextBestActionHyperparameters
    required_datasets = ("ACTION_INTERACTIONS", "ACTIONS")
    hyperparameters: NextBestActionHyperparameters

    def __init__(self, hyperparameters: Hyperparameters | None = None, *, seed: int = 42) -> None:
        super().__init__(hyperparameters, seed=seed)
        self.model: Any = None

    # -- data -------------------------------------------------------------------------------------
    def _examples(self, data: Interactions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(inputs [n, L] action index + 1, labels [n, A], weights [n, A])."""
        hp = self.hyperparameters
        period = hp.action_optimization_period * DAY_S
        types = (
            np.char.lower(data.event_type.astype(str))
            if data.event_type is not None
            else np.full(data.n_interactions, TAKEN)
        )
        inputs, labels, weights = [], [], []
        for user in range(data.n_users):
            start, end = int(data.user_offsets[user]), int(data.user_offsets[user + 1])
            items, stamps, kinds = data.item[start:end], data.timestamp[start:end], types[start:end]
            taken_before: list[int] = []
            for k in range(len(items)):
                if kinds[k] != TAKEN:
                    continue
                window = (stamps >= stamps[k]) & (stamps <= stamps[k] + period)
                label = np.zeros(data.n_items, dtype=np.float32)
                label[items[window & (kinds == TAKEN)]] = 1.0
                weight = np.ones(data.n_items, dtype=np.float32)
                shown = items[window & np.isin(kinds, list(SHOWN))]
                weight[shown[label[shown] == 0]] = hp.explicit_negative_weight
                row = np.zeros(hp.max_history_length, dtype=np.int64)
                tail = np.asarray(taken_before[-hp.max_history_length :], dtype=np.int64) + 1
                if tail.size:
                    row[-tail.size :] = tail
                inputs.append(row)
                labels.append(label)
                weights.append(weight)
                taken_before.append(int(items[k]))
        if not inputs:
            raise TrainingDataError(
                "There are no TAKEN action interactions to learn from: Next-Best-Action needs users who took "
                "actions (EVENT_TYPE TAKEN) in the Action interactions dataset."
            )
        return np.stack(inputs), np.stack(labels), np.stack(weights)

    def _module(self, n_actions: int) -> Any:
        import torch
        from torch import nn

        hidden = self.hyperparameters.hidden_dimension

        class Propensity(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.embedding = nn.Embedding(n_actions + 1, hidden, padding_idx=0)
                self.hidden = nn.Linear(hidden, hidden)
                self.out = nn.Linear(hidden, n_actions)

            def forward(self, item_sequence: torch.Tensor) -> torch.Tensor:
                present = (item_sequence > 0).to(torch.float32).unsqueeze(-1)
                summed = (self.embedding(item_sequence) * present).sum(dim=1)
                bag = summed / present.sum(dim=1).clamp(min=1.0)
                return torch.sigmoid(self.out(torch.relu(self.hidden(bag))))

        return Propensity()

    # -- Recipe -----------------------------------------------------------------------------------
    def fit(self, data: Interactions, device: str = "cpu", on_epoch: EpochCallback | None = None) -> None:
        import torch

        torch.manual_seed(self.seed)
        inputs, labels, weights = self._examples(data)
        self.n_items = data.n_items
        model = self._module(data.n_items).to(device)
        self.model = model  # the epoch callback evaluates the model being trained
        optimiser = torch.optim.Adam(model.parameters(), lr=self.hyperparameters.learning_rate)
        x, y, w = (torch.from_numpy(a).to(device) for a in (inputs, labels, weights))
        batch = 256
        generator = torch.Generator().manual_seed(self.seed)
        for epoch in range(1, self.hyperparameters.epochs + 1):
            order = torch.randperm(x.shape[0], generator=generator)
            total = 0.0
            for begin in range(0, x.shape[0], batch):
                index = order[begin : begin + batch].to(device)
                predicted = model(x[index]).clamp(1e-6, 1 - 1e-6)
                loss = torch.nn.functional.binary_cross_entropy(predicted, y[index], weight=w[index])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * len(index)
            if on_epoch is not None:
                on_epoch(epoch, total / x.shape[0])
        self.model = model.to("cpu").eval()
        self.epochs_trained = self.hyperparameters.epochs

    def _scores(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        length = self.hyperparameters.max_history_length
        rows = np.zeros((len(histories), length), dtype=np.int64)
        for i, history in enumerate(histories):
            tail = np.asarray(history[-length:], dtype=np.int64) + 1
            if tail.size:
                rows[i, -tail.size :] = tail
        device = next(self.model.parameters()).device
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                return self.model(torch.from_numpy(rows).to(device)).cpu().numpy()
        finally:
            self.model.train(was_training)

    def serving_histories(self, data: Interactions) -> list[np.ndarray]:
        # The graph reads TAKEN actions only; views and declines are not things the user did.
        if data.event_type is None:
            return list(data.histories())
        taken = np.char.lower(data.event_type.astype(str)) == TAKEN
        return [
            data.item[start:end][taken[start:end]]
            for start, end in zip(data.user_offsets[:-1], data.user_offsets[1:], strict=True)
        ]

    def recommend(self, histories: Sequence[np.ndarray], k: int) -> list[np.ndarray]:
        # Actions can be taken again (a purchase in a category), so the history is not excluded.
        scores = self._scores(histories)
        take = min(k, scores.shape[1])
        return [np.argsort(-row, kind="stable")[:take] for row in scores]

    def export(self, model_dir: Path) -> ExportResult:
        length = self.hyperparameters.max_history_length
        contract = action_propensity_contract(length, self.n_items)
        sample = np.random.default_rng(self.seed).integers(0, self.n_items + 1, size=(4, length))
        parity = export_and_verify(self.model, contract, {"item_sequence": sample}, model_dir / "model.onnx")
        return ExportResult(contract, parity, "model.onnx", length)
