"""The Tailor stack, built from the same wiring declaration the local service reads.

Routes, functions, tables, buckets, streams, queues, workflow kinds and the Kinesis consumer's
settings all come from ``functions.wiring``: adding one there adds it here and in ``tailor serve``
alike. Deployment choices (training on SageMaker or Lambda, the GPU instance type, host-runtime
mode for LocalStack) come from CDK context, read by ``infra.settings``.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnOutput, Duration, Size, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from functions import wiring
from infra import assets
from infra.api import PersonalizeApi
from infra.ingestion import Streams
from infra.monitoring import Alarms
from infra.settings import DeploySettings
from infra.storage import Storage, logical_id
from infra.workflows import IMAGE_CONTEXT_EXCLUDES, ROOT, STEPS_FUNCTION, TRAINING_DOCKERFILE, Workflows


@dataclass(frozen=True)
class Access:
    """What one function may touch; the only place the stack grants data access."""

    tables_rw: tuple[str, ...] = ()
    tables_r: tuple[str, ...] = ()
    bucket: str = ""  # "", "r", "w" (put only) or "rw"
    streams_w: tuple[str, ...] = ()
    queues_send: tuple[str, ...] = ()
    user_data_read: bool = False  # read the buckets users import from (same account)
    user_data_write: bool = False  # write job outputs (batch jobs, dataset exports) to users' buckets
    attribution_metrics: bool = False  # put metric attribution reports in CloudWatch


RES, HIST, IDEM = wiring.ENV_RESOURCES_TABLE, wiring.ENV_HISTORY_TABLE, wiring.ENV_IDEMPOTENCY_TABLE
ACCESS: dict[str, Access] = {
    "control": Access(tables_rw=(RES,), bucket="rw", user_data_read=True),
    "runtime": Access(tables_r=(RES, HIST), bucket="r"),
    # PutItems / PutUsers write dataset overlays to the bucket.
    "events": Access(tables_r=(RES,), bucket="rw", streams_w=(wiring.ENV_EVENTS_STREAM,)),
    # Metric attribution reports read the Items dataset (SUM(Items.PRICE)) from the bucket.
    "ingest": Access(
        tables_rw=(HIST,),
        tables_r=(RES,),
        bucket="rw",
        queues_send=(wiring.ENV_DLQ_QUEUE,),
        attribution_metrics=True,
    ),
    # Data deletion jobs remove histories and PutUsers records (both in the history table).
    "workflow": Access(
        tables_rw=(RES, IDEM, HIST),
        bucket="rw",
        user_data_read=True,
        user_data_write=True,
        attribution_metrics=True,
    ),
    "train": Access(tables_rw=(RES, IDEM), tables_r=(HIST,), bucket="rw", user_data_read=True),
    # Automatic training: reads solutions, creates versions, lists the event archive for new data.
    "scheduler": Access(tables_rw=(RES,), bucket="r"),
}
S3_READ = ["s3:GetObject"]
S3_WRITE = ["s3:PutObject", "s3:DeleteObject"]


class TailorStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DeploySettings | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings or DeploySettings.from_node(self.node)
        self.storage = Storage(self, "Storage")
        self.streams = Streams(self, "Ingestion")
        env: dict[str, str] = {
            wiring.ENV_WORKFLOW_BACKEND: "stepfunctions",
            wiring.ENV_TRAINING_BACKEND: self.settings.training_backend,
            **self.storage.env,
            **self.streams.env,
            "POWERTOOLS_METRICS_NAMESPACE": "Tailor",
            "POWERTOOLS_LOG_LEVEL": "INFO",
            **self.settings.function_env,
        }
        self.functions = self._functions(env)
        self._grant()
        self.api = PersonalizeApi(
            self,
            "Api",
            {r.function: self.functions[r.function] for r in wiring.ROUTES},
            self.settings.api_throttle_rate,
            self.settings.api_throttle_burst,
        )
        self.streams.connect_consumer(wiring.EVENTS_CONSUMER, self.functions[wiring.EVENTS_CONSUMER.function])
        self.workflows = Workflows(
            self,
            "Workflows",
            settings=self.settings,
            functions=dict(self.functions),
            bucket=self.storage.buckets[wiring.ENV_ARTIFACTS_BUCKET],
        )
        self.workflows.grant_training()
        self._connect_starters()
        self._schedules()
        self.alarms = Alarms(
            self,
            "Monitoring",
            functions=self.functions,
            stream_consumer=wiring.EVENTS_CONSUMER.function,
            dead_letter_queues=list(self.streams.queues.values()),
            state_machines=self.workflows.state_machines,
            api=self.api.api,
        )
        self._outputs()

    # -- functions ---------------------------------------------------------------------------------
    def _needed_functions(self) -> list[wiring.Function]:
        needed = {r.function for r in wiring.ROUTES} | {wiring.EVENTS_CONSUMER.function, STEPS_FUNCTION}
        needed |= {s.function for s in wiring.SCHEDULES}
        for spec in wiring.WORKFLOWS.values():
            sagemaker = spec.container_step and self.settings.training_backend == "sagemaker"
            if not sagemaker:
                needed.add(spec.function)
        return [f for f in wiring.FUNCTIONS.values() if f.name in needed]

    def _functions(self, env: dict[str, str]) -> dict[str, lambda_.Function]:
        code = assets.function_code(self.settings.host_runtime)
        functions: dict[str, lambda_.Function] = {}
        for spec in self._needed_functions():
            fn_env = {**env, "POWERTOOLS_SERVICE_NAME": f"tailor-{spec.name}"}
            log_group = logs.LogGroup(self, f"{spec.name.title()}Log", retention=logs.RetentionDays.ONE_MONTH)
            common = dict(
                memory_size=spec.memory_mb,
                timeout=Duration.seconds(spec.timeout_s),
                environment=fn_env,
                tracing=lambda_.Tracing.ACTIVE,
                log_group=log_group,
                architecture=lambda_.Architecture.X86_64,
                # Training and imports write their working files to /tmp.
                ephemeral_storage_size=Size.mebibytes(10240 if spec.timeout_s > 60 else 512),
            )
            if self._runs_training_image(spec):
                # 10,240 MB is 6 vCPUs: the training subprocess may use them all.
                fn_env["TAILOR_TRAINING_THREADS"] = "6"
                # torch does not fit a zip asset (250 MB): the Lambda training step on AWS is the
                # training image, built for CPU, started through the Lambda runtime interface client.
                fn: lambda_.Function = lambda_.DockerImageFunction(
                    self,
                    f"{spec.name.title()}Function",
                    code=lambda_.DockerImageCode.from_image_asset(
                        str(ROOT),
                        file=TRAINING_DOCKERFILE,
                        build_args={"TORCH_VARIANT": "cpu"},
                        entrypoint=["python", "-m", "awslambdaric"],
                        cmd=[spec.handler],
                        exclude=IMAGE_CONTEXT_EXCLUDES,
                    ),
                    **common,
                )
            else:
                fn = lambda_.Function(
                    self,
                    f"{spec.name.title()}Function",
                    runtime=assets.LAMBDA_RUNTIME,
                    handler=spec.handler,
                    code=code,
                    **common,
                )
            functions[spec.name] = fn
        return functions

    def _runs_training_image(self, spec: wiring.Function) -> bool:
        if self.settings.host_runtime or self.settings.training_backend != "lambda":
            return False
        return any(w.container_step and w.function == spec.name for w in wiring.WORKFLOWS.values())

    def _grant(self) -> None:
        tables, buckets = self.storage.tables, self.storage.buckets
        bucket = buckets[wiring.ENV_ARTIFACTS_BUCKET]
        for name, fn in self.functions.items():
            access = ACCESS[name]
            for env_name in access.tables_rw:
                tables[env_name].grant_read_write_data(fn)
            for env_name in access.tables_r:
                tables[env_name].grant_read_data(fn)
            # Explicit S3 actions: the bucket grant helpers use wildcard actions (s3:GetObject*, s3:List*).
            object_actions = (S3_READ if "r" in access.bucket else []) + (
                S3_WRITE if "w" in access.bucket else []
            )
            if object_actions:
                fn.add_to_role_policy(
                    iam.PolicyStatement(actions=object_actions, resources=[bucket.arn_for_objects("*")])
                )
            if "r" in access.bucket:
                fn.add_to_role_policy(
                    iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
                )
            for env_name in access.streams_w:
                self.streams.streams[env_name].grant_write(fn)
            for env_name in access.queues_send:
                self.streams.queues[env_name].grant_send_messages(fn)
            if access.user_data_read:
                # Imports read the bucket the user names in CreateDatasetImportJob; any bucket of
                # this account (Personalize instead assumes the role the user passes).
                fn.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=["s3:GetObject", "s3:ListBucket"],
                        resources=["arn:aws:s3:::*", "arn:aws:s3:::*/*"],
                        conditions={"StringEquals": {"s3:ResourceAccount": self.account}},
                    )
                )
            if access.user_data_write:
                # Batch jobs and dataset exports write where the request says, in this account's buckets.
                fn.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=["s3:PutObject"],
                        resources=["arn:aws:s3:::*/*"],
                        conditions={"StringEquals": {"s3:ResourceAccount": self.account}},
                    )
                )
            if access.attribution_metrics:
                # PutMetricData has no resource-level permissions; the namespace condition scopes it.
                fn.add_to_role_policy(
                    iam.PolicyStatement(
                        actions=["cloudwatch:PutMetricData"],
                        resources=["*"],
                        conditions={
                            "StringEquals": {"cloudwatch:namespace": wiring.METRIC_ATTRIBUTION_NAMESPACE}
                        },
                    )
                )
            if name in {r.function for r in wiring.ROUTES}:
                self.storage.admin_key.grant_read(fn)

    def _connect_starters(self) -> None:
        """Functions that start workflows learn each kind's state machine and may start it.

        Only the route functions: the workflow functions are what the state machines invoke, so
        naming the machines in their environment would make a dependency cycle.
        """
        scheduled = {s.function for s in wiring.SCHEDULES}
        for name in {r.function for r in wiring.ROUTES} | scheduled:
            fn = self.functions[name]
            for kind, machine in self.workflows.state_machines.items():
                fn.add_environment(wiring.state_machine_env(kind), machine.state_machine_arn)
                if name == "control" or name in scheduled:
                    machine.grant_start_execution(fn)

    def _schedules(self) -> None:
        """One EventBridge rule per scheduled function (automatic training)."""
        for schedule in wiring.SCHEDULES:
            events.Rule(
                self,
                f"{schedule.function.title()}Schedule",
                schedule=events.Schedule.rate(Duration.minutes(schedule.rate_minutes)),
                targets=[targets.LambdaFunction(self.functions[schedule.function], retry_attempts=0)],
            )

    def _outputs(self) -> None:
        CfnOutput(
            self, "ApiUrl", value=self.api.url, description="endpoint_url for boto3's personalize clients"
        )
        CfnOutput(
            self,
            "AdminKeySecretName",
            value=self.storage.admin_key.secret_name,
            description="Secrets Manager secret with the admin accessKeyId / secretAccessKey",
        )
        CfnOutput(self, "AdminKeySecretArn", value=self.storage.admin_key.secret_arn)
        CfnOutput(self, "AdminAccessKeyId", value=self.storage.admin_access_key_id)
        CfnOutput(self, "AlarmTopicArn", value=self.alarms.topic.topic_arn)
        for env_name, value in {**self.storage.env, **self.streams.env}.items():
            if env_name != wiring.ENV_ADMIN_KEY_SECRET:
                CfnOutput(self, logical_id(env_name), value=value, description=f"the functions' {env_name}")
