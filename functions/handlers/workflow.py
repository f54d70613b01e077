"""Workflow-step Lambda: the steps of every workflow's state machine (``functions.workflows.steps``).

Step Functions delivers a task at least once, and retries it when Lambda itself failed. A second
delivery of a step that already ran (or is still running) must not run the workflow twice: the
second ``run`` would find the resource past ``CREATE PENDING`` and fail it. So each step is
idempotent on its execution and step name, with Powertools' idempotency records in DynamoDB.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent,
)

from functions.config import settings
from functions.workflows.steps import run_step

logger = Logger(service="tailor-workflow")
metrics = Metrics(namespace="Tailor", service="tailor-workflow")

_persistence = DynamoDBPersistenceLayer(table_name=settings().idempotency_table)
# The execution id alone is not enough: one execution calls several steps, and a direct invoke
# (no execution) must still be told apart by kind and arn.
_config = IdempotencyConfig(
    event_key_jmespath="[execution, step, kind, arn]", expires_after_seconds=7 * 86400
)


@logger.inject_lambda_context(log_event=True)
@metrics.log_metrics
@idempotent(persistence_store=_persistence, config=_config)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    step = str(event.get("step"))
    metrics.add_dimension(name="step", value=step)
    metrics.add_dimension(name="kind", value=str(event.get("kind")))
    try:
        result = run_step(event)
    except Exception:
        metrics.add_metric(name="WorkflowStepFailed", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="WorkflowStepSucceeded", unit=MetricUnit.Count, value=1)
    return result
