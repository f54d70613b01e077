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
ENV_IDEMPOTENCY_TABLE = "TAILOR_IDEMPOTENCY_TABLE"
# A deployment's admin key: the Secrets Manager secret (name or ARN) the key store reads.
ENV_ADMIN_KEY_SECRET = "TAILOR_ADMIN_KEY_SECRET"
# Where a deployment's training step runs: "lambda" (the workflow Lambda runs the training container's
# entrypoint as a subprocess) or "sagemaker" (a SageMaker training job, the step functions split it).
ENV_TRAINING_BACKEND = "TAILOR_TRAINING_BACKEND"
# S3 prefix (in the artifacts bucket) for SageMaker training job inputs and outputs.
TRAINING_JOBS_PREFIX = "training-jobs/"
# Metric attribution reports in CloudWatch. Personalize does not document the namespace it reports in (users
# find the metrics by name); a deployment's functions may only put data in this one.
METRIC_ATTRIBUTION_NAMESPACE = "Tailor/MetricAttribution"
ATTRIBUTION_GROUP_DIMENSION = "DatasetGroupArn"
ATTRIBUTION_SOURCE_DIMENSION = "EventAttributionSource"


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
    # Sizing for a deployment; the local service runs every handler in-process and ignores both.
    memory_mb: int = 512
    timeout_s: int = 30


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
        # botocore's service models are parsed at cold start: more memory is more CPU for that.
        Function("control", "functions.handlers.control.handler", memory_mb=1024),
        # 1,769 MB is one full vCPU: onnxruntime scores on one thread.
        Function("runtime", "functions.handlers.runtime.handler", memory_mb=1769),
        Function("events", "functions.handlers.events.handler"),
        Function("ingest", "functions.handlers.ingest.handler"),
        # The steps of every workflow (one handler, the step named in the event). Dataset imports
        # validate whole files in memory; campaign deployment loads the model once to check it.
        Function("workflow", "functions.handlers.workflow.handler", memory_mb=3008, timeout_s=900),
        # The training step when it runs as a Lambda (small data sets, LocalStack): Lambda's maximum
        # memory buys its CPU share, and 15 minutes is Lambda's limit; bigger jobs go to SageMaker.
        Function("train", "functions.handlers.workflow.handler", memory_mb=10240, timeout_s=900),
        # Periodic work (SCHEDULES): starts the automatic solution versions that are due.
        Function("scheduler", "functions.handlers.scheduler.handler", timeout_s=300),
    )
}


@dataclass(frozen=True)
class Schedule:
    """A function a deployment invokes on a fixed rate (an EventBridge rule); ``tailor serve`` runs the
    same work from a thread (``tailor_local.scheduler``) every ``local_interval_s``."""

    function: str
    rate_minutes: int
    local_interval_s: float


# Automatic training: Personalize starts the first one "within one hour", so a check every 15 minutes is
# close enough on AWS; locally a check is cheap (in-memory state), so once a minute.
SCHEDULES: tuple[Schedule, ...] = (Schedule("scheduler", rate_minutes=15, local_interval_s=60.0),)

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

# Long-running work: the control plane names a kind (functions.stores.workflows) and an ARN; the
# deployment runs one state machine per kind, the local service one subprocess per job. Every kind
# is run by functions.workflows.run.run_workflow(kind, arn).
WORKFLOW_DATASET_IMPORT = "dataset-import"
WORKFLOW_SOLUTION_VERSION = "solution-version"
WORKFLOW_CAMPAIGN_DEPLOY = "campaign-deploy"
WORKFLOW_BATCH_INFERENCE = "batch-inference"
WORKFLOW_BATCH_SEGMENT = "batch-segment"
WORKFLOW_DATASET_EXPORT = "dataset-export"
WORKFLOW_DATA_DELETION = "data-deletion"
WORKFLOW_RECOMMENDER = "recommender"


@dataclass(frozen=True)
class Workflow:
    """One kind of long-running work and where a deployment runs it.

    ``function`` runs the whole workflow (``run_workflow``) in one Lambda invocation. A kind with
    ``container_step`` can instead run its heavy part as a SageMaker training job of the training
    image (``prepare`` and ``publish`` steps around it); which one is a deployment setting.
    """

    kind: str
    function: str
    container_step: bool = False
    timeout_s: int = 3600  # the state machine's limit: a stuck step cannot hold a resource forever


WORKFLOWS: dict[str, Workflow] = {
    w.kind: w
    for w in (
        Workflow(WORKFLOW_DATASET_IMPORT, "workflow"),
        Workflow(WORKFLOW_SOLUTION_VERSION, "train", container_step=True, timeout_s=6 * 3600),
        Workflow(WORKFLOW_CAMPAIGN_DEPLOY, "workflow"),
        # Scores every line of the input with the solution version's model, as the runtime does.
        Workflow(WORKFLOW_BATCH_INFERENCE, "workflow"),
        # Ranks users for every line's item or item attributes with a USER_SEGMENTATION model.
        Workflow(WORKFLOW_BATCH_SEGMENT, "workflow"),
        # Writes a dataset's imported and/or incrementally added data to the job's S3 path as CSV.
        Workflow(WORKFLOW_DATASET_EXPORT, "workflow"),
        # Removes the listed users from the group's datasets, recorded events and histories.
        Workflow(WORKFLOW_DATA_DELETION, "workflow"),
        # Trains a recommender's use case as a solution version is trained, then serves it; its updates.
        Workflow(WORKFLOW_RECOMMENDER, "train", container_step=True, timeout_s=6 * 3600),
    )
}


def state_machine_env(kind: str) -> str:
    """The environment variable holding the ARN of the state machine that runs ``kind``."""
    return "TAILOR_STATE_MACHINE_" + kind.upper().replace("-", "_")


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
    # Powertools idempotency records (its default key and expiry attribute names).
    Table(ENV_IDEMPOTENCY_TABLE, "id", ttl_attribute="expiration"),
)
BUCKET_ENVS: tuple[str, ...] = (ENV_ARTIFACTS_BUCKET,)
STREAM_ENVS: tuple[str, ...] = (ENV_EVENTS_STREAM,)
QUEUE_ENVS: tuple[str, ...] = (ENV_DLQ_QUEUE,)
