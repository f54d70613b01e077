"""Metric attribution reports: each metric's value per event attribution source and 15-minute window.

Both report paths share this aggregation:
- PutEvents batches (the Kinesis consumer) and incremental imports go to CloudWatch, one data point per
  metric, source and window (metric name = the metric's name; dimensions: the dataset group and
  EVENT_ATTRIBUTION_SOURCE), so a graph of the Sum at a 15-minute period shows what the console would.
  CloudWatch takes no data points over two weeks old, hence the guide's rule that such records are left
  out.
- A bulk import with ``publishAttributionMetricsToS3`` writes one CSV to the attribution's
  ``s3DataDestination``, in the guide's columns and file name.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from functions import wiring
from functions.attribution.expressions import MetricSpec, parse_metric
from functions.attribution.sources import source_of
from functions.ingestion.records import fold
from functions.resources import lifecycle as lc
from functions.resources.metric_attribution_ops import attribution_of
from functions.serving.catalog import catalog_for
from functions.stores.clients import client
from functions.stores.resources import ResourceStore

WINDOW_S = 900
CLOUDWATCH_MAX_AGE_S = 14 * 86_400
_PUT_CHUNK = 500  # data points per PutMetricData call (CloudWatch takes up to 1,000)
REPORT_COLUMNS = (
    "METRIC_NAME",
    "EVENT_TYPE",
    "VALUE",
    "MATH_FUNCTION",
    "EVENT_ATTRIBUTION_SOURCE",
    "TIMESTAMP",
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Interaction:
    """One event as reports read it, from PutEvents or from an import file."""

    event_type: str
    timestamp: float
    item_id: str | None = None
    recommendation_id: str | None = None
    attribution_source: str | None = None
    values: dict[str, Any] = field(default_factory=dict)  # folded Interactions column -> value


# (metric name, event type, function, source, window start) -> value
Totals = dict[tuple[str, str, str, str, int], float]
ItemValue = Callable[[str, str], Any]  # (item id, column) -> the Items dataset's value, or None


def sources(store: ResourceStore) -> list[str]:
    """The ARNs a recommendationId can name: every campaign and recommender."""
    return [d["campaignArn"] for d in store.list(lc.CAMPAIGN)] + [
        d["recommenderArn"] for d in store.list(lc.RECOMMENDER)
    ]


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _value(spec: MetricSpec, interaction: Interaction, item_value: ItemValue) -> float | None:
    if spec.function == "SAMPLECOUNT":
        return 1.0
    column = spec.column or ""
    if spec.dataset_type == "ITEMS":
        return _number(item_value(interaction.item_id, column)) if interaction.item_id else None
    return _number(interaction.values.get(fold(column)))


def aggregate(
    attribution: dict[str, Any],
    interactions: Iterable[Interaction],
    item_value: ItemValue,
    candidates: list[str],
) -> Totals:
    """Each metric summed per source and window over the interactions of its event type; an interaction
    without the summed value adds nothing."""
    specs = [parse_metric(m) for m in attribution.get("metrics", [])]
    by_type: dict[str, list[MetricSpec]] = defaultdict(list)
    for spec in specs:
        by_type[spec.event_type].append(spec)
    totals: Totals = defaultdict(float)
    for interaction in interactions:
        wanted = by_type.get(interaction.event_type)
        if not wanted:
            continue
        source = source_of(interaction.recommendation_id, interaction.attribution_source, candidates)
        window = int(interaction.timestamp) - int(interaction.timestamp) % WINDOW_S
        for spec in wanted:
            value = _value(spec, interaction, item_value)
            if value is not None:
                totals[(spec.name, spec.event_type, spec.function.lower(), source, window)] += value
    return dict(totals)


def publish_to_cloudwatch(dataset_group_arn: str, totals: Totals, now: float | None = None) -> int:
    """Put ``totals`` as CloudWatch data points; the number put (windows over two weeks old are left out)."""
    oldest = (now or time.time()) - CLOUDWATCH_MAX_AGE_S
    data = [
        {
            "MetricName": name,
            "Dimensions": [
                {"Name": wiring.ATTRIBUTION_GROUP_DIMENSION, "Value": dataset_group_arn},
                {"Name": wiring.ATTRIBUTION_SOURCE_DIMENSION, "Value": source},
            ],
            "Timestamp": datetime.fromtimestamp(window, UTC),
            "Value": value,
            "Unit": "Count" if function == "samplecount" else "None",
        }
        for (name, _event_type, function, source, window), value in sorted(totals.items())
        if window >= oldest
    ]
    cloudwatch = client("cloudwatch")
    for start in range(0, len(data), _PUT_CHUNK):
        cloudwatch.put_metric_data(
            Namespace=wiring.METRIC_ATTRIBUTION_NAMESPACE, MetricData=data[start : start + _PUT_CHUNK]
        )
    return len(data)


def report_csv(totals: Totals) -> bytes:
    """The S3 report: one row per metric, source and window, newest window first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    rows = sorted(totals.items(), key=lambda kv: (kv[0][0], -kv[0][4], kv[0][3]))
    for (name, event_type, function, source, window), value in rows:
        writer.writerow([name, event_type, repr(float(value)), function, source, window])
    return out.getvalue().encode()


def report_name(import_mode: str, now: float | None = None) -> str:
    """``AggregatedAttributionMetrics - <ImportMethod> - <Timestamp>.csv``, as the guide names the file."""
    return f"AggregatedAttributionMetrics - {import_mode} - {int(now or time.time())}.csv"


def item_values(dataset_group_arn: str) -> ItemValue:
    """The group's Items dataset (imports and PutItems) as SUM(Items.COLUMN) reads it, loaded on the
    first lookup: reports without such a metric never read it."""

    def value(item_id: str, column: str) -> Any:
        view = catalog_for(dataset_group_arn).view("ITEMS")
        return view.field_value(item_id, column) if view is not None else None

    return value


def event_interaction(payload: dict[str, Any]) -> Interaction:
    """A PutEvents event as the Kinesis consumer receives it."""
    values = {fold(k): v for k, v in (payload.get("properties") or {}).items()}
    values[fold("EVENT_VALUE")] = payload.get("eventValue")
    return Interaction(
        event_type=payload["eventType"],
        timestamp=float(payload["sentAt"]),
        item_id=payload.get("itemId"),
        recommendation_id=payload.get("recommendationId"),
        attribution_source=(payload.get("metricAttribution") or {}).get("eventAttributionSource"),
        values=values,
    )


def row_interactions(columns: tuple[str, ...], rows: Iterable[list[str]]) -> Iterable[Interaction]:
    """An Interactions import file's rows (validated, in schema order)."""
    at = {fold(c): i for i, c in enumerate(columns)}

    def cell(row: list[str], name: str) -> str | None:
        index = at.get(fold(name))
        return row[index] or None if index is not None else None

    for row in rows:
        yield Interaction(
            event_type=cell(row, "EVENT_TYPE") or "",
            timestamp=float(cell(row, "TIMESTAMP") or 0),
            item_id=cell(row, "ITEM_ID"),
            recommendation_id=cell(row, "RECOMMENDATION_ID"),
            attribution_source=cell(row, "EVENT_ATTRIBUTION_SOURCE"),
            values={name: row[index] for name, index in at.items()},
        )


def report_events(payloads: Iterable[dict[str, Any]], store: ResourceStore | None = None) -> int:
    """Report a Kinesis batch's PutEvents events to CloudWatch for each group with a metric attribution;
    the number of data points put."""
    by_group: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for payload in payloads:
        if payload.get("kind", "event") == "event":
            by_group[payload["datasetGroupArn"]].append(payload)
    store = store or ResourceStore()
    put = 0
    candidates: list[str] | None = None
    for group, events in by_group.items():
        attribution = attribution_of(store, group)
        if attribution is None:
            continue
        candidates = sources(store) if candidates is None else candidates
        interactions = [event_interaction(p) for p in events]
        put += publish_to_cloudwatch(
            group, aggregate(attribution, interactions, item_values(group), candidates)
        )
    return put
