"""Starting long-running work (dataset import, training, campaign deployment).

The control plane only says *what* to run; where it runs is the backend's business: the embedded local
service runs the workflow entry point as a subprocess (``tailor_local.jobs``), tests may run it inline.
"""

from __future__ import annotations

from typing import Protocol

from functions.config import settings

# Workflow kinds; each is a function in functions.workflows.run.
DATASET_IMPORT = "dataset-import"
SOLUTION_VERSION = "solution-version"
CAMPAIGN_DEPLOY = "campaign-deploy"


class WorkflowStarter(Protocol):
    def start(self, kind: str, arn: str) -> None: ...


class InlineStarter:
    """Runs the workflow to completion before returning: for functional tests and scripts."""

    def start(self, kind: str, arn: str) -> None:
        from functions.workflows.run import run_workflow

        run_workflow(kind, arn)


_starter: WorkflowStarter | None = None


def set_starter(starter: WorkflowStarter | None) -> None:
    global _starter
    _starter = starter


def starter() -> WorkflowStarter:
    if _starter is not None:
        return _starter
    backend = settings().workflow_backend
    if backend == "inline":
        return InlineStarter()
    raise RuntimeError(
        f"no workflow backend registered for {backend!r}: the local service registers its job runner "
        "at start-up; set TAILOR_WORKFLOW_BACKEND=inline to run workflows in-process"
    )
