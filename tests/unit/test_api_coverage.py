"""Every operation botocore's models declare for the three Personalize APIs has an implementation that
takes every member of its input shape (the dispatcher passes them as keyword arguments)."""

from __future__ import annotations

import inspect

import botocore.session
import pytest

from functions.ingestion.events_api import Events
from functions.protocol.dispatch import snake_case
from functions.resources.control_plane import ControlPlane
from functions.serving.runtime_api import Runtime

SERVICES = [("personalize", ControlPlane), ("personalize-runtime", Runtime), ("personalize-events", Events)]


@pytest.mark.parametrize(("service", "implementation"), SERVICES)
def test_every_operation_is_implemented(service, implementation):
    model = botocore.session.get_session().get_service_model(service)
    missing = [op for op in model.operation_names if not hasattr(implementation, snake_case(op))]
    assert missing == []


@pytest.mark.parametrize(("service", "implementation"), SERVICES)
def test_every_request_member_is_a_parameter(service, implementation):
    model = botocore.session.get_session().get_service_model(service)
    unaccepted = {}
    for op in model.operation_names:
        shape = model.operation_model(op).input_shape
        parameters = set(inspect.signature(getattr(implementation, snake_case(op))).parameters)
        members = set(shape.members) if shape is not None else set()
        if members - parameters:
            unaccepted[op] = sorted(members - parameters)
    assert unaccepted == {}
