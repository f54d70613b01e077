"""performHPO and performAutoML through boto3: CreateSolution -> CreateSolutionVersion -> ACTIVE.

Public API only (the same tests run against LocalStack and a deployment). The generated users each keep to
one cluster of items, which aws-hrnn learns and aws-popularity-count cannot.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.fixtures import INTERACTIONS_SCHEMA, interactions_csv
from tests.integration.conftest import import_dataset, new_workspace, wait_for

pytestmark = pytest.mark.integration

HRNN = "arn:aws:personalize:::recipe/aws-hrnn"
POPULARITY = "arn:aws:personalize:::recipe/aws-popularity-count"
SIMS = "arn:aws:personalize:::recipe/aws-sims"
RANGES = {
    "integerHyperParameterRanges": [{"name": "hidden_dimension", "minValue": 32, "maxValue": 48}],
    "continuousHyperParameterRanges": [{"name": "learning_rate", "minValue": 0.001, "maxValue": 0.05}],
    "categoricalHyperParameterRanges": [{"name": "recency_mask", "values": ["true", "false"]}],
}


@pytest.fixture(scope="module")
def group(target, personalize, s3) -> str:
    workspace = new_workspace(target, personalize, s3, "hpo")
    suffix, bucket, role, arn = workspace.suffix, workspace.bucket, workspace.role, workspace.group
    import_dataset(
        personalize,
        s3,
        bucket,
        role,
        arn,
        "Interactions",
        INTERACTIONS_SCHEMA,
        interactions_csv(),
        f"hpo-{suffix}",
    )
    return arn


def _train(personalize, solution_arn: str) -> dict[str, Any]:
    version_arn = personalize.create_solution_version(solutionArn=solution_arn)["solutionVersionArn"]
    doc = wait_for(
        lambda: personalize.describe_solution_version(solutionVersionArn=version_arn), "solutionVersion", 600
    )
    assert doc["status"] == "ACTIVE", doc.get("failureReason")
    return doc


def test_hpo_tunes_inside_the_ranges(personalize, group) -> None:
    solution_arn = personalize.create_solution(
        name=f"hpo-{uuid.uuid4().hex[:6]}",
        datasetGroupArn=group,
        recipeArn=HRNN,
        performHPO=True,
        solutionConfig={
            "algorithmHyperParameters": {"epochs": "3"},
            "hpoConfig": {
                "hpoObjective": {"type": "Maximize", "metricName": "precision_at_25"},
                "hpoResourceConfig": {"maxNumberOfTrainingJobs": "4", "maxParallelTrainingJobs": "2"},
                "algorithmHyperParameterRanges": RANGES,
            },
        },
    )["solutionArn"]
    solution = personalize.describe_solution(solutionArn=solution_arn)["solution"]
    assert solution["performHPO"] is True
    assert solution["solutionConfig"]["hpoConfig"]["algorithmHyperParameterRanges"] == RANGES

    version = _train(personalize, solution_arn)
    assert version["performHPO"] is True
    tuned = version["tunedHPOParams"]["algorithmHyperParameters"]
    assert 32 <= int(tuned["hidden_dimension"]) <= 48
    assert 0.001 <= float(tuned["learning_rate"]) <= 0.05
    assert tuned["recency_mask"] in ("true", "false")
    assert tuned["epochs"] == "3"  # the solution's own setting, not tuned
    metrics = personalize.get_solution_metrics(solutionVersionArn=version["solutionVersionArn"])["metrics"]
    assert metrics["precision_at_25"] > 0


def test_bare_perform_hpo_searches_the_recipe_defaults(personalize, group) -> None:
    # Personalize notebooks often pass performHPO=True and nothing else; the ranges are optional.
    solution_arn = personalize.create_solution(
        name=f"hpo-bare-{uuid.uuid4().hex[:6]}", datasetGroupArn=group, recipeArn=SIMS, performHPO=True
    )["solutionArn"]
    version = _train(personalize, solution_arn)
    tuned = version["tunedHPOParams"]["algorithmHyperParameters"]
    assert 0.0 <= float(tuned["popularity_discount_factor"]) <= 1.0
    assert 0 <= int(tuned["min_cointeraction_count"]) <= 10


def test_automl_chooses_the_better_recipe(personalize, group) -> None:
    solution_arn = personalize.create_solution(
        name=f"automl-{uuid.uuid4().hex[:6]}",
        datasetGroupArn=group,
        performAutoML=True,
        solutionConfig={
            "autoMLConfig": {"metricName": "precision_at_25", "recipeList": [POPULARITY, HRNN]},
            "hpoConfig": {"hpoResourceConfig": {"maxNumberOfTrainingJobs": "2"}},
        },
    )["solutionArn"]
    solution = personalize.describe_solution(solutionArn=solution_arn)["solution"]
    assert solution["performAutoML"] is True and "recipeArn" not in solution
    assert "autoMLResult" not in solution  # nothing trained yet

    version = _train(personalize, solution_arn)
    assert version["performAutoML"] is True
    assert version["recipeArn"] == HRNN
    # AutoML tunes the chosen recipe over its default search (performHPO is implied).
    tuned = version["tunedHPOParams"]["algorithmHyperParameters"]
    assert 32 <= int(tuned["hidden_dimension"]) <= 256 and tuned["recency_mask"] in ("true", "false")
    solution = personalize.describe_solution(solutionArn=solution_arn)["solution"]
    assert solution["autoMLResult"] == {"bestRecipeArn": HRNN}


def _error(personalize, **request) -> str:
    with pytest.raises(personalize.exceptions.InvalidInputException) as error:
        personalize.create_solution(name=f"bad-{uuid.uuid4().hex[:6]}", **request)
    return error.value.response["Error"]["Message"]


def _hpo(ranges: dict) -> dict:
    return {"hpoConfig": {"algorithmHyperParameterRanges": ranges}}


def test_hpo_and_automl_validation(personalize, group) -> None:
    hpo = {"datasetGroupArn": group, "recipeArn": HRNN, "performHPO": True}
    unknown = _hpo({"integerHyperParameterRanges": [{"name": "hidden_size", "minValue": 32, "maxValue": 64}]})
    assert "'hidden_size' is not a hyperparameter of aws-hrnn" in _error(
        personalize, **hpo, solutionConfig=unknown
    )
    too_big = _hpo(
        {"integerHyperParameterRanges": [{"name": "hidden_dimension", "minValue": 32, "maxValue": 999}]}
    )
    assert "[32, 256]" in _error(personalize, **hpo, solutionConfig=too_big)
    jobs = {**_hpo(RANGES)["hpoConfig"], "hpoResourceConfig": {"maxNumberOfTrainingJobs": "50"}}
    assert "between 1 and 40" in _error(personalize, **hpo, solutionConfig={"hpoConfig": jobs})
    assert "performHPO" in _error(
        personalize, datasetGroupArn=group, recipeArn=HRNN, solutionConfig=_hpo(RANGES)
    )
    assert "no hyperparameter HPO can tune" in _error(
        personalize, datasetGroupArn=group, recipeArn=POPULARITY, performHPO=True
    )

    automl = {"datasetGroupArn": group, "performAutoML": True}
    sims = {"autoMLConfig": {"recipeList": [HRNN, SIMS]}}
    assert "aws-sims is a RELATED_ITEMS recipe" in _error(personalize, **automl, solutionConfig=sims)
    assert "not both" in _error(personalize, **automl, recipeArn=HRNN)
    bad_metric = {"autoMLConfig": {"metricName": "auc"}}
    assert "not a metric Tailor computes" in _error(personalize, **automl, solutionConfig=bad_metric)
    # aws-hrnn-metadata needs an Items dataset, which this group does not have.
    metadata = {"autoMLConfig": {"recipeList": ["arn:aws:personalize:::recipe/aws-hrnn-metadata"]}}
    assert "needs a ITEMS dataset" in _error(personalize, **automl, solutionConfig=metadata)
