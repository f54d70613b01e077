"""Hyperparameter optimisation (performHPO) and recipe selection (performAutoML).

Three parts, all numpy and import-light (the control plane validates CreateSolution with the same parsers
the training job uses, so a config the API accepted cannot fail the job for a different reason):

- ``parse_hpo_config`` / ``parse_automl_config``: Personalize's ``hpoConfig`` and ``autoMLConfig`` checked
  against the recipe catalogue (names must be tunable hyperparameters of the recipe, ranges inside the
  recipe's bounds, resource numbers within Personalize's limits, metrics Tailor computes).
- ``BayesianOptimizer``: a Gaussian process (Matern 5/2 kernel, length scale and noise chosen by marginal
  likelihood on a small grid) over the search space normalised to the unit cube, proposing the point of
  highest expected improvement. Integers are snapped to their grid and categories one-hot encoded before
  the acquisition is scored, so the optimiser compares the points it will actually try. Continuous ranges
  spanning two decades or more are searched on a log scale (learning rates). A round of several proposals
  uses the "kriging believer": each chosen point joins the model with its predicted score before the next
  one is chosen, which spreads a round out instead of proposing one point n times.
- ``tune``: the trial loop. ``maxParallelTrainingJobs`` proposals per round, ``maxNumberOfTrainingJobs``
  trials in all, the first round a Latin hypercube (plus any starting points, e.g. the recipe's defaults).

Where trials are scored is the caller's business; the entrypoint scores them on a validation split carved
from the training users only (``training/entrypoint.py``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from training.errors import ConfigurationError, HyperparameterError
from training.metrics import METRIC_KEYS
from training.recipes import get_recipe
from training.recipes.base import Hyperparameters

DEFAULT_OBJECTIVE = "normalized_discounted_cumulative_gain_at_10"
# Personalize's limits (HPOResourceConfig); the defaults are Tailor's, sized for a CPU.
MAX_TRAINING_JOBS = 40
MAX_PARALLEL_TRAINING_JOBS = 10
DEFAULT_TRAINING_JOBS = 8
DEFAULT_PARALLEL_TRAINING_JOBS = 2
# Personalize performs AutoML over its USER_PERSONALIZATION recipes (the HRNN family by default).
AUTOML_RECIPE_TYPE = "USER_PERSONALIZATION"
DEFAULT_AUTOML_RECIPES = ("aws-hrnn", "aws-hrnn-metadata", "aws-hrnn-coldstart")
# A continuous range at least this wide (high / low) is searched on a log scale.
LOG_SCALE_RATIO = 100.0

Kind = Literal["integer", "continuous", "categorical"]
RANGE_LISTS: dict[str, Kind] = {
    "integerHyperParameterRanges": "integer",
    "continuousHyperParameterRanges": "continuous",
    "categoricalHyperParameterRanges": "categorical",
}


# -- the search space ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Dimension:
    """One tuned hyperparameter: its kind, inclusive bounds (numbers) or values (categories)."""

    name: str
    kind: Kind
    low: float = 0.0
    high: float = 0.0
    values: tuple[str, ...] = ()
    log: bool = False

    @property
    def width(self) -> int:
        return len(self.values) if self.kind == "categorical" else 1

    def _to_unit(self, value: float) -> float:
        if self.high == self.low:
            return 0.5
        if self.log:
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (value - self.low) / (self.high - self.low)

    def _from_unit(self, u: float) -> float:
        u = min(max(u, 0.0), 1.0)
        if self.log:
            return float(math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low))))
        return self.low + u * (self.high - self.low)

    def value(self, coords: np.ndarray) -> Any:
        """The hyperparameter value an encoded block stands for."""
        if self.kind == "categorical":
            return self.values[int(np.argmax(coords))]
        number = self._from_unit(float(coords[0]))
        if self.kind == "integer":
            return int(min(max(round(number), self.low), self.high))
        # Six significant digits: tunedHPOParams should read 0.00731, not 0.007310093341124.
        return float(min(max(float(f"{number:.6g}"), self.low), self.high))

    def encode(self, value: Any) -> np.ndarray:
        if self.kind == "categorical":
            block = np.zeros(self.width)
            block[self.values.index(str(value))] = _ONE_HOT
            return block
        return np.array([self._to_unit(float(value))])

    def from_uniform(self, u: float) -> np.ndarray:
        """A valid encoded block from u in [0, 1): categories by index, integers snapped to the grid."""
        if self.kind == "categorical":
            return self.encode(self.values[min(int(u * len(self.values)), len(self.values) - 1)])
        return self.encode(self.value(np.array([u])))

    def to_json(self) -> dict[str, Any]:
        if self.kind == "categorical":
            return {"name": self.name, "type": self.kind, "values": list(self.values)}
        number = int if self.kind == "integer" else float
        return {
            "name": self.name,
            "type": self.kind,
            "min": number(self.low),
            "max": number(self.high),
            "log_scale": self.log,
        }


# Two different categories are at distance 1, like the two ends of a numeric range.
_ONE_HOT = 1.0 / math.sqrt(2.0)


@dataclass(frozen=True)
class SearchSpace:
    dimensions: tuple[Dimension, ...]

    @property
    def width(self) -> int:
        return sum(d.width for d in self.dimensions)

    def _blocks(self, x: np.ndarray) -> list[np.ndarray]:
        out, start = [], 0
        for d in self.dimensions:
            out.append(x[start : start + d.width])
            start += d.width
        return out

    def decode(self, x: np.ndarray) -> dict[str, Any]:
        return {d.name: d.value(block) for d, block in zip(self.dimensions, self._blocks(x), strict=True)}

    def encode(self, values: Mapping[str, Any]) -> np.ndarray:
        return np.concatenate([d.encode(values[d.name]) for d in self.dimensions])

    def snap(self, x: np.ndarray) -> np.ndarray:
        """The encoding of the point that would actually be tried for ``x``."""
        return self.encode(self.decode(x))

    def from_uniform(self, u: np.ndarray) -> np.ndarray:
        """Encoded points from rows of u in [0, 1)^len(dimensions)."""
        return np.array(
            [
                np.concatenate([d.from_uniform(float(v)) for d, v in zip(self.dimensions, row, strict=True)])
                for row in u
            ]
        )

    def contains(self, values: Mapping[str, Any]) -> bool:
        for d in self.dimensions:
            value = values.get(d.name)
            if d.kind == "categorical":
                if str(value) not in d.values:
                    return False
            elif value is None or not d.low <= float(value) <= d.high:
                return False
        return True


def latin_hypercube(rng: np.random.Generator, n: int, dims: int) -> np.ndarray:
    """n points in [0, 1)^dims, one in each of n equal slices of every axis."""
    strata = np.stack([rng.permutation(n) for _ in range(dims)], axis=1) if dims else np.zeros((n, 0))
    return (strata + rng.random((n, dims))) / n


# -- the Gaussian process ------------------------------------------------------------------------
_LENGTH_SCALES = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5)
_NOISES = (1e-6, 1e-3, 1e-2, 0.1)


def _matern52(a: np.ndarray, b: np.ndarray, length: float) -> np.ndarray:
    d = np.sqrt(np.maximum(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1), 0.0)) / length
    s5 = math.sqrt(5.0) * d
    return (1.0 + s5 + 5.0 / 3.0 * d**2) * np.exp(-s5)


@dataclass
class _GaussianProcess:
    x: np.ndarray
    y: np.ndarray
    length: float = 0.3
    noise: float = 1e-3
    _mean: float = 0.0
    _scale: float = 1.0
    _chol: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    _alpha: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def fit(self, choose: bool = True) -> _GaussianProcess:
        self._mean = float(self.y.mean())
        self._scale = float(self.y.std()) or 1.0
        z = (self.y - self._mean) / self._scale
        best: tuple[float, float, float] | None = None
        grid = (
            [(ls, nz) for ls in _LENGTH_SCALES for nz in _NOISES] if choose else [(self.length, self.noise)]
        )
        for length, noise in grid:
            k = _matern52(self.x, self.x, length) + noise * np.eye(len(self.x))
            try:
                chol = np.linalg.cholesky(k)
            except np.linalg.LinAlgError:
                continue
            alpha = np.linalg.solve(chol.T, np.linalg.solve(chol, z))
            # Log marginal likelihood up to a constant.
            evidence = -0.5 * float(z @ alpha) - float(np.log(np.diag(chol)).sum())
            if best is None or evidence > best[0]:
                best = (evidence, length, noise)
        if best is None:
            raise np.linalg.LinAlgError("no stable kernel for these observations")
        _, self.length, self.noise = best
        k = _matern52(self.x, self.x, self.length) + self.noise * np.eye(len(self.x))
        self._chol = np.linalg.cholesky(k)
        self._alpha = np.linalg.solve(self._chol.T, np.linalg.solve(self._chol, z))
        return self

    def predict(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation, in the units of y."""
        cross = _matern52(points, self.x, self.length)
        mean = cross @ self._alpha
        v = np.linalg.solve(self._chol, cross.T)
        var = np.maximum(1.0 - (v**2).sum(0), 1e-12)
        return self._mean + self._scale * mean, self._scale * np.sqrt(var)


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float, xi: float = 0.01) -> np.ndarray:
    """E[max(f - best - xi, 0)] under N(mean, std^2), for maximisation."""
    gain = mean - best - xi
    z = gain / std
    pdf = np.exp(-0.5 * z**2) / math.sqrt(2.0 * math.pi)
    return gain * _normal_cdf(z) + std * pdf


class BayesianOptimizer:
    """Maximises an unknown function over a ``SearchSpace``: ``ask`` for points, ``tell`` their scores."""

    def __init__(
        self,
        space: SearchSpace,
        seed: int = 0,
        n_initial: int | None = None,
        initial_points: Sequence[Mapping[str, Any]] = (),
        candidates: int = 1024,
    ) -> None:
        if not space.dimensions:
            raise ValueError("the search space has no dimensions")
        self.space = space
        self.rng = np.random.default_rng(seed)
        self.n_initial = n_initial if n_initial is not None else max(3, min(2 * len(space.dimensions) + 1, 6))
        self.n_candidates = candidates
        self._queue = [space.decode(space.encode(p)) for p in initial_points if space.contains(p)]
        self.x: list[np.ndarray] = []
        self.y: list[float] = []

    def ask(self, n: int = 1) -> list[dict[str, Any]]:
        proposals: list[np.ndarray] = []
        while len(proposals) < n and self._queue:
            proposals.append(self.space.encode(self._queue.pop(0)))
        missing_initial = self.n_initial - len(self.x) - len(proposals)
        if len(proposals) < n and missing_initial > 0:
            count = min(n - len(proposals), missing_initial)
            design = self.space.from_uniform(latin_hypercube(self.rng, count, len(self.space.dimensions)))
            proposals.extend(list(design))
        if len(proposals) < n:
            proposals.extend(self._acquire(n - len(proposals), proposals))
        return [self.space.decode(p) for p in proposals]

    def tell(self, values: Mapping[str, Any], score: float) -> None:
        self.x.append(self.space.encode(values))
        self.y.append(float(score))

    def _candidates(self) -> np.ndarray:
        dims = len(self.space.dimensions)
        pool = [self.space.from_uniform(self.rng.random((self.n_candidates, dims)))]
        # Local moves around the best points found: the optimum is usually near one of them.
        order = np.argsort(self.y)[::-1][:3]
        for i in order:
            steps = self.rng.normal(0.0, 0.08, (self.n_candidates // 4, self.space.width))
            around = np.clip(self.x[i] + steps, 0.0, 1.0)
            pool.append(np.array([self.space.snap(p) for p in around]))
        return np.concatenate(pool)

    def _acquire(self, n: int, pending: list[np.ndarray]) -> list[np.ndarray]:
        if not self.x:
            design = latin_hypercube(self.rng, n, len(self.space.dimensions))
            return list(self.space.from_uniform(design))
        x = np.array(self.x + pending)
        y = np.array(self.y + [float(np.mean(self.y))] * len(pending))
        gp = _GaussianProcess(x, y).fit()
        chosen: list[np.ndarray] = []
        candidates = self._candidates()
        for _ in range(n):
            mean, std = gp.predict(candidates)
            ei = expected_improvement(mean, std, max(self.y))
            # A point already tried (or chosen) adds nothing: the objective is scored once per setting.
            tried = np.array(self.x + pending + chosen)
            seen = (np.abs(candidates[:, None, :] - tried[None, :, :]).max(-1) < 1e-9).any(1)
            ei[seen] = -np.inf
            best = int(np.argmax(ei)) if np.isfinite(ei).any() else int(self.rng.integers(len(candidates)))
            point = candidates[best]
            chosen.append(point)
            # Kriging believer: pretend the point scored its predicted mean, so the next choice differs.
            gp = _GaussianProcess(
                np.vstack([gp.x, point]), np.append(gp.y, mean[best]), gp.length, gp.noise
            ).fit(choose=False)
        return chosen


# -- the trial loop ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Trial:
    number: int
    round: int
    hyperparameters: dict[str, Any]
    score: float
    metrics: dict[str, float]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "trial": self.number,
            "round": self.round,
            "hyperparameters": self.hyperparameters,
            "score": round(self.score, 6),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class TuningResult:
    best: Trial
    trials: list[Trial]


Objective = Callable[[dict[str, Any]], Mapping[str, float]]


def tune(
    settings: HpoSettings,
    objective: Objective,
    seed: int = 0,
    initial_points: Sequence[Mapping[str, Any]] = (),
    on_trial: Callable[[Trial], None] | None = None,
) -> TuningResult:
    """Run ``settings.max_trials`` trials in rounds of ``settings.max_parallel``; best by the objective."""
    optimizer = BayesianOptimizer(settings.space, seed=seed, initial_points=initial_points)
    sign = 1.0 if settings.maximize else -1.0
    trials: list[Trial] = []
    round_number = 0
    while len(trials) < settings.max_trials:
        round_number += 1
        batch = optimizer.ask(min(settings.max_parallel, settings.max_trials - len(trials)))
        for values in batch:
            started = time.monotonic()
            metrics = dict(objective(values))
            score = float(metrics[settings.metric])
            trial = Trial(len(trials) + 1, round_number, values, score, metrics, time.monotonic() - started)
            trials.append(trial)
            if on_trial is not None:
                on_trial(trial)
        for trial in trials[-len(batch) :]:
            optimizer.tell(trial.hyperparameters, sign * trial.score)
    best = max(trials, key=lambda t: (sign * t.score, -t.number))
    return TuningResult(best, trials)


# -- hpoConfig and autoMLConfig --------------------------------------------------------------------
@dataclass(frozen=True)
class HpoSettings:
    space: SearchSpace
    metric: str = DEFAULT_OBJECTIVE
    maximize: bool = True
    max_trials: int = DEFAULT_TRAINING_JOBS
    max_parallel: int = DEFAULT_PARALLEL_TRAINING_JOBS

    def to_json(self) -> dict[str, Any]:
        return {
            "objective": {"metric_name": self.metric, "type": "Maximize" if self.maximize else "Minimize"},
            "max_number_of_training_jobs": self.max_trials,
            "max_parallel_training_jobs": self.max_parallel,
            "ranges": [d.to_json() for d in self.space.dimensions],
        }


@dataclass(frozen=True)
class AutoMLSettings:
    metric: str
    recipes: tuple[str, ...]


def _objective_metric(name: Any, where: str) -> str:
    if name not in METRIC_KEYS:
        raise ConfigurationError(
            f"{where} {name!r} is not a metric Tailor computes. Valid metrics: {', '.join(METRIC_KEYS)}."
        )
    return str(name)


def _resource_count(config: Mapping[str, Any], key: str, limit: int, default: int) -> int:
    raw = config.get(key)
    if raw is None:
        return default
    where = f"solutionConfig.hpoConfig.hpoResourceConfig.{key}"
    try:
        number = int(str(raw).strip())
    except ValueError:
        raise ConfigurationError(f"{where} must be a whole number given as a string, got {raw!r}.") from None
    if not 1 <= number <= limit:
        raise ConfigurationError(f"{where} must be between 1 and {limit}, got {number}.")
    return number


def _check_value(hp_class: type[Hyperparameters], recipe: str, name: str, value: Any, where: str) -> None:
    try:
        hp_class.from_strings({name: value}, recipe)
    except HyperparameterError as error:
        raise HyperparameterError(f"{where}: {error}") from None


def _dimension(
    hp_class: type[Hyperparameters], recipe: str, kind: Kind, entry: Mapping[str, Any], where: str
) -> Dimension:
    ranges = hp_class.ranges()
    name = entry.get("name")
    tunable = sorted(n for n, r in ranges.items() if r["tunable"])
    if name not in ranges:
        raise HyperparameterError(
            f"{where}: {name!r} is not a hyperparameter of {recipe}. Tunable "
            f"hyperparameters: {', '.join(tunable) or 'none'}."
        )
    declared = ranges[name]
    if not declared["tunable"]:
        raise HyperparameterError(
            f"{where}: {name} of {recipe} cannot be tuned. Tunable hyperparameters: "
            f"{', '.join(tunable) or 'none'}."
        )
    if declared["type"] != kind:
        lists = {v: k for k, v in RANGE_LISTS.items()}
        raise HyperparameterError(
            f"{where}: {name} of {recipe} is {declared['type']}; give its range in {lists[declared['type']]}."
        )
    if kind == "categorical":
        values = entry.get("values") or []
        if not values:
            raise HyperparameterError(f"{where}: give {name} at least one value.")
        for value in values:
            _check_value(hp_class, recipe, name, value, where)
        normalised = [v.strip().lower() if declared["values"] else v.strip() for v in values]
        return Dimension(name, kind, values=tuple(dict.fromkeys(normalised)))
    low = entry.get("minValue", declared["min"])
    high = entry.get("maxValue", declared["max"])
    if low is None or high is None:
        raise HyperparameterError(f"{where}: give {name} both minValue and maxValue.")
    if float(low) > float(high):
        raise HyperparameterError(f"{where}: minValue {low} of {name} is greater than its maxValue {high}.")
    for bound in (low, high):
        _check_value(hp_class, recipe, name, bound, where)
    low, high = float(low), float(high)
    log = kind == "continuous" and low > 0 and high / low >= LOG_SCALE_RATIO
    return Dimension(name, kind, low, high, log=log)


def parse_hpo_config(config: Mapping[str, Any] | None, recipe: str) -> HpoSettings:
    """``solutionConfig.hpoConfig`` for ``recipe`` (name or ARN); raises a TrainingError a user can act on."""
    recipe_class = get_recipe(recipe)
    if recipe_class.recipe_type == "USER_SEGMENTATION":
        raise ConfigurationError(
            f"performHPO is not available for {recipe_class.name}: Tailor tunes recipes that recommend items "
            "to users or items. Set its hyperparameters in algorithmHyperParameters instead."
        )
    hp_class = recipe_class.hyperparameters_class
    config = dict(config or {})
    # Personalize makes the ranges optional: without them, the recipe's documented default search.
    ranges = config.get("algorithmHyperParameterRanges") or hp_class.default_search_ranges()
    tunable = [n for n, r in hp_class.ranges().items() if r["tunable"]]
    dimensions: list[Dimension] = []
    for key, kind in RANGE_LISTS.items():
        for index, entry in enumerate(ranges.get(key) or []):
            where = f"solutionConfig.hpoConfig.algorithmHyperParameterRanges.{key}[{index}]"
            dimension = _dimension(hp_class, recipe_class.name, kind, entry, where)
            if any(d.name == dimension.name for d in dimensions):
                raise HyperparameterError(f"{where}: {dimension.name} has more than one range.")
            dimensions.append(dimension)
    if not dimensions and not tunable:
        raise ConfigurationError(
            f"{recipe_class.name} has no hyperparameter HPO can tune; create the solution with performHPO "
            "false."
        )
    if not dimensions:
        raise ConfigurationError(
            f"performHPO for {recipe_class.name} needs "
            "solutionConfig.hpoConfig.algorithmHyperParameterRanges: the recipe has no default search. "
            f"Tunable hyperparameters: {', '.join(tunable)}."
        )
    objective = config.get("hpoObjective") or {}
    if objective.get("metricRegex"):
        raise ConfigurationError(
            "solutionConfig.hpoConfig.hpoObjective.metricRegex is not used: Tailor "
            "computes its metrics itself. Name one with metricName."
        )
    metric = _objective_metric(
        objective.get("metricName", DEFAULT_OBJECTIVE), "solutionConfig.hpoConfig.hpoObjective.metricName"
    )
    direction = objective.get("type", "Maximize")
    if direction not in ("Maximize", "Minimize"):
        raise ConfigurationError(
            f"solutionConfig.hpoConfig.hpoObjective.type must be Maximize or Minimize, got {direction!r}."
        )
    resources = config.get("hpoResourceConfig") or {}
    max_trials = _resource_count(
        resources, "maxNumberOfTrainingJobs", MAX_TRAINING_JOBS, DEFAULT_TRAINING_JOBS
    )
    max_parallel = _resource_count(
        resources,
        "maxParallelTrainingJobs",
        MAX_PARALLEL_TRAINING_JOBS,
        min(DEFAULT_PARALLEL_TRAINING_JOBS, max_trials),
    )
    if max_parallel > max_trials:
        raise ConfigurationError(
            f"solutionConfig.hpoConfig.hpoResourceConfig.maxParallelTrainingJobs ({max_parallel}) cannot "
            f"exceed maxNumberOfTrainingJobs ({max_trials})."
        )
    return HpoSettings(
        SearchSpace(tuple(dimensions)), metric, direction == "Maximize", max_trials, max_parallel
    )


def parse_automl_config(config: Mapping[str, Any] | None) -> AutoMLSettings:
    """``solutionConfig.autoMLConfig``: a metric Tailor computes and USER_PERSONALIZATION recipe ARNs."""
    from training.recipes import RECIPES

    config = dict(config or {})
    metric = _objective_metric(
        config.get("metricName", DEFAULT_OBJECTIVE), "solutionConfig.autoMLConfig.metricName"
    )
    listed = config.get("recipeList")
    names: list[str] = []
    eligible = sorted(n for n, info in RECIPES.items() if info.recipe_type == AUTOML_RECIPE_TYPE)
    for arn in listed if listed is not None else [RECIPES[n].recipe_arn for n in DEFAULT_AUTOML_RECIPES]:
        info = next((i for i in RECIPES.values() if arn in (i.recipe_arn, i.name)), None)
        if info is None or info.recipe_type != AUTOML_RECIPE_TYPE:
            what = "is not a Tailor recipe" if info is None else f"is a {info.recipe_type} recipe"
            raise ConfigurationError(
                f"solutionConfig.autoMLConfig.recipeList: {arn} {what}. AutoML chooses among "
                f"{AUTOML_RECIPE_TYPE} recipes: {', '.join(RECIPES[n].recipe_arn for n in eligible)}."
            )
        if info.name not in names:
            names.append(info.name)
    if not names:
        raise ConfigurationError(
            "solutionConfig.autoMLConfig.recipeList is empty: list the recipes to compare."
        )
    return AutoMLSettings(metric, tuple(names))
