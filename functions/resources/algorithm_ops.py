"""DescribeAlgorithm and DescribeFeatureTransformation: a recipe's algorithm and data preparation as the
training container implements them.

Read from the training package's registry (``training.recipes.RECIPES``), like the recipe catalogue, so
the defaults and ranges a caller sees are the ones the training job parses: Personalize's documented
hyperparameters with their defaults and ranges, plus Tailor's own (their documentation says "(Tailor)").
``isTunable`` says whether HPO may tune a hyperparameter. Booleans are categorical ranges of "true" and
"false"; a string hyperparameter without a fixed set of values has no range.
"""

from __future__ import annotations

from typing import Any

from functions.protocol.errors import ResourceNotFoundException
from functions.resources.recipes import CATALOGUE_DATE

# Every algorithm runs in the one training image (training/Dockerfile: python -m training.entrypoint),
# which reads its input channels as files, as SageMaker's File input mode provides them.
TRAINING_IMAGE = {"name": "tailor-training", "dockerURI": "training/Dockerfile"}
TRAINING_INPUT_MODE = "File"
# The hyperparameters that prepare the data rather than shape the model: Personalize documents them as
# feature transformation hyperparameters, and solutionConfig.featureTransformationParameters sets them.
FEATURE_PARAMETERS = ("max_user_history_length_percentile", "min_user_history_length_percentile")


def hyperparameter_ranges(ranges: dict[str, dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The registry's per-hyperparameter ranges in DescribeAlgorithm's DefaultHyperParameterRanges form."""
    out: dict[str, list[dict[str, Any]]] = {
        "integerHyperParameterRanges": [],
        "continuousHyperParameterRanges": [],
        "categoricalHyperParameterRanges": [],
    }
    for name, spec in sorted(ranges.items()):
        tunable = bool(spec.get("tunable"))
        bounded = spec.get("min") is not None and spec.get("max") is not None
        if spec["type"] == "integer" and bounded:
            out["integerHyperParameterRanges"].append(
                {
                    "name": name,
                    "minValue": int(spec["min"]),
                    "maxValue": int(spec["max"]),
                    "isTunable": tunable,
                }
            )
        elif spec["type"] == "continuous" and bounded:
            out["continuousHyperParameterRanges"].append(
                {
                    "name": name,
                    "minValue": float(spec["min"]),
                    "maxValue": float(spec["max"]),
                    "isTunable": tunable,
                }
            )
        elif spec["type"] == "categorical" and spec.get("values"):
            out["categoricalHyperParameterRanges"].append(
                {"name": name, "values": list(spec["values"]), "isTunable": tunable}
            )
    return out


class AlgorithmOperations:
    def describe_algorithm(self, algorithmArn: str) -> dict[str, Any]:
        from training.recipes import RECIPES

        info = next((i for i in RECIPES.values() if i.algorithm_arn == algorithmArn), None)
        if info is None:
            raise ResourceNotFoundException(f"Could not find resource: {algorithmArn}")
        return {
            "algorithm": {
                "name": info.name,
                "algorithmArn": info.algorithm_arn,
                "algorithmImage": dict(TRAINING_IMAGE),
                "defaultHyperParameters": dict(info.default_hyperparameters),
                "defaultHyperParameterRanges": hyperparameter_ranges(
                    {k: dict(v) for k, v in info.hyperparameter_ranges.items()}
                ),
                "trainingInputMode": TRAINING_INPUT_MODE,
                "creationDateTime": CATALOGUE_DATE,
                "lastUpdatedDateTime": CATALOGUE_DATE,
            }
        }


class FeatureTransformationOperations:
    def describe_feature_transformation(self, featureTransformationArn: str) -> dict[str, Any]:
        from training.recipes import RECIPES

        users = [i for i in RECIPES.values() if i.feature_transformation_arn == featureTransformationArn]
        if not users:
            raise ResourceNotFoundException(f"Could not find resource: {featureTransformationArn}")
        # Several recipes can share a transformation: report the parameters they all have, at the
        # defaults they agree on.
        first = users[0].default_hyperparameters
        defaults = {
            name: first[name]
            for name in FEATURE_PARAMETERS
            if name in first and all(i.default_hyperparameters.get(name) == first[name] for i in users)
        }
        return {
            "featureTransformation": {
                "name": featureTransformationArn.rsplit("/", 1)[-1],
                "featureTransformationArn": featureTransformationArn,
                "defaultParameters": defaults,
                "status": "ACTIVE",
                "creationDateTime": CATALOGUE_DATE,
                "lastUpdatedDateTime": CATALOGUE_DATE,
            }
        }
