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
    return FeatureSpace.fit(USERS, KINDS, [*CONTEXTS, {"DEVICE": "desktop"}], {"DEVICE": "categorical"})


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


def test_interactions_keep_their_context_columns(tmp_path: Path) -> None:
    channel = tmp_path / "interactions"
    channel.mkdir()
    lines = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,DEVICE,PRICE"]
    for user in range(30):
        for step in range(40):
            device = "mobile" if (user + step) % 3 else "desktop"
            price = "" if step == 7 else step * 1.5
            lines.append(f"u{user},i{(user + step) % 50},{1000 + step},click,{device},{price}")
    (channel / "part-0000.csv").write_text("\n".join(lines) + "\n")
    data = load_interactions(channel)
    assert data.context is not None and set(data.context) == {"DEVICE", "PRICE"}
    # Without a schema, a column of numbers is numerical (Personalize trains on numerical fields).
    assert data.context_kinds() == {"DEVICE": "categorical", "PRICE": "numeric"}
    rows = data.context_rows()
    assert len(rows) == data.n_interactions and {r["DEVICE"] for r in rows} == {"mobile", "desktop"}
    first = data.user_offsets[0]
    assert rows[first] == {"DEVICE": "desktop", "PRICE": "0.0"}  # u0's first step, rows in time order
    assert rows[first + 7] == {"DEVICE": "mobile"}  # an empty PRICE is no value, not 0
    kept = data.subset([1, 2])
    assert kept.context is not None and kept.context["DEVICE"].shape == (kept.n_interactions,)

    # With a schema, the fields it marks categorical or types as numbers are context; a plain string
    # field (DEVICE without "categorical") is not.
    (channel / "schema.json").write_text(json.dumps({"type": "record", "name": "Interactions", "fields": [
        {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"}, {"name": "EVENT_TYPE", "type": "string"},
        {"name": "DEVICE", "type": "string"}, {"name": "PRICE", "type": ["null", "float"]},
    ]}))  # fmt: skip
    assert load_interactions(channel).context_kinds() == {"PRICE": "numeric"}
    (channel / "schema.json").write_text(json.dumps({"type": "record", "name": "Interactions", "fields": [
        {"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"}, {"name": "DEVICE", "type": "string"},
    ]}))  # fmt: skip
    assert load_interactions(channel).context is None


def test_numeric_context_is_binned_over_the_interactions() -> None:
    distances = [0.5, 1.0, 1.5, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]
    contexts = [{"DISTANCE": str(d)} for d in distances for _ in range(3)]  # each value on three events
    space = FeatureSpace.fit(None, None, contexts, {"DISTANCE": "numeric"})
    (field,) = space.fields
    assert (field.source, field.name, field.kind) == ("CONTEXT", "DISTANCE", "numeric")
    assert len(field.edges) == 4 and field.edges == tuple(sorted(field.edges))
    index = {token: i + 1 for i, token in enumerate(space.vocabulary)}
    near, far = space.encode([None, None], [{"distance": "0.7"}, {"Distance": 500}])
    assert near.tolist() == [index["CONTEXT.DISTANCE#0"]]
    assert far.tolist() == [index["CONTEXT.DISTANCE#4"]]
    assert space.encode([None], [{"DISTANCE": "far"}]).tolist() == [[0]]  # not a number: no token
    assert FeatureSpace.from_json(json.loads(json.dumps(space.to_json()))) == space


def test_context_follows_the_rows_through_filters_and_reordering() -> None:
    data = from_records(
        ["b", "a", "a"], ["x", "y", "x"], [5.0, 2.0, 1.0], context={"device": ["tv", "m", "d"]}
    )
    assert data.context_rows() == [{"DEVICE": "d"}, {"DEVICE": "m"}, {"DEVICE": "tv"}]
    kept = data.select_rows(data.item == data.item_ids.index("x"))
    assert kept.context_rows() == [{"DEVICE": "d"}, {"DEVICE": "tv"}]
    numbers = from_records(["a", "a"], ["x", "y"], [2.0, 1.0], context={"distance": [3, float("nan")]})
    assert numbers.context_kinds() == {"DISTANCE": "numeric"}
    assert numbers.context_rows() == [{}, {"DISTANCE": "3.0"}]
    assert numbers.context_rows(np.asarray([1])) == [{"DISTANCE": "3.0"}]  # only the rows asked for
    assert from_records(["a"], ["x"], [1.0]).context_rows(np.asarray([0])) == [{}]
