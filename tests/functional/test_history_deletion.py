"""Deleting a user's real-time history, and the local service's in-memory copy of it, under moto."""

from __future__ import annotations

import pytest

from functions.stores import history
from functions.stores.history import HistoryEvent, HistoryStore, LocalMirror, history_key

pytestmark = pytest.mark.functional

KEY = history_key("arn:aws:personalize:us-east-1:123456789012:dataset-group/g", "user-0")


@pytest.fixture
def mirror():
    copy = LocalMirror()
    history.set_local_mirror(copy)
    yield copy
    history.set_local_mirror(None)


def test_deleted_history_is_gone_once_the_copy_is_cleared(aws, mirror):
    store = HistoryStore()
    store.append(KEY, HistoryEvent("e-1", "item-1", 1.0, "click"))
    assert [e.item_id for e in store.events(KEY)] == ["item-1"]
    assert store.delete(KEY) is True and store.delete(KEY) is False
    # Another process deleted it: this process still has its copy until it is told.
    assert [e.item_id for e in store.events(KEY)] == ["item-1"]
    history.clear_local_mirror()
    assert store.events(KEY) == []


def test_a_read_that_started_before_the_clear_cannot_install_what_it_read(mirror):
    _, read_at = mirror.get(KEY)
    mirror.clear()
    mirror.install(KEY, [HistoryEvent("e-1", "item-1", 1.0, "click")], read_at)
    assert mirror.get(KEY)[0] is None
    _, later = mirror.get(KEY)
    mirror.install(KEY, [], later)
    assert mirror.get(KEY)[0] == []
