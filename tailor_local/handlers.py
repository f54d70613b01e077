"""The functions of ``functions.wiring``, loaded in-process as Lambda would load them.

Handlers are imported on first use, not at start-up: a handler module that fails to import (or does
not exist yet) must not keep the rest of the service (S3, IAM, the other handlers) from serving.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from functions import wiring

Handler = Callable[[dict[str, Any], Any], Any]

DEFAULT_ACCOUNT_ID = "123456789012"


@dataclass
class LambdaContext:
    """The attributes Powertools and handlers read from Lambda's context object."""

    function_name: str
    invoked_function_arn: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    log_group_name: str = ""
    log_stream_name: str = "local"
    timeout_s: float = 900.0
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.monotonic, repr=False)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_s - (time.monotonic() - self._started)) * 1000))


class HandlerLoadError(RuntimeError):
    pass


class HandlerRegistry:
    """Resolves a logical function name to its handler callable, once.

    ``overrides`` maps a function name to a callable, or to a ``"module.attribute"`` string, in place of
    the one ``wiring.FUNCTIONS`` declares: tests inject fakes here instead of patching the wiring.
    """

    def __init__(
        self,
        functions: Mapping[str, wiring.Function] | None = None,
        overrides: Mapping[str, Handler | str] | None = None,
        region: str = "us-east-1",
        account_id: str = DEFAULT_ACCOUNT_ID,
    ) -> None:
        self._functions = dict(wiring.FUNCTIONS if functions is None else functions)
        self._overrides = dict(overrides or {})
        self._region = region
        self._account_id = account_id
        self._loaded: dict[str, Handler] = {}
        self._errors: dict[str, str] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return sorted(set(self._functions) | set(self._overrides))

    def _spec(self, name: str) -> Handler | str:
        if name in self._overrides:
            return self._overrides[name]
        if name in self._functions:
            return self._functions[name].handler
        raise HandlerLoadError(f"no function named {name!r} in the wiring")

    def get(self, name: str) -> Handler:
        handler = self._loaded.get(name)
        if handler is not None:
            return handler
        # One import per function even when the first requests arrive together.
        with self._lock:
            handler = self._loaded.get(name)
            if handler is not None:
                return handler
            spec = self._spec(name)
            try:
                handler = spec if callable(spec) else _import(spec)
            except Exception as exc:
                self._errors[name] = f"{type(exc).__name__}: {exc}"
                raise HandlerLoadError(f"function {name!r} could not be loaded: {exc}") from exc
            self._errors.pop(name, None)
            self._loaded[name] = handler
            return handler

    def invoke(self, name: str, event: dict[str, Any], timeout_s: float = 900.0) -> Any:
        return self.call(name, self.get(name), event, timeout_s)

    def call(self, name: str, handler: Handler, event: dict[str, Any], timeout_s: float = 900.0) -> Any:
        """Run an already loaded ``handler`` as function ``name``, with a fresh Lambda context."""
        context = LambdaContext(
            function_name=f"tailor-{name}",
            invoked_function_arn=f"arn:aws:lambda:{self._region}:{self._account_id}:function:tailor-{name}",
            log_group_name=f"/aws/lambda/tailor-{name}",
            timeout_s=timeout_s,
        )
        return handler(event, context)

    def readiness(self) -> dict[str, str]:
        """Per function: loaded, error, available (importable, not yet imported) or missing.

        Checked without importing, so that the health endpoint stays cheap and side-effect free.
        """
        out: dict[str, str] = {}
        for name in self.names():
            if name in self._loaded:
                out[name] = "loaded"
            elif name in self._errors:
                out[name] = f"error: {self._errors[name]}"
            else:
                spec = self._spec(name)
                if callable(spec):
                    out[name] = "available"
                else:
                    out[name] = "available" if _module_exists(spec.rpartition(".")[0]) else "missing"
        return out


def _import(dotted: str) -> Handler:
    module_name, _, attribute = dotted.rpartition(".")
    if not module_name:
        raise HandlerLoadError(f"handler {dotted!r} is not of the form module.attribute")
    handler = getattr(importlib.import_module(module_name), attribute)
    if not callable(handler):
        raise HandlerLoadError(f"handler {dotted!r} is not callable")
    return handler


def _module_exists(module_name: str) -> bool:
    try:
        return importlib.util.find_spec(module_name) is not None
    except (ImportError, ValueError):
        return False
