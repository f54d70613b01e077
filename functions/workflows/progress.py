"""Training progress, readable while a solution version is CREATE IN_PROGRESS.

The training container writes JSON lines (``training/entrypoint.py``: ``start``, ``epoch`` with loss and
NDCG@10, ``metrics``, ``export``, ``completed``, ``failed``). The workflow relays them to its log and
turns the newest one into the tag ``tailor:trainingProgress`` on the solution version, which any
Personalize client reads with ListTagsForResource, for example::

    phase=evaluation epoch=2/3 loss=6.8123 ndcg@10=0.1180
    phase=done seconds=41.2 epochs=3

Writes are throttled (at most one per ``interval_s``, the newest line wins) because each is a
conditional update of the version's document; the last value is always written at the end.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from functions.resources.tag_ops import set_tag
from functions.stores.resources import ResourceStore

logger = logging.getLogger(__name__)

TAG_KEY = "tailor:trainingProgress"
MAX_VALUE = 256  # Personalize's TagValue limit
# TagValue's pattern allows letters, digits, spaces and _.:/=+-@ only.
_UNSAFE = re.compile(r"[^\w .:/=+\-@]")


def _number(value: Any, digits: int = 4) -> str:
    return f"{float(value):.{digits}f}"


def describe(event: dict[str, Any], total_epochs: int | None) -> str | None:
    """The tag value for one progress event (None: the event changes nothing worth showing)."""
    kind = event.get("event")
    if kind == "start":
        return f"phase=start recipe={event.get('recipe')} device={event.get('device')}"
    if kind == "epoch":
        epoch = f"{event.get('epoch')}/{total_epochs}" if total_epochs else str(event.get("epoch"))
        parts = [f"phase={event.get('phase', 'final')}", f"epoch={epoch}", f"loss={_number(event['loss'])}"]
        if "ndcg_at_10" in event:
            parts.append(f"ndcg@10={_number(event['ndcg_at_10'])}")
        return " ".join(parts)
    if kind == "update":
        return f"phase=update mode={event.get('mode')} newItems={event.get('new_items')}"
    if kind == "metrics":
        ndcg = event.get("normalized_discounted_cumulative_gain_at_10")
        return "phase=metrics" + (f" ndcg@10={_number(ndcg)}" if ndcg is not None else "")
    if kind == "export":
        return "phase=export"
    if kind == "completed":
        return f"phase=done seconds={event.get('seconds')}"
    if kind == "failed":
        return "phase=failed"
    return None


def tag_value(text: str) -> str:
    return _UNSAFE.sub("_", text)[:MAX_VALUE]


class ProgressTag:
    """Feeds the training container's output lines into the version's progress tag."""

    def __init__(
        self,
        version_arn: str,
        interval_s: float = 1.0,
        store: ResourceStore | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.version_arn = version_arn
        self.interval_s = interval_s
        self.store = store or ResourceStore()
        self.clock = clock
        self.total_epochs: int | None = None
        self.pending: str | None = None
        self.written: str | None = None
        self._last_write = -float("inf")

    def feed(self, line: str) -> None:
        if not line.startswith("{"):
            return
        try:
            event = json.loads(line)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        if event.get("event") in ("start", "update"):
            epochs = event.get("epochs", (event.get("hyperparameters") or {}).get("epochs"))
            self.total_epochs = int(epochs) if isinstance(epochs, int) else None
        value = describe(event, self.total_epochs)
        if value is None:
            return
        self.pending = tag_value(value)
        if self.clock() - self._last_write >= self.interval_s:
            self.flush()

    def flush(self) -> None:
        """Write the newest value if it is not written yet; progress never fails a training."""
        if self.pending is None or self.pending == self.written:
            return
        value = self.pending
        try:
            self.store.update(self.version_arn, lambda doc: set_tag(doc, TAG_KEY, value))
        except Exception as exc:  # noqa: BLE001 - a missed progress update is only logged
            logger.warning("could not record training progress on %s: %s", self.version_arn, exc)
            return
        self.written = value
        self._last_write = self.clock()


def set_progress(version_arn: str, value: str) -> None:
    """Set the progress tag once (the SageMaker path, where the workflow does not see the lines)."""
    try:
        ResourceStore().update(version_arn, lambda doc: set_tag(doc, TAG_KEY, tag_value(value)))
    except Exception as exc:  # noqa: BLE001 - a missed progress update is only logged
        logger.warning("could not record training progress on %s: %s", version_arn, exc)
