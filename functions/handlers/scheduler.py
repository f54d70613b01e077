"""Scheduler Lambda: invoked by an EventBridge rule (``wiring.SCHEDULES``); starts due automatic training.

The rule's event carries nothing we need: what is due is decided from the solutions' documents
(``functions/resources/auto_training.py``), so a missed or repeated invocation changes nothing.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from functions.resources.auto_training import start_due_training

logger = Logger(service="tailor-scheduler")


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = start_due_training()
    if started:
        logger.info("automatic training started", extra={"arns": started})
    return {"arns": started}
