"""Control plane Lambda: AWS JSON 1.1 requests (``X-Amz-Target: AmazonPersonalize.<Op>``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from functions.protocol.dispatch import handle_json11
from functions.protocol.service_model import CONTROL
from functions.resources.control_plane import ControlPlane

logger = Logger(service="tailor-control")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_json11(event, CONTROL, ControlPlane)
