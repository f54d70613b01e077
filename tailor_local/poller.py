"""A Lambda Kinesis event-source mapping, run in-process against the embedded Kinesis.

Lambda's rules, as declared in ``wiring.StreamConsumer``: one batch in flight per shard, records in
sequence order, batches of up to ``batch_size`` gathered for up to ``max_batching_window_s``;
``batchItemFailures`` checkpoints just before the lowest failed sequence number; a raised error fails
the whole batch, which is split in halves when ``bisect_on_error`` is set (splits do not count as
retries); a record still failing after ``max_retry_attempts`` retries goes to the on-failure queue.

One deliberate difference: Lambda discards the whole retried batch when retries run out, so records
behind a poison record can be lost. Here only the record the failures are attributed to (the head of
the retried batch) is sent to the queue, and delivery continues with the record after it.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config

from functions import wiring

logger = logging.getLogger(__name__)

Invoke = Callable[[dict[str, Any]], Any]
ClientFactory = Callable[[str], Any]

_MAX_GET_RECORDS = 10_000


@dataclass
class PollerStats:
    """Counters for the health endpoint; every update happens under ``lock``."""

    invocations: int = 0
    records_delivered: int = 0  # acknowledged by the function (checkpointed past)
    records_failed: int = 0  # failed deliveries, counted once per record per failed attempt
    records_dlq: int = 0
    batches_failed: int = 0
    bisections: int = 0
    last_error: str | None = None
    shards: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: int) -> None:
        with self.lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "invocations": self.invocations,
                "records_delivered": self.records_delivered,
                "records_failed": self.records_failed,
                "records_dlq": self.records_dlq,
                "batches_failed": self.batches_failed,
                "bisections": self.bisections,
                "last_error": self.last_error,
                "shards": {k: dict(v) for k, v in self.shards.items()},
            }


@dataclass(frozen=True)
class SourceInfo:
    """What every Lambda Kinesis record repeats about where it came from."""

    stream_arn: str
    region: str
    function_arn: str
    invoke_identity_arn: str


def lambda_record(record: Mapping[str, Any], shard_id: str, source: SourceInfo) -> dict[str, Any]:
    """A boto3 ``get_records`` record in the shape Lambda hands a Kinesis consumer."""
    arrival = record.get("ApproximateArrivalTimestamp")
    if isinstance(arrival, datetime):
        arrival_s = arrival.timestamp()
    else:
        arrival_s = float(arrival or time.time())
    sequence = str(record["SequenceNumber"])
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": sequence,
            "data": base64.b64encode(record["Data"]).decode("ascii"),
            "approximateArrivalTimestamp": arrival_s,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": source.invoke_identity_arn,
        "awsRegion": source.region,
        "eventSourceARN": source.stream_arn,
    }


def _sequence(record: Mapping[str, Any]) -> str:
    return str(record["kinesis"]["sequenceNumber"])


class FunctionUnavailable(Exception):
    """The function could not be invoked at all (it does not load): Lambda's "before invocation" case.

    Lambda retries those until the records expire, without counting retries; so does the poller, so
    that a handler that fails to import loses no events and is picked up once it is fixed.
    """


@dataclass(frozen=True)
class _Outcome:
    """How one invocation went: ``acked`` leading records are done; ``failed`` says the rest failed."""

    acked: int
    failed: bool
    whole_batch: bool  # an error or unusable response, as opposed to reported item failures
    reason: str = ""
    failed_count: int = 0


class ShardProcessor:
    """The batching, checkpoint and retry rules for one shard, apart from any I/O.

    ``pending`` holds the records fetched and not yet checkpointed, oldest first; only its head is ever
    invoked, so order holds however failures go.
    """

    def __init__(
        self,
        shard_id: str,
        consumer: wiring.StreamConsumer,
        invoke: Invoke,
        send_to_dlq: Callable[[list[dict[str, Any]], str, int], None],
        stats: PollerStats | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.shard_id = shard_id
        self.consumer = consumer
        self._invoke = invoke
        self._send_to_dlq = send_to_dlq
        self.stats = stats or PollerStats()
        self._clock = clock
        self.pending: deque[dict[str, Any]] = deque()
        self._first_buffered_at: float | None = None
        # Sizes of the batches still owed after bisection, next one last; empty means a full batch.
        self._splits: list[int] = []
        # Failed invocations attributed to the head record (retries are these minus one).
        self.head_failures = 0
        self.last_reason = ""
        self.checkpoint: str | None = None
        self.unavailable = False

    def add(self, records: list[dict[str, Any]]) -> None:
        if records and not self.pending:
            self._first_buffered_at = self._clock()
        self.pending.extend(records)

    @property
    def retrying(self) -> bool:
        return self.head_failures > 0 or bool(self._splits)

    def ready(self) -> bool:
        """Whether a batch should be invoked now (full, window elapsed, or a retry is due)."""
        if not self.pending:
            return False
        if self.retrying or len(self.pending) >= self.consumer.batch_size:
            return True
        started = self._first_buffered_at if self._first_buffered_at is not None else self._clock()
        return self._clock() - started >= self.consumer.max_batching_window_s

    def window_deadline(self) -> float | None:
        if not self.pending or self._first_buffered_at is None:
            return None
        return self._first_buffered_at + self.consumer.max_batching_window_s

    def next_batch(self) -> list[dict[str, Any]]:
        size = self._splits[-1] if self._splits else self.consumer.batch_size
        return [self.pending[i] for i in range(min(size, len(self.pending)))]

    def process(self) -> bool:
        """Invoke the function on the next batch and apply the outcome. True when it succeeded."""
        batch = self.next_batch()
        if not batch:
            return True
        try:
            outcome = self._call(batch)
        except FunctionUnavailable as exc:
            # Nothing ran, so nothing counts against the records: they wait for the function.
            self.unavailable = True
            self.last_reason = str(exc)
            with self.stats.lock:
                self.stats.last_error = self.last_reason
            return False
        self.unavailable = False
        self.stats.add(invocations=1)
        if not outcome.failed:
            self._ack(outcome.acked)
            if self._splits:
                self._splits.pop()
            self.head_failures = 0
            return True

        self.stats.add(batches_failed=1, records_failed=outcome.failed_count)
        self.last_reason = outcome.reason
        with self.stats.lock:
            self.stats.last_error = outcome.reason
        if outcome.acked:
            # Checkpoint just before the lowest failed record: it becomes the head, failing once so far.
            self._ack(outcome.acked)
            self.head_failures = 0
        if not outcome.whole_batch:
            self._splits.clear()
        elif self.consumer.bisect_on_error and len(batch) > 1:
            half = len(batch) // 2
            if self._splits:
                self._splits.pop()
            self._splits.extend([len(batch) - half, half])
            self.stats.add(bisections=1)
            return False
        self.head_failures += 1
        if self.head_failures > self.consumer.max_retry_attempts:
            # With bisection, or reported item failures, the blame is on the head record alone; a
            # failing batch that cannot be narrowed down goes to the queue whole.
            whole = outcome.whole_batch and not self.consumer.bisect_on_error
            self._give_up(len(batch) if whole else 1)
        return False

    def _give_up(self, count: int) -> None:
        doomed = [self.pending[i] for i in range(count)]
        # Raises when the queue cannot take them: they then stay at the head and are retried, rather
        # than being dropped.
        self._send_to_dlq(doomed, self.last_reason, self.head_failures)
        self.stats.add(records_dlq=count)
        self._ack(count, delivered=False)
        if self._splits:
            self._splits.pop()
        self.head_failures = 0

    def _ack(self, count: int, delivered: bool = True) -> None:
        for _ in range(count):
            record = self.pending.popleft()
            self.checkpoint = _sequence(record)
        if delivered:
            self.stats.add(records_delivered=count)
        self._first_buffered_at = self._clock() if self.pending else None

    def _call(self, batch: list[dict[str, Any]]) -> _Outcome:
        try:
            result = self._invoke({"Records": batch})
        except FunctionUnavailable:
            raise
        except Exception as exc:  # the function's error fails its batch, as in Lambda
            logger.warning("consumer failed a batch of %d on %s: %s", len(batch), self.shard_id, exc)
            return _Outcome(0, True, True, f"{type(exc).__name__}: {exc}", len(batch))
        if not self.consumer.report_batch_item_failures:
            return _Outcome(len(batch), False, False)
        return self._partial(batch, result)

    @staticmethod
    def _partial(batch: list[dict[str, Any]], result: Any) -> _Outcome:
        if not isinstance(result, Mapping):
            return _Outcome(len(batch), False, False)
        failures = result.get("batchItemFailures")
        if not failures:
            return _Outcome(len(batch), False, False)
        positions = {_sequence(r): i for i, r in enumerate(batch)}
        failed: list[int] = []
        if not isinstance(failures, list):
            return _Outcome(0, True, True, "invalid batchItemFailures in the function response", len(batch))
        for item in failures:
            identifier = item.get("itemIdentifier") if isinstance(item, Mapping) else None
            # Lambda fails the whole batch on an identifier it cannot place.
            if not identifier or str(identifier) not in positions:
                reason = f"batchItemFailures names an unknown itemIdentifier {identifier!r}"
                return _Outcome(0, True, True, reason, len(batch))
            failed.append(positions[str(identifier)])
        lowest = min(failed)
        sequence = _sequence(batch[lowest])
        return _Outcome(lowest, True, False, f"record {sequence} reported in batchItemFailures", len(failed))


class _ShardWorker(threading.Thread):
    def __init__(self, poller: KinesisPoller, shard_id: str, position: str) -> None:
        super().__init__(name=f"tailor-poller-{shard_id}", daemon=True)
        self.poller = poller
        self.shard_id = shard_id
        self.position = position
        self.finished = threading.Event()
        self.processor = ShardProcessor(
            shard_id,
            poller.consumer,
            poller.invoke,
            lambda records, reason, attempts: poller.send_to_dlq(shard_id, records, reason, attempts),
            poller.stats,
        )
        self._last_fetched: str | None = None

    def run(self) -> None:
        try:
            self._run()
        except Exception:
            logger.exception("shard worker %s stopped", self.shard_id)
        finally:
            self.finished.set()

    def _iterator(self, kinesis: Any) -> str:
        args: dict[str, Any] = {"StreamName": self.poller.stream_name, "ShardId": self.shard_id}
        if self._last_fetched is not None:
            args.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=self._last_fetched)
        elif self.position == "LATEST":
            # Pinned to the first iterator's moment, so that re-acquiring one after an error cannot
            # skip what arrived in between.
            args.update(ShardIteratorType="AT_TIMESTAMP", Timestamp=self.poller.started_at)
        else:
            args.update(ShardIteratorType="TRIM_HORIZON")
        return str(kinesis.get_shard_iterator(**args)["ShardIterator"])

    def _run(self) -> None:
        poller = self.poller
        kinesis = poller.client("kinesis")
        stop = poller.stopping
        processor = self.processor
        iterator: str | None = None
        next_poll = 0.0
        self._publish()
        max_buffer = max(10 * poller.consumer.batch_size, 100)
        while not stop.is_set():
            now = time.monotonic()
            if now >= next_poll and len(processor.pending) < max_buffer:
                next_poll = now + poller.poll_interval_s
                try:
                    if iterator is None:
                        iterator = self._iterator(kinesis)
                    result = kinesis.get_records(
                        ShardIterator=iterator,
                        Limit=min(_MAX_GET_RECORDS, max_buffer - len(processor.pending)),
                    )
                except Exception as exc:
                    logger.warning(
                        "get_records on %s failed, re-acquiring the iterator: %s", self.shard_id, exc
                    )
                    iterator = None
                    stop.wait(min(1.0, poller.poll_interval_s * 10))
                    continue
                records = result.get("Records") or []
                if records:
                    self._last_fetched = str(records[-1]["SequenceNumber"])
                    processor.add([lambda_record(r, self.shard_id, poller.source) for r in records])
                iterator = result.get("NextShardIterator")
                if iterator is None and not processor.pending:
                    return  # a closed shard, read to its end
                if iterator is None:
                    next_poll = float("inf")
            if processor.ready():
                try:
                    ok = processor.process()
                except Exception as exc:
                    # Only the on-failure queue can raise here; the record stays and is retried.
                    logger.error(
                        "could not send a record of %s to the on-failure queue: %s", self.shard_id, exc
                    )
                    ok = False
                self._publish()
                if processor.unavailable:
                    stop.wait(poller.max_backoff_s)
                elif not ok and processor.head_failures:
                    stop.wait(poller.backoff(processor.head_failures))
                continue
            if iterator is None and next_poll == float("inf") and not processor.pending:
                return
            deadline = processor.window_deadline()
            wake = min(next_poll, deadline) if deadline is not None else next_poll
            stop.wait(max(0.0, min(wake - time.monotonic(), poller.poll_interval_s)))

    def _publish(self) -> None:
        with self.poller.stats.lock:
            self.poller.stats.shards[self.shard_id] = {
                "checkpoint": self.processor.checkpoint,
                "pending": len(self.processor.pending),
                "retrying": self.processor.retrying,
            }


class KinesisPoller:
    """Feeds one stream to one function with the event-source mapping rules of ``consumer``."""

    def __init__(
        self,
        invoke: Invoke,
        stream_name: str,
        *,
        consumer: wiring.StreamConsumer = wiring.EVENTS_CONSUMER,
        dlq_queue_name: str | None = None,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        function_name: str | None = None,
        starting_position: str = "TRIM_HORIZON",
        poll_interval_s: float = 0.05,
        retry_backoff_s: float = 0.1,
        max_backoff_s: float = 5.0,
        shard_refresh_s: float = 5.0,
        client_factory: ClientFactory | None = None,
    ) -> None:
        if starting_position not in ("TRIM_HORIZON", "LATEST"):
            raise ValueError(f"starting_position must be TRIM_HORIZON or LATEST, not {starting_position!r}")
        self.invoke = invoke
        self.stream_name = stream_name
        self.consumer = consumer
        self.dlq_queue_name = dlq_queue_name
        self.region = region
        self.account_id = account_id
        self.function_name = function_name or f"tailor-{consumer.function}"
        self.starting_position = starting_position
        self.poll_interval_s = poll_interval_s
        self.retry_backoff_s = retry_backoff_s
        self.max_backoff_s = max_backoff_s
        self.shard_refresh_s = shard_refresh_s
        self._endpoint_url = endpoint_url
        self._client_factory = client_factory
        self.stats = PollerStats()
        self.stopping = threading.Event()
        self.started_at = datetime.now(UTC)
        self.source = SourceInfo(
            stream_arn=f"arn:aws:kinesis:{region}:{account_id}:stream/{stream_name}",
            region=region,
            function_arn=f"arn:aws:lambda:{region}:{account_id}:function:{self.function_name}",
            invoke_identity_arn=f"arn:aws:iam::{account_id}:role/{self.function_name}-role",
        )
        self._workers: dict[str, _ShardWorker] = {}
        self._thread: threading.Thread | None = None
        self._queue_url: str | None = None
        self._local = threading.local()
        self.running = False

    def client(self, service: str) -> Any:
        """One client per service and thread, as boto3 recommends for threads."""
        if self._client_factory is not None:
            return self._client_factory(service)
        cache: dict[str, Any] = self._local.__dict__.setdefault("clients", {})
        if service not in cache:
            cache[service] = boto3.session.Session().client(
                service,
                endpoint_url=self._endpoint_url,
                region_name=self.region,
                config=Config(
                    retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=2, read_timeout=10
                ),
            )
        return cache[service]

    def backoff(self, failures: int) -> float:
        return float(min(self.max_backoff_s, self.retry_backoff_s * 2 ** max(0, failures - 1)))

    def start(self) -> None:
        self.stopping.clear()
        self.started_at = datetime.now(UTC)
        self._thread = threading.Thread(target=self._supervise, name="tailor-poller", daemon=True)
        self.running = True
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        deadline = time.monotonic() + timeout
        if self._thread is not None:
            self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
        for worker in list(self._workers.values()):
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        self.running = False

    def _supervise(self) -> None:
        while not self.stopping.is_set():
            try:
                self._refresh_shards()
            except Exception as exc:
                logger.warning("listing the shards of %s failed: %s", self.stream_name, exc)
                with self.stats.lock:
                    self.stats.last_error = f"list_shards: {exc}"
                self.stopping.wait(min(1.0, self.shard_refresh_s))
                continue
            self.stopping.wait(self.shard_refresh_s)

    def _refresh_shards(self) -> None:
        kinesis = self.client("kinesis")
        summary = kinesis.describe_stream_summary(StreamName=self.stream_name)["StreamDescriptionSummary"]
        if summary.get("StreamARN") and summary["StreamARN"] != self.source.stream_arn:
            self.source = SourceInfo(
                summary["StreamARN"], self.region, self.source.function_arn, self.source.invoke_identity_arn
            )
        shards: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = (
                kinesis.list_shards(NextToken=token)
                if token
                else kinesis.list_shards(StreamName=self.stream_name)
            )
            shards.extend(page.get("Shards") or [])
            token = page.get("NextToken")
            if not token:
                break
        known = {s["ShardId"] for s in shards}
        initial = not self._workers
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id in self._workers:
                continue
            # A child shard waits for its parents to be read to their end, so a key's order holds.
            parents = [shard.get("ParentShardId"), shard.get("AdjacentParentShardId")]
            if any(
                p in known and (p not in self._workers or not self._workers[p].finished.is_set())
                for p in parents
                if p
            ):
                continue
            position = self.starting_position if initial else "TRIM_HORIZON"
            worker = _ShardWorker(self, shard_id, position)
            self._workers[shard_id] = worker
            worker.start()

    def send_to_dlq(self, shard_id: str, records: list[dict[str, Any]], reason: str, attempts: int) -> None:
        """Send failed records to the on-failure queue, in the shape of Lambda's invocation record."""
        if not self.dlq_queue_name:
            logger.error(
                "no on-failure queue: dropping %d records of %s after %s", len(records), shard_id, reason
            )
            return
        sqs = self.client("sqs")
        if self._queue_url is None:
            self._queue_url = sqs.get_queue_url(QueueName=self.dlq_queue_name)["QueueUrl"]

        def arrival(record: dict[str, Any]) -> str:
            seconds = record["kinesis"]["approximateArrivalTimestamp"]
            return (
                datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            )

        body = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.source.function_arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "KinesisBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": _sequence(records[0]),
                "endSequenceNumber": _sequence(records[-1]),
                "approximateArrivalOfFirstRecord": arrival(records[0]),
                "approximateArrivalOfLastRecord": arrival(records[-1]),
                "batchSize": len(records),
                "streamArn": self.source.stream_arn,
            },
            "reason": reason,
            # Lambda sends only the metadata to a queue; the records themselves make replay possible.
            "payload": {"Records": records},
        }
        sqs.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(body))
        logger.warning(
            "sent %d record(s) of %s to %s: %s", len(records), shard_id, self.dlq_queue_name, reason
        )

    def health(self) -> dict[str, Any]:
        snapshot = self.stats.snapshot()
        snapshot.update(
            running=self.running and not self.stopping.is_set(),
            stream=self.stream_name,
            function=self.consumer.function,
        )
        return snapshot
