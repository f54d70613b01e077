"""The Domain dataset group use cases: each trained by a recipe Tailor has, needing what that recipe needs."""

from __future__ import annotations

import pytest

from functions.resources.recipes import listed_recipes, recipe_catalogue, use_case_catalogue
from functions.resources.use_cases import ECOMMERCE, USE_CASES, VIDEO_ON_DEMAND, use_case_of
from functions.serving.recommender import FilterRequest
from functions.serving.runtime_api import _with_automatic_filter

pytestmark = pytest.mark.unit


def test_every_use_case_is_trained_by_a_registered_recipe_with_its_datasets():
    custom = {r["name"]: r for r in recipe_catalogue()}
    for case in USE_CASES.values():
        assert case.name.startswith({VIDEO_ON_DEMAND: "aws-vod-", ECOMMERCE: "aws-ecomm-"}[case.domain])
        recipe = custom[case.trained_as]
        assert set(recipe["tailorRequiredDatasets"]) <= set(case.required_datasets), case.name
        assert case.needs_user or case.needs_item, case.name
        # Related-items models answer an item; every other use case answers a user.
        assert case.needs_item == (recipe["recipeType"] == "RELATED_ITEMS"), case.name


def test_the_catalogue_lists_custom_recipes_then_use_cases_with_their_domain():
    listed = listed_recipes()
    assert listed[: len(recipe_catalogue())] == recipe_catalogue()
    cases = use_case_catalogue()
    assert {r["name"] for r in cases} == set(USE_CASES)
    assert {r["domain"] for r in cases} == {VIDEO_ON_DEMAND, ECOMMERCE}
    assert all("domain" not in r for r in recipe_catalogue())


def test_use_case_arns_are_recognised_and_others_are_not():
    assert use_case_of("arn:aws:personalize:::recipe/aws-vod-top-picks") is USE_CASES["aws-vod-top-picks"]
    assert use_case_of("arn:aws:personalize:::recipe/aws-sims") is None
    assert use_case_of("aws-vod-top-picks") is None


def test_the_automatic_filter_comes_before_the_requests_own():
    case = USE_CASES["aws-ecomm-recommended-for-you"]
    own = FilterRequest("INCLUDE ItemID WHERE Items.CATEGORY_L1 IN ($CAT)", {"CAT": '"shoes"'})
    joined = _with_automatic_filter(case, own, "u1")
    assert joined is not None
    assert joined.expression == (
        'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Purchase") | '
        "INCLUDE ItemID WHERE Items.CATEGORY_L1 IN ($CAT)"
    )
    assert joined.values == own.values
    # Without a user there is no history to leave out; a use case without a filter keeps the request's.
    assert _with_automatic_filter(case, own, None) is own
    assert _with_automatic_filter(USE_CASES["aws-ecomm-frequently-bought-together"], None, "u1") is None


def test_every_automatic_filter_is_a_valid_filter_over_the_domain_interactions_schema():
    import json

    from functions.filters.expression import check_against_schemas, field_types, parse_filter
    from tests.fixtures import INTERACTIONS_SCHEMA

    interactions = field_types(json.loads(INTERACTIONS_SCHEMA))
    checked = 0
    for case in USE_CASES.values():
        expression = case.automatic_filter()
        if expression is None:
            continue
        check_against_schemas(parse_filter(expression), None, None, interactions)
        checked += 1
    assert checked == 5  # the watched- and purchased-item use cases
