"""The plux plugin LocalStack loads when LAMBDA_RUNTIME_EXECUTOR=tailor-host."""

from __future__ import annotations

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class HostExecutorPlugin(RuntimeExecutorPlugin):
    name = "tailor-host"

    def load(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - plux's signature
        from tailor_localstack_executor.executor import HostRuntimeExecutor

        return HostRuntimeExecutor
