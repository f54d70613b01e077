"""Users-dataset fields and interaction context as feature tokens (training/feature_tokens.py), and the
interactions loader keeping the context columns (training/data.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from training.data import from_records, load_interactions
from training.feature_tokens import FeatureSpace, load_users

pytestmark = pytest.mark.unit

USERS = {
    "u1": {"AGE": "18", "PLAN": "gold|family", "ZIP": "10001"},
    "u2": {"AGE": "25", "PLAN": "gold", "ZIP": "94110"},
    "u3": {"AGE": "40", "PLAN": "free", "ZIP": ""},
    "u4": {"AGE": "61", "PLAN": "free|family", "ZIP": "60601"},
    "u5": {"AGE": "", "PLAN": "", "ZIP": "75001"},
}
KINDS = {"AGE": "numeric", "PLAN": "categorical", "ZIP": "categorical"}
CONTEXTS = [{"DEVICE": "mobile"}, {"DEVICE": "mobile"}, {"DEVICE": "tv"}, {"DEVICE": "desktop"}, {}]


def _space() -> FeatureSpace:
    return FeatureSpace.fit(USERS, KINDS, [*CONTEXTS, {"DEVICE": "desktop"}], ["DEVICE"])


def test_the_vocabulary_keeps_tokens_shared_by_two_rows_and_bins_numbers() -> None:
    space = _space()
    vocabulary = set(space.vocabulary)
    # PLAN values split on "|" as Personalize splits categorical values; every ZIP is one user's only.
    assert {"USERS.PLAN=gold", "USERS.PLAN=free", "USERS.PLAN=family"} <= vocabulary
    assert not any(token.startswith("USERS.ZIP") for token in vocabulary)
    assert {"CONTEXT.DEVICE=mobile", "CONTEXT.DEVICE=desktop"} <= vocabulary
    assert "CONTEXT.DEVICE=tv" not in vocabulary
    # Five bins over four ages put each age alone in a bin: no AGE token reaches two users, so neither
    # AGE nor ZIP is a field of the model.
    assert [f.name for f in space.fields] == ["PLAN", "DEVICE"]


def test_rows_encode_sorted_unique_and_padded_to_the_widest_training_row() -> None:
    space = _space()
    index = {token: i + 1 for i, token in enumerate(space.vocabulary)}
    tokens = space.encode(
        [USERS["u1"], None, {"plan": "free"}], [{"device": "mobile"}, {"DEVICE": "tv"}, None]
    )
    assert tokens.dtype == np.int64 and tokens.shape == (3, space.width)
    assert space.width == 3  # u1's gold + family, plus one context token
    want = sorted([index["USERS.PLAN=gold"], index["USERS.PLAN=family"], index["CONTEXT.DEVICE=mobile"]])
    assert tokens[0].tolist() == want
    assert tokens[1].tolist() == [0, 0, 0]  # an unknown context value and no record: nothing
    assert tokens[2].tolist() == [index["USERS.PLAN=free"], 0, 0]  # keys match whatever their case


def test_numeric_bins_follow_the_edges_and_survive_json() -> None:
    users = {f"u{i}": {"AGE": str(age)} for i, age in enumerate([18, 19, 20, 30, 31, 32, 50, 51, 52, 70])}
    space = FeatureSpace.fit(users, {"AGE": "numeric"})
    again = FeatureSpace.from_json(json.loads(json.dumps(space.to_json())))
    assert again == space
    young, old = space.encode([{"AGE": "18.5"}]), space.encode([{"AGE": "52"}])
    assert young[0, 0] != old[0, 0] and young[0, 0] > 0 and old[0, 0] > 0
    assert space.encode([{"AGE": "not a number"}]).tolist() == [[0]]
    assert again.encode([{"AGE": "31"}]).tolist() == space.encode([{"AGE": "31"}]).tolist()


def test_no_users_and_no_context_is_an_empty_space_of_width_one() -> None:
    space = FeatureSpace.fit(None, None, None, [])
    assert space.n_tokens == 0 and space.width == 1
    assert space.encode([None, {"AGE": "3"}]).tolist() == [[0], [0]]


def test_the_users_channel_reads_kinds_from_the_schema(tmp_path: Path) -> None:
    channel = tmp_path / "users"
    channel.mkdir()
    (channel / "part-0000.csv").write_text("USER_ID,AGE,POSTCODE\nu1,20,00123\nu2,30,00123\n")
    assert load_users(channel) is not None and load_users(channel)[1] == {
        "AGE": "numeric",
        "POSTCODE": "numeric",
    }
    schema = {"type": "record", "name": "Users", "fields": [
        {"name": "USER_ID", "type": "string"}, {"name": "AGE", "type": "int"},
        {"name": "POSTCODE", "type": "string", "categorical": True},
    ]}  # fmt: skip
    (channel / "schema.json").write_text(json.dumps(schema))
    rows, kinds = load_users(channel) or ({}, {})
    assert kinds == {"AGE": "numeric", "POSTCODE": "categorical"}
    assert rows["u2"]["POSTCODE"] == "00123"
    assert load_users(tmp_path / "absent") is None


def test_interactions_keep_their_categorical_context_columns(tmp_path: Path) -> None:
    channel = tmp_path / "interactions"
    channel.mkdir()
    lines = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,DEVICE,PRICE"]
    for user in range(30):
        for step in range(40):
            device = "mobile" if (user + step) % 3 else "desktop"
            lines.append(f"u{user},i{(user + step) % 50},{1000 + step},click,{device},{step * 1.5}")
    (channel / "part-0000.csv").write_text("\n".join(lines) + "\n")
    data = load_interactions(channel)
    assert data.context is not None and set(data.context) == {"DEVICE"}  # PRICE is all numbers
    rows = data.context_rows()
    assert len(rows) == data.n_interactions and {r["DEVICE"] for r in rows} == {"mobile", "desktop"}
    first = data.user_offsets[0]
    assert rows[first] == {"DEVICE": "desktop"}  # u0's first step (0 % 3 == 0), rows in time order
    kept = data.subset([1, 2])
    assert kept.context is not None and kept.context["DEVICE"].shape == (kept.n_interactions,)

    # With a schema, only the fields it marks categorical are context.
    (channel / "schema.json").write_text(json.dumps({"type": "record", "name": "Interactions", "fields": [
        {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"}, {"name": "EVENT_TYPE", "type": "string"},
        {"name": "DEVICE", "type": "string"}, {"name": "PRICE", "type": "float"},
    ]}))  # fmt: skip
    assert load_interactions(channel).context is None


def test_context_follows_the_rows_through_filters_and_reordering() -> None:
    data = from_records(
        ["b", "a", "a"], ["x", "y", "x"], [5.0, 2.0, 1.0], context={"device": ["tv", "m", "d"]}
    )
    assert data.context_rows() == [{"DEVICE": "d"}, {"DEVICE": "m"}, {"DEVICE": "tv"}]
    kept = data.select_rows(data.item == data.item_ids.index("x"))
    assert kept.context_rows() == [{"DEVICE": "d"}, {"DEVICE": "tv"}]
