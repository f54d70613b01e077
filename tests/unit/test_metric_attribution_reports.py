"""Metric attribution reports: expressions, sources, the 15-minute aggregation and what gets sent where."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest

from functions import wiring
from functions.attribution import reports
from functions.attribution.expressions import ExpressionError, check_metric, parse_metric
from functions.attribution.sources import UNDEFINED, recommendation_id, source_of
from functions.ingestion import ingest
from functions.resources.schema_rules import parse_schema
from tests.fixtures import avro_schema

CAMPAIGN = "arn:aws:personalize:us-east-1:000000000000:campaign/shop"
RECOMMENDER = "arn:aws:personalize:us-east-1:000000000000:recommender/picks"
ATTRIBUTION = {
    "metrics": [
        {"eventType": "click", "expression": "SAMPLECOUNT()", "metricName": "CLICKS"},
        {"eventType": "purchase", "expression": "sum( Items.price )", "metricName": "REVENUE"},
        {"eventType": "watch", "expression": "SUM(Interactions.EVENT_VALUE)", "metricName": "MINUTES"},
    ]
}
PRICES = {"a": "2.5", "b": "10", "c": None}


def _price(item: str, column: str) -> Any:
    assert column.upper() == "PRICE"
    return PRICES.get(item)


def _metric(expression: str) -> dict[str, str]:
    return {"eventType": "click", "expression": expression, "metricName": "M"}


def test_expressions_parse_the_guides_two_functions():
    assert parse_metric(_metric("SAMPLECOUNT()")).function == "SAMPLECOUNT"
    spec = parse_metric(_metric(" sum(items . PRICE) "))
    assert (spec.function, spec.dataset_type, spec.column) == ("SUM", "ITEMS", "PRICE")
    for bad in ("COUNT()", "SUM(PRICE)", "SUM(Users.AGE)", "SAMPLECOUNT(x)", "SUM(Items.PRICE) + 1"):
        with pytest.raises(ExpressionError):
            parse_metric(_metric(bad))


def test_a_sum_needs_a_numeric_column_of_an_existing_dataset():
    items = parse_schema(
        avro_schema(
            "Items", [{"name": "ITEM_ID", "type": "string"}, {"name": "PRICE", "type": ["null", "double"]}]
        )
    )
    check_metric(parse_metric(_metric("SUM(Items.price)")), {"ITEMS": items}, "g")
    with pytest.raises(ExpressionError, match="numeric"):
        check_metric(parse_metric(_metric("SUM(Items.ITEM_ID)")), {"ITEMS": items}, "g")
    with pytest.raises(ExpressionError, match="no Interactions dataset"):
        check_metric(parse_metric(_metric("SUM(Interactions.EVENT_VALUE)")), {"ITEMS": items}, "g")


def test_a_recommendation_id_names_its_source_and_an_explicit_source_wins():
    rid = recommendation_id(CAMPAIGN)
    assert re.fullmatch(r"RID-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", rid)
    assert recommendation_id(CAMPAIGN) != rid  # random beyond the tag
    assert source_of(rid, None, [RECOMMENDER, CAMPAIGN]) == CAMPAIGN
    assert source_of(recommendation_id(RECOMMENDER), None, [RECOMMENDER, CAMPAIGN]) == RECOMMENDER
    assert source_of(rid, "email", [CAMPAIGN]) == "email"
    assert source_of(rid, None, [RECOMMENDER]) == UNDEFINED  # its campaign was deleted
    assert source_of("RID-1", None, [CAMPAIGN]) == UNDEFINED
    assert source_of(None, None, [CAMPAIGN]) == UNDEFINED


def test_metrics_are_summed_per_source_and_15_minute_window():
    t0 = 1_700_000_100 - 1_700_000_100 % 900
    interactions = [
        reports.Interaction("click", t0 + 1, "a", attribution_source="email"),
        reports.Interaction("click", t0 + 899, "b", attribution_source="email"),
        reports.Interaction("click", t0 + 900, "b", attribution_source="email"),  # the next window
        reports.Interaction("click", t0 + 5, "a", recommendation_id=recommendation_id(CAMPAIGN)),
        reports.Interaction("Click", t0 + 5, "a"),  # event types match exactly
        reports.Interaction("purchase", t0 + 7, "a", attribution_source="email"),
        reports.Interaction("purchase", t0 + 8, "b", attribution_source="email"),
        reports.Interaction("purchase", t0 + 9, "c", attribution_source="email"),  # no price: adds nothing
        reports.Interaction("watch", t0 + 9, "a", values={"eventvalue": "3.25"}),
        reports.Interaction("watch", t0 + 9, "a", values={"eventvalue": None}),
    ]
    totals = reports.aggregate(ATTRIBUTION, interactions, _price, [CAMPAIGN])
    assert totals == {
        ("CLICKS", "click", "samplecount", "email", t0): 2.0,
        ("CLICKS", "click", "samplecount", "email", t0 + 900): 1.0,
        ("CLICKS", "click", "samplecount", CAMPAIGN, t0): 1.0,
        ("REVENUE", "purchase", "sum", "email", t0): 12.5,
        ("MINUTES", "watch", "sum", UNDEFINED, t0): 3.25,
    }
    rows = list(csv.reader(io.StringIO(reports.report_csv(totals).decode())))
    assert rows[0] == list(reports.REPORT_COLUMNS)
    assert rows[1:3] == [
        ["CLICKS", "click", "1.0", "samplecount", "email", str(t0 + 900)],
        ["CLICKS", "click", "1.0", "samplecount", CAMPAIGN, str(t0)],
    ]
    assert reports.report_name("INCREMENTAL", 1_700_000_000.7) == (
        "AggregatedAttributionMetrics - INCREMENTAL - 1700000000.csv"
    )


class _CloudWatch:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def put_metric_data(self, **request: Any) -> None:
        self.calls.append(request)


def test_cloudwatch_gets_one_point_per_metric_source_and_window_under_two_weeks_old(monkeypatch):
    cloudwatch = _CloudWatch()
    monkeypatch.setattr(reports, "client", lambda service: cloudwatch)
    now = 1_700_000_000.0
    recent, old = int(now) - int(now) % 900, int(now - 15 * 86_400) // 900 * 900
    totals = {
        ("CLICKS", "click", "samplecount", "email", recent): 2.0,
        ("REVENUE", "purchase", "sum", "email", recent): 12.5,
        ("CLICKS", "click", "samplecount", "email", old): 7.0,
    }
    assert reports.publish_to_cloudwatch("group-arn", totals, now=now) == 2
    (call,) = cloudwatch.calls
    assert call["Namespace"] == wiring.METRIC_ATTRIBUTION_NAMESPACE
    points = {p["MetricName"]: p for p in call["MetricData"]}
    assert points["CLICKS"]["Value"] == 2.0 and points["CLICKS"]["Unit"] == "Count"
    assert points["REVENUE"]["Timestamp"].timestamp() == recent
    assert {d["Name"]: d["Value"] for d in points["REVENUE"]["Dimensions"]} == {
        wiring.ATTRIBUTION_GROUP_DIMENSION: "group-arn",
        wiring.ATTRIBUTION_SOURCE_DIMENSION: "email",
    }


def test_a_reporting_failure_never_fails_the_kinesis_batch(monkeypatch, caplog):
    def unavailable(_payloads: Any) -> int:
        raise RuntimeError("CloudWatch is unavailable")

    monkeypatch.setattr(ingest, "report_events", unavailable)
    ingest._report_metrics([{"kind": "event"}])
    assert "were not sent" in caplog.text


def test_events_of_groups_without_an_attribution_are_not_reported(monkeypatch):
    class Store:
        def list(self, resource_type: str) -> list[dict[str, Any]]:
            return []

    monkeypatch.setattr(reports, "client", lambda service: pytest.fail("nothing to report"))
    payload = {"kind": "event", "datasetGroupArn": "g", "eventType": "click", "sentAt": 1.0}
    assert reports.report_events([payload, {**payload, "kind": "action-interaction"}], Store()) == 0
