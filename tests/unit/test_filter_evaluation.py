from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from functions.filters import (
    MAX_ACTION_INTERACTIONS_PER_EVENT_TYPE,
    MAX_INTERACTIONS_PER_EVENT_TYPE,
    ActionTable,
    FilterValuesError,
    ItemTable,
    UserTable,
    action_mask,
    allowed_ids,
    compile_filter,
    field_types,
    filter_candidates,
    item_mask,
    recent_interactions,
    user_mask,
)

pytestmark = pytest.mark.unit

ITEM_FIELDS = field_types(
    [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRES", "type": ["null", "string"], "categorical": True},
        {"name": "YEAR", "type": ["null", "int"]},
        {"name": "PRICE", "type": ["null", "double"]},
        {"name": "STUDIO", "type": ["null", "string"]},
        {"name": "NUMBER_OF_RATINGS", "type": ["null", "long"]},
        {"name": "DESCRIPTION", "type": ["null", "string"], "textual": True},
    ]
)
ITEM_ROWS: dict[str, dict[str, Any] | None] = {
    "i1": {"GENRES": "Action|Comedy", "YEAR": "1975", "PRICE": "10", "STUDIO": "A"},
    "i2": {"GENRES": "Drama", "YEAR": 1985, "PRICE": "", "STUDIO": "B"},
    "i3": {"GENRES": "Comedy", "YEAR": "", "PRICE": 5, "STUDIO": "A"},
    "i4": {"GENRES": "", "YEAR": 1970, "PRICE": 20.0, "STUDIO": "C"},
    "i5": {"GENRES": "Horror|Drama", "YEAR": 1979, "PRICE": "7.5", "STUDIO": None},
    "i6": None,
}
USER_FIELDS = field_types(
    [
        {"name": "USER_ID", "type": "string"},
        {"name": "AGE", "type": ["null", "int"]},
        {"name": "TIERS", "type": ["null", "string"], "categorical": True},
        {"name": "MEMBERSHIP", "type": ["null", "string"]},
    ]
)


def items() -> ItemTable:
    return ItemTable(list(ITEM_ROWS), list(ITEM_ROWS.values()), ITEM_FIELDS)


def ids(
    expression: str,
    table: ItemTable | None = None,
    filter_values: dict[str, str] | None = None,
    interactions: list[tuple[str, str]] | None = None,
    current_user: dict[str, Any] | None = None,
    current_item: dict[str, Any] | None = None,
) -> list[str]:
    table = table if table is not None else items()
    compiled = compile_filter(expression, users_fields=USER_FIELDS)
    mask = item_mask(compiled, table, filter_values, interactions or [], current_user, current_item)
    assert mask.dtype == bool and mask.shape == (len(table),)
    return allowed_ids(mask, table)


# ------------------------------------------------------------------------------------- Items metadata


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('INCLUDE ItemID WHERE Items.GENRES IN ("Comedy")', ["i1", "i3"]),
        ('INCLUDE ItemID WHERE Items.genres IN ("Comedy", "Horror")', ["i1", "i3", "i5"]),
        ('INCLUDE ItemID WHERE Items.GENRES IN ("comedy")', []),
        ('INCLUDE ItemID WHERE Items.GENRES IN ("Action|Comedy")', []),
        ('INCLUDE ItemID WHERE Items.GENRES NOT IN ("Drama")', ["i1", "i3", "i4", "i6"]),
        ('EXCLUDE ItemID WHERE Items.GENRES IN ("Drama")', ["i1", "i3", "i4", "i6"]),
        ("INCLUDE ItemID WHERE Items.YEAR >= 1970 AND Items.YEAR < 1980", ["i1", "i4", "i5"]),
        ("INCLUDE ItemID WHERE Items.YEAR = 1975", ["i1"]),
        ("INCLUDE ItemID WHERE Items.PRICE <= 7.5", ["i3", "i5"]),
        ("INCLUDE ItemID WHERE Items.PRICE > (7.5)", ["i1", "i4"]),
        ("EXCLUDE ItemID WHERE Items.PRICE > 7.5", ["i2", "i3", "i5", "i6"]),
        ('INCLUDE ItemID WHERE Items.STUDIO = "A"', ["i1", "i3"]),
        ('INCLUDE ItemID WHERE Items.STUDIO IN ("A") OR Items.PRICE >= 20', ["i1", "i3", "i4"]),
        (
            'INCLUDE ItemID WHERE (Items.GENRES IN ("Drama") OR Items.GENRES IN ("Comedy")) '
            "AND Items.YEAR < 1980",
            ["i1", "i5"],
        ),
        (
            'INCLUDE ItemID WHERE Items.GENRES IN ("Drama") OR Items.GENRES IN ("Comedy") '
            "AND Items.YEAR < 1980",
            ["i1", "i2", "i5"],
        ),
    ],
)
def test_items_conditions(expression: str, expected: list[str]) -> None:
    assert ids(expression) == expected


def test_include_parts_union_and_exclude_parts_subtract_in_any_order() -> None:
    include_a = 'INCLUDE ItemID WHERE Items.GENRES IN ("Comedy")'
    include_b = "INCLUDE ItemID WHERE Items.PRICE >= 20"
    exclude_c = 'EXCLUDE ItemID WHERE Items.STUDIO IN ("A") AND Items.PRICE < 6'
    exclude_d = "EXCLUDE ItemID WHERE Items.YEAR = 1970"
    assert ids(f"{include_a} | {include_b}") == ["i1", "i3", "i4"]
    assert ids(f"{include_a} | {include_b} | {exclude_c} | {exclude_d}") == ["i1"]
    assert ids(f"{exclude_d} | {include_a} | {exclude_c} | {include_b}") == ["i1"]
    assert ids(f"{exclude_c} | {exclude_d}") == ["i1", "i2", "i5", "i6"]


def test_textual_fields_are_not_stored_and_row_keys_resolve_like_put_items() -> None:
    table = ItemTable(["a", "b"], [{"numberOfRatings": "12"}, {"number_of_ratings": 3}], ITEM_FIELDS)
    assert "DESCRIPTION" not in table.fields and "GENRES" in table.fields
    assert table.numeric("NUMBER_OF_RATINGS").tolist() == [12.0, 3.0]
    assert ids("INCLUDE ItemID WHERE Items.NUMBER_OF_RATINGS > 5", table) == ["a"]


def test_repeated_ids_keep_the_last_row() -> None:
    table = ItemTable(["a", "a"], [{"GENRES": "Drama"}, {"GENRES": "Comedy"}], ITEM_FIELDS)
    assert list(table.ids) == ["a"]
    assert table.record("a") == {
        "GENRES": ("Comedy",),
        "YEAR": None,
        "PRICE": None,
        "STUDIO": None,
        "NUMBER_OF_RATINGS": None,
    }


# ------------------------------------------------------------------------------------------ parameters


def test_parameters_with_several_values() -> None:
    expression = "INCLUDE ItemID WHERE Items.GENRES IN ($GENRE)"
    assert ids(expression, filter_values={"GENRE": '"Comedy","Drama"'}) == ["i1", "i2", "i3", "i5"]
    assert ids(expression, filter_values={"GENRE": '"Horror"'}) == ["i5"]


def test_numeric_parameter() -> None:
    assert ids("INCLUDE ItemID WHERE Items.PRICE > $MIN", filter_values={"MIN": "6"}) == ["i1", "i4", "i5"]
    assert ids("INCLUDE ItemID WHERE Items.PRICE > $MIN", filter_values={"MIN": '"6"'}) == ["i1", "i4", "i5"]
    with pytest.raises(FilterValuesError, match=r"\$MIN must be a number"):
        ids("INCLUDE ItemID WHERE Items.PRICE > $MIN", filter_values={"MIN": '"cheap"'})
    with pytest.raises(FilterValuesError, match=r"\$MIN must be exactly one number"):
        ids("INCLUDE ItemID WHERE Items.PRICE > $MIN", filter_values={"MIN": "1,2"})


def test_missing_include_parameter_is_an_error() -> None:
    with pytest.raises(FilterValuesError, match=r"uses \$GENRE; give it in filterValues"):
        ids("INCLUDE ItemID WHERE Items.GENRES IN ($GENRE)")
    with pytest.raises(FilterValuesError, match=r"\$genre"):
        # Keys match parameter names case included.
        ids("INCLUDE ItemID WHERE Items.GENRES IN ($genre)", filter_values={"GENRE": '"Comedy"'})
    with pytest.raises(FilterValuesError, match=r"\$A, \$B"):
        ids("INCLUDE ItemID WHERE Items.GENRES IN ($A) IF CurrentUser.AGE > $B", current_user={"AGE": 40})


def test_missing_exclude_parameter_excludes_nothing_through_that_condition() -> None:
    every = ["i1", "i2", "i3", "i4", "i5", "i6"]
    assert ids("EXCLUDE ItemID WHERE Items.GENRES IN ($GENRE)") == every
    assert ids('EXCLUDE ItemID WHERE Items.GENRES IN ($GENRE) AND Items.STUDIO IN ("A")') == every
    assert ids('EXCLUDE ItemID WHERE Items.GENRES IN ($GENRE) OR Items.STUDIO IN ("A")') == [
        "i2",
        "i4",
        "i5",
        "i6",
    ]
    chained = (
        'INCLUDE ItemID WHERE Items.GENRES IN ("Comedy", "Drama") | EXCLUDE ItemID WHERE Items.PRICE > $MAX'
    )
    assert ids(chained) == ["i1", "i2", "i3", "i5"]
    assert ids(chained, filter_values={"MAX": "6"}) == ["i2", "i3"]


def test_malformed_filter_values_are_refused() -> None:
    with pytest.raises(FilterValuesError, match="unterminated"):
        ids("EXCLUDE ItemID WHERE Items.GENRES IN ($GENRE)", filter_values={"GENRE": '"Comedy'})
    with pytest.raises(FilterValuesError, match="maximum is 25"):
        ids("EXCLUDE ItemID WHERE Items.GENRES IN ($GENRE)", filter_values={f"P{i}": "1" for i in range(26)})


# ---------------------------------------------------------------------------------------- Interactions

HISTORY = [("i1", "Watch"), ("i2", "click"), ("not-in-table", "watch"), ("i3", "CLICK")]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")', ["i2", "i3", "i4", "i5", "i6"]),
        ('EXCLUDE ItemID WHERE Interactions.event_type IN ("WATCH", "Click")', ["i4", "i5", "i6"]),
        ('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")', ["i4", "i5", "i6"]),
        ('INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")', ["i2", "i3"]),
        ('INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")', ["i1", "i2", "i3"]),
        ('INCLUDE ItemID WHERE Interactions.EVENT_TYPE NOT IN ("click")', ["i1"]),
        ('INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("purchase")', []),
        (
            'INCLUDE ItemID WHERE Items.GENRES IN ("Comedy", "Drama") | '
            'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")',
            ["i1", "i5"],
        ),
    ],
)
def test_interactions_conditions(expression: str, expected: list[str]) -> None:
    assert ids(expression, interactions=HISTORY) == expected


def test_interaction_parameters_match_event_types_case_insensitively() -> None:
    expression = "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($TYPES)"
    assert ids(expression, interactions=HISTORY, filter_values={"TYPES": '"WATCH"'}) == [
        "i2",
        "i3",
        "i4",
        "i5",
        "i6",
    ]
    assert ids(expression, interactions=HISTORY) == ["i1", "i2", "i3", "i4", "i5", "i6"]


def test_only_the_newest_interactions_per_event_type_count() -> None:
    views = [(f"v{n}", "view") for n in range(150)]
    history = [("old-buy", "buy"), *views]
    table = ItemTable([f"v{n}" for n in range(150)] + ["old-buy"], None, ITEM_FIELDS)
    kept = recent_interactions(history)
    assert len(kept) == MAX_INTERACTIONS_PER_EVENT_TYPE + 1
    assert kept[0] == ("old-buy", "buy") and kept[1] == ("v50", "view") and kept[-1] == ("v149", "view")
    allowed = ids('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")', table, interactions=history)
    assert allowed == [f"v{n}" for n in range(50)]


# ----------------------------------------------------------------------------------------- CurrentUser

PREMIUM_ONLY = 'INCLUDE ItemID WHERE Items.GENRES IN ("Comedy") IF CurrentUser.AGE > 18'


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ({"AGE": 30}, ["i1", "i3"]),
        ({"age": "30"}, ["i1", "i3"]),
        ({"AGE": 10}, ["i1", "i2", "i3", "i4", "i5", "i6"]),
        ({"TIERS": "gold"}, ["i1", "i2", "i3", "i4", "i5", "i6"]),
        ({"AGE": None}, ["i1", "i2", "i3", "i4", "i5", "i6"]),
        (None, ["i1", "i2", "i3", "i4", "i5", "i6"]),
    ],
)
def test_include_applies_only_when_its_if_condition_holds(
    user: dict[str, Any] | None, expected: list[str]
) -> None:
    assert ids(PREMIUM_ONLY, current_user=user) == expected


def test_exclude_with_if_condition() -> None:
    expression = (
        "EXCLUDE ItemID WHERE Items.PRICE >= 10 IF CurrentUser.TIERS IN ($TIER) AND CurrentUser.AGE < 18"
    )
    values = {"TIER": '"free"'}
    assert ids(expression, filter_values=values, current_user={"TIERS": "gold|free", "AGE": 12}) == [
        "i2",
        "i3",
        "i5",
        "i6",
    ]
    every = ["i1", "i2", "i3", "i4", "i5", "i6"]
    assert ids(expression, filter_values=values, current_user={"TIERS": "gold", "AGE": 12}) == every
    assert ids(expression, filter_values=values, current_user={"TIERS": "free", "AGE": 30}) == every
    # The EXCLUDE's parameter is missing: its IF is false and it removes nothing.
    assert ids(expression, current_user={"TIERS": "free", "AGE": 12}) == every


def test_if_equals_a_string_parameter_and_a_user_table_record() -> None:
    users = UserTable(
        ["u1", "u2"], [{"MEMBERSHIP": "Premium", "AGE": 40}, {"MEMBERSHIP": "Basic"}], USER_FIELDS
    )
    expression = 'EXCLUDE ItemID WHERE Items.STUDIO IN ("A") IF CurrentUser.MEMBERSHIP = $LEVEL'
    values = {"LEVEL": '"Basic"'}
    assert ids(expression, filter_values=values, current_user=users.record("u2")) == ["i2", "i4", "i5", "i6"]
    assert ids(expression, filter_values=values, current_user=users.record("u1")) == [
        "i1",
        "i2",
        "i3",
        "i4",
        "i5",
        "i6",
    ]


# ----------------------------------------------------------------------------------------- CurrentItem


def test_current_item_comparisons() -> None:
    table = items()
    expression = "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.GENRES IN CurrentItem.GENRES"
    assert ids(expression, table, current_item=table.record("i1")) == ["i3"]
    assert ids(expression, table, current_item={"PRICE": "100", "GENRES": "Drama|Horror"}) == ["i5"]
    with pytest.raises(FilterValuesError, match="related-items"):
        ids(expression, table)
    exclude = "EXCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE"
    assert ids(exclude, table) == ["i1", "i2", "i3", "i4", "i5", "i6"]


# ------------------------------------------------------------------------------- caching and updates


def test_results_are_fresh_writable_arrays() -> None:
    table = items()
    compiled = compile_filter('INCLUDE ItemID WHERE Items.GENRES IN ("Comedy")')
    first = item_mask(compiled, table)
    first[:] = True
    assert allowed_ids(item_mask(compiled, table), table) == ["i1", "i3"]
    assert not table.value_mask("GENRES", "Comedy").flags.writeable


def test_upsert_invalidates_only_what_changed() -> None:
    table = items()
    compiled = compile_filter('INCLUDE ItemID WHERE Items.GENRES IN ("Comedy") AND Items.YEAR < 1980')
    assert allowed_ids(item_mask(compiled, table), table) == ["i1"]
    comedy, drama = table.value_mask("GENRES", "Comedy"), table.value_mask("GENRES", "Drama")
    genres_version = table.column_version("GENRES")

    table.upsert("i4", {"GENRES": "Drama", "YEAR": 1970, "PRICE": 20, "STUDIO": "C"})
    assert table.value_mask("GENRES", "Comedy") is comedy  # Comedy wasn't touched.
    assert table.value_mask("GENRES", "Drama") is not drama
    assert table.column_version("YEAR") == 0 and table.column_version("GENRES") == genres_version + 1

    # A put replaces the record: i5 loses its genres and year, gains Comedy.
    table.upsert("i5", {"GENRES": "Comedy"})
    assert allowed_ids(item_mask(compiled, table), table) == ["i1"]
    table.upsert("i5", {"GENRES": "Comedy", "YEAR": "1979"})
    assert allowed_ids(item_mask(compiled, table), table) == ["i1", "i5"]
    assert not table.value_mask("GENRES", "Drama")[4]

    # Unchanged values don't move versions.
    version = table.column_version("GENRES")
    table.upsert("i5", {"GENRES": "Comedy", "YEAR": 1979})
    assert table.column_version("GENRES") == version


def test_new_ids_are_appended_and_cached_masks_extended() -> None:
    table = items()
    compiled = compile_filter(
        'INCLUDE ItemID WHERE Items.GENRES IN ("Comedy") | EXCLUDE ItemID WHERE Items.PRICE > 15'
    )
    assert allowed_ids(item_mask(compiled, table), table) == ["i1", "i3"]
    table.upsert_many(
        [("i7", {"GENRES": "Comedy|Drama", "PRICE": "3"}), ("i8", {"GENRES": "Comedy", "PRICE": 99})]
    )
    table.add_ids(["i9", "i1"])
    assert list(table.ids) == ["i1", "i2", "i3", "i4", "i5", "i6", "i7", "i8", "i9"]
    assert table.value_mask("GENRES", "Comedy").tolist() == [
        True,
        False,
        True,
        False,
        False,
        False,
        True,
        True,
        False,
    ]
    assert allowed_ids(item_mask(compiled, table), table) == ["i1", "i3", "i7"]
    assert table.indices(["i9", "nope", "i1"]).tolist() == [8, -1, 0]


def test_filter_candidates_keeps_model_order() -> None:
    table = items()
    mask = item_mask(compile_filter('EXCLUDE ItemID WHERE Items.GENRES IN ("Drama")'), table)
    assert filter_candidates(mask, table, ["i5", "i3", "unknown", "i1", "i2"]) == ["i3", "i1"]


def test_filter_kinds_must_match_the_table() -> None:
    with pytest.raises(ValueError, match="ItemID filter"):
        item_mask(compile_filter("INCLUDE UserID WHERE Users.AGE > 3"), items())
    with pytest.raises(ValueError, match="UserID filter"):
        user_mask(compile_filter('INCLUDE ItemID WHERE Items.GENRES IN ("a")'), UserTable())


# ----------------------------------------------------------------------------------------- user segments


def test_user_segment_filters() -> None:
    users = UserTable(
        ["u1", "u2", "u3", "u4"],
        [{"AGE": 15, "TIERS": "gold"}, {"AGE": "40", "TIERS": "silver|gold"}, {"AGE": None}, {"AGE": 70}],
        USER_FIELDS,
    )
    history = {
        "u1": [("i1", "Click")],
        "u3": [("i2", "rating"), ("i3", "click")],
        "stranger": [("i1", "click")],
    }

    def segment(expression: str, values: dict[str, str] | None = None) -> list[str]:
        mask = user_mask(compile_filter(expression), users, values, history)
        assert mask.shape == (4,)
        return allowed_ids(mask, users)

    assert segment("EXCLUDE UserID WHERE Users.AGE < $AGE", {"AGE": "18"}) == ["u2", "u3", "u4"]
    assert segment("INCLUDE UserID WHERE Users.TIERS IN ($T)", {"T": '"gold"'}) == ["u1", "u2"]
    assert segment('INCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("click", "rating")') == ["u1", "u3"]
    assert segment('INCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("rating")') == ["u3"]
    assert segment("EXCLUDE UserID WHERE Interactions.EVENT_TYPE IN ($E)") == ["u1", "u2", "u3", "u4"]
    assert segment(
        'INCLUDE UserID WHERE Users.AGE >= 18 | EXCLUDE UserID WHERE Interactions.EVENT_TYPE IN ("*")'
    ) == ["u2", "u4"]
    with pytest.raises(FilterValuesError, match=r"\$T"):
        segment("INCLUDE UserID WHERE Users.TIERS IN ($T)")


def test_empty_tables() -> None:
    mask = item_mask(
        compile_filter('EXCLUDE ItemID WHERE Items.GENRES IN ("x")'), ItemTable([], [], ITEM_FIELDS)
    )
    assert mask.shape == (0,) and mask.dtype == np.bool_


# -- action filters (GetActionRecommendations) ---------------------------------------------------------
ACTION_FIELDS = field_types(
    [
        {"name": "ACTION_ID", "type": "string"},
        {"name": "VALUE", "type": ["null", "float"]},
        {"name": "CHANNEL", "type": ["null", "string"], "categorical": True},
    ]
)
ACTION_ROWS: dict[str, dict[str, Any] | None] = {
    "join": {"VALUE": "5", "CHANNEL": "web"},
    "app": {"VALUE": "3", "CHANNEL": "app"},
    "email": {"VALUE": "", "CHANNEL": "email|web"},
    "bare": None,
}


def allowed_actions(expression: str, history=(), user=None, **values: str) -> list[str]:
    table = ActionTable(list(ACTION_ROWS), list(ACTION_ROWS.values()), ACTION_FIELDS)
    compiled = compile_filter(expression, users_fields=USER_FIELDS)
    return allowed_ids(action_mask(compiled, table, values, history, user), table)


def test_action_filters_select_by_actions_fields_and_parameters():
    assert allowed_actions('EXCLUDE ActionID WHERE Actions.CHANNEL IN ("web")') == ["app", "bare"]
    assert allowed_actions("INCLUDE ActionID WHERE Actions.VALUE > ($VALUE)", VALUE="4") == ["join"]
    assert allowed_actions('INCLUDE ActionID WHERE Action.CHANNEL IN ("app")') == ["app"]
    with pytest.raises(FilterValuesError):
        allowed_actions("INCLUDE ActionID WHERE Actions.VALUE > ($VALUE)")


def test_action_filters_read_the_users_action_interactions_up_to_300_per_event_type():
    history = [("join", "TAKEN")] + [("app", "taken")] * MAX_ACTION_INTERACTIONS_PER_EVENT_TYPE
    # join's TAKEN is the 301st newest: Personalize no longer considers it.
    assert allowed_actions('EXCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("Taken")', history) == [
        "join",
        "email",
        "bare",
    ]
    shorter = [("join", "TAKEN"), ("app", "NOT_TAKEN")]
    assert allowed_actions('INCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("*")', shorter) == [
        "join",
        "app",
    ]


def test_an_action_filters_if_checks_the_current_user():
    expression = 'INCLUDE ActionID WHERE Actions.CHANNEL IN ("app") IF CurrentUser.MEMBERSHIP = $TIER'
    assert allowed_actions(expression, user={"MEMBERSHIP": "gold"}, TIER='"gold"') == ["app"]
    # A false IF: the INCLUDE restricts nothing.
    assert allowed_actions(expression, user={"MEMBERSHIP": "free"}, TIER='"gold"') == list(ACTION_ROWS)
    with pytest.raises(ValueError, match="ActionID"):
        item_mask(compile_filter(expression), items())
