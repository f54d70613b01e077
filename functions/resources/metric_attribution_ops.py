"""CreateMetricAttribution, DescribeMetricAttribution, ListMetricAttributions, ListMetricAttributionMetrics,
UpdateMetricAttribution, DeleteMetricAttribution.

A metric attribution names up to ten metrics (an event type and ``SAMPLECOUNT()`` or ``SUM(Dataset.COLUMN)``)
that Tailor reports as events arrive: PutEvents and incremental imports to CloudWatch, bulk imports with
``publishAttributionMetricsToS3`` to the attribution's S3 path (``functions/attribution/reports.py``). As in
Personalize a dataset group has at most one, data imported before it existed is not reported, and
deleting it stops the reports. There is nothing to build, so it is ACTIVE when CreateMetricAttribution
returns; its metrics are checked against the group's schemas then, so reporting never meets one it cannot
compute.
"""

from __future__ import annotations

from typing import Any

from functions.attribution.expressions import ExpressionError, check_metric, parse_metric
from functions.protocol.errors import (
    InvalidInputException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from functions.resources import lifecycle as lc
from functions.resources.group_schemas import group_schemas
from functions.resources.operations_base import Operations
from functions.resources.pagination import paginate
from functions.stores.resources import ResourceStore

MAX_METRICS = 10


def attribution_of(store: ResourceStore, dataset_group_arn: str) -> dict[str, Any] | None:
    """The group's metric attribution (Personalize allows one; it is ACTIVE from its creation), or None."""
    for doc in store.list(lc.METRIC_ATTRIBUTION):
        if doc["datasetGroupArn"] == dataset_group_arn:
            return doc
    return None


def _check_metrics(
    store: ResourceStore, group_arn: str, metrics: list[dict[str, str]]
) -> list[dict[str, str]]:
    """The metrics as given; InvalidInputException for the first one reporting could not compute."""
    if not metrics:
        raise InvalidInputException("metrics must name at least one metric (an eventType and an expression).")
    if len(metrics) > MAX_METRICS:
        raise InvalidInputException(
            f"A metric attribution has at most {MAX_METRICS} metrics; this one would have {len(metrics)}."
        )
    names = [m["metricName"] for m in metrics]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InvalidInputException(f"Metric names must be unique; {repeated[0]} appears more than once.")
    schemas = group_schemas(store, group_arn, ("INTERACTIONS", "ITEMS"))
    interactions = schemas.get("INTERACTIONS")
    if interactions is not None and interactions.field("EVENT_TYPE") is None:
        raise InvalidInputException(
            f"The Interactions dataset of {group_arn} has no EVENT_TYPE column: a metric attribution "
            "reports per event type."
        )
    checked = []
    for metric in metrics:
        if not metric["eventType"].strip():
            raise InvalidInputException(f"Metric {metric['metricName']}: eventType must not be empty.")
        try:
            check_metric(parse_metric(metric), schemas, group_arn)
        except ExpressionError as exc:
            raise InvalidInputException(str(exc)) from exc
        checked.append(
            {
                "eventType": metric["eventType"],
                "expression": metric["expression"],
                "metricName": metric["metricName"],
            }
        )
    return checked


def _check_output(config: dict[str, Any]) -> dict[str, Any]:
    destination = config.get("s3DataDestination")
    if destination is not None:
        path = destination.get("path", "")
        if not path.startswith("s3://") or len(path) <= len("s3://"):
            raise InvalidInputException(
                "metricsOutputConfig.s3DataDestination.path must be an s3://bucket/folder path, got "
                f"{path!r}."
            )
    return config


def check_report_destination(store: ResourceStore, dataset: dict[str, Any]) -> None:
    """CreateDatasetImportJob's rule for ``publishAttributionMetricsToS3``: the report needs an Interactions
    import and a metric attribution with an S3 path."""
    if dataset["datasetType"].upper() != "INTERACTIONS":
        raise InvalidInputException(
            f"publishAttributionMetricsToS3 reports on interactions, and {dataset['datasetArn']} is a "
            f"{dataset['datasetType']} dataset; leave it out."
        )
    group = dataset["datasetGroupArn"]
    found = attribution_of(store, group)
    if found is None:
        raise InvalidInputException(
            f"publishAttributionMetricsToS3 needs a metric attribution in dataset group {group}; create one "
            "(CreateMetricAttribution) with metricsOutputConfig.s3DataDestination first."
        )
    if not (found["metricsOutputConfig"].get("s3DataDestination") or {}).get("path"):
        raise InvalidInputException(
            f"publishAttributionMetricsToS3 needs an S3 path, and metric attribution "
            f"{found['metricAttributionArn']} has none; add metricsOutputConfig.s3DataDestination with "
            "UpdateMetricAttribution."
        )


class MetricAttributionOperations(Operations):
    def create_metric_attribution(
        self,
        name: str,
        datasetGroupArn: str,
        metrics: list[dict[str, str]],
        metricsOutputConfig: dict[str, Any],
    ) -> dict[str, Any]:
        self._get(datasetGroupArn, lc.DATASET_GROUP)
        existing = attribution_of(self.store, datasetGroupArn)
        if existing is not None:
            raise LimitExceededException(
                f"Dataset group {datasetGroupArn} already has metric attribution "
                f"{existing['metricAttributionArn']}; a dataset group has at most one. Update it "
                "(UpdateMetricAttribution) or delete it first."
            )
        checked = _check_metrics(self.store, datasetGroupArn, metrics)
        arn = self._arn(f"metric-attribution/{name}")
        doc = self._new_doc(
            name=name,
            metricAttributionArn=arn,
            datasetGroupArn=datasetGroupArn,
            metricsOutputConfig=_check_output(metricsOutputConfig),
            status=lc.ACTIVE,
            metrics=checked,
        )
        try:
            self.store.create(arn, lc.METRIC_ATTRIBUTION, doc, parent_arn=datasetGroupArn)
        except ResourceAlreadyExistsException as exc:
            raise ResourceAlreadyExistsException(
                f"A metric attribution named {name} already exists: {arn}."
            ) from exc
        return {"metricAttributionArn": arn}

    def describe_metric_attribution(self, metricAttributionArn: str) -> dict[str, Any]:
        doc = self._get(metricAttributionArn, lc.METRIC_ATTRIBUTION)
        doc.pop("metrics", None)  # ListMetricAttributionMetrics returns them
        doc.pop("tags", None)  # TagResource's, read with ListTagsForResource
        return {"metricAttribution": doc}

    def list_metric_attributions(
        self, datasetGroupArn: str | None = None, nextToken: str | None = None, maxResults: int | None = None
    ) -> dict[str, Any]:
        return self._list_page(
            lc.METRIC_ATTRIBUTION,
            "metricAttributions",
            "MetricAttributionSummary",
            nextToken,
            maxResults,
            where=lambda d: not datasetGroupArn or d["datasetGroupArn"] == datasetGroupArn,
            scope=datasetGroupArn or "",
        )

    def list_metric_attribution_metrics(
        self,
        metricAttributionArn: str | None = None,
        nextToken: str | None = None,
        maxResults: int | None = None,
    ) -> dict[str, Any]:
        if not metricAttributionArn:
            raise InvalidInputException("metricAttributionArn is required: whose metrics to list.")
        try:
            doc = self._get(metricAttributionArn, lc.METRIC_ATTRIBUTION)
        except ResourceNotFoundException as exc:
            # The operation declares no ResourceNotFoundException.
            raise InvalidInputException(f"Metric attribution {metricAttributionArn} does not exist.") from exc
        page, token = paginate(
            doc.get("metrics", []), f"metrics|{metricAttributionArn}", nextToken, maxResults
        )
        out: dict[str, Any] = {"metrics": page}
        if token:
            out["nextToken"] = token
        return out

    def update_metric_attribution(
        self,
        metricAttributionArn: str | None = None,
        addMetrics: list[dict[str, str]] | None = None,
        removeMetrics: list[str] | None = None,
        metricsOutputConfig: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if not metricAttributionArn:
            raise InvalidInputException(
                "metricAttributionArn is required: which metric attribution to update."
            )
        doc = self._get(metricAttributionArn, lc.METRIC_ATTRIBUTION)
        if addMetrics is None and removeMetrics is None and metricsOutputConfig is None:
            raise InvalidInputException(
                "Nothing to update: give addMetrics, removeMetrics or metricsOutputConfig."
            )
        current = {m["metricName"]: m for m in doc.get("metrics", [])}
        unknown = [n for n in removeMetrics or [] if n not in current]
        if unknown:
            raise InvalidInputException(
                f"removeMetrics: {metricAttributionArn} has no metric {unknown[0]} (it has "
                f"{', '.join(current) or 'none'})."
            )
        removed = set(removeMetrics or [])
        kept = [m for name, m in current.items() if name not in removed]
        taken = [m["metricName"] for m in addMetrics or [] if m["metricName"] in current.keys() - removed]
        if taken:
            raise ResourceAlreadyExistsException(
                f"addMetrics: {metricAttributionArn} already has a metric named {taken[0]}; remove it in the "
                "same request (removeMetrics) to replace it."
            )
        metrics = _check_metrics(self.store, doc["datasetGroupArn"], kept + list(addMetrics or []))
        output = _check_output(metricsOutputConfig) if metricsOutputConfig is not None else None

        def change(stored: dict[str, Any]) -> dict[str, Any]:
            stored["metrics"] = metrics
            if output is not None:
                stored["metricsOutputConfig"] = output
            stored["lastUpdatedDateTime"] = lc.now()
            return stored

        self.store.update(metricAttributionArn, change)
        return {"metricAttributionArn": metricAttributionArn}

    def delete_metric_attribution(self, metricAttributionArn: str) -> None:
        self._get(metricAttributionArn, lc.METRIC_ATTRIBUTION)
        self.store.delete(metricAttributionArn)
