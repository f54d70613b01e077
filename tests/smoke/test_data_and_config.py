"""Reading the interactions channel and hyperparameters.json the way the training job does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.data import DataFilter, load_interactions
from training.entrypoint import parse_job_config
from training.errors import ConfigurationError, TrainingDataError

pytestmark = pytest.mark.smoke


def _rows(n_users: int = 30, per_user: int = 40) -> list[tuple[str, str, int, str, float]]:
    rows = []
    for u in range(n_users):
        for step in range(per_user):
            rows.append(
                (f"u{u}", f"i{(u + step) % 90}", 1_000 + step, "watch" if step % 2 else "click", step % 5)
            )
    return rows


def _write(path: Path, header: list[str], rows: list[tuple]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_headers_match_case_insensitively_across_files(tmp_path: Path) -> None:
    rows = _rows()
    _write(tmp_path / "a.csv", ["user_id", "Item_Id", "timestamp", "EVENT_TYPE", "event_value"], rows[:600])
    # Another file with another column order and an extra column that is ignored.
    reordered = [(r[2], r[1], r[0], r[3], r[4], "x") for r in rows[600:]]
    _write(
        tmp_path / "b.csv",
        ["TIMESTAMP", "ITEM_ID", "USER_ID", "EVENT_TYPE", "EVENT_VALUE", "DEVICE"],
        reordered,
    )
    data = load_interactions(tmp_path)
    assert data.n_interactions == len(rows)
    assert data.n_users == 30 and data.n_items == 69  # items u + step for u < 30, step < 40
    assert data.event_type is not None and data.event_value is not None
    for user in range(data.n_users):
        stamps = data.timestamps_by_user()[user]
        assert (stamps[1:] >= stamps[:-1]).all()


def test_event_type_and_value_filters(tmp_path: Path) -> None:
    _write(
        tmp_path / "x.csv",
        ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"],
        _rows(per_user=80),
    )
    everything = load_interactions(tmp_path)
    watched = load_interactions(tmp_path, DataFilter(event_type="watch"))
    assert watched.n_interactions == everything.n_interactions // 2
    assert watched.event_type is not None and set(watched.event_type.tolist()) == {"watch"}
    valued = load_interactions(tmp_path, DataFilter(event_value_threshold=2))
    assert valued.n_interactions == everything.n_interactions * 3 // 5
    assert valued.event_value is not None and valued.event_value.min() >= 2


def test_too_few_interactions_after_filtering_says_why(tmp_path: Path) -> None:
    _write(tmp_path / "x.csv", ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"], _rows())
    with pytest.raises(TrainingDataError) as caught:
        load_interactions(tmp_path, DataFilter(event_type="watch", event_value_threshold=4))
    message = str(caught.value)
    assert "not enough interactions: found 120, need at least 1000" in message
    assert "eventValueThreshold 4" in message and "eventType 'watch'" in message and "1200 rows" in message


def test_too_few_users_with_two_interactions(tmp_path: Path) -> None:
    rows = [(f"u{i}", f"i{i % 50}", i, "click", 1) for i in range(1000)]  # everyone has one interaction
    _write(tmp_path / "x.csv", ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"], rows)
    with pytest.raises(TrainingDataError, match="not enough users with at least 2 interactions: found 0"):
        load_interactions(tmp_path)


@pytest.mark.parametrize(
    ("header", "row", "fragment"),
    [
        (["USER_ID", "ITEM_ID"], ("u", "i"), "no TIMESTAMP column"),
        (["USER_ID", "ITEM_ID", "TIMESTAMP"], ("u", "i", "yesterday"), "x.csv line 2: TIMESTAMP 'yesterday'"),
        (["USER_ID", "ITEM_ID", "TIMESTAMP"], ("", "i", "1"), "must not be empty"),
    ],
)
def test_malformed_files_name_the_problem(
    tmp_path: Path, header: list[str], row: tuple, fragment: str
) -> None:
    _write(tmp_path / "x.csv", header, [row])
    with pytest.raises(TrainingDataError, match=fragment):
        load_interactions(tmp_path)


def test_empty_channel(tmp_path: Path) -> None:
    with pytest.raises(TrainingDataError, match="no CSV file"):
        load_interactions(tmp_path)


def test_filters_need_their_columns(tmp_path: Path) -> None:
    _write(tmp_path / "x.csv", ["USER_ID", "ITEM_ID", "TIMESTAMP"], [r[:3] for r in _rows()])
    with pytest.raises(TrainingDataError, match="no EVENT_TYPE column"):
        load_interactions(tmp_path, DataFilter(event_type="click"))
    with pytest.raises(TrainingDataError, match="no EVENT_VALUE column"):
        load_interactions(tmp_path, DataFilter(event_value_threshold=1))


def test_job_config_merges_solution_config_and_top_level_overrides() -> None:
    solution = {
        "eventValueThreshold": "2.5",
        "algorithmHyperParameters": {"hidden_dimension": "64", "bptt": "16"},
        "featureTransformationParameters": {"max_user_history_length_percentile": "0.9"},
        "hpoConfig": {"algorithmHyperParameterRanges": {}},
    }
    config = parse_job_config(
        {
            "tailor_recipe": "aws-user-personalization",
            "tailor_solution_config": json.dumps(solution),
            "tailor_event_type": "watch",
            "tailor_seed": "7",
            "bptt": "8",
            "sagemaker_job_name": "ignored",
        }
    )
    assert config.recipe == "aws-user-personalization"
    assert config.seed == 7
    assert config.data_filter == DataFilter(event_type="watch", event_value_threshold=2.5)
    assert config.hyperparameters == {
        "hidden_dimension": "64",
        "bptt": "8",
        "max_user_history_length_percentile": "0.9",
    }
    assert config.ignored_solution_keys == ("hpoConfig",)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({}, "no tailor_recipe"),
        ({"tailor_recipe": "aws-sims", "tailor_seed": "x"}, "tailor_seed"),
        ({"tailor_recipe": "aws-sims", "tailor_solution_config": "{"}, "not valid JSON"),
        ({"tailor_recipe": "aws-sims", "tailor_solution_config": "[]"}, "JSON object"),
        (
            {"tailor_recipe": "aws-sims", "tailor_solution_config": '{"eventValueThreshold": "high"}'},
            "number",
        ),
        ({"tailor_recipe": "aws-sims", "tailor_typo": "1"}, "Unknown setting 'tailor_typo'"),
    ],
)
def test_bad_job_config_is_a_configuration_error(raw: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        parse_job_config(raw)
