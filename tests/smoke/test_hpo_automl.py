"""performHPO and performAutoML through ``python -m training.entrypoint``, on data where the answer is known.

- HPO: aws-hrnn without its co-occurrence initialisation learns next to nothing in 5 epochs at a learning
  rate of 1e-5 and learns the clusters well above 5e-3, so the tuned learning rate must land high.
- AutoML: the generated users each stay in one cluster of items, which aws-hrnn learns and
  aws-popularity-count cannot, so AutoML must choose aws-hrnn.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.smoke.conftest import JobResult, run_entrypoint
from training.data import DataFilter, load_interactions
from training.model_selection import validation_split
from training.split import personalize_split
from training.synthetic import SyntheticData, write_csv

pytestmark = pytest.mark.smoke

HRNN = "arn:aws:personalize:::recipe/aws-hrnn"
POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"


def _config(solution: dict, **flags: str) -> dict[str, str]:
    return {"tailor_solution_config": json.dumps(solution), **flags}


def _manifest(job: JobResult) -> dict:
    assert job.returncode == 0, f"{job.failure}\n{job.stderr[-3000:]}"
    return json.loads((job.model_dir / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def hpo_job(tmp_path_factory: pytest.TempPathFactory, synthetic: SyntheticData) -> JobResult:
    solution = {
        "algorithmHyperParameters": {"cooccurrence_init": "false"},
        "hpoConfig": {
            "hpoObjective": {"type": "Maximize", "metricName": "normalized_discounted_cumulative_gain_at_10"},
            "hpoResourceConfig": {"maxNumberOfTrainingJobs": "6", "maxParallelTrainingJobs": "2"},
            "algorithmHyperParameterRanges": {
                "continuousHyperParameterRanges": [
                    {"name": "learning_rate", "minValue": 0.00001, "maxValue": 0.05}
                ]
            },
        },
    }
    config = _config(solution, tailor_recipe="aws-hrnn", tailor_perform_hpo="true")
    return run_entrypoint(tmp_path_factory.mktemp("hpo"), config, synthetic)


def test_hpo_chooses_the_clearly_better_learning_rate(hpo_job: JobResult) -> None:
    manifest = _manifest(hpo_job)
    tuning = manifest["tuning"]
    trials = tuning["trials"]
    assert [t["round"] for t in trials] == [1, 1, 2, 2, 3, 3]
    assert all(0.00001 <= t["hyperparameters"]["learning_rate"] <= 0.05 for t in trials)
    best = trials[tuning["best_trial"] - 1]
    assert best["score"] == max(t["score"] for t in trials)
    chosen = manifest["hyperparameters"]["learning_rate"]
    assert chosen == best["hyperparameters"]["learning_rate"] == float(tuning["tuned"]["learning_rate"])
    assert chosen >= 0.005, trials
    slowest = min(trials, key=lambda t: t["hyperparameters"]["learning_rate"])
    assert best["score"] > slowest["score"] + 0.1, trials
    # The other hyperparameters are the solution's own, not the recipe's defaults.
    assert manifest["hyperparameters"]["cooccurrence_init"] is False
    assert tuning["objective"] == {
        "metric_name": "normalized_discounted_cumulative_gain_at_10",
        "type": "Maximize",
    }


def test_hpo_reports_each_trial_as_progress(hpo_job: JobResult) -> None:
    events = hpo_job.events()
    trial_events = [e for e in events if e["event"] == "trial"]
    assert [e["trial"] for e in trial_events] == [1, 2, 3, 4, 5, 6]
    assert all(e["metric"] == "normalized_discounted_cumulative_gain_at_10" for e in trial_events)
    # Tuning happens between the split and the evaluation of the chosen setting.
    names = [e["event"] for e in events]
    assert names.index("split") < names.index("trial") < names.index("metrics")


def test_validation_users_are_training_users(tmp_path: Path, synthetic: SyntheticData) -> None:
    write_csv(synthetic, tmp_path / "interactions" / "part.csv")
    data = load_interactions(tmp_path / "interactions", DataFilter())
    split = personalize_split(data, 42)
    validation = validation_split(split, 42)
    assert not set(validation.test_users.tolist()) & set(split.test_users.tolist())
    assert len(validation.evaluated()) > len(split.evaluated())
    # Validation users' held-out items never reach the trials' training data.
    trained_users = set(np.unique(validation.train.user).tolist())
    assert not trained_users & set(validation.test_users.tolist())


def test_automl_chooses_the_recipe_that_learns(tmp_path: Path, synthetic: SyntheticData) -> None:
    solution = {
        "autoMLConfig": {"metricName": "precision_at_25", "recipeList": [POPULARITY, HRNN]},
        # The chosen recipe is then tuned over its default search, within this budget.
        "hpoConfig": {"hpoResourceConfig": {"maxNumberOfTrainingJobs": "2", "maxParallelTrainingJobs": "1"}},
    }
    job = run_entrypoint(tmp_path, _config(solution, tailor_perform_automl="true"), synthetic)
    manifest = _manifest(job)
    assert manifest["recipe"] == "aws-hrnn"
    tuning = manifest["tuning"]
    assert {r["name"] for r in tuning["ranges"]} == {"hidden_dimension", "recency_mask"}
    assert len(tuning["trials"]) == 2
    automl = manifest["automl"]
    assert automl["best_recipe"] == "aws-hrnn" and automl["metric_name"] == "precision_at_25"
    scores = {c["recipe"]: c["score"] for c in automl["candidates"]}
    assert scores["aws-hrnn"] > scores["aws-popularity-count"] + 0.05, scores
    assert [e["recipe"] for e in job.events() if e["event"] == "automl_candidate"] == [
        "aws-popularity-count",
        "aws-hrnn",
    ]


def test_automl_with_an_unsupported_recipe_fails_the_job(tmp_path: Path, synthetic: SyntheticData) -> None:
    solution = {"autoMLConfig": {"recipeList": ["arn:aws:personalize:::recipe/aws-sims"]}}
    job = run_entrypoint(tmp_path, _config(solution, tailor_perform_automl="true"), synthetic)
    assert job.returncode == 1
    assert "aws-sims is a RELATED_ITEMS recipe" in (job.failure or "")
