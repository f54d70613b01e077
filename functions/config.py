"""Settings every function reads from its environment, checked once at cold start."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from functions import wiring


@dataclass(frozen=True)
class Settings:
    resources_table: str
    history_table: str
    artifacts_bucket: str
    events_stream: str
    dlq_queue: str
    workflow_backend: str
    model_cache_dir: str
    idempotency_table: str


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, default).strip()
    if not value:
        raise RuntimeError(f"environment variable {name} is set but empty")
    return value


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings(
        resources_table=_env(wiring.ENV_RESOURCES_TABLE, "tailor-resources"),
        history_table=_env(wiring.ENV_HISTORY_TABLE, "tailor-history"),
        artifacts_bucket=_env(wiring.ENV_ARTIFACTS_BUCKET, "tailor-artifacts"),
        events_stream=_env(wiring.ENV_EVENTS_STREAM, "tailor-events"),
        dlq_queue=_env(wiring.ENV_DLQ_QUEUE, "tailor-ingest-dlq"),
        workflow_backend=_env(wiring.ENV_WORKFLOW_BACKEND, "local"),
        model_cache_dir=_env(wiring.ENV_MODEL_CACHE_DIR, "/tmp/tailor-models"),
        idempotency_table=_env(wiring.ENV_IDEMPOTENCY_TABLE, "tailor-idempotency"),
    )
