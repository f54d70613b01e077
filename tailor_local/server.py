"""The embedded local service: gateway, moto, stream poller and job runner on one port."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from functions import config, wiring
from functions.stores import clients, history, workflows
from tailor_local.gateway import Gateway, GatewayServer, moto_wsgi_app
from tailor_local.handlers import DEFAULT_ACCOUNT_ID, Handler, HandlerLoadError, HandlerRegistry
from tailor_local.jobs import Command, CrashRecorder, JobRunner, default_command, record_crash_in_process
from tailor_local.poller import FunctionUnavailable, KinesisPoller
from tailor_local.resources import Provisioned, provision
from tailor_local.scheduler import Scheduler

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4599
DEFAULT_STATE_DIR = ".tailor"

# A service-specific endpoint (or the switch that ignores configured ones) would send the handlers
# somewhere other than this service.
_ENDPOINT_OVERRIDES_PREFIX = "AWS_ENDPOINT_URL_"
_IGNORE_ENDPOINTS = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"


class LocalService:
    """Everything ``tailor serve`` runs, startable in-process (``with LocalService(port=0) as svc``).

    ``functions_override`` replaces handlers of ``wiring.FUNCTIONS`` by name (a callable or a
    ``"module.attribute"``); ``consumer`` replaces the event-source mapping settings; ``poller_options``
    are passed to ``KinesisPoller`` (``poll_interval_s``, ``retry_backoff_s``, ``starting_position``...);
    ``job_command`` and ``crash_recorder`` replace how workflows are run and how a crash is recorded.
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        state_dir: str | os.PathLike[str] = DEFAULT_STATE_DIR,
        *,
        functions_override: Mapping[str, Handler | str] | None = None,
        consumer: wiring.StreamConsumer | None = None,
        poller_options: Mapping[str, Any] | None = None,
        job_command: Command = default_command,
        crash_recorder: CrashRecorder = record_crash_in_process,
        max_jobs: int = 2,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.state_dir = Path(state_dir).resolve()
        self._functions_override = dict(functions_override or {})
        self.consumer = consumer or wiring.EVENTS_CONSUMER
        self._poller_options = dict(poller_options or {})
        self._job_command = job_command
        self._crash_recorder = crash_recorder
        self._max_jobs = max_jobs
        self.handlers: HandlerRegistry | None = None
        self.gateway: Gateway | None = None
        self.jobs: JobRunner | None = None
        self.poller: KinesisPoller | None = None
        self.scheduler: Scheduler | None = None
        self.provisioned: Provisioned | None = None
        self.url: str | None = None
        self.port: int | None = None
        self._server: GatewayServer | None = None
        self._saved_env: dict[str, str | None] = {}
        self._started_at: float | None = None
        self._moto_ready = False
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> str:
        """Bind, provision and start polling; returns the URL once every part is serving."""
        with self._lock:
            if self.url is not None:
                return self.url
            try:
                return self._start()
            except BaseException:
                self._stop()
                raise

    def _start(self) -> str:
        (self.state_dir / "models").mkdir(parents=True, exist_ok=True)
        (self.state_dir / "jobs").mkdir(parents=True, exist_ok=True)
        region = os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.handlers = HandlerRegistry(overrides=self._functions_override, region=region)
        self.gateway = Gateway(
            self.handlers, moto_wsgi_app(), health=self.health, account_id=DEFAULT_ACCOUNT_ID
        )
        self._server = GatewayServer(self.gateway, self.host, self.requested_port)
        clients.set_in_process_transport(self.gateway.send_in_process)
        # The ingest consumer runs in this process, so the history table can be mirrored in memory.
        history.set_local_mirror(history.LocalMirror())
        self.port = self._server.port
        # A wildcard bind is reachable on loopback; the URL is what clients and handlers dial.
        dial_host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        if ":" in dial_host:
            dial_host = f"[{dial_host}]"
        self.url = f"http://{dial_host}:{self.port}"
        self._apply_environment()
        self._server.start()
        self._started_at = time.time()

        settings = config.settings()
        self.provisioned = provision(self._client, settings, region)
        self._moto_ready = True

        self.jobs = JobRunner(
            self.state_dir,
            env=dict(os.environ),
            max_workers=self._max_jobs,
            command=self._job_command,
            crash_recorder=self._crash_recorder,
            on_success=_after_workflow,
        )
        workflows.set_starter(self.jobs)

        options: dict[str, Any] = {
            # A stream this service created holds nothing older than the service; one that existed
            # (moto's state is per process) holds another service's records, which are not ours to replay.
            "starting_position": "LATEST"
            if settings.events_stream in self.provisioned.existing
            else "TRIM_HORIZON",
            **self._poller_options,
        }
        handlers = self.handlers
        function = self.consumer.function

        def invoke_consumer(event: dict[str, Any]) -> Any:
            try:
                handler = handlers.get(function)
            except HandlerLoadError as exc:
                raise FunctionUnavailable(str(exc)) from exc
            return handlers.call(function, handler, event)

        self.poller = KinesisPoller(
            invoke_consumer,
            settings.events_stream,
            consumer=self.consumer,
            dlq_queue_name=settings.dlq_queue,
            endpoint_url=self.url,
            region=region,
            account_id=DEFAULT_ACCOUNT_ID,
            **options,
        )
        self.poller.start()
        # Automatic training (performAutoTraining): EventBridge's schedule in a deployment.
        self.scheduler = Scheduler()
        self.scheduler.start()
        logger.info("Tailor serving at %s (state in %s)", self.url, self.state_dir)
        return self.url

    def stop(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        if self.jobs is not None:
            self.jobs.stop()
            if workflows._starter is self.jobs:
                workflows.set_starter(None)
        if self.poller is not None:
            self.poller.stop()
        if self._server is not None:
            self._server.stop()
        if self.gateway is not None:
            clients.set_in_process_transport(None)
            history.set_local_mirror(None)
            self.gateway.close()
        self._restore_environment()
        self.url = None
        self._server = None
        self._moto_ready = False

    def __enter__(self) -> LocalService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- environment -------------------------------------------------------------------------------

    def environment(self) -> dict[str, str]:
        """The variables the handlers and job subprocesses need to use this service as their AWS."""
        assert self.url is not None
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID") or "test",
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY") or "test",
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            wiring.ENV_WORKFLOW_BACKEND: "local",
            wiring.ENV_MODEL_CACHE_DIR: str(self.state_dir / "models"),
        }

    def _apply_environment(self) -> None:
        wanted: dict[str, str | None] = dict(self.environment())
        for name in os.environ:
            if name.startswith(_ENDPOINT_OVERRIDES_PREFIX) or name == _IGNORE_ENDPOINTS:
                wanted[name] = None
        for name, value in wanted.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        # Settings and clients read the environment once; they must see this service's.
        config.settings.cache_clear()
        clients.reset()

    def _restore_environment(self) -> None:
        if not self._saved_env:
            return
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}
        config.settings.cache_clear()
        clients.reset()

    def _client(self, service: str) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=self.url,
            region_name=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            config=Config(
                retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=2, read_timeout=30
            ),
        )

    # -- health ------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "url": self.url,
            "uptime_s": round(time.time() - self._started_at, 3) if self._started_at else 0.0,
            "state_dir": str(self.state_dir),
            "moto": {
                "ready": self._moto_ready,
                "resources": self.provisioned.describe() if self.provisioned else None,
            },
            "functions": self.handlers.readiness() if self.handlers else {},
            "poller": self.poller.health() if self.poller else None,
            "jobs": self.jobs.health() if self.jobs else None,
            "scheduler": self.scheduler.health() if self.scheduler else None,
        }


def _after_workflow(kind: str, arn: str) -> None:
    # A data deletion job removed histories from the table in its own process; this process's copy of
    # them (history.LocalMirror) must not outlive them.
    if kind == workflows.DATA_DELETION:
        history.clear_local_mirror()
