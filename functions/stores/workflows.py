"""Starting long-running work (dataset import, training, campaign deployment).

The control plane only says *what* to run; where it runs is the backend's business: the embedded local
service runs the workflow entry point as a subprocess (``tailor_local.jobs``), tests may run it inline,
and a deployment starts the kind's Step Functions state machine (``StepFunctionsStarter``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

from functions import wiring
from functions.config import settings
from functions.stores.clients import client as aws_client

# Workflow kinds; each is a function in functions.workflows.run. Declared in the wiring, so that the
# deployment creates one state machine per kind from the same list.
DATASET_IMPORT = wiring.WORKFLOW_DATASET_IMPORT
SOLUTION_VERSION = wiring.WORKFLOW_SOLUTION_VERSION
CAMPAIGN_DEPLOY = wiring.WORKFLOW_CAMPAIGN_DEPLOY
BATCH_INFERENCE = wiring.WORKFLOW_BATCH_INFERENCE
BATCH_SEGMENT = wiring.WORKFLOW_BATCH_SEGMENT
DATASET_EXPORT = wiring.WORKFLOW_DATASET_EXPORT
DATA_DELETION = wiring.WORKFLOW_DATA_DELETION
RECOMMENDER = wiring.WORKFLOW_RECOMMENDER


class WorkflowStarter(Protocol):
    def start(self, kind: str, arn: str) -> None: ...


class InlineStarter:
    """Runs the workflow to completion before returning: for functional tests and scripts."""

    def start(self, kind: str, arn: str) -> None:
        from functions.workflows.run import run_workflow

        run_workflow(kind, arn)


_EXECUTION_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def execution_name(kind: str, arn: str) -> str:
    """A Step Functions execution name (<= 80 of [A-Za-z0-9_-]) a person can trace back to the resource.

    The readable part is the end of the ARN (the resource's name); the hash keeps names of long ARNs
    apart, and the random tail lets the same resource run again (UpdateCampaign reuses the ARN).
    """
    digest = hashlib.sha256(arn.encode()).hexdigest()[:8]
    tail = _EXECUTION_NAME_UNSAFE.sub("-", arn.rsplit("/", 1)[-1])[:32]
    return f"{kind[:20]}-{tail}-{digest}-{uuid.uuid4().hex[:12]}"


class StepFunctionsStarter:
    """Starts the state machine the deployment created for the workflow's kind.

    The ARN of each kind's state machine comes from the environment variable the wiring names
    (``wiring.state_machine_env``), set by the CDK stack; a kind without one fails at start-up,
    not at the first request that needs it.
    """

    def __init__(self, client: Any = None, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._machines: dict[str, str] = {}
        missing = []
        for kind in wiring.WORKFLOWS:
            arn = env.get(wiring.state_machine_env(kind), "").strip()
            if arn:
                self._machines[kind] = arn
            else:
                missing.append(wiring.state_machine_env(kind))
        if missing:
            raise RuntimeError(f"workflow backend 'stepfunctions' needs {', '.join(missing)}")
        self._client = client  # None: the per-thread cached client of functions.stores.clients

    def start(self, kind: str, arn: str) -> None:
        machine = self._machines.get(kind)
        if machine is None:
            raise ValueError(f"unknown workflow kind {kind!r}")
        client = self._client if self._client is not None else aws_client("stepfunctions")
        client.start_execution(
            stateMachineArn=machine,
            name=execution_name(kind, arn),
            input=json.dumps({"kind": kind, "arn": arn}),
        )


_starter: WorkflowStarter | None = None


def set_starter(starter: WorkflowStarter | None) -> None:
    global _starter
    _starter = starter


def starter() -> WorkflowStarter:
    global _starter
    if _starter is not None:
        return _starter
    backend = settings().workflow_backend
    if backend == "inline":
        return InlineStarter()
    if backend == "stepfunctions":
        # One client per process: a warm Lambda reuses it across requests.
        _starter = StepFunctionsStarter()
        return _starter
    raise RuntimeError(
        f"no workflow backend registered for {backend!r}: the local service registers its job runner "
        "at start-up; a deployment sets TAILOR_WORKFLOW_BACKEND=stepfunctions; set "
        "TAILOR_WORKFLOW_BACKEND=inline to run workflows in-process"
    )
