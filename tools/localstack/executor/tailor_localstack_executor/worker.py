"""One Lambda execution environment, as a host process (run by the project's interpreter).

Started by ``executor.HostRuntimeExecutor`` with the environment LocalStack computed for the function
(``_HANDLER``, credentials, ``AWS_ENDPOINT_URL``, the function's own variables). It imports the
handler once, like a warm Lambda, then serves invocations: one JSON request a line on stdin, one JSON
result a line on the file descriptor ``TAILOR_WORKER_RESULT_FD``. stdout and stderr stay the
function's log, as in Lambda. This file must not import LocalStack: it runs in another interpreter.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The attributes of Lambda's Python context object that handlers and Powertools read."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.aws_request_id = request["invoke-id"]
        self.invoked_function_arn = request["invoked-function-arn"]
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + float(request["timeout_s"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def main() -> int:
    results = os.fdopen(int(os.environ.pop("TAILOR_WORKER_RESULT_FD")), "w", buffering=1)
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
    module_name, _, attribute = os.environ["_HANDLER"].rpartition(".")
    init_error: dict[str, Any] | None = None
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
    except Exception as exc:  # noqa: BLE001 - reported on every invocation, as Lambda does
        traceback.print_exc()
        init_error = _error(exc, "Runtime.ImportModuleError")
    for line in sys.stdin:
        request = json.loads(line)
        if init_error is not None:
            reply: dict[str, Any] = {"error": init_error}
        else:
            try:
                result = handler(json.loads(request["payload"]), LambdaContext(request))
                reply = {"result": json.dumps(result)}
            except Exception as exc:  # noqa: BLE001 - a function error, returned to the caller
                traceback.print_exc()
                reply = {"error": _error(exc)}
        # Logs first, then the result: the executor reads the log up to here as this invocation's.
        sys.stdout.flush()
        sys.stderr.flush()
        results.write(json.dumps(reply) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
