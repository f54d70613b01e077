"""ARNs, pagination and model validation: the helpers every operation relies on."""

from __future__ import annotations

import pytest

from functions.protocol.dispatch import snake_case
from functions.protocol.errors import InvalidInputException, InvalidNextTokenException
from functions.protocol.service_model import CONTROL, EVENTS, RUNTIME, validate_input
from functions.resources import arns, artifacts
from functions.resources.pagination import paginate

pytestmark = pytest.mark.unit


def test_arn_shapes():
    assert arns.arn("eu-west-1", "111122223333", "dataset-group/movies") == (
        "arn:aws:personalize:eu-west-1:111122223333:dataset-group/movies"
    )
    assert arns.name_of("arn:aws:personalize:eu-west-1:1:solution/sims") == "sims"
    assert arns.recipe_name("arn:aws:personalize:::recipe/aws-sims") == "aws-sims"
    assert arns.recipe_name("arn:aws:personalize:us-east-1:1:solution/x") is None
    assert len(arns.short_id()) == 8 and int(arns.short_id(), 16) >= 0
    with pytest.raises(InvalidInputException):
        arns.resource_part("arn:aws:s3:::bucket")


def test_artifact_prefixes_are_scoped_by_account_and_region():
    arn = "arn:aws:personalize:us-east-1:123456789012:solution/sims/0a1b2c3d"
    assert artifacts.model_prefix(arn) == "models/123456789012/us-east-1/solution/sims/0a1b2c3d/"


def test_paginate_walks_all_items_once():
    items = list(range(7))
    seen, token = [], None
    while True:
        page, token = paginate(items, "scope", token, 3)
        seen.extend(page)
        if token is None:
            break
    assert seen == items


def test_paginate_rejects_foreign_and_garbage_tokens():
    _, token = paginate(list(range(5)), "schemas", None, 2)
    assert token is not None
    with pytest.raises(InvalidNextTokenException):
        paginate(list(range(5)), "dataset-groups", token, 2)
    with pytest.raises(InvalidNextTokenException):
        paginate(list(range(5)), "schemas", "%%%", 2)


def test_snake_case_operation_names():
    assert snake_case("CreateDatasetImportJob") == "create_dataset_import_job"
    assert snake_case("GetSolutionMetrics") == "get_solution_metrics"


@pytest.mark.parametrize(
    ("service", "operation", "params", "fragment"),
    [
        (
            CONTROL,
            "CreateDatasetGroup",
            {},
            "Value null at 'name' failed to satisfy constraint: Member must not be null",
        ),
        (CONTROL, "CreateDatasetGroup", {"name": "a b"}, "Member must satisfy regular expression pattern"),
        (
            CONTROL,
            "CreateDatasetGroup",
            {"name": "x" * 64},
            "Member must have length less than or equal to 63",
        ),
        (CONTROL, "ListSchemas", {"maxResults": 0}, "Member must have value greater than or equal to 1"),
        (
            CONTROL,
            "CreateDatasetImportJob",
            {
                "jobName": "j",
                "datasetArn": "arn:aws:personalize:us-east-1:1:dataset/g/INTERACTIONS",
                "dataSource": {"dataLocation": "s3://b/k"},
                "importMode": "SOMETIMES",
            },
            "Member must satisfy enum value set: [FULL, INCREMENTAL]",
        ),
        (
            RUNTIME,
            "GetRecommendations",
            {"campaignArn": "arn:aws:personalize:us-east-1:1:campaign/c", "userId": "u" * 257},
            "less than or equal to 256",
        ),
        (
            EVENTS,
            "PutEvents",
            {"trackingId": "t", "sessionId": "s", "eventList": []},
            "Member must have length greater than or equal to 1",
        ),
    ],
)
def test_validation_messages(service, operation, params, fragment):
    with pytest.raises(InvalidInputException) as err:
        validate_input(service, operation, params)
    assert fragment in err.value.message
    assert err.value.message.startswith("1 validation error detected: ")


def test_validation_counts_every_error():
    with pytest.raises(InvalidInputException) as err:
        validate_input(CONTROL, "CreateDataset", {"name": "bad name"})
    assert err.value.message.startswith("4 validation errors detected: ")


def test_valid_input_passes_through():
    params = {"name": "movies", "domain": "VIDEO_ON_DEMAND"}
    assert validate_input(CONTROL, "CreateDatasetGroup", params) == params


def test_every_model_pattern_compiles_and_next_tokens_pass():
    from functions.protocol.service_model import _pattern, service_model

    for service in (CONTROL, RUNTIME, EVENTS):
        model = service_model(service)
        for name in model.shape_names:
            regex = model.shape_for(name).metadata.get("pattern")
            if regex:
                _pattern(regex)
    assert validate_input(CONTROL, "ListSchemas", {"nextToken": "eyJvIjogMn0="})
    with pytest.raises(InvalidInputException):
        validate_input(CONTROL, "ListSchemas", {"nextToken": "é" * 3})


def test_dataset_arn_follows_from_group_and_type():
    group = "arn:aws:personalize:eu-west-1:111122223333:dataset-group/movies"
    assert arns.dataset_arn(group, "Interactions") == (
        "arn:aws:personalize:eu-west-1:111122223333:dataset/movies/INTERACTIONS"
    )
