"""The steps a deployment's state machines call, around ``functions.workflows.run``.

Every kind can run whole in one Lambda invocation (``run``). A kind with a container step (training)
can instead run in three: ``prepare`` writes the training job's input to S3 and returns the job's
settings, Step Functions runs the SageMaker training job with the training image, and ``publish``
stores the model exactly as in-process training does (``run.publish_model``). Whatever fails, the
state machine's catch calls ``fail``, which records a final status (``run.record_crash``), so no
resource stays ``CREATE IN_PROGRESS`` after its execution ended.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
import uuid
from pathlib import Path
from typing import Any

from functions import wiring
from functions.config import settings
from functions.resources import lifecycle as lc
from functions.stores.blobs import BlobStore, split_s3_uri
from functions.stores.resources import ResourceStore
from functions.workflows import recommender, run
from functions.workflows.progress import set_progress

# training.entrypoint.INTERACTIONS_CHANNEL; not imported, because the entrypoint pulls in the
# training stack, which the workflow Lambda's asset leaves out (tests/unit check they agree).
CHANNEL = "interactions"


class StepError(Exception):
    """The step cannot run for this input (a wiring or state machine mistake, not the user's)."""


def training_job_name(version_arn: str) -> str:
    """SageMaker's rules: <= 63 characters of [a-zA-Z0-9-], unique per account and region."""
    digest = hashlib.sha256(version_arn.encode()).hexdigest()[:10]
    return f"tailor-{digest}-{uuid.uuid4().hex[:16]}"


def _channel(name: str, uri: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
    }


def _begin(kind: str, arn: str) -> dict[str, Any]:
    """Move the resource to IN_PROGRESS; the training spec its channels are written from."""
    if kind == wiring.WORKFLOW_RECOMMENDER:
        return recommender.begin(arn)
    return run._set(arn, lc.CREATE_IN_PROGRESS, expect=run.PENDING)


def prepare_training(version_arn: str, kind: str = wiring.WORKFLOW_SOLUTION_VERSION) -> dict[str, Any]:
    """Move the solution version (or recommender) to IN_PROGRESS and upload the job's input channels to
    S3.

    The channels are what the local runner writes under ``<input>/data/`` (``run.write_channels``):
    ``interactions`` always, ``items`` / ``users`` for recipes that read the Items / Users dataset,
    ``previous_model`` for trainingMode UPDATE.
    """
    spec = _begin(kind, version_arn)
    job = training_job_name(version_arn)
    bucket = settings().artifacts_bucket
    prefix = f"{wiring.TRAINING_JOBS_PREFIX}{job}/"
    work = Path(tempfile.mkdtemp(prefix="tailor-prepare-"))
    channels: list[dict[str, Any]] = []
    try:
        run.write_channels(spec, work)
        for channel in sorted(p for p in work.iterdir() if p.is_dir()):
            BlobStore().upload_dir(channel, bucket, f"{prefix}input/{channel.name}/")
            channels.append(_channel(channel.name, f"s3://{bucket}/{prefix}input/{channel.name}/"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # The job's log lines are in CloudWatch Logs, not seen by this workflow: say where they are.
    logs = f"logGroup=/aws/sagemaker/TrainingJobs job={job}"
    set_progress(version_arn, f"phase=training backend=sagemaker {logs}")
    return {
        "trainingJobName": job,
        "inputUri": f"s3://{bucket}/{prefix}input/{CHANNEL}/",
        "inputDataConfig": channels,
        "outputUri": f"s3://{bucket}/{prefix}output/",
        # SageMaker passes hyperparameters as strings, exactly as hyperparameters.json holds them.
        "hyperParameters": run._hyperparameters(spec),
    }


def publish_training(
    version_arn: str,
    model_artifacts: str,
    training_seconds: float,
    kind: str = wiring.WORKFLOW_SOLUTION_VERSION,
) -> None:
    """Unpack SageMaker's model.tar.gz and publish it, unless a stop was asked for meanwhile."""
    solution_version = kind == wiring.WORKFLOW_SOLUTION_VERSION
    if (
        solution_version
        and ResourceStore().get(version_arn, lc.SOLUTION_VERSION)["status"] == lc.CREATE_STOPPING
    ):
        run._set(version_arn, lc.CREATE_STOPPED)
        return
    bucket, key = split_s3_uri(model_artifacts)
    work = Path(tempfile.mkdtemp(prefix="tailor-publish-"))
    try:
        archive = work / "model.tar.gz"
        archive.write_bytes(BlobStore().get(bucket, key))
        model_dir = work / "model"
        with tarfile.open(archive) as tar:
            # The "data" filter refuses absolute paths, links out of the folder and device files.
            tar.extractall(model_dir, filter="data")
        if solution_version:
            run.publish_model(version_arn, model_dir, training_seconds / 3600)
        else:
            recommender.publish(version_arn, model_dir)
        set_progress(version_arn, f"phase=done seconds={round(training_seconds, 3)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def failure_reason(error: str | None, cause: str | None) -> str:
    """What the user sees as failureReason, from a Step Functions catch's Error and Cause."""
    text = cause or ""
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        # SageMaker puts the container's /opt/ml/output/failure here; Lambda its exception message.
        for field in ("FailureReason", "errorMessage"):
            if doc.get(field):
                return str(doc[field])
    if text:
        return text[:1000]
    return f"Internal error: {error or 'the workflow failed'}."


def record_failure(kind: str, arn: str, error: str | None, cause: str | None) -> None:
    run.record_crash(kind, arn, failure_reason(error, cause))


def run_step(event: dict[str, Any]) -> dict[str, Any]:
    """Dispatch one state machine step; the event is the state machine's payload for it."""
    step, kind, arn = event.get("step"), event.get("kind"), event.get("arn")
    if kind not in wiring.WORKFLOWS or not isinstance(arn, str) or not arn:
        raise StepError(f"a workflow step needs a known kind and an arn, got kind={kind!r}")
    if step == "run":
        run.run_workflow(kind, arn)
        return {"kind": kind, "arn": arn}
    if step == "fail":
        record_failure(kind, arn, event.get("error"), event.get("cause"))
        return {"kind": kind, "arn": arn}
    if not wiring.WORKFLOWS[kind].container_step:
        raise StepError(f"workflow {kind!r} has no container step, so no step {step!r}")
    if step == "prepare":
        return prepare_training(arn, kind)
    if step == "publish":
        seconds = float(event.get("trainingSeconds") or 0)
        publish_training(arn, str(event["modelArtifacts"]), seconds, kind)
        return {"kind": kind, "arn": arn}
    raise StepError(f"unknown workflow step {step!r}")
