"""The Tailor stack, built from the same wiring declaration the local service reads.

Routes, functions, tables, buckets, streams, queues and the Kinesis consumer's settings all come
from ``functions.wiring``: adding one there adds it here and in ``tailor serve`` alike.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from functions import wiring

# What the Lambda asset leaves out: everything that is not runtime code.
ASSET_EXCLUDES = [
    ".venv",
    ".git",
    ".tailor",
    "cdk.out",
    "node_modules",
    "tests",
    "bench",
    "demo",
    "training",
    "tailor_local",
    "infra",
    "**/__pycache__",
    "*.md",
]


class TailorStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, code_path: str = ".", **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        env: dict[str, str] = {wiring.ENV_WORKFLOW_BACKEND: "stepfunctions"}

        self.tables: dict[str, dynamodb.Table] = {}
        for spec in wiring.TABLES:
            table = dynamodb.Table(
                self,
                spec.env.title().replace("_", ""),
                partition_key=dynamodb.Attribute(name=spec.partition_key, type=dynamodb.AttributeType.STRING),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                time_to_live_attribute=spec.ttl_attribute,
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                removal_policy=RemovalPolicy.RETAIN,
            )
            self.tables[spec.env] = table
            env[spec.env] = table.table_name

        self.buckets: dict[str, s3.Bucket] = {}
        for name in wiring.BUCKET_ENVS:
            bucket = s3.Bucket(
                self,
                name.title().replace("_", ""),
                encryption=s3.BucketEncryption.S3_MANAGED,
                versioned=True,  # models are stored here; a version survives an accidental overwrite
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                removal_policy=RemovalPolicy.RETAIN,
            )
            self.buckets[name] = bucket
            env[name] = bucket.bucket_name

        self.streams: dict[str, kinesis.Stream] = {}
        for name in wiring.STREAM_ENVS:
            stream = kinesis.Stream(
                self,
                name.title().replace("_", ""),
                shard_count=1,
                encryption=kinesis.StreamEncryption.MANAGED,
                retention_period=Duration.hours(24),
            )
            self.streams[name] = stream
            env[name] = stream.stream_name

        self.queues: dict[str, sqs.Queue] = {}
        for name in wiring.QUEUE_ENVS:
            queue = sqs.Queue(
                self,
                name.title().replace("_", ""),
                encryption=sqs.QueueEncryption.SQS_MANAGED,
                retention_period=Duration.days(14),
                enforce_ssl=True,
            )
            self.queues[name] = queue
            env[name] = queue.queue_name

        code = lambda_.Code.from_asset(code_path, exclude=ASSET_EXCLUDES)
        self.functions: dict[str, lambda_.Function] = {}
        for function in wiring.FUNCTIONS.values():
            self.functions[function.name] = lambda_.Function(
                self,
                f"{function.name.title()}Function",
                runtime=lambda_.Runtime.PYTHON_3_11,
                handler=function.handler,
                code=code,
                memory_size=1024 if function.name == "runtime" else 512,
                timeout=Duration.seconds(30),
                environment={**env, "POWERTOOLS_SERVICE_NAME": f"tailor-{function.name}"},
                tracing=lambda_.Tracing.ACTIVE,
            )
        self._grant()
        self.api = self._api()
        self._consumer()

    def _grant(self) -> None:
        resources = self.tables[wiring.ENV_RESOURCES_TABLE]
        history = self.tables[wiring.ENV_HISTORY_TABLE]
        bucket = self.buckets[wiring.ENV_ARTIFACTS_BUCKET]
        stream = self.streams[wiring.ENV_EVENTS_STREAM]
        fns = self.functions
        resources.grant_read_write_data(fns["control"])
        resources.grant_read_data(fns["runtime"])
        resources.grant_read_data(fns["events"])
        history.grant_read_data(fns["runtime"])
        history.grant_read_write_data(fns["ingest"])
        bucket.grant_read(fns["runtime"])
        bucket.grant_read_write(fns["control"])
        bucket.grant_put(fns["ingest"])
        stream.grant_write(fns["events"])

    def _api(self) -> apigw.RestApi:
        api = apigw.RestApi(
            self,
            "PersonalizeApi",
            rest_api_name="tailor",
            description="Amazon Personalize API (control plane, runtime, events) served by Tailor",
            deploy_options=apigw.StageOptions(stage_name="prod", tracing_enabled=True),
        )
        integrations = {name: apigw.LambdaIntegration(fn, proxy=True) for name, fn in self.functions.items()}
        for route in wiring.ROUTES:
            resource = api.root if route.path == "/" else api.root.resource_for_path(route.path)
            # Authentication is SigV4 against Tailor's own key store, verified in the handler that
            # has the body; API Gateway's IAM auth would demand the caller's AWS credentials instead.
            resource.add_method(route.method, integrations[route.function])
        return api

    def _consumer(self) -> None:
        spec = wiring.EVENTS_CONSUMER
        self.functions[spec.function].add_event_source(
            sources.KinesisEventSource(
                self.streams[spec.stream_env],
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=spec.batch_size,
                max_batching_window=Duration.seconds(spec.max_batching_window_s),
                bisect_batch_on_error=spec.bisect_on_error,
                retry_attempts=spec.max_retry_attempts,
                report_batch_item_failures=spec.report_batch_item_failures,
                on_failure=sources.SqsDlq(self.queues[spec.dlq_env]),
            )
        )
