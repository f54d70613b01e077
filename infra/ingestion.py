"""The events stream, the dead-letter queue and the ingest consumer's event-source mapping."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions import wiring
from infra.storage import logical_id


class Streams(Construct):
    """Created before the functions, whose environment names them."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.env: dict[str, str] = {}
        self.streams: dict[str, kinesis.Stream] = {}
        for name in wiring.STREAM_ENVS:
            stream = kinesis.Stream(
                self,
                logical_id(name),
                # One provisioned shard (1 MB/s, 1,000 records/s in) costs a third of an on-demand
                # stream when idle; raise shard_count, or switch to ON_DEMAND, for heavier traffic.
                stream_mode=kinesis.StreamMode.PROVISIONED,
                shard_count=1,
                encryption=kinesis.StreamEncryption.MANAGED,
                retention_period=Duration.hours(24),
            )
            self.streams[name] = stream
            self.env[name] = stream.stream_name
        self.queues: dict[str, sqs.Queue] = {}
        for name in wiring.QUEUE_ENVS:
            queue = sqs.Queue(
                self,
                logical_id(name),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                retention_period=Duration.days(14),
                enforce_ssl=True,
            )
            self.queues[name] = queue
            self.env[name] = queue.queue_name

    def connect_consumer(self, consumer: wiring.StreamConsumer, function: lambda_.Function) -> None:
        """The event-source mapping, with exactly the settings the local poller applies."""
        function.add_event_source(
            sources.KinesisEventSource(
                self.streams[consumer.stream_env],
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=consumer.batch_size,
                max_batching_window=Duration.seconds(consumer.max_batching_window_s),
                bisect_batch_on_error=consumer.bisect_on_error,
                retry_attempts=consumer.max_retry_attempts,
                report_batch_item_failures=consumer.report_batch_item_failures,
                on_failure=sources.SqsDlq(self.queues[consumer.dlq_env]),
            )
        )
