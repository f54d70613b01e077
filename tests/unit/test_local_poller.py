"""The event-source mapping rules of the local poller, without Kinesis: a fake function and queue."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import KinesisDataStreamModel

from functions import wiring
from tailor_local.poller import FunctionUnavailable, ShardProcessor, SourceInfo, lambda_record

pytestmark = pytest.mark.unit

SOURCE = SourceInfo(
    stream_arn="arn:aws:kinesis:us-east-1:123456789012:stream/tailor-events",
    region="us-east-1",
    function_arn="arn:aws:lambda:us-east-1:123456789012:function:tailor-ingest",
    invoke_identity_arn="arn:aws:iam::123456789012:role/tailor-ingest-role",
)
CONSUMER = replace(wiring.EVENTS_CONSUMER, batch_size=4, max_batching_window_s=0.0, max_retry_attempts=2)


def records(*names: str, start: int = 1) -> list[dict[str, Any]]:
    return [
        lambda_record(
            {
                "SequenceNumber": str(start + i),
                "PartitionKey": "pk",
                "Data": name.encode(),
                "ApproximateArrivalTimestamp": 1_700_000_000.5,
            },
            "shardId-000000000000",
            SOURCE,
        )
        for i, name in enumerate(names)
    ]


def names(batch: list[dict[str, Any]]) -> list[str]:
    return [base64.b64decode(r["kinesis"]["data"]).decode() for r in batch]


class Harness:
    """A function whose behaviour is keyed on record data, and a queue that keeps what it gets."""

    def __init__(self, consumer: wiring.StreamConsumer = CONSUMER, dlq_fails: bool = False) -> None:
        self.calls: list[list[str]] = []
        self.acked: list[str] = []
        self.dlq: list[tuple[list[str], str, int]] = []
        self.dlq_fails = dlq_fails
        self.failures_left: dict[str, int] = {}
        self.processor = ShardProcessor("shardId-000000000000", consumer, self.invoke, self.send)

    def invoke(self, event: dict[str, Any]) -> Any:
        batch = event["Records"]
        KinesisDataStreamModel.model_validate(event)
        got = names(batch)
        self.calls.append(got)
        if any(n.startswith("raise") for n in got):
            raise RuntimeError("poison")
        failed: list[int] = []
        for position, name in enumerate(got):
            if name.startswith("report") or self.failures_left.get(name, 0) > 0:
                self.failures_left[name] = self.failures_left.get(name, 0) - 1
                failed.append(position)
        first = min(failed, default=len(got))
        self.acked.extend(got[:first])
        return {
            "batchItemFailures": [{"itemIdentifier": batch[i]["kinesis"]["sequenceNumber"]} for i in failed]
        }

    def send(self, batch: list[dict[str, Any]], reason: str, attempts: int) -> None:
        if self.dlq_fails:
            raise ConnectionError("queue unavailable")
        self.dlq.append((names(batch), reason, attempts))

    def drain(self, limit: int = 100) -> None:
        for _ in range(limit):
            if not self.processor.pending:
                return
            self.processor.process()
        raise AssertionError("the processor did not drain")


def test_records_have_the_lambda_kinesis_shape() -> None:
    [record] = records("x")
    event = KinesisDataStreamModel.model_validate({"Records": [record]})
    assert event.Records[0].kinesis.data == b"x"
    assert record["eventID"] == "shardId-000000000000:1"
    assert record["kinesis"]["approximateArrivalTimestamp"] == 1_700_000_000.5


def test_batches_in_order_up_to_batch_size() -> None:
    h = Harness()
    h.processor.add(records(*"abcdefghij"))
    h.drain()
    assert h.calls == [list("abcd"), list("efgh"), list("ij")]
    assert h.processor.checkpoint == "10"
    assert h.processor.stats.records_delivered == 10


def test_batch_item_failure_checkpoints_before_the_lowest_failed_record() -> None:
    h = Harness()
    h.failures_left = {"b": 2}
    h.processor.add(records(*"abcdef"))
    h.drain()
    # b fails twice and then succeeds: it and everything after it are delivered again, never skipped.
    assert h.calls == [list("abcd"), list("bcde"), list("bcde"), ["f"]]
    assert h.acked == list("abcdef")
    assert not h.dlq


def test_reported_poison_goes_to_the_queue_after_the_retries_and_the_rest_continues() -> None:
    h = Harness()
    h.processor.add(records("a", "report", "c", "d", "e"))
    h.drain()
    assert h.dlq == [(["report"], "record 2 reported in batchItemFailures", 3)]
    # The first try and max_retry_attempts retries.
    assert sum("report" in call for call in h.calls) == 1 + CONSUMER.max_retry_attempts
    assert h.acked == ["a", "c", "d", "e"]
    assert h.processor.stats.records_dlq == 1


def test_raised_error_bisects_down_to_the_poison_record() -> None:
    h = Harness()
    h.processor.add(records("a", "b", "raise", "d"))
    h.drain()
    assert h.calls[:3] == [["a", "b", "raise", "d"], ["a", "b"], ["raise", "d"]]
    # Splits do not count as retries: the lone poison is tried 1 + max_retry_attempts times.
    assert h.calls[3:6] == [["raise"]] * (1 + CONSUMER.max_retry_attempts)
    assert h.calls[6:] == [["d"]]
    assert h.dlq == [(["raise"], "RuntimeError: poison", 3)]
    assert set(h.acked) == {"a", "b", "d"}


def test_without_bisect_an_exhausted_batch_goes_to_the_queue_whole() -> None:
    h = Harness(replace(CONSUMER, bisect_on_error=False))
    h.processor.add(records("a", "raise", "c", "d", "e"))
    h.drain()
    assert h.dlq == [(["a", "raise", "c", "d"], "RuntimeError: poison", 3)]
    assert h.acked == ["e"]


@pytest.mark.parametrize(
    "response",
    [
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"itemIdentifier": "999"}]},
        {"batchItemFailures": [{"wrongKey": "1"}]},
        {"batchItemFailures": "1"},
    ],
)
def test_unusable_batch_item_failures_fail_the_whole_batch(response: dict[str, Any]) -> None:
    processor = ShardProcessor("s", CONSUMER, lambda event: response, lambda *a: None)
    processor.add(records("a", "b"))
    assert processor.process() is False
    assert len(processor.pending) == 2
    assert processor.stats.bisections == 1


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, "ok"])
def test_empty_responses_are_success(response: Any) -> None:
    processor = ShardProcessor("s", CONSUMER, lambda event: response, lambda *a: None)
    processor.add(records("a", "b"))
    assert processor.process() is True
    assert not processor.pending


def test_a_record_the_queue_refuses_is_kept_and_retried() -> None:
    h = Harness(dlq_fails=True)
    h.processor.add(records("report", "b"))
    for _ in range(CONSUMER.max_retry_attempts):
        h.processor.process()
    with pytest.raises(ConnectionError):
        h.processor.process()
    assert names(list(h.processor.pending)) == ["report", "b"]
    h.dlq_fails = False
    h.drain()
    assert h.dlq and h.dlq[0][0] == ["report"]
    assert h.acked == ["b"]


def test_batching_window_waits_for_more_records() -> None:
    now = [0.0]
    consumer = replace(CONSUMER, max_batching_window_s=0.1)
    processor = ShardProcessor("s", consumer, lambda event: None, lambda *a: None, clock=lambda: now[0])
    processor.add(records("a"))
    assert not processor.ready()
    now[0] = 0.1
    assert processor.ready()
    processor.add(records("b", "c", "d", start=2))
    assert processor.ready()  # full batch


def test_a_function_that_cannot_load_holds_its_records_without_spending_retries() -> None:
    loads = [False]

    def invoke(event: dict[str, Any]) -> Any:
        if not loads[0]:
            raise FunctionUnavailable("No module named 'functions.handlers.ingest'")
        return None

    sent: list[Any] = []
    processor = ShardProcessor("s", CONSUMER, invoke, lambda *a: sent.append(a))
    processor.add(records("a", "b"))
    for _ in range(10):
        assert processor.process() is False
    assert processor.unavailable and processor.head_failures == 0 and not sent
    assert len(processor.pending) == 2
    loads[0] = True
    assert processor.process() is True
    assert not processor.pending and processor.stats.records_delivered == 2
