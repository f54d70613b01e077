"""Workflow entry point: ``python -m functions.workflows.run <kind> <arn>``.

Each workflow moves one resource from ``CREATE PENDING`` to a final status and leaves nothing
half-written: data is validated completely before anything is stored, and a dataset only points at
new data once all of it is in S3. The embedded local service runs this as a subprocess; a deployment
runs the same functions as workflow steps.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from functions.attribution import reports
from functions.config import settings
from functions.ingestion.records import fold
from functions.resources import arns, artifacts, training_columns
from functions.resources import lifecycle as lc
from functions.resources.arns import recipe_name
from functions.resources.metric_attribution_ops import attribution_of
from functions.resources.schema_rules import parse_schema
from functions.stores import workflows
from functions.stores.blobs import BlobStore, split_s3_uri
from functions.stores.resources import ResourceStore
from functions.workflows.csv_validation import CsvValidationError, PersonalizeCsvDialect, validate_csv
from functions.workflows.progress import ProgressTag

logger = logging.getLogger(__name__)

# How often a running training checks whether StopSolutionVersionCreation was called.
STOP_POLL_S = 1.0


class WorkflowFailed(Exception):
    """A failure whose message is shown to the user as ``failureReason``."""


class Superseded(Exception):
    """The resource left the status this step expected (e.g. a stop was requested meanwhile)."""


def _set(
    arn: str, status: str, reason: str | None = None, expect: frozenset[str] | None = None, **fields: Any
) -> dict[str, Any]:
    def change(doc: dict[str, Any]) -> dict[str, Any]:
        if expect is not None and doc["status"] not in expect:
            raise Superseded(doc["status"])
        doc.update(fields)
        return lc.set_status(doc, status, reason)

    return ResourceStore().update(arn, change)


PENDING = frozenset({lc.CREATE_PENDING})
RUNNING = frozenset({lc.CREATE_IN_PROGRESS})


# -- dataset import ------------------------------------------------------------------------------
def object_keys(location: str, keep: Callable[[str], bool], missing: str) -> tuple[str, list[str]]:
    """(bucket, keys): the object at ``location``, or else every object under it, read as a folder,
    that ``keep`` accepts; none is ``WorkflowFailed`` ("Input data not found: <missing> at ...")."""
    bucket, key = split_s3_uri(location)
    blobs = BlobStore()
    if key and not key.endswith("/") and blobs.exists(bucket, key):
        return bucket, [key]
    prefix = key if not key or key.endswith("/") else key + "/"
    keys = [k for k in blobs.keys(bucket, prefix) if keep(k)]
    if not keys:
        raise WorkflowFailed(f"Input data not found: {missing} at {location}.")
    return bucket, keys


def import_dataset(job_arn: str) -> None:
    store = ResourceStore()
    job = _set(job_arn, lc.CREATE_IN_PROGRESS, expect=PENDING)
    dataset = store.get(job["datasetArn"], lc.DATASET)
    schema = parse_schema(store.get(dataset["schemaArn"], lc.SCHEMA)["schema"])
    try:
        bucket, keys = object_keys(
            job["dataSource"]["dataLocation"], lambda k: k.lower().endswith(".csv"), "no CSV file"
        )
    except ValueError as exc:
        raise WorkflowFailed(str(exc)) from exc
    blobs = BlobStore()
    tables = []
    for key in keys:
        try:
            data = blobs.get(bucket, key)
        except Exception as exc:  # noqa: BLE001 - any S3 failure is the user's to fix
            raise WorkflowFailed(f"Could not read s3://{bucket}/{key}: {exc}") from exc
        try:
            tables.append(validate_csv(data, schema, dataset["datasetType"]))
        except CsvValidationError as exc:
            raise WorkflowFailed(f"s3://{bucket}/{key}: {exc}") from exc
    full = job.get("importMode", "FULL") == "FULL"
    to_s3 = bool(job.get("publishAttributionMetricsToS3"))
    # The guide: bulk data is reported to S3 when asked, incremental bulk data to CloudWatch as well.
    totals = _attribution_totals(store, dataset, tables) if to_s3 or not full else None
    if to_s3 and totals is not None:
        _publish_report(totals[0], totals[1], job)
    # Everything validated: only now write, under new keys the dataset does not point at yet.
    job_id = uuid.uuid4().hex[:12]
    new_keys = []
    for index, table in enumerate(tables):
        key = f"{artifacts.dataset_prefix(dataset['datasetArn'])}{job_id}-{index}.csv"
        blobs.put(settings().artifacts_bucket, key, table.to_csv_bytes())
        new_keys.append(key)
    replaced: list[str] = []

    def point_at_new_data(doc: dict[str, Any]) -> dict[str, Any]:
        replaced[:] = doc.get("tailorDataKeys", []) if full else []
        doc["tailorDataKeys"] = new_keys if full else doc.get("tailorDataKeys", []) + new_keys
        doc["lastUpdatedDateTime"] = lc.now()
        return doc

    store.update(dataset["datasetArn"], point_at_new_data)
    blobs.delete(settings().artifacts_bucket, replaced)
    _set(job_arn, lc.ACTIVE)
    if totals is not None and not full:
        # The data is imported by now, so a CloudWatch failure only costs the report.
        try:
            reports.publish_to_cloudwatch(dataset["datasetGroupArn"], totals[1])
        except Exception:  # noqa: BLE001
            logger.exception("metric attribution report of %s was not sent to CloudWatch", job_arn)


def _attribution_totals(
    store: ResourceStore, dataset: dict[str, Any], tables: list[Any]
) -> tuple[dict[str, Any], reports.Totals] | None:
    """The group's metric attribution and its totals over an Interactions import; None when the group has
    no attribution or the dataset is not Interactions."""
    group = dataset["datasetGroupArn"]
    attribution = attribution_of(store, group)
    if attribution is None or dataset["datasetType"].upper() != "INTERACTIONS":
        return None
    interactions = (i for t in tables for i in reports.row_interactions(t.columns, t.rows))
    totals = reports.aggregate(attribution, interactions, reports.item_values(group), reports.sources(store))
    return attribution, totals


def _publish_report(attribution: dict[str, Any], totals: reports.Totals, job: dict[str, Any]) -> None:
    """The import's report to the attribution's S3 path, before the data is switched to: a report that
    cannot be written fails the job with nothing imported."""
    destination = attribution["metricsOutputConfig"].get("s3DataDestination") or {}
    if not destination.get("path"):
        raise WorkflowFailed(
            "publishAttributionMetricsToS3 is set, and metric attribution "
            f"{attribution['metricAttributionArn']} has no s3DataDestination; add one with "
            "UpdateMetricAttribution."
        )
    name = reports.report_name(job.get("importMode", "FULL"))
    write_output(destination["path"], name, reports.report_csv(totals), "the metric attribution report to ")


def write_output(folder_uri: str, name: str, body: bytes, what: str = "") -> None:
    """``body`` as ``name`` under the S3 folder a job's request names; a write that fails (the bucket and
    role are the user's to fix) is WorkflowFailed naming the object."""
    bucket, prefix = split_s3_uri(folder_uri)
    key = (f"{prefix.rstrip('/')}/" if prefix else "") + name
    try:
        BlobStore().put(bucket, key, body)
    except Exception as exc:  # noqa: BLE001 - any S3 failure is the user's to fix
        raise WorkflowFailed(f"Could not write {what}s3://{bucket}/{key}: {exc}") from exc


# -- training ------------------------------------------------------------------------------------
def _write_interactions(version: dict[str, Any], channel: Path) -> None:
    store, blobs, bucket = ResourceStore(), BlobStore(), settings().artifacts_bucket
    channel.mkdir(parents=True)
    # Next-Best-Action learns from action interactions: they go in as the interactions channel with
    # ACTION_ID as the item column, so the training code treats an action as an item.
    on_actions = _recipe_type(version) == "PERSONALIZED_ACTIONS"
    dataset_type = "ACTION_INTERACTIONS" if on_actions else "INTERACTIONS"
    dataset = store.find(arns.dataset_arn(version["datasetGroupArn"], dataset_type))
    header: list[str] = []
    if dataset is not None:
        keep, schema = _training_view(store, version, dataset)
        for index, key in enumerate(dataset.get("tailorDataKeys", [])):
            data = training_columns.filter_csv(blobs.get(bucket, key), keep, PersonalizeCsvDialect)
            if on_actions:
                data = _action_id_as_item_id(data)
            (channel / f"part-{index:04d}.csv").write_bytes(data)
            if not header:
                first_line = io.StringIO(data.decode("utf-8-sig"))
                header = next(csv.reader(first_line, dialect=PersonalizeCsvDialect))
        # Which extra fields are categorical (context such as DEVICE) is the schema's to say.
        (channel / "schema.json").write_text(schema, encoding="utf-8")
    # Events recorded since import are training data too, as in Personalize.
    rows = [e for e in archived_events(version["datasetGroupArn"], on_actions) if e.get("userId")]
    if rows and header:
        out = io.StringIO()
        writer = csv.writer(out, dialect=PersonalizeCsvDialect)
        writer.writerow(header)
        for event in rows:
            writer.writerow(event_row(event, header))
        (channel / "events.csv").write_text(out.getvalue())


def archived_events(dataset_group_arn: str, actions: bool = False) -> list[dict[str, Any]]:
    """The PutEvents events (PutActionInteractions interactions with ``actions``) archived for the group,
    each once: a redelivered event shares its eventId. Events without an item are left out."""
    blobs, bucket = BlobStore(), settings().artifacts_bucket
    seen: set[str] = set()
    events: list[dict[str, Any]] = []
    for key in blobs.keys(bucket, artifacts.event_archive_prefix(dataset_group_arn)):
        for line in blobs.get(bucket, key).decode().splitlines():
            event = json.loads(line)
            if event.get("kind", "event") != ("action-interaction" if actions else "event"):
                continue
            if not event.get("itemId") or event["eventId"] in seen:
                continue
            seen.add(event["eventId"])
            events.append(event)
    return events


_EVENT_COLUMNS: dict[str, Callable[[dict[str, Any]], str]] = {
    "USER_ID": lambda e: e.get("userId") or "",
    "ITEM_ID": lambda e: e["itemId"],
    "ACTION_ID": lambda e: e.get("actionId") or e["itemId"],
    "TIMESTAMP": lambda e: str(int(e["sentAt"])),
    "EVENT_TYPE": lambda e: e["eventType"],
    "EVENT_VALUE": lambda e: "" if e.get("eventValue") is None else str(e["eventValue"]),
}


def event_row(event: dict[str, Any], header: list[str]) -> list[str]:
    """An archived event as a CSV row under ``header`` (an Interactions schema's columns)."""
    return [
        _EVENT_COLUMNS[c.upper()](event) if c.upper() in _EVENT_COLUMNS else _property(event, c)
        for c in header
    ]


def _property(event: dict[str, Any], column: str) -> str:
    """An event's value for an extra Interactions column (e.g. DEVICE): PutEvents carries it in
    ``properties`` under the column's camel-case name (NUMBER_OF_RATINGS -> numberOfRatings)."""
    wanted = fold(column)
    for key, value in (event.get("properties") or {}).items():
        if fold(key) == wanted and value is not None:
            return str(value)
    return ""


def _candidate_recipes(version: dict[str, Any]) -> list[Any]:
    """The catalogue entries the job may train: the version's recipe, or AutoML's candidates."""
    from training.recipes import RECIPES  # the catalogue only: no torch

    if version.get("recipeArn"):
        listed = [version["recipeArn"]]
    else:
        listed = ((version.get("solutionConfig") or {}).get("autoMLConfig") or {}).get("recipeList") or []
    return [RECIPES[name] for name in (recipe_name(a) for a in listed) if name in RECIPES]


def _recipe_type(version: dict[str, Any]) -> str | None:
    # AutoML's candidates are all USER_PERSONALIZATION recipes, so the first one speaks for them.
    infos = _candidate_recipes(version)
    return str(infos[0].recipe_type) if infos else None


def _action_id_as_item_id(data: bytes) -> bytes:
    text = data.decode("utf-8-sig")
    first, _, rest = text.partition("\n")
    columns = next(csv.reader(io.StringIO(first), dialect=PersonalizeCsvDialect))
    renamed = ["ITEM_ID" if column.upper() == "ACTION_ID" else column for column in columns]
    out = io.StringIO()
    csv.writer(out, dialect=PersonalizeCsvDialect).writerow(renamed)
    return (out.getvalue() + rest).encode("utf-8")


def _write_items(version: dict[str, Any], channel: Path) -> None:
    _write_metadata(version, channel, "ITEMS")


def _write_users(version: dict[str, Any], channel: Path) -> None:
    _write_metadata(version, channel, "USERS")


def _write_metadata(version: dict[str, Any], channel: Path, dataset_type: str) -> None:
    """The Items or Users dataset's imported CSV files and its schema, for recipes that read them.

    Written only when the recipe declares the dataset (required or optional) and the group has one: such a
    dataset can be large, and other recipes would copy it for nothing. ``schema.json`` tells the training
    job which fields are categorical, textual or numerical (training/item_metadata.py).
    """
    candidates = _candidate_recipes(version)
    if not any(dataset_type in (*i.required_datasets, *i.optional_datasets) for i in candidates):
        return
    store, blobs, bucket = ResourceStore(), BlobStore(), settings().artifacts_bucket
    dataset = store.find(arns.dataset_arn(version["datasetGroupArn"], dataset_type))
    if dataset is None or not dataset.get("tailorDataKeys"):
        return
    channel.mkdir(parents=True)
    keep, schema = _training_view(store, version, dataset)
    for index, key in enumerate(dataset["tailorDataKeys"]):
        data = training_columns.filter_csv(blobs.get(bucket, key), keep, PersonalizeCsvDialect)
        (channel / f"part-{index:04d}.csv").write_bytes(data)
    (channel / "schema.json").write_text(schema, encoding="utf-8")


def _training_view(
    store: ResourceStore, version: dict[str, Any], dataset: dict[str, Any]
) -> tuple[list[str], str]:
    """The dataset's columns the version trains on (solutionConfig.trainingDataConfig) and its schema
    document reduced to them."""
    text = store.get(dataset["schemaArn"], lc.SCHEMA)["schema"]
    fields = list(parse_schema(text).field_names)
    keep = training_columns.kept(version.get("solutionConfig"), str(dataset["datasetType"]), fields)
    return keep, training_columns.filter_schema(text, keep)


def _hyperparameters(version: dict[str, Any]) -> dict[str, str]:
    # autoTrainingConfig is the control plane's (functions/resources/auto_training.py), not the job's.
    config = {k: v for k, v in (version.get("solutionConfig") or {}).items() if k != "autoTrainingConfig"}
    params = {"tailor_solution_config": json.dumps(config)}
    if version.get("recipeArn"):  # absent with AutoML: the job chooses among autoMLConfig.recipeList
        params["tailor_recipe"] = recipe_name(version["recipeArn"]) or version["recipeArn"]
    if version.get("performAutoML"):
        params["tailor_perform_automl"] = "true"
    elif version.get("performHPO"):
        params["tailor_perform_hpo"] = "true"
    if version.get("eventType"):
        params["tailor_event_type"] = version["eventType"]
    if version.get("trainingMode") == "UPDATE":
        params["tailor_training_mode"] = "UPDATE"
    return params


def _write_previous_model(version: dict[str, Any], data_dir: Path) -> None:
    """An UPDATE starts from the model of the version the control plane chose (training/warm_start.py)."""
    base = version.get("tailorBaseVersionArn")
    if version.get("trainingMode") != "UPDATE" or not base:
        return
    from training.warm_start import PREVIOUS_MODEL_CHANNEL

    channel = data_dir / PREVIOUS_MODEL_CHANNEL
    BlobStore().download_prefix(settings().artifacts_bucket, artifacts.model_prefix(base), channel)
    if not (channel / "manifest.json").exists():
        raise WorkflowFailed(
            f"The model of {base}, which this UPDATE starts from, is gone. Create a FULL version instead."
        )


def _training_command(input_dir: Path, model_dir: Path, output_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "training.entrypoint",
        "--input-dir",
        str(input_dir),
        "--model-dir",
        str(model_dir),
        "--output-dir",
        str(output_dir),
    ]


def _training_env() -> dict[str, str]:
    # Local jobs run side by side on few cores; a PyTorch thread pool per job that spans every
    # core makes them fight (measured here: 6 s alone, 194 s beside one other busy process).
    threads = os.environ.get("TAILOR_TRAINING_THREADS", "1")
    return {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}


def write_channels(spec: dict[str, Any], data_dir: Path) -> None:
    """The training job's input channels under ``data_dir`` for a solution version or a recommender's
    training ``spec`` (the version document's training fields): the local runner and the SageMaker
    path's prepare step write the same ones."""
    _write_interactions(spec, data_dir / "interactions")
    _write_items(spec, data_dir / "items")
    _write_users(spec, data_dir / "users")
    _write_previous_model(spec, data_dir)


@contextmanager
def trained_model(
    spec: dict[str, Any], progress_arn: str, stop_requested: Callable[[], bool]
) -> Iterator[tuple[Path, float] | None]:
    """Run the training container on ``spec`` as a subprocess and yield (model folder, hours), or None
    when ``stop_requested`` turned true first; the folder is removed afterwards. Its progress is shown as
    ``progress_arn``'s ``tailor:trainingProgress`` tag."""
    work = Path(tempfile.mkdtemp(prefix="tailor-train-"))
    try:
        input_dir, model_dir, output_dir = work / "input", work / "model", work / "output"
        write_channels(spec, input_dir / "data")
        (input_dir / "config").mkdir(parents=True)
        (input_dir / "config" / "hyperparameters.json").write_text(json.dumps(_hyperparameters(spec)))
        model_dir.mkdir()
        output_dir.mkdir()
        started = time.monotonic()
        process = subprocess.Popen(
            _training_command(input_dir, model_dir, output_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=_training_env(),
        )
        last_lines: deque[str] = deque(maxlen=3)
        progress = ProgressTag(progress_arn)
        relay = threading.Thread(target=_relay, args=(process, last_lines, progress), daemon=True)
        relay.start()
        while process.poll() is None:
            time.sleep(STOP_POLL_S)
            if stop_requested():
                process.send_signal(signal.SIGTERM)
                process.wait()
                yield None
                return
        relay.join(timeout=5)
        progress.flush()
        hours = (time.monotonic() - started) / 3600
        if process.returncode != 0:
            failure = output_dir / "failure"
            reason = failure.read_text().strip() if failure.exists() else " ".join(last_lines)
            raise WorkflowFailed(reason or f"Training exited with status {process.returncode}.")
        yield model_dir, hours
    finally:
        shutil.rmtree(work, ignore_errors=True)


def train_solution_version(version_arn: str) -> None:
    store = ResourceStore()
    try:
        version = _set(version_arn, lc.CREATE_IN_PROGRESS, expect=PENDING)
    except Superseded:
        record_crash(workflows.SOLUTION_VERSION, version_arn, "Stopped before training started.")
        return

    def stop_requested() -> bool:
        return bool(store.get(version_arn, lc.SOLUTION_VERSION)["status"] == lc.CREATE_STOPPING)

    with trained_model(version, version_arn, stop_requested) as trained:
        if trained is None:
            _set(version_arn, lc.CREATE_STOPPED)
            return
        publish_model(version_arn, *trained)


def publish_model(version_arn: str, model_dir: Path, hours: float) -> None:
    """Store a trained model under its solution version and make the version ACTIVE.

    Shared by the in-process training above and the SageMaker path (functions.workflows.steps).
    """
    BlobStore().upload_dir(model_dir, settings().artifacts_bucket, artifacts.model_prefix(version_arn))
    metrics = json.loads((model_dir / "metrics.json").read_text())
    manifest = json.loads((model_dir / "manifest.json").read_text())
    chosen: dict[str, Any] = {}
    if "automl" in manifest:
        # The version was trained with the recipe AutoML chose; the solution reports it as autoMLResult.
        # Written before the version turns ACTIVE: a caller that polls the version and then describes the
        # solution must find it there.
        chosen["recipeArn"] = f"{arns.RECIPE_PREFIX}{manifest['automl']['best_recipe']}"
        _record_automl_result(arns.solution_of_version(version_arn), chosen["recipeArn"])
    _set(
        version_arn,
        lc.ACTIVE,
        trainingHours=round(hours, 6),
        tailorMetrics=metrics,
        tunedHPOParams={
            # As hyperparameters.json spells them (booleans "true"/"false"), so they can be sent back.
            "algorithmHyperParameters": {
                k: str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in manifest["hyperparameters"].items()
            }
        },
        **chosen,
    )
    sync_campaigns(version_arn)


def _record_automl_result(solution_arn: str, best_recipe_arn: str) -> None:
    def change(doc: dict[str, Any]) -> dict[str, Any]:
        doc["autoMLResult"] = {"bestRecipeArn": best_recipe_arn}
        doc["lastUpdatedDateTime"] = lc.now()
        return doc

    ResourceStore().update(solution_arn, change)


def sync_campaigns(version_arn: str) -> None:
    """Move campaigns created with syncWithLatestSolutionVersion onto a newly ACTIVE version.

    Each goes through the same update as UpdateCampaign: the new model must load, or the campaign keeps
    serving the version it has (its latestCampaignUpdate says why).
    """
    store = ResourceStore()
    solution_arn = arns.solution_of_version(version_arn)
    for campaign in store.list(lc.CAMPAIGN):
        if campaign.get("tailorSyncSolutionArn") != solution_arn or campaign["status"] != lc.ACTIVE:
            continue
        if campaign["solutionVersionArn"] == version_arn:
            continue

        def request(doc: dict[str, Any]) -> dict[str, Any]:
            stamp = lc.now()
            doc["latestCampaignUpdate"] = {
                "solutionVersionArn": version_arn,
                "minProvisionedTPS": doc["minProvisionedTPS"],
                "campaignConfig": doc.get("campaignConfig", {}),
                "status": lc.UPDATE_PENDING,
                "creationDateTime": stamp,
                "lastUpdatedDateTime": stamp,
            }
            return doc

        store.update(campaign["campaignArn"], request)
        _update_campaign(
            campaign["campaignArn"], store.get(campaign["campaignArn"], lc.CAMPAIGN)["latestCampaignUpdate"]
        )


def _relay(process: subprocess.Popen[bytes], last_lines: deque[str], progress: ProgressTag) -> None:
    """Copy the training container's output into this workflow's log, live, keeping the last lines
    and showing the newest progress as the version's ``tailor:trainingProgress`` tag."""
    assert process.stdout is not None
    for raw in process.stdout:
        line = raw.decode("utf-8", "replace").rstrip()
        last_lines.append(line)
        print(line, flush=True)
        progress.feed(line)


# -- campaign deployment -------------------------------------------------------------------------
def _check_model_loads(version_arn: str) -> None:
    from functions.serving.runtime_api import ModelCache

    try:
        ModelCache._load(version_arn)
    except Exception as exc:  # noqa: BLE001 - any load failure keeps the campaign off this model
        raise WorkflowFailed(f"The model of {version_arn} could not be loaded: {exc}") from exc


def deploy_campaign(campaign_arn: str) -> None:
    store = ResourceStore()
    campaign = store.get(campaign_arn, lc.CAMPAIGN)
    update = campaign.get("latestCampaignUpdate")
    if campaign["status"] == lc.ACTIVE and update and update["status"] == lc.UPDATE_PENDING:
        _update_campaign(campaign_arn, update)
        return
    _set(campaign_arn, lc.CREATE_IN_PROGRESS, expect=PENDING)
    _check_model_loads(campaign["solutionVersionArn"])
    _set(campaign_arn, lc.ACTIVE, expect=RUNNING)


def _set_update(campaign_arn: str, status: str, reason: str | None = None, switch: bool = False) -> None:
    def change(doc: dict[str, Any]) -> dict[str, Any]:
        update = doc["latestCampaignUpdate"]
        update["status"] = status
        update["lastUpdatedDateTime"] = lc.now()
        if reason:
            update["failureReason"] = reason
        if switch:
            for key in ("solutionVersionArn", "minProvisionedTPS", "campaignConfig"):
                doc[key] = update[key]
        doc["lastUpdatedDateTime"] = lc.now()
        return doc

    ResourceStore().update(campaign_arn, change)


def _update_campaign(campaign_arn: str, update: dict[str, Any]) -> None:
    _set_update(campaign_arn, lc.UPDATE_IN_PROGRESS)
    try:
        _check_model_loads(update["solutionVersionArn"])
    except WorkflowFailed as exc:
        # The campaign keeps serving its current version.
        _set_update(campaign_arn, lc.UPDATE_FAILED, str(exc))
        return
    _set_update(campaign_arn, lc.ACTIVE, switch=True)


# -- batch inference -----------------------------------------------------------------------------
def batch_inference(job_arn: str) -> None:
    # Imported here: the module pulls in the serving stack (onnxruntime), which other workflows skip.
    from functions.workflows.batch_inference import run_batch_inference

    run_batch_inference(job_arn)


def batch_segment(job_arn: str) -> None:
    # Imported here for the same reason as batch inference: only this workflow needs onnxruntime.
    from functions.workflows.batch_segment import run_batch_segment

    run_batch_segment(job_arn)


def dataset_export(job_arn: str) -> None:
    from functions.workflows.dataset_export import run_dataset_export

    run_dataset_export(job_arn)


def data_deletion(job_arn: str) -> None:
    from functions.workflows.data_deletion import run_data_deletion

    run_data_deletion(job_arn)


def recommender(recommender_arn: str) -> None:
    from functions.workflows.recommender import run_recommender

    run_recommender(recommender_arn)


# -- dispatch ------------------------------------------------------------------------------------
RUNNERS = {
    workflows.DATASET_IMPORT: import_dataset,
    workflows.SOLUTION_VERSION: train_solution_version,
    workflows.CAMPAIGN_DEPLOY: deploy_campaign,
    workflows.BATCH_INFERENCE: batch_inference,
    workflows.BATCH_SEGMENT: batch_segment,
    workflows.DATASET_EXPORT: dataset_export,
    workflows.DATA_DELETION: data_deletion,
    workflows.RECOMMENDER: recommender,
}


def record_crash(kind: str, arn: str, reason: str) -> None:
    """Mark the resource failed if its workflow ended without reaching a final status."""
    doc = ResourceStore().find(arn)
    if doc is None:
        return
    if kind == workflows.CAMPAIGN_DEPLOY and doc.get("status") == lc.ACTIVE:
        update = doc.get("latestCampaignUpdate")
        if update and update["status"] in lc.UPDATING:
            _set_update(arn, lc.UPDATE_FAILED, reason)
        return
    if kind == workflows.DATA_DELETION:
        if doc.get("status") in (lc.PENDING, lc.IN_PROGRESS):
            _set(arn, lc.FAILED, reason)
        return
    if kind == workflows.RECOMMENDER:
        from functions.workflows import recommender as recommender_workflow

        recommender_workflow.record_crash(arn, reason)
        return
    if doc.get("status") in lc.UNFINISHED:
        status = lc.CREATE_STOPPED if doc["status"] == lc.CREATE_STOPPING else lc.CREATE_FAILED
        _set(arn, status, reason if status == lc.CREATE_FAILED else None)


def run_workflow(kind: str, arn: str) -> None:
    try:
        RUNNERS[kind](arn)
    except Superseded:
        record_crash(kind, arn, "The resource changed status while its workflow ran.")
    except WorkflowFailed as exc:
        record_crash(kind, arn, str(exc))
    except Exception as exc:
        record_crash(kind, arn, f"Internal error: {type(exc).__name__}: {exc}")
        raise


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 2 or args[0] not in RUNNERS:
        print(f"usage: python -m functions.workflows.run {{{'|'.join(RUNNERS)}}} ARN", file=sys.stderr)
        return 2
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        run_workflow(args[0], args[1])
    except Exception as exc:  # noqa: BLE001 - the runner records the outcome; exit status says it failed
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
