"""botocore's service models as the API contract: operation lookup and input validation.

Validation follows the constraint traits of the model (required, type, min/max length, numeric
range, pattern, enum) and words its failures the way AWS front ends do
("1 validation error detected: Value ... at 'name' failed to satisfy constraint: ..."), raised as
the model's ``InvalidInputException``.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

from functions.protocol.errors import InvalidInputException, UnknownOperationException

CONTROL = "personalize"
RUNTIME = "personalize-runtime"
EVENTS = "personalize-events"


@cache
def service_model(service: str) -> ServiceModel:
    return botocore.session.get_session().get_service_model(service)


def operation_model(service: str, operation: str) -> OperationModel:
    model = service_model(service)
    if operation not in model.operation_names:
        raise UnknownOperationException(f"Unknown operation {operation!r} for service {service}.")
    return model.operation_model(operation)


@cache
def _pattern(regex: str) -> re.Pattern[str]:
    # AWS front ends match the whole value against the pattern (Java's String.matches), and the
    # models use Java's Unicode classes, which Python's re spells differently.
    for java, python in _JAVA_CLASSES.items():
        regex = regex.replace(java, python)
    return re.compile(regex, re.DOTALL)


# Only ever used inside [...] or as a whole class; \w covers letters, digits and underscore.
_JAVA_CLASSES = {
    r"\p{ASCII}": r"[\x00-\x7f]",
    r"\p{L}": r"\w",
    r"\p{N}": r"\d",
    r"\p{Z}": r" \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000",
}


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"'{value}'"
    return f"'{value!r}'"


class _Validator:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, path: str, value: Any, constraint: str) -> None:
        self.errors.append(f"Value {_describe(value)} at '{path}' failed to satisfy constraint: {constraint}")

    def check(self, value: Any, shape: Shape, path: str) -> None:
        kind = shape.type_name
        if kind == "structure":
            if not isinstance(value, dict):
                self.fail(path, value, "Member must be a structure")
                return
            for name in shape.required_members:
                if value.get(name) is None:
                    self.fail(f"{path}.{name}" if path else name, None, "Member must not be null")
            for name, member in shape.members.items():
                if value.get(name) is not None:
                    self.check(value[name], member, f"{path}.{name}" if path else name)
        elif kind == "list":
            if not isinstance(value, list):
                self.fail(path, value, "Member must be a list")
                return
            self._length(value, shape, path, len(value))
            for index, item in enumerate(value):
                self.check(item, shape.member, f"{path}.{index + 1}.member")
        elif kind == "map":
            if not isinstance(value, dict):
                self.fail(path, value, "Member must be a map")
                return
            self._length(value, shape, path, len(value))
            for key, item in value.items():
                self.check(key, shape.key, f"{path}.key")
                self.check(item, shape.value, f"{path}.{key}")
        elif kind == "string":
            if not isinstance(value, str):
                self.fail(path, value, "Member must be a string")
                return
            self._length(value, shape, path, len(value))
            enum = shape.enum
            if enum and value not in enum:
                self.fail(path, value, f"Member must satisfy enum value set: [{', '.join(enum)}]")
            regex = shape.metadata.get("pattern")
            if regex and not _pattern(regex).fullmatch(value):
                self.fail(path, value, f"Member must satisfy regular expression pattern: {regex}")
        elif kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                self.fail(path, value, "Member must be an integer")
                return
            self._range(value, shape, path)
        elif kind in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self.fail(path, value, "Member must be a number")
                return
            self._range(value, shape, path)
        elif kind == "boolean":
            if not isinstance(value, bool):
                self.fail(path, value, "Member must be a boolean")
        elif kind == "timestamp":
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                self.fail(path, value, "Member must be a timestamp")

    def _length(self, value: Any, shape: Shape, path: str, length: int) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and length < low:
            self.fail(path, value, f"Member must have length greater than or equal to {low}")
        if high is not None and length > high:
            self.fail(path, value, f"Member must have length less than or equal to {high}")

    def _range(self, value: float, shape: Shape, path: str) -> None:
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            self.fail(path, value, f"Member must have value greater than or equal to {low}")
        if high is not None and value > high:
            self.fail(path, value, f"Member must have value less than or equal to {high}")


def validate_input(service: str, operation: str, params: Any) -> dict[str, Any]:
    """Check ``params`` against the operation's input shape; return them, or raise InvalidInput."""
    op = operation_model(service, operation)
    if params is None:
        params = {}
    if op.input_shape is None:
        return params
    validator = _Validator()
    validator.check(params, op.input_shape, "")
    if validator.errors:
        count = len(validator.errors)
        noun = "error" if count == 1 else "errors"
        raise InvalidInputException(f"{count} validation {noun} detected: " + "; ".join(validator.errors))
    return params
