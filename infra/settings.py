"""The deployment's choices, read once from CDK context (``cdk.json`` or ``-c key=value``).

Only what differs between deployments lives here; everything the functions need (routes, names,
tables, the consumer's settings) comes from ``functions.wiring``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from constructs import Node

TRAINING_BACKENDS = ("sagemaker", "lambda")


def _flag(value: Any) -> bool:
    # `-c hostRuntime=true` arrives as a string, cdk.json as a JSON boolean.
    return value is True or (isinstance(value, str) and value.strip().lower() in ("1", "true", "yes"))


@dataclass(frozen=True)
class DeploySettings:
    # "sagemaker": the training container on a SageMaker training job (GPU); "lambda": the training
    # step is a Lambda (small data sets; the only choice in LocalStack, which has no SageMaker).
    training_backend: str = "sagemaker"
    # Any SageMaker training instance type; ml.g5.xlarge is one NVIDIA A10G (24 GB).
    training_instance_type: str = "ml.g5.xlarge"
    training_volume_gb: int = 50
    training_max_hours: int = 6
    # Functions run on a host that already has their dependencies (LocalStack's host-process
    # executor, and template tests): the asset is the source alone, no bundling, no image build.
    host_runtime: bool = False
    # Extra environment for every function (quotas, log level): {"TAILOR_QUOTA_DATASET_GROUPS": "40"}.
    function_env: dict[str, str] = field(default_factory=dict)
    api_throttle_rate: int = 500
    api_throttle_burst: int = 1000

    @classmethod
    def from_node(cls, node: Node) -> DeploySettings:
        def get(key: str, default: Any) -> Any:
            value = node.try_get_context(key)
            return default if value is None else value

        backend = str(get("trainingBackend", cls.training_backend))
        if backend not in TRAINING_BACKENDS:
            raise ValueError(f"context trainingBackend must be one of {TRAINING_BACKENDS}, got {backend!r}")
        instance = str(get("trainingInstanceType", cls.training_instance_type))
        if not instance.startswith("ml."):
            raise ValueError(f"context trainingInstanceType must be a SageMaker type (ml.*): {instance!r}")
        env = get("functionEnv", {})
        if isinstance(env, str):
            env = json.loads(env) if env.strip() else {}
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            raise ValueError("context functionEnv must be a JSON object of strings")
        return cls(
            training_backend=backend,
            training_instance_type=instance,
            training_volume_gb=int(get("trainingVolumeGb", cls.training_volume_gb)),
            training_max_hours=int(get("trainingMaxHours", cls.training_max_hours)),
            host_runtime=_flag(get("hostRuntime", False)),
            function_env={str(k): v for k, v in env.items()},
            api_throttle_rate=int(get("apiThrottleRate", cls.api_throttle_rate)),
            api_throttle_burst=int(get("apiThrottleBurst", cls.api_throttle_burst)),
        )
