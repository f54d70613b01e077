"""One Step Functions state machine per workflow kind of ``functions.wiring.WORKFLOWS``.

Generic on purpose: a new kind (batch inference, export) is a wiring entry and a runner in
``functions.workflows.run``; this module builds its state machine without a change.

- Every kind: ``Run`` invokes the kind's function with ``{"step": "run", kind, arn}``, which runs
  ``run_workflow(kind, arn)`` whole.
- A kind with a container step, when training runs on SageMaker: ``Prepare`` (a Lambda writes the
  job's input to S3), ``Train`` (a SageMaker training job of the training image, waited for by
  Step Functions), ``Publish`` (a Lambda stores the model and makes the version ACTIVE).
- Any failure: ``RecordFailure`` gives the resource a final status with the reason, then the
  execution fails, so that its failure metric and alarm see it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import ArnFormat, Aws, Duration, Stack
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from functions import wiring
from infra.settings import DeploySettings

ROOT = Path(__file__).resolve().parents[1]
TRAINING_DOCKERFILE = "training/Dockerfile"
# The Docker build context: what the Dockerfile copies, nothing else (an allow-list).
IMAGE_CONTEXT_EXCLUDES = [
    "*",
    ".*",
    "!pyproject.toml",
    "!functions",
    "!functions/**",
    "!training",
    "!training/**",
]
# The function that runs the prepare, publish and fail steps: light work, any kind.
STEPS_FUNCTION = "workflow"
# Lambda errors that mean the invocation did not run (or another delivery of it still runs).
RETRIABLE = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "IdempotencyAlreadyInProgressError",
]


def training_image(scope: Construct) -> ecr_assets.DockerImageAsset:
    return ecr_assets.DockerImageAsset(
        scope,
        "TrainingImage",
        directory=str(ROOT),
        file=TRAINING_DOCKERFILE,
        exclude=IMAGE_CONTEXT_EXCLUDES,
        platform=ecr_assets.Platform.LINUX_AMD64,
    )


def step_payload(step: str, kind: str, **extra: Any) -> sfn.TaskInput:
    return sfn.TaskInput.from_object(
        {
            "step": step,
            "kind": kind,
            "arn": sfn.JsonPath.string_at("$.arn"),
            # With the step, the idempotency key of the workflow Lambda: a redelivery is a no-op.
            "execution": sfn.JsonPath.string_at("$$.Execution.Id"),
            **extra,
        }
    )


class Workflows(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DeploySettings,
        functions: dict[str, lambda_.IFunction],
        bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self._settings = settings
        self._functions = functions
        self._bucket = bucket
        self._training_role: iam.Role | None = None
        self._image_uri: str | None = None
        self.state_machines: dict[str, sfn.StateMachine] = {}
        for kind, spec in wiring.WORKFLOWS.items():
            self.state_machines[kind] = self._state_machine(spec)

    def uses_sagemaker(self, spec: wiring.Workflow) -> bool:
        return spec.container_step and self._settings.training_backend == "sagemaker"

    def _lambda_step(
        self, id_: str, function: str, payload: sfn.TaskInput, **kwargs: Any
    ) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(
            self,
            id_,
            lambda_function=self._functions[function],
            payload=payload,
            payload_response_only=True,
            retry_on_service_exceptions=False,
            **kwargs,
        )
        task.add_retry(
            errors=RETRIABLE,
            interval=Duration.seconds(10),
            max_attempts=30,
            backoff_rate=1.5,
            max_delay=Duration.minutes(2),
        )
        return task

    def _state_machine(self, spec: wiring.Workflow) -> sfn.StateMachine:
        kind = spec.kind
        prefix = "".join(part.title() for part in kind.split("-"))
        record = self._lambda_step(
            f"{prefix}RecordFailure",
            STEPS_FUNCTION,
            step_payload(
                "fail",
                kind,
                error=sfn.JsonPath.string_at("$.error.Error"),
                cause=sfn.JsonPath.string_at("$.error.Cause"),
            ),
            result_path=sfn.JsonPath.DISCARD,
        ).next(sfn.Fail(self, f"{prefix}Failed", error="WorkflowFailed", cause=f"the {kind} workflow failed"))

        if self.uses_sagemaker(spec):
            prepare = self._lambda_step(
                f"{prefix}Prepare", STEPS_FUNCTION, step_payload("prepare", kind), result_path="$.job"
            )
            train = self._training_job(prefix)
            publish = self._lambda_step(
                f"{prefix}Publish",
                STEPS_FUNCTION,
                step_payload(
                    "publish",
                    kind,
                    modelArtifacts=sfn.JsonPath.string_at("$.training.modelArtifacts"),
                    trainingSeconds=sfn.JsonPath.number_at("$.training.trainingSeconds"),
                ),
                result_path=sfn.JsonPath.DISCARD,
            )
            for state in (prepare, train, publish):
                state.add_catch(record, result_path="$.error")
            definition: sfn.IChainable = prepare.next(train).next(publish)
        else:
            run = self._lambda_step(
                f"{prefix}Run", spec.function, step_payload("run", kind), result_path=sfn.JsonPath.DISCARD
            )
            run.add_catch(record, result_path="$.error")
            definition = run

        log_group = logs.LogGroup(self, f"{prefix}Log", retention=logs.RetentionDays.ONE_MONTH)
        return sfn.StateMachine(
            self,
            f"{prefix}Workflow",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            timeout=Duration.seconds(spec.timeout_s),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ERROR),
        )

    # -- SageMaker -------------------------------------------------------------------------------
    def _training_job(self, prefix: str) -> sfn.CustomState:
        """createTrainingJob.sync, written as ASL: its HyperParameters come whole from Prepare,
        which the typed task construct cannot express (it wants the keys at synth time)."""
        role = self._sagemaker_role()
        image = self._training_image_uri()
        settings = self._settings
        state = sfn.CustomState(
            self,
            f"{prefix}Train",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::sagemaker:createTrainingJob.sync",
                "Parameters": {
                    "TrainingJobName.$": "$.job.trainingJobName",
                    "HyperParameters.$": "$.job.hyperParameters",
                    "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
                    "RoleArn": role.role_arn,
                    # Prepare lists the channels it uploaded (interactions, items, previous_model).
                    "InputDataConfig.$": "$.job.inputDataConfig",
                    "OutputDataConfig": {"S3OutputPath.$": "$.job.outputUri"},
                    "ResourceConfig": {
                        "InstanceCount": 1,
                        "InstanceType": settings.training_instance_type,
                        "VolumeSizeInGB": settings.training_volume_gb,
                    },
                    "StoppingCondition": {"MaxRuntimeInSeconds": settings.training_max_hours * 3600},
                },
                "ResultSelector": {
                    "modelArtifacts.$": "$.ModelArtifacts.S3ModelArtifacts",
                    "trainingSeconds.$": "$.TrainingTimeInSeconds",
                },
                "ResultPath": "$.training",
            },
        )
        return state

    def _training_image_uri(self) -> str:
        if self._image_uri is None:
            asset = training_image(self)
            asset.repository.grant_pull(self._sagemaker_role())
            self._image_uri = asset.image_uri
        return self._image_uri

    def _sagemaker_role(self) -> iam.Role:
        """What the training job itself may do: read its input, write its output, log."""
        if self._training_role is not None:
            return self._training_role
        role = iam.Role(self, "TrainingJobRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
        jobs = self._bucket.arn_for_objects(f"{wiring.TRAINING_JOBS_PREFIX}*")
        role.add_to_policy(iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[jobs]))
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[self._bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{wiring.TRAINING_JOBS_PREFIX}*"]}},
            )
        )
        stack = Stack.of(self)
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="/aws/sagemaker/TrainingJobs*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        # PutMetricData has no resource-level permissions; the namespace condition scopes it.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}},
            )
        )
        self._training_role = role
        return role

    def grant_training(self) -> None:
        """What each state machine with a SageMaker step may do to run and watch its job."""
        if self._training_role is None:
            return
        stack = Stack.of(self)
        for kind, machine in self.state_machines.items():
            if not self.uses_sagemaker(wiring.WORKFLOWS[kind]):
                continue
            machine.add_to_role_policy(
                iam.PolicyStatement(
                    actions=[
                        "sagemaker:CreateTrainingJob",
                        "sagemaker:DescribeTrainingJob",
                        "sagemaker:StopTrainingJob",
                        "sagemaker:AddTags",
                    ],
                    resources=[
                        stack.format_arn(
                            service="sagemaker", resource="training-job", resource_name="tailor-*"
                        )
                    ],
                )
            )
            machine.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["iam:PassRole"],
                    resources=[self._training_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                )
            )
            # A .sync SageMaker task waits through this EventBridge rule, which Step Functions manages.
            machine.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                    resources=[
                        stack.format_arn(
                            service="events",
                            resource="rule",
                            resource_name="StepFunctionsGetEventsForSageMakerTrainingJobsRule",
                        )
                    ],
                )
            )
