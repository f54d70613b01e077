"""The Amazon Personalize control plane: resource state, lifecycles and the rules between resources.

One method per operation, named after it in snake_case and taking the request's members as keyword
arguments (validated against botocore's model before they get here). Methods return the output
shape as a dict. Long work (imports, training, campaign deployment) is handed to a workflow.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from functions.protocol.dispatch import RequestContext
from functions.protocol.errors import (
    InvalidInputException,
    ResourceAlreadyExistsException,
    ResourceInUseException,
    ResourceNotFoundException,
)
from functions.protocol.service_model import CONTROL, service_model
from functions.resources import arns, quotas
from functions.resources import lifecycle as lc
from functions.resources.algorithm_ops import AlgorithmOperations, FeatureTransformationOperations
from functions.resources.batch_ops import BatchInferenceOperations, check_exploration
from functions.resources.batch_segment_ops import BatchSegmentOperations, refuse_segmentation
from functions.resources.data_deletion_ops import DataDeletionOperations
from functions.resources.dataset_export_ops import DatasetExportOperations
from functions.resources.dataset_update import unfinished_imports, update_dataset
from functions.resources.filter_ops import FilterOperations
from functions.resources.group_schemas import group_schemas
from functions.resources.metric_attribution_ops import MetricAttributionOperations, check_report_destination
from functions.resources.pagination import paginate
from functions.resources.recipes import listed_recipes, recipe_catalogue
from functions.resources.recommender_ops import RecommenderOperations, refuse_use_case
from functions.resources.schema_rules import check_for_dataset_type, parse_schema
from functions.resources.tag_ops import TagOperations
from functions.resources.training_columns import check_training_data_config
from functions.resources.training_modes import TrainingOperations, check_auto_training_config
from functions.resources.tuning_rules import check_search
from functions.stores import workflows
from functions.stores.resources import ResourceStore


def summarize(doc: dict[str, Any], summary_shape: str) -> dict[str, Any]:
    """Keep the members of ``doc`` that the model's summary shape declares."""
    members = service_model(CONTROL).shape_for(summary_shape).members
    return {k: v for k, v in doc.items() if k in members and v is not None}


def _without_none(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if v is not None}


class ControlPlane(
    FilterOperations,
    BatchInferenceOperations,
    BatchSegmentOperations,
    TrainingOperations,
    TagOperations,
    AlgorithmOperations,
    FeatureTransformationOperations,
    DatasetExportOperations,
    DataDeletionOperations,
    RecommenderOperations,
    MetricAttributionOperations,
):
    def __init__(self, ctx: RequestContext, store: ResourceStore | None = None) -> None:
        self.ctx = ctx
        self.store = store or ResourceStore()

    # -- helpers -------------------------------------------------------------------------------
    def _arn(self, resource: str) -> str:
        return arns.arn(self.ctx.region, self.ctx.account_id, resource)

    def _get(self, arn: str, resource_type: str) -> dict[str, Any]:
        return self.store.get(arn, resource_type)

    def _list_page(
        self,
        resource_type: str,
        key: str,
        summary_shape: str,
        next_token: str | None,
        max_results: int | None,
        where: Callable[[dict[str, Any]], bool] = lambda _doc: True,
        scope: str = "",
    ) -> dict[str, Any]:
        docs = [d for d in self.store.list(resource_type) if where(d)]
        docs.reverse()  # newest first, as Personalize lists
        page, token = paginate(docs, f"{resource_type}|{scope}", next_token, max_results)
        out: dict[str, Any] = {key: [summarize(d, summary_shape) for d in page]}
        if token:
            out["nextToken"] = token
        return out

    @staticmethod
    def _new_doc(**fields: Any) -> dict[str, Any]:
        stamp = lc.now()
        return _without_none({**fields, "creationDateTime": stamp, "lastUpdatedDateTime": stamp})

    # -- dataset groups ------------------------------------------------------------------------
    def create_dataset_group(
        self,
        name: str,
        roleArn: str | None = None,
        kmsKeyArn: str | None = None,
        domain: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        if kmsKeyArn and not roleArn:
            raise InvalidInputException("A roleArn is required when you specify a kmsKeyArn.")
        quotas.enforce("DATASET_GROUPS", len(self.store.list(lc.DATASET_GROUP)), "dataset groups")
        arn = self._arn(f"dataset-group/{name}")
        doc = self._new_doc(
            name=name,
            datasetGroupArn=arn,
            status=lc.ACTIVE,
            roleArn=roleArn,
            kmsKeyArn=kmsKeyArn,
            domain=domain,
            tags=tags,
        )
        self.store.create(arn, lc.DATASET_GROUP, doc)
        return _without_none({"datasetGroupArn": arn, "domain": domain})

    def describe_dataset_group(self, datasetGroupArn: str) -> dict[str, Any]:
        doc = self._get(datasetGroupArn, lc.DATASET_GROUP)
        doc.pop("tags", None)
        return {"datasetGroup": doc}

    def list_dataset_groups(self, nextToken: str | None = None, maxResults: int | None = None) -> dict:
        return self._list_page(
            lc.DATASET_GROUP, "datasetGroups", "DatasetGroupSummary", nextToken, maxResults
        )

    def delete_dataset_group(self, datasetGroupArn: str) -> None:
        self._get(datasetGroupArn, lc.DATASET_GROUP)
        for resource_type, what in (
            (lc.EVENT_TRACKER, "event trackers"),
            (lc.SOLUTION, "solutions"),
            (lc.RECOMMENDER, "recommenders"),
            (lc.DATASET, "datasets"),
        ):
            if any(d.get("datasetGroupArn") == datasetGroupArn for d in self.store.list(resource_type)):
                raise ResourceInUseException(
                    f"Dataset group {datasetGroupArn} still has {what}. Delete them before deleting "
                    "the dataset group."
                )
        # Filters and the metric attribution belong to the group's data and cannot outlive it.
        for resource_type, key in ((lc.FILTER, "filterArn"), (lc.METRIC_ATTRIBUTION, "metricAttributionArn")):
            for doc in self.store.list(resource_type):
                if doc["datasetGroupArn"] == datasetGroupArn:
                    self.store.delete(doc[key])
        self.store.delete(datasetGroupArn)

    # -- schemas -------------------------------------------------------------------------------
    def create_schema(self, name: str, schema: str, domain: str | None = None) -> dict[str, Any]:
        parse_schema(schema)
        quotas.enforce("SCHEMAS", len(self.store.list(lc.SCHEMA)), "schemas")
        arn = self._arn(f"schema/{name}")
        self.store.create(
            arn, lc.SCHEMA, self._new_doc(name=name, schemaArn=arn, schema=schema, domain=domain)
        )
        return {"schemaArn": arn}

    def describe_schema(self, schemaArn: str) -> dict[str, Any]:
        return {"schema": self._get(schemaArn, lc.SCHEMA)}

    def list_schemas(self, nextToken: str | None = None, maxResults: int | None = None) -> dict[str, Any]:
        return self._list_page(lc.SCHEMA, "schemas", "DatasetSchemaSummary", nextToken, maxResults)

    def delete_schema(self, schemaArn: str) -> None:
        self._get(schemaArn, lc.SCHEMA)
        users = [d["datasetArn"] for d in self.store.list(lc.DATASET) if d.get("schemaArn") == schemaArn]
        if users:
            raise ResourceInUseException(f"Schema {schemaArn} is used by dataset {users[0]}.")
        self.store.delete(schemaArn)

    # -- datasets ------------------------------------------------------------------------------
    def create_dataset(
        self,
        name: str,
        schemaArn: str,
        datasetGroupArn: str,
        datasetType: str,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        group = self._get(datasetGroupArn, lc.DATASET_GROUP)
        schema_doc = self._get(schemaArn, lc.SCHEMA)
        check_for_dataset_type(parse_schema(schema_doc["schema"]), datasetType, group.get("domain"))
        arn = arns.dataset_arn(datasetGroupArn, datasetType)
        doc = self._new_doc(
            name=name,
            datasetArn=arn,
            datasetGroupArn=datasetGroupArn,
            datasetType=datasetType,
            schemaArn=schemaArn,
            status=lc.ACTIVE,
            tags=tags,
        )
        try:
            self.store.create(arn, lc.DATASET, doc, parent_arn=datasetGroupArn)
        except ResourceAlreadyExistsException as err:
            raise ResourceAlreadyExistsException(
                f"Dataset group {datasetGroupArn} already has a dataset of type {datasetType}."
            ) from err
        return {"datasetArn": arn}

    def update_dataset(self, datasetArn: str, schemaArn: str) -> dict[str, Any]:
        return update_dataset(self.store, datasetArn, schemaArn)

    def describe_dataset(self, datasetArn: str) -> dict[str, Any]:
        doc = self._get(datasetArn, lc.DATASET)
        for internal in ("tags", "tailorDataKeys"):
            doc.pop(internal, None)
        return {"dataset": doc}

    def list_datasets(
        self, datasetGroupArn: str | None = None, nextToken: str | None = None, maxResults: int | None = None
    ) -> dict[str, Any]:
        if datasetGroupArn:
            self._get(datasetGroupArn, lc.DATASET_GROUP)
        return self._list_page(
            lc.DATASET,
            "datasets",
            "DatasetSummary",
            nextToken,
            maxResults,
            where=lambda d: not datasetGroupArn or d["datasetGroupArn"] == datasetGroupArn,
            scope=datasetGroupArn or "",
        )

    def delete_dataset(self, datasetArn: str) -> None:
        self._get(datasetArn, lc.DATASET)
        running = [
            j["datasetImportJobArn"]
            for j in self.store.list(lc.DATASET_IMPORT_JOB)
            if j["datasetArn"] == datasetArn and j["status"] in lc.UNFINISHED
        ]
        if running:
            raise ResourceInUseException(f"Dataset {datasetArn} has an import job in progress: {running[0]}.")
        self.store.delete(datasetArn)

    # -- dataset import jobs -------------------------------------------------------------------
    def create_dataset_import_job(
        self,
        jobName: str,
        datasetArn: str,
        dataSource: dict[str, Any],
        roleArn: str | None = None,
        tags: list[dict[str, str]] | None = None,
        importMode: str | None = None,
        publishAttributionMetricsToS3: bool | None = None,
    ) -> dict[str, Any]:
        dataset = self._get(datasetArn, lc.DATASET)
        if publishAttributionMetricsToS3:
            check_report_destination(self.store, dataset)
        location = dataSource.get("dataLocation")
        if not location or not location.startswith("s3://") or len(location) <= len("s3://"):
            raise InvalidInputException(
                f"dataSource.dataLocation must be an s3://bucket/key path of a CSV file or folder, got "
                f"{location!r}."
            )
        pending = unfinished_imports(self.store, datasetArn)
        quotas.enforce(
            "PENDING_IMPORT_JOBS_PER_DATASET", len(pending), "pending import jobs for this dataset"
        )
        arn = self._arn(f"dataset-import-job/{jobName}")
        doc = self._new_doc(
            jobName=jobName,
            datasetImportJobArn=arn,
            datasetArn=datasetArn,
            dataSource=dataSource,
            roleArn=roleArn,
            status=lc.CREATE_PENDING,
            importMode=importMode or "FULL",
            publishAttributionMetricsToS3=publishAttributionMetricsToS3,
            tags=tags,
        )
        self.store.create(arn, lc.DATASET_IMPORT_JOB, doc, parent_arn=datasetArn)
        workflows.starter().start(workflows.DATASET_IMPORT, arn)
        return {"datasetImportJobArn": arn}

    def describe_dataset_import_job(self, datasetImportJobArn: str) -> dict[str, Any]:
        doc = self._get(datasetImportJobArn, lc.DATASET_IMPORT_JOB)
        doc.pop("tags", None)
        return {"datasetImportJob": doc}

    def list_dataset_import_jobs(
        self, datasetArn: str | None = None, nextToken: str | None = None, maxResults: int | None = None
    ) -> dict[str, Any]:
        return self._list_page(
            lc.DATASET_IMPORT_JOB,
            "datasetImportJobs",
            "DatasetImportJobSummary",
            nextToken,
            maxResults,
            where=lambda d: not datasetArn or d["datasetArn"] == datasetArn,
            scope=datasetArn or "",
        )

    # -- recipes -------------------------------------------------------------------------------
    def list_recipes(
        self,
        recipeProvider: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
        domain: str | None = None,
    ) -> dict[str, Any]:
        recipes = [r for r in listed_recipes() if domain is None or r.get("domain") == domain]
        page, token = paginate(recipes, f"recipes|{domain}", nextToken, maxResults)
        out: dict[str, Any] = {"recipes": [summarize(r, "RecipeSummary") for r in page]}
        if token:
            out["nextToken"] = token
        return out

    def describe_recipe(self, recipeArn: str) -> dict[str, Any]:
        for recipe in listed_recipes():
            if recipe["recipeArn"] == recipeArn:
                return {"recipe": summarize(recipe, "Recipe")}
        raise ResourceNotFoundException(f"Could not find resource: {recipeArn}")

    # -- solutions -----------------------------------------------------------------------------
    def create_solution(
        self,
        name: str,
        datasetGroupArn: str,
        recipeArn: str | None = None,
        performHPO: bool | None = None,
        performAutoML: bool | None = None,
        performAutoTraining: bool | None = None,
        performIncrementalUpdate: bool | None = None,
        eventType: str | None = None,
        solutionConfig: dict[str, Any] | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        self._get(datasetGroupArn, lc.DATASET_GROUP)
        refuse_use_case(recipeArn)
        # recipeArn, or HPO / AutoML and their parts of solutionConfig (functions/resources/tuning_rules.py).
        solutionConfig = check_search(
            self.store, datasetGroupArn, recipeArn, bool(performHPO), bool(performAutoML), solutionConfig
        )
        # None only with AutoML, which checked its candidates' datasets itself.
        recipe = next((r for r in recipe_catalogue() if r["recipeArn"] == recipeArn), None)
        check_auto_training_config((solutionConfig or {}).get("autoTrainingConfig"))
        present = {
            d["datasetType"].upper()
            for d in self.store.list(lc.DATASET)
            if d["datasetGroupArn"] == datasetGroupArn
        }
        if (solutionConfig or {}).get("trainingDataConfig"):  # the schemas are read only to check it
            check_training_data_config(solutionConfig, group_schemas(self.store, datasetGroupArn))
        required = recipe["tailorRequiredDatasets"] if recipe else ()
        missing = [t for t in required if t.upper() not in present]
        if missing:
            raise InvalidInputException(
                f"Recipe {recipeArn} needs a {missing[0]} dataset in dataset group {datasetGroupArn}; "
                "create it first."
            )
        in_group = [s for s in self.store.list(lc.SOLUTION) if s["datasetGroupArn"] == datasetGroupArn]
        quotas.enforce("SOLUTIONS_PER_DATASET_GROUP", len(in_group), "solutions in this dataset group")
        arn = self._arn(f"solution/{name}")
        doc = self._new_doc(
            name=name,
            solutionArn=arn,
            performHPO=bool(performHPO),
            performAutoML=bool(performAutoML),
            # Personalize's default is true: a new solution retrains every 7 days (training_modes.py).
            performAutoTraining=True if performAutoTraining is None else performAutoTraining,
            performIncrementalUpdate=bool(performIncrementalUpdate),
            recipeArn=recipeArn,
            datasetGroupArn=datasetGroupArn,
            eventType=eventType,
            solutionConfig=solutionConfig or {},
            status=lc.ACTIVE,
            tags=tags,
        )
        self.store.create(arn, lc.SOLUTION, doc, parent_arn=datasetGroupArn)
        return {"solutionArn": arn}

    def _solution_with_latest(self, doc: dict[str, Any]) -> dict[str, Any]:
        versions = [v for v in self.store.list(lc.SOLUTION_VERSION) if v["solutionArn"] == doc["solutionArn"]]
        if versions:
            doc["latestSolutionVersion"] = summarize(versions[-1], "SolutionVersionSummary")
        return doc

    def describe_solution(self, solutionArn: str) -> dict[str, Any]:
        doc = self._get(solutionArn, lc.SOLUTION)
        doc = {k: v for k, v in doc.items() if not k.startswith("tailor") and k != "tags"}
        return {"solution": self._solution_with_latest(doc)}

    def list_solutions(
        self, datasetGroupArn: str | None = None, nextToken: str | None = None, maxResults: int | None = None
    ) -> dict[str, Any]:
        return self._list_page(
            lc.SOLUTION,
            "solutions",
            "SolutionSummary",
            nextToken,
            maxResults,
            where=lambda d: not datasetGroupArn or d["datasetGroupArn"] == datasetGroupArn,
            scope=datasetGroupArn or "",
        )

    def delete_solution(self, solutionArn: str) -> None:
        self._get(solutionArn, lc.SOLUTION)
        versions = [v for v in self.store.list(lc.SOLUTION_VERSION) if v["solutionArn"] == solutionArn]
        training = [v["solutionVersionArn"] for v in versions if v["status"] in lc.UNFINISHED]
        if training:
            raise ResourceInUseException(f"Solution version {training[0]} is still being created.")
        version_arns = {v["solutionVersionArn"] for v in versions}
        serving = [
            c["campaignArn"] for c in self.store.list(lc.CAMPAIGN) if c["solutionVersionArn"] in version_arns
        ]
        if serving:
            raise ResourceInUseException(
                f"Solution {solutionArn} is used by campaign {serving[0]}. Delete the campaign first."
            )
        for arn in version_arns:
            self.store.delete(arn)
        self.store.delete(solutionArn)

    # -- solution versions ---------------------------------------------------------------------
    def _interactions_dataset(self, dataset_group_arn: str) -> dict[str, Any] | None:
        return interactions_dataset(self.store, dataset_group_arn)

    @staticmethod
    def _public_version(doc: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in doc.items() if not k.startswith("tailor") and k != "tags"}

    def describe_solution_version(self, solutionVersionArn: str) -> dict[str, Any]:
        return {"solutionVersion": self._public_version(self._get(solutionVersionArn, lc.SOLUTION_VERSION))}

    def list_solution_versions(
        self, solutionArn: str | None = None, nextToken: str | None = None, maxResults: int | None = None
    ) -> dict[str, Any]:
        if solutionArn:
            self._get(solutionArn, lc.SOLUTION)
        return self._list_page(
            lc.SOLUTION_VERSION,
            "solutionVersions",
            "SolutionVersionSummary",
            nextToken,
            maxResults,
            where=lambda d: not solutionArn or d["solutionArn"] == solutionArn,
            scope=solutionArn or "",
        )

    def stop_solution_version_creation(self, solutionVersionArn: str) -> None:
        def stop(doc: dict[str, Any]) -> dict[str, Any]:
            if doc["status"] not in (lc.CREATE_PENDING, lc.CREATE_IN_PROGRESS):
                raise InvalidInputException(
                    f"Solution version {solutionVersionArn} is {doc['status']}; only a version in "
                    f"{lc.CREATE_PENDING} or {lc.CREATE_IN_PROGRESS} can be stopped."
                )
            return lc.set_status(doc, lc.CREATE_STOPPING)

        self._get(solutionVersionArn, lc.SOLUTION_VERSION)
        self.store.update(solutionVersionArn, stop)

    def get_solution_metrics(self, solutionVersionArn: str) -> dict[str, Any]:
        doc = self._get(solutionVersionArn, lc.SOLUTION_VERSION)
        if doc["status"] != lc.ACTIVE:
            raise ResourceInUseException(
                f"Solution version {solutionVersionArn} is {doc['status']}; metrics exist once it is ACTIVE."
            )
        return {"solutionVersionArn": solutionVersionArn, "metrics": doc.get("tailorMetrics", {})}

    # -- campaigns -----------------------------------------------------------------------------
    def _active_version(self, solution_version_arn: str) -> dict[str, Any]:
        version = self._get(solution_version_arn, lc.SOLUTION_VERSION)
        if version["status"] != lc.ACTIVE:
            raise InvalidInputException(
                f"Solution version {solution_version_arn} is {version['status']}; a campaign needs an "
                "ACTIVE solution version."
            )
        refuse_segmentation(version, "a campaign")
        return version

    def _campaign_version(self, requested: str, config: dict[str, Any]) -> tuple[str, str | None]:
        """(solution version to deploy, solution to follow when syncWithLatestSolutionVersion)."""
        sync = bool(config.get("syncWithLatestSolutionVersion"))
        if not requested.endswith(LATEST_SUFFIX):
            if sync:
                raise InvalidInputException(
                    "With syncWithLatestSolutionVersion set to true, solutionVersionArn must be the "
                    f"solution's ARN in SolutionArn{LATEST_SUFFIX} format."
                )
            self._active_version(requested)
            return requested, None
        solution_arn = requested[: -len(LATEST_SUFFIX)]
        self._get(solution_arn, lc.SOLUTION)
        active = [
            v
            for v in self.store.list(lc.SOLUTION_VERSION)
            if v["solutionArn"] == solution_arn and v["status"] == lc.ACTIVE
        ]
        if not active:
            raise InvalidInputException(f"Solution {solution_arn} has no ACTIVE solution version to deploy.")
        latest = max(active, key=lambda v: v["creationDateTime"])
        refuse_segmentation(latest, "a campaign")
        return latest["solutionVersionArn"], solution_arn if sync else None

    def create_campaign(
        self,
        name: str,
        solutionVersionArn: str,
        minProvisionedTPS: int | None = None,
        campaignConfig: dict[str, Any] | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        config = _check_campaign_config(campaignConfig)
        version_arn, sync_solution = self._campaign_version(solutionVersionArn, config)
        quotas.enforce("CAMPAIGNS", len(self.store.list(lc.CAMPAIGN)), "campaigns")
        arn = self._arn(f"campaign/{name}")
        doc = self._new_doc(
            name=name,
            campaignArn=arn,
            solutionVersionArn=version_arn,
            minProvisionedTPS=minProvisionedTPS or 1,
            campaignConfig=config,
            status=lc.CREATE_PENDING,
            tags=tags,
            tailorSyncSolutionArn=sync_solution,
        )
        self.store.create(arn, lc.CAMPAIGN, doc)
        workflows.starter().start(workflows.CAMPAIGN_DEPLOY, arn)
        return {"campaignArn": arn}

    def describe_campaign(self, campaignArn: str) -> dict[str, Any]:
        doc = self._get(campaignArn, lc.CAMPAIGN)
        doc.pop("tags", None)
        doc.pop("tailorSyncSolutionArn", None)
        return {"campaign": doc}

    def list_campaigns(
        self, solutionArn: str | None = None, nextToken: str | None = None, maxResults: int | None = None
    ) -> dict[str, Any]:
        return self._list_page(
            lc.CAMPAIGN,
            "campaigns",
            "CampaignSummary",
            nextToken,
            maxResults,
            where=lambda d: not solutionArn or d["solutionVersionArn"].startswith(solutionArn + "/"),
            scope=solutionArn or "",
        )

    def update_campaign(
        self,
        campaignArn: str,
        solutionVersionArn: str | None = None,
        minProvisionedTPS: int | None = None,
        campaignConfig: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        current = self._get(campaignArn, lc.CAMPAIGN)
        config = (
            _check_campaign_config(campaignConfig)
            if campaignConfig is not None
            else current.get("campaignConfig", {})
        )
        sync_solution = current.get("tailorSyncSolutionArn")
        if solutionVersionArn:
            solutionVersionArn, sync_solution = self._campaign_version(solutionVersionArn, config)
        elif campaignConfig is not None and config.get("syncWithLatestSolutionVersion") and not sync_solution:
            raise InvalidInputException(
                "To turn on syncWithLatestSolutionVersion, also pass solutionVersionArn in "
                f"SolutionArn{LATEST_SUFFIX} format."
            )
        elif campaignConfig is not None and not config.get("syncWithLatestSolutionVersion"):
            sync_solution = None

        def request_update(doc: dict[str, Any]) -> dict[str, Any]:
            if doc["status"] != lc.ACTIVE:
                raise ResourceInUseException(
                    f"Campaign {campaignArn} is {doc['status']}; it can be updated once it is ACTIVE."
                )
            latest = doc.get("latestCampaignUpdate")
            if latest and latest["status"] in lc.UPDATING:
                raise ResourceInUseException(f"Campaign {campaignArn} already has an update in progress.")
            stamp = lc.now()
            doc["latestCampaignUpdate"] = {
                "solutionVersionArn": solutionVersionArn or doc["solutionVersionArn"],
                "minProvisionedTPS": minProvisionedTPS or doc["minProvisionedTPS"],
                "campaignConfig": config,
                "status": lc.UPDATE_PENDING,
                "creationDateTime": stamp,
                "lastUpdatedDateTime": stamp,
            }
            doc["lastUpdatedDateTime"] = stamp
            if sync_solution:
                doc["tailorSyncSolutionArn"] = sync_solution
            else:
                doc.pop("tailorSyncSolutionArn", None)
            return doc

        self.store.update(campaignArn, request_update)
        workflows.starter().start(workflows.CAMPAIGN_DEPLOY, campaignArn)
        return {"campaignArn": campaignArn}

    def delete_campaign(self, campaignArn: str) -> None:
        doc = self._get(campaignArn, lc.CAMPAIGN)
        if doc["status"] in lc.UNFINISHED:
            raise ResourceInUseException(f"Campaign {campaignArn} is still being created ({doc['status']}).")
        self.store.delete(campaignArn)

    # -- event trackers ------------------------------------------------------------------------
    def create_event_tracker(
        self, name: str, datasetGroupArn: str, tags: list[dict[str, str]] | None = None
    ) -> dict[str, Any]:
        self._get(datasetGroupArn, lc.DATASET_GROUP)
        existing = [t for t in self.store.list(lc.EVENT_TRACKER) if t["datasetGroupArn"] == datasetGroupArn]
        if existing:
            raise ResourceAlreadyExistsException(
                f"Dataset group {datasetGroupArn} already has event tracker "
                f"{existing[0]['eventTrackerArn']}; "
                "only one event tracker can be associated with a dataset group."
            )
        interactions = self._interactions_dataset(datasetGroupArn) or self.store.find(
            arns.dataset_arn(datasetGroupArn, "ACTION_INTERACTIONS")
        )
        if interactions is None:
            raise InvalidInputException(
                f"Dataset group {datasetGroupArn} has no Interactions or Action interactions dataset; create "
                "one before the event tracker, whose events are recorded with its schema."
            )
        tracking_id = _tracking_id()
        arn = self._arn(f"event-tracker/{arns.short_id()}")
        doc = self._new_doc(
            name=name,
            eventTrackerArn=arn,
            accountId=self.ctx.account_id,
            trackingId=tracking_id,
            datasetGroupArn=datasetGroupArn,
            status=lc.ACTIVE,
            tags=tags,
        )
        self.store.create(arn, lc.EVENT_TRACKER, doc, parent_arn=datasetGroupArn)
        self.store.create(
            f"{lc.TRACKING_ID}/{tracking_id}",
            lc.TRACKING_ID,
            {"trackingId": tracking_id, "eventTrackerArn": arn, "datasetGroupArn": datasetGroupArn},
        )
        events_arn = arns.dataset_arn(datasetGroupArn, "EVENT_INTERACTIONS")
        events_dataset = self._new_doc(
            name=f"{name}-event-interactions",
            datasetArn=events_arn,
            datasetGroupArn=datasetGroupArn,
            datasetType="EVENT_INTERACTIONS",
            schemaArn=interactions["schemaArn"],
            status=lc.ACTIVE,
            trackingId=tracking_id,
        )
        if self.store.find(events_arn) is None:
            self.store.create(events_arn, lc.DATASET, events_dataset, parent_arn=datasetGroupArn)
        return {"eventTrackerArn": arn, "trackingId": tracking_id}

    def describe_event_tracker(self, eventTrackerArn: str) -> dict[str, Any]:
        doc = self._get(eventTrackerArn, lc.EVENT_TRACKER)
        doc.pop("tags", None)
        return {"eventTracker": doc}

    def list_event_trackers(
        self, datasetGroupArn: str | None = None, nextToken: str | None = None, maxResults: int | None = None
    ) -> dict[str, Any]:
        return self._list_page(
            lc.EVENT_TRACKER,
            "eventTrackers",
            "EventTrackerSummary",
            nextToken,
            maxResults,
            where=lambda d: not datasetGroupArn or d["datasetGroupArn"] == datasetGroupArn,
            scope=datasetGroupArn or "",
        )

    def delete_event_tracker(self, eventTrackerArn: str) -> None:
        doc = self._get(eventTrackerArn, lc.EVENT_TRACKER)
        self.store.delete(f"{lc.TRACKING_ID}/{doc['trackingId']}")
        self.store.delete(eventTrackerArn)


LATEST_SUFFIX = "/$LATEST"
CAMPAIGN_CONFIG_KEYS = (
    "itemExplorationConfig",
    "enableMetadataWithRecommendations",
    "syncWithLatestSolutionVersion",
)


def _check_campaign_config(config: dict[str, Any] | None) -> dict[str, Any]:
    config = dict(config or {})
    if config.get("rankingInfluence"):
        raise InvalidInputException(
            "campaignConfig.rankingInfluence (POPULARITY and FRESHNESS weights of "
            "aws-user-personalization-v2) is not supported by Tailor yet; leave it out."
        )
    config.pop("rankingInfluence", None)
    check_exploration(config.get("itemExplorationConfig"), "campaignConfig")
    return config


def interactions_dataset(store: ResourceStore, dataset_group_arn: str) -> dict[str, Any] | None:
    return store.find(arns.dataset_arn(dataset_group_arn, "INTERACTIONS"))


def _tracking_id() -> str:
    return str(uuid.uuid4())
