"""The Bayesian optimiser and the hpoConfig / autoMLConfig parsers of ``training/tuning.py``."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.errors import TrainingError
from training.tuning import (
    DEFAULT_OBJECTIVE,
    BayesianOptimizer,
    Dimension,
    HpoSettings,
    SearchSpace,
    parse_automl_config,
    parse_hpo_config,
    tune,
)

UNIT_SQUARE = SearchSpace((Dimension("x", "continuous", 0.0, 1.0), Dimension("y", "continuous", 0.0, 1.0)))
BRANIN_MAX = -0.397887


def branin(values: dict) -> float:
    """The Branin function on the unit square, negated: maximum -0.397887 at three points."""
    x1, x2 = values["x"] * 15.0 - 5.0, values["y"] * 15.0
    b, c, t = 5.1 / (4.0 * math.pi**2), 5.0 / math.pi, 1.0 / (8.0 * math.pi)
    return -((x2 - b * x1**2 + c * x1 - 6.0) ** 2 + 10.0 * (1.0 - t) * math.cos(x1) + 10.0)


def bumpy(values: dict) -> float:
    """1-D, a narrow global peak at x = 0.8 beside a broad local one at x = 0.25."""
    x = values["x"]
    return math.exp(-((x - 0.8) ** 2) / 0.002) + 0.6 * math.exp(-((x - 0.25) ** 2) / 0.02)


def _run(function, space: SearchSpace, budget: int, seed: int, batch: int = 1) -> float:
    optimizer = BayesianOptimizer(space, seed=seed)
    best = -math.inf
    done = 0
    while done < budget:
        points = optimizer.ask(min(batch, budget - done))
        for point in points:
            score = function(point)
            optimizer.tell(point, score)
            best = max(best, score)
        done += len(points)
    return best


def _random(function, space: SearchSpace, budget: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    return max(
        function(space.decode(p)) for p in space.from_uniform(rng.random((budget, len(space.dimensions))))
    )


def test_beats_random_search_on_branin_with_the_same_budget() -> None:
    seeds = range(4)
    bo = [BRANIN_MAX - _run(branin, UNIT_SQUARE, 15, seed) for seed in seeds]
    rnd = [BRANIN_MAX - _random(branin, UNIT_SQUARE, 15, seed + 100) for seed in seeds]
    # Regret: how far the best point found is from the optimum. Measured: ~0.4 against ~4.
    assert np.mean(bo) < 0.35 * np.mean(rnd), (bo, rnd)
    assert np.median(bo) < 0.5


def test_finds_the_narrow_peak_of_a_bumpy_function() -> None:
    space = SearchSpace((Dimension("x", "continuous", 0.0, 1.0),))
    found = [_run(bumpy, space, 12, seed) for seed in range(4)]
    by_chance = [_random(bumpy, space, 12, seed + 100) for seed in range(4)]
    assert min(found) > 0.9, found  # on the narrow peak, not the broad local one (0.6)
    assert np.mean(found) > np.mean(by_chance)


def test_rounds_of_proposals_are_distinct_and_still_converge() -> None:
    optimizer = BayesianOptimizer(UNIT_SQUARE, seed=3)
    for _ in range(3):
        points = optimizer.ask(3)
        assert len({(p["x"], p["y"]) for p in points}) == 3
        for point in points:
            optimizer.tell(point, branin(point))
    assert BRANIN_MAX - _run(branin, UNIT_SQUARE, 18, seed=3, batch=3) < 1.0


def test_respects_types_and_bounds() -> None:
    space = SearchSpace(
        (
            Dimension("layers", "integer", 3, 7),
            Dimension("rate", "continuous", 1e-4, 1e-1, log=True),
            Dimension("kind", "categorical", values=("a", "b", "c")),
        )
    )

    def objective(values: dict) -> float:
        return -abs(values["layers"] - 6) - abs(math.log10(values["rate"]) + 2) + 2 * (values["kind"] == "b")

    optimizer = BayesianOptimizer(space, seed=1)
    for _ in range(8):
        for point in optimizer.ask(2):
            assert isinstance(point["layers"], int) and 3 <= point["layers"] <= 7
            assert isinstance(point["rate"], float) and 1e-4 <= point["rate"] <= 1e-1
            assert point["kind"] in ("a", "b", "c")
            optimizer.tell(point, objective(point))
    best = space.decode(optimizer.x[int(np.argmax(optimizer.y))])
    assert best["kind"] == "b" and best["layers"] == 6 and abs(math.log10(best["rate"]) + 2) < 0.2, best


def test_log_scale_spreads_the_first_round_over_decades() -> None:
    space = SearchSpace((Dimension("rate", "continuous", 1e-5, 1e-1, log=True),))
    points = BayesianOptimizer(space, seed=0, n_initial=4).ask(4)
    decades = sorted(math.floor(math.log10(p["rate"])) for p in points)
    assert decades == [-5, -4, -3, -2]  # a linear scale would put nearly all of them above 0.01


def test_deterministic_with_a_seed() -> None:
    def history(seed: int) -> list[dict]:
        optimizer = BayesianOptimizer(UNIT_SQUARE, seed=seed)
        seen = []
        for _ in range(8):
            point = optimizer.ask(1)[0]
            optimizer.tell(point, branin(point))
            seen.append(point)
        return seen

    assert history(5) == history(5)
    assert history(5) != history(6)


def test_tune_runs_the_budget_in_rounds_and_starts_from_the_given_point() -> None:
    settings = HpoSettings(SearchSpace((Dimension("x", "continuous", 0.0, 1.0),)), "score", True, 7, 3)
    rounds: list[int] = []
    result = tune(
        settings,
        lambda v: {"score": bumpy(v)},
        seed=2,
        initial_points=[{"x": "0.25"}],
        on_trial=lambda t: rounds.append(t.round),
    )
    assert len(result.trials) == 7 and rounds == [1, 1, 1, 2, 2, 2, 3]
    assert result.trials[0].hyperparameters == {"x": 0.25}
    assert result.best.score == max(t.score for t in result.trials)


def test_tune_minimises_when_asked() -> None:
    settings = HpoSettings(SearchSpace((Dimension("x", "continuous", 0.0, 1.0),)), "score", False, 8, 1)
    result = tune(settings, lambda v: {"score": (v["x"] - 0.3) ** 2}, seed=0)
    assert abs(result.best.hyperparameters["x"] - 0.3) < 0.1


# -- hpoConfig ----------------------------------------------------------------------------------
def _hpo(**ranges) -> dict:
    return {"algorithmHyperParameterRanges": ranges}


def _ints(*entries: tuple[str, int, int]) -> dict:
    return _hpo(
        integerHyperParameterRanges=[{"name": n, "minValue": lo, "maxValue": hi} for n, lo, hi in entries]
    )


def _flags(values: list[str]) -> dict:
    return _hpo(categoricalHyperParameterRanges=[{"name": "recency_mask", "values": values}])


EPOCHS = _ints(("epochs", 1, 2))


def test_parses_a_personalize_hpo_config() -> None:
    settings = parse_hpo_config(
        {
            **_hpo(
                integerHyperParameterRanges=[{"name": "hidden_dimension", "minValue": 32, "maxValue": 64}],
                continuousHyperParameterRanges=[
                    {"name": "learning_rate", "minValue": 0.0001, "maxValue": 0.05}
                ],
                categoricalHyperParameterRanges=[{"name": "recency_mask", "values": ["true", "False"]}],
            ),
            "hpoObjective": {"type": "Maximize", "metricName": "precision_at_25"},
            "hpoResourceConfig": {"maxNumberOfTrainingJobs": "12", "maxParallelTrainingJobs": "3"},
        },
        "arn:aws:personalize:::recipe/aws-hrnn",
    )
    dims = {d.name: d for d in settings.space.dimensions}
    assert dims["hidden_dimension"].kind == "integer" and (
        dims["hidden_dimension"].low,
        dims["hidden_dimension"].high,
    ) == (32, 64)
    assert dims["learning_rate"].log and not dims["hidden_dimension"].log
    assert dims["recency_mask"].values == ("true", "false")
    assert (settings.metric, settings.maximize, settings.max_trials, settings.max_parallel) == (
        "precision_at_25", True, 12, 3,
    )  # fmt: skip


def test_hpo_defaults() -> None:
    settings = parse_hpo_config(
        _hpo(integerHyperParameterRanges=[{"name": "hidden_dimension", "minValue": 32, "maxValue": 40}]),
        "aws-hrnn",
    )
    assert settings.metric == DEFAULT_OBJECTIVE and settings.maximize
    assert 1 <= settings.max_parallel <= settings.max_trials <= 40


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        (_ints(("hidden_dim", 32, 64)), "'hidden_dim' is not a hyperparameter of aws-hrnn"),
        (_ints(("bptt", 2, 8)), "cannot be tuned"),
        (_ints(("hidden_dimension", 16, 64)), "[32, 256]"),
        (_ints(("hidden_dimension", 64, 32)), "greater than its maxValue"),
        (_hpo(continuousHyperParameterRanges=[{"name": "hidden_dimension", "minValue": 32, "maxValue": 64}]),
         "integerHyperParameterRanges"),
        (_flags(["yes"]), "true or false"),
        (_flags([]), "at least one value"),
        (_ints(("epochs", 1, 2), ("epochs", 3, 4)), "more than one"),
        ({**EPOCHS, "hpoResourceConfig": {"maxNumberOfTrainingJobs": "41"}}, "between 1 and 40"),
        ({**EPOCHS, "hpoResourceConfig": {"maxNumberOfTrainingJobs": "ten"}}, "whole number"),
        ({**EPOCHS, "hpoResourceConfig": {"maxNumberOfTrainingJobs": "4", "maxParallelTrainingJobs": "11"}},
         "between 1 and 10"),
        ({**EPOCHS, "hpoResourceConfig": {"maxNumberOfTrainingJobs": "2", "maxParallelTrainingJobs": "3"}},
         "cannot exceed"),
        ({**EPOCHS, "hpoObjective": {"metricName": "recall_at_5"}}, "not a metric Tailor computes"),
        ({**EPOCHS, "hpoObjective": {"type": "Biggest"}}, "Maximize or Minimize"),
    ],
)  # fmt: skip
def test_rejects_bad_hpo_configs(config: dict, needle: str) -> None:
    with pytest.raises(TrainingError) as error:
        parse_hpo_config(config, "aws-hrnn")
    assert needle in str(error.value)


def test_without_ranges_hpo_searches_the_recipe_default() -> None:
    # Personalize makes algorithmHyperParameterRanges optional: a bare performHPO=true must work.
    for config in (None, {}, {"hpoResourceConfig": {"maxNumberOfTrainingJobs": "4"}}):
        settings = parse_hpo_config(config, "aws-user-personalization")
        by_name = {d.name: d for d in settings.space.dimensions}
        assert sorted(by_name) == ["bptt", "hidden_dimension", "recency_mask"]
        assert (by_name["hidden_dimension"].low, by_name["hidden_dimension"].high) == (32, 256)
        assert (by_name["bptt"].low, by_name["bptt"].high) == (2, 32)
        assert by_name["recency_mask"].values == ("true", "false")
    sims = parse_hpo_config({}, "aws-sims")
    assert sorted(d.name for d in sims.space.dimensions) == [
        "min_cointeraction_count",
        "popularity_discount_factor",
    ]


def test_given_ranges_replace_the_default_search() -> None:
    settings = parse_hpo_config(_ints(("hidden_dimension", 32, 40)), "aws-user-personalization")
    assert [d.name for d in settings.space.dimensions] == ["hidden_dimension"]


def test_every_default_search_is_a_valid_search() -> None:
    from training.recipes import get_recipe, recipe_names

    for name in recipe_names():
        hp_class = get_recipe(name).hyperparameters_class
        if hp_class.default_search:
            settings = parse_hpo_config({}, name)
            assert {d.name for d in settings.space.dimensions} == set(hp_class.default_search)


def test_a_recipe_without_tunable_hyperparameters_refuses_hpo() -> None:
    with pytest.raises(TrainingError, match="no hyperparameter HPO can tune"):
        parse_hpo_config({}, "aws-popularity-count")


# -- autoMLConfig ---------------------------------------------------------------------------------
def test_parses_an_automl_config() -> None:
    settings = parse_automl_config(
        {
            "metricName": "precision_at_25",
            "recipeList": [
                "arn:aws:personalize:::recipe/aws-popularity-count",
                "arn:aws:personalize:::recipe/aws-hrnn",
            ],
        }
    )
    assert settings.metric == "precision_at_25"
    assert settings.recipes == ("aws-popularity-count", "aws-hrnn")
    assert parse_automl_config(None).recipes == ("aws-hrnn", "aws-hrnn-metadata", "aws-hrnn-coldstart")


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        ({"recipeList": ["arn:aws:personalize:::recipe/aws-sims"]}, "is a RELATED_ITEMS recipe"),
        ({"recipeList": ["arn:aws:personalize:::recipe/aws-nope"]}, "is not a Tailor recipe"),
        ({"recipeList": []}, "is empty"),
        ({"metricName": "auc"}, "not a metric Tailor computes"),
    ],
)
def test_rejects_bad_automl_configs(config: dict, needle: str) -> None:
    with pytest.raises(TrainingError) as error:
        parse_automl_config(config)
    assert needle in str(error.value)
