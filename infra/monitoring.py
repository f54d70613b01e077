"""CloudWatch alarms, all notifying one SNS topic (subscribe to it; the stack outputs its ARN)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

# The ingest consumer falls behind when records wait longer than this (PutEvents -> history).
ITERATOR_AGE_ALARM_MS = 60_000


class Alarms(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: dict[str, lambda_.Function],
        stream_consumer: str,
        dead_letter_queues: list[sqs.IQueue],
        state_machines: dict[str, sfn.StateMachine],
        api: apigw.RestApi,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "AlarmTopic", display_name="Tailor alarms", enforce_ssl=True)
        self.alarms: list[cloudwatch.Alarm] = []
        five_minutes = Duration.minutes(5)
        for name, fn in functions.items():
            self._alarm(
                f"{name.title()}Errors",
                fn.metric_errors(period=five_minutes, statistic="Sum"),
                threshold=1,
                description=f"the {name} function raised errors",
            )
            self._alarm(
                f"{name.title()}Throttles",
                fn.metric_throttles(period=five_minutes, statistic="Sum"),
                threshold=1,
                description=f"the {name} function was throttled (concurrency limit)",
            )
        self._alarm(
            "IngestIteratorAge",
            functions[stream_consumer].metric("IteratorAge", period=Duration.minutes(1), statistic="Maximum"),
            threshold=ITERATOR_AGE_ALARM_MS,
            evaluation_periods=5,
            description="events wait more than a minute in Kinesis before the ingest consumer sees them",
        )
        for index, queue in enumerate(dead_letter_queues):
            self._alarm(
                f"DeadLetterDepth{index}",
                queue.metric_approximate_number_of_messages_visible(period=five_minutes, statistic="Maximum"),
                threshold=1,
                description="events were parked in the dead-letter queue: inspect and redrive them",
            )
        for kind, machine in state_machines.items():
            self._alarm(
                "".join(p.title() for p in kind.split("-")) + "ExecutionsFailed",
                machine.metric_failed(period=five_minutes, statistic="Sum"),
                threshold=1,
                description=f"{kind} workflows failed outside the workflow code (timeouts, SageMaker)",
            )
        self._alarm(
            "Api5xx",
            api.metric_server_error(period=five_minutes, statistic="Sum"),
            threshold=5,
            description="API Gateway answered 5XX (function errors or timeouts)",
        )

    def _alarm(
        self,
        id_: str,
        metric: cloudwatch.IMetric,
        *,
        threshold: float,
        description: str,
        evaluation_periods: int = 1,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            id_,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(actions.SnsAction(self.topic))
        self.alarms.append(alarm)
