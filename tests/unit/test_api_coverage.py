"""Every operation botocore's models declare for the three Personalize APIs has an implementation."""

from __future__ import annotations

import botocore.session
import pytest

from functions.ingestion.events_api import Events
from functions.protocol.dispatch import snake_case
from functions.resources.control_plane import ControlPlane
from functions.serving.runtime_api import Runtime


@pytest.mark.parametrize(
    ("service", "implementation"),
    [("personalize", ControlPlane), ("personalize-runtime", Runtime), ("personalize-events", Events)],
)
def test_every_operation_is_implemented(service, implementation):
    model = botocore.session.get_session().get_service_model(service)
    missing = [op for op in model.operation_names if not hasattr(implementation, snake_case(op))]
    assert missing == []
