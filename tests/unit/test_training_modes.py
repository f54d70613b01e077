"""Automatic-training schedule rules (injected clock), schedule parsing and training-progress tag values."""

from __future__ import annotations

import pytest

from functions.protocol.errors import InvalidInputException
from functions.resources.auto_training import DAY_S, FIRST_TRAINING_DELAY_S, due_slot
from functions.resources.training_modes import schedule_days
from functions.workflows.progress import ProgressTag, describe, tag_value

T0 = 1_700_000_000.0
HOUR = 3600.0


def _solution(schedule: str | None = None, **extra) -> dict:
    config = {"autoTrainingConfig": {"schedulingExpression": schedule}} if schedule else {}
    return {"solutionArn": "arn:s", "status": "ACTIVE", "performAutoTraining": True,
            "creationDateTime": T0, "solutionConfig": config, **extra}  # fmt: skip


def _version(created: float, training_type: str = "MANUAL") -> dict:
    return {"creationDateTime": created, "trainingType": training_type, "status": "ACTIVE"}


@pytest.mark.parametrize(
    ("expression", "days"), [(None, 7), ("rate(1 day)", 1), ("rate(5 days)", 5), ("rate(30 days)", 30)]
)
def test_schedule_days(expression, days):
    assert schedule_days(expression) == days


@pytest.mark.parametrize(
    "expression", ["rate(0 days)", "rate(31 days)", "rate(5 hours)", "cron(0 0 * * ? *)"]
)
def test_invalid_schedules_are_refused_with_the_rule(expression):
    with pytest.raises(InvalidInputException, match="schedulingExpression"):
        schedule_days(expression)


def test_first_automatic_training_is_due_one_hour_after_creation():
    solution = _solution()
    assert due_slot(solution, [], T0 + 59 * 60) is None
    assert due_slot(solution, [], T0 + HOUR) == T0 + FIRST_TRAINING_DELAY_S


def test_a_manual_version_in_the_first_hour_skips_the_first_automatic_training():
    solution, versions = _solution(), [_version(T0 + 600)]
    assert due_slot(solution, versions, T0 + 2 * HOUR) is None
    # ...but not the schedule: 7 days after the first slot the next one is due.
    assert due_slot(solution, versions, T0 + HOUR + 7 * DAY_S) == T0 + HOUR + 7 * DAY_S


def test_slots_follow_the_rate_and_each_gets_one_automatic_version():
    solution = _solution("rate(2 days)")
    first = T0 + HOUR
    done = [_version(first + 30, "AUTOMATIC")]
    assert due_slot(solution, done, first + DAY_S) is None
    assert due_slot(solution, done, first + 2 * DAY_S + 5) == first + 2 * DAY_S
    # A claimed slot is not due again even before its version exists.
    assert (
        due_slot({**solution, "tailorAutoTrainingSlot": first + 2 * DAY_S}, done, first + 3 * DAY_S) is None
    )


def test_no_automatic_training_when_turned_off_or_not_active():
    assert due_slot(_solution(performAutoTraining=False), [], T0 + 10 * DAY_S) is None
    assert due_slot(_solution(status="DELETE PENDING"), [], T0 + 10 * DAY_S) is None


def test_turning_automatic_training_on_restarts_the_schedule():
    solution = _solution(tailorAutoTrainingSince=T0 + 30 * DAY_S)
    assert due_slot(solution, [], T0 + 30 * DAY_S + 10) is None
    assert due_slot(solution, [], T0 + 30 * DAY_S + HOUR) == T0 + 30 * DAY_S + HOUR


def test_progress_values_fit_personalize_tag_values():
    assert describe(
        {"event": "epoch", "phase": "evaluation", "epoch": 2, "loss": 4.21, "ndcg_at_10": 0.118}, 3
    ) == ("phase=evaluation epoch=2/3 loss=4.2100 ndcg@10=0.1180")
    assert describe({"event": "completed", "seconds": 12.5}, 3) == "phase=done seconds=12.5"
    assert describe({"event": "split"}, 3) is None
    assert (
        tag_value("phase=start recipe=aws-x (cpu), ok" + "x" * 300)
        == ("phase=start recipe=aws-x _cpu__ ok" + "x" * 300)[:256]
    )


class _Store:
    def __init__(self) -> None:
        self.writes: list[str] = []

    def update(self, arn, change):
        doc = change({"tags": []})
        self.writes.append(doc["tags"][0]["tagValue"])
        return doc


def test_progress_tag_is_throttled_and_the_last_value_always_written():
    now = [0.0]
    store = _Store()
    tag = ProgressTag("arn:v", interval_s=1.0, store=store, clock=lambda: now[0])  # type: ignore[arg-type]
    tag.feed('{"event": "start", "recipe": "r", "device": "cpu", "hyperparameters": {"epochs": 3}}')
    for epoch in (1, 2, 3):
        now[0] += 0.3
        tag.feed(f'{{"event": "epoch", "phase": "final", "epoch": {epoch}, "loss": 1.0}}')
    tag.feed("not json: a log line")
    tag.flush()
    assert store.writes == ["phase=start recipe=r device=cpu", "phase=final epoch=3/3 loss=1.0000"]
