"""The system's wiring, declared once.

Both the embedded local service (``tailor_local``) and the CDK app (``infra``) read this module, so the
routes, handler entry points, environment variable names and the stream consumer cannot drift
between a laptop and a deployment.
"""

from __future__ import annotations

from dataclasses import dataclass

# Environment variable names every function reads (see functions/config.py for their defaults).
ENV_RESOURCES_TABLE = "TAILOR_RESOURCES_TABLE"
ENV_HISTORY_TABLE = "TAILOR_HISTORY_TABLE"
ENV_ARTIFACTS_BUCKET = "TAILOR_ARTIFACTS_BUCKET"
ENV_EVENTS_STREAM = "TAILOR_EVENTS_STREAM"
ENV_DLQ_QUEUE = "TAILOR_DLQ_QUEUE"
ENV_ACCESS_KEYS = "TAILOR_ACCESS_KEYS"
ENV_WORKFLOW_BACKEND = "TAILOR_WORKFLOW_BACKEND"
ENV_MODEL_CACHE_DIR = "TAILOR_MODEL_CACHE_DIR"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str  # logical function name; one Lambda per function in the deployment
    operation: str | None = None  # rest-json operation served on this path; None for the JSON 1.1 entry


@dataclass(frozen=True)
class Function:
    name: str
    handler: str  # "module.attribute", importable from the functions asset


@dataclass(frozen=True)
class StreamConsumer:
    """A Kinesis event-source mapping: the settings both the poller and CDK apply."""

    stream_env: str
    function: str
    batch_size: int
    max_batching_window_s: int  # whole seconds, as Lambda takes it; 0 = deliver as soon as records arrive
    bisect_on_error: bool
    max_retry_attempts: int
    report_batch_item_failures: bool
    dlq_env: str


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function("control", "functions.handlers.control.handler"),
        Function("runtime", "functions.handlers.runtime.handler"),
        Function("events", "functions.handlers.events.handler"),
        Function("ingest", "functions.handlers.ingest.handler"),
    )
}

ROUTES: tuple[Route, ...] = (
    Route("POST", "/", "control"),
    Route("POST", "/recommendations", "runtime", "GetRecommendations"),
    Route("POST", "/personalize-ranking", "runtime", "GetPersonalizedRanking"),
    Route("POST", "/action-recommendations", "runtime", "GetActionRecommendations"),
    Route("POST", "/events", "events", "PutEvents"),
    Route("POST", "/users", "events", "PutUsers"),
    Route("POST", "/items", "events", "PutItems"),
    Route("POST", "/actions", "events", "PutActions"),
    Route("POST", "/action-interactions", "events", "PutActionInteractions"),
)

EVENTS_CONSUMER = StreamConsumer(
    stream_env=ENV_EVENTS_STREAM,
    function="ingest",
    batch_size=100,
    max_batching_window_s=0,
    bisect_on_error=True,
    max_retry_attempts=3,
    report_batch_item_failures=True,
    dlq_env=ENV_DLQ_QUEUE,
)

# Every request to these routes must be SigV4-signed for this service name.
SIGNING_SERVICE = "personalize"


def route_for(method: str, path: str, routes: tuple[Route, ...] = ROUTES) -> Route | None:
    return next((r for r in routes if r.method == method and r.path == path), None)


@dataclass(frozen=True)
class Table:
    env: str
    partition_key: str
    ttl_attribute: str | None = None


# Storage the functions need; the local service creates these in moto, CDK in the account.
TABLES: tuple[Table, ...] = (
    Table(ENV_RESOURCES_TABLE, "arn"),
    Table(ENV_HISTORY_TABLE, "pk"),
)
BUCKET_ENVS: tuple[str, ...] = (ENV_ARTIFACTS_BUCKET,)
STREAM_ENVS: tuple[str, ...] = (ENV_EVENTS_STREAM,)
QUEUE_ENVS: tuple[str, ...] = (ENV_DLQ_QUEUE,)
