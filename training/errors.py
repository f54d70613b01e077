"""Errors of the training container.

Every error a user can fix is a ``TrainingError``: its message is written verbatim to
``<output>/failure`` (the one line SageMaker and the control plane show as the failure reason), so it
names what is wrong and what to do about it. Anything else that escapes is a bug in Tailor.
"""

from __future__ import annotations


class TrainingError(Exception):
    """An error the user can act on; ``str(error)`` is the failure reason shown to them."""


class TrainingDataError(TrainingError):
    """The interactions data is missing, malformed or too small to train on."""


class ConfigurationError(TrainingError):
    """hyperparameters.json or the solution config is malformed."""


class UnknownRecipeError(TrainingError):
    """The recipe name is not one Tailor implements; there is deliberately no fallback recipe."""

    def __init__(self, name: str, available: list[str]) -> None:
        super().__init__(f"Unknown recipe {name!r}. Available recipes: {', '.join(sorted(available))}.")
        self.name = name


class HyperparameterError(TrainingError):
    """A hyperparameter is unknown to the recipe or its value is invalid."""


class ExportParityError(TrainingError):
    """The exported ONNX graph does not reproduce the PyTorch model within the declared tolerance."""
