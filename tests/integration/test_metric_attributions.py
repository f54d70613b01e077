"""Metric attributions, as the Developer Guide's "Measuring impact of recommendations" uses them.

A shop's dataset group (generated data): items with a PRICE, interactions with an EVENT_VALUE. Its metric
attribution counts clicks, sums the price of purchased items and sums watch events' values. Reports are
read back where a user reads them: CloudWatch (PutEvents and incremental imports) and the attribution's S3
path (imports with publishAttributionMetricsToS3). Each test reports under sources of its own, so the
module's CloudWatch data never mixes between tests.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions import wiring
from tests.fixtures import avro_schema
from tests.integration.conftest import (
    active_event_tracker,
    import_into,
    new_workspace,
    train_solutions,
    wait_for,
)

pytestmark = pytest.mark.integration

INTERACTIONS = avro_schema(
    "Interactions",
    [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
        {"name": "RECOMMENDATION_ID", "type": ["null", "string"]},
        {"name": "EVENT_ATTRIBUTION_SOURCE", "type": ["null", "string"]},
    ],
)
ITEMS = avro_schema(
    "Items",
    [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "PRICE", "type": "float"},
        {"name": "GENRE", "type": "string", "categorical": True},
    ],
)
PRICES = {f"i{i:02d}": 1.5 + i for i in range(40)}
METRICS = [
    {"eventType": "click", "expression": "SAMPLECOUNT()", "metricName": "CLICKS"},
    {"eventType": "purchase", "expression": "SUM(Items.PRICE)", "metricName": "REVENUE"},
    {"eventType": "watch", "expression": "SUM(Interactions.EVENT_VALUE)", "metricName": "MINUTES"},
]


def _interactions(start: int) -> str:
    rows = ["USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE,RECOMMENDATION_ID,EVENT_ATTRIBUTION_SOURCE"]
    for u in range(60):  # 1,200 interactions: enough to train a model on
        for step in range(20):
            rows.append(f"u{u:02d},i{(u * 3 + step) % 40:02d},{start + u * 100 + step},click,,,")
    return "\n".join(rows) + "\n"


@pytest.fixture(scope="module")
def shop(target, personalize, s3) -> dict[str, Any]:
    ws = new_workspace(target, personalize, s3, "attr")
    items = "ITEM_ID,PRICE,GENRE\n" + "".join(f"{i},{p},G{int(p) % 3}\n" for i, p in PRICES.items())
    datasets = import_into(
        personalize,
        s3,
        ws,
        f"attr-{ws.suffix}",
        {"Interactions": (INTERACTIONS, _interactions(1_700_000_000)), "Items": (ITEMS, items)},
    )
    attribution = personalize.create_metric_attribution(
        name=f"attr-{ws.suffix}",
        datasetGroupArn=ws.group,
        metrics=METRICS,
        metricsOutputConfig={
            "roleArn": ws.role,
            "s3DataDestination": {"path": f"s3://{ws.bucket}/attribution/"},
        },
    )["metricAttributionArn"]
    tracking_id = active_event_tracker(personalize, ws.group, f"attr-tracker-{ws.suffix}")
    return {"ws": ws, "datasets": datasets, "arn": attribution, "tracking_id": tracking_id}


def _sums(cloudwatch, group: str, metric: str, source: str) -> float:
    now = datetime.now(UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace=wiring.METRIC_ATTRIBUTION_NAMESPACE,
        MetricName=metric,
        Dimensions=[
            {"Name": wiring.ATTRIBUTION_GROUP_DIMENSION, "Value": group},
            {"Name": wiring.ATTRIBUTION_SOURCE_DIMENSION, "Value": source},
        ],
        StartTime=now - timedelta(days=1),
        EndTime=now + timedelta(hours=1),
        Period=900,
        Statistics=["Sum"],
    )["Datapoints"]
    return sum(p["Sum"] for p in points)


def _wait_for_sums(cloudwatch, group: str, expected: dict[tuple[str, str], float]) -> None:
    deadline = time.monotonic() + 60
    while True:
        got = {key: _sums(cloudwatch, group, *key) for key in expected}
        if all(abs(got[k] - v) < 1e-6 for k, v in expected.items()):
            return
        assert time.monotonic() < deadline, f"CloudWatch has {got}, expected {expected}"
        time.sleep(0.5)


def test_a_metric_attribution_is_described_and_listed(personalize, shop):
    ws = shop["ws"]
    personalize.tag_resource(resourceArn=shop["arn"], tags=[{"tagKey": "team", "tagValue": "growth"}])
    assert personalize.list_tags_for_resource(resourceArn=shop["arn"])["tags"] == [
        {"tagKey": "team", "tagValue": "growth"}
    ]
    doc = personalize.describe_metric_attribution(metricAttributionArn=shop["arn"])["metricAttribution"]
    assert doc["status"] == "ACTIVE" and doc["datasetGroupArn"] == ws.group
    assert doc["metricsOutputConfig"]["s3DataDestination"]["path"] == f"s3://{ws.bucket}/attribution/"
    listed = personalize.list_metric_attributions(datasetGroupArn=ws.group)["metricAttributions"]
    assert [m["metricAttributionArn"] for m in listed] == [shop["arn"]]
    metrics = personalize.list_metric_attribution_metrics(metricAttributionArn=shop["arn"])["metrics"]
    assert sorted(m["metricName"] for m in metrics) == ["CLICKS", "MINUTES", "REVENUE"]
    page = personalize.list_metric_attribution_metrics(metricAttributionArn=shop["arn"], maxResults=2)
    assert len(page["metrics"]) == 2 and page["nextToken"]


def test_put_events_are_reported_to_cloudwatch_by_source(target, personalize, events, shop):
    group, suffix = shop["ws"].group, shop["ws"].suffix
    email, banner = f"email-{suffix}", f"banner-{suffix}"
    now = time.time()

    def event(event_type: str, item: str, source: str | None = None, **extra: Any) -> dict[str, Any]:
        attribution = {"metricAttribution": {"eventAttributionSource": source}} if source else {}
        return {"eventType": event_type, "itemId": item, "sentAt": now, **attribution, **extra}

    events.put_events(
        trackingId=shop["tracking_id"],
        userId="u01",
        sessionId="s-u01",
        eventList=[
            event("click", "i01", email),
            event("click", "i02", email),
            event("click", "i03", banner),
            event("purchase", "i04", email),  # PRICE 5.5
            event("purchase", "i10", email),  # PRICE 11.5
            event("watch", "i05", banner, eventValue=42.5),
            event("view", "i06", email),  # no metric for views
        ],
    )
    cloudwatch = target.client("cloudwatch")
    _wait_for_sums(
        cloudwatch,
        group,
        {
            ("CLICKS", email): 2,
            ("CLICKS", banner): 1,
            ("REVENUE", email): 17.0,
            ("MINUTES", banner): 42.5,
        },
    )
    assert _sums(cloudwatch, group, "REVENUE", banner) == 0


def test_a_recommendation_id_reports_its_campaign(target, personalize, runtime, events, shop):
    """The guide: "If you provide a recommendationId, Amazon Personalize automatically determines the source
    campaign or recommender"; an explicit eventAttributionSource wins over it."""
    ws = shop["ws"]
    _, versions = train_solutions(personalize, ws.group, ["aws-popularity-count"], f"attr-{ws.suffix}")
    campaign = personalize.create_campaign(
        name=f"attr-campaign-{ws.suffix}", solutionVersionArn=versions["aws-popularity-count"]
    )["campaignArn"]
    doc = wait_for(lambda: personalize.describe_campaign(campaignArn=campaign), "campaign")
    assert doc["status"] == "ACTIVE", doc.get("failureReason")
    shown = runtime.get_recommendations(campaignArn=campaign, userId="u03", numResults=3)
    rid = shown["recommendationId"]
    assert rid.startswith("RID-")
    partner = f"partner-{ws.suffix}"
    now = time.time()
    events.put_events(
        trackingId=shop["tracking_id"],
        userId="u03",
        sessionId="s-u03",
        eventList=[
            {
                "eventType": "click",
                "itemId": shown["itemList"][0]["itemId"],
                "sentAt": now,
                "recommendationId": rid,
            },
            {"eventType": "click", "itemId": "i07", "sentAt": now, "recommendationId": rid},
            {
                "eventType": "click",
                "itemId": "i08",
                "sentAt": now,
                "recommendationId": rid,
                "metricAttribution": {"eventAttributionSource": partner},
            },
        ],
    )
    _wait_for_sums(target.client("cloudwatch"), ws.group, {("CLICKS", campaign): 2, ("CLICKS", partner): 1})


def test_an_import_publishes_its_report_to_s3_and_cloudwatch(target, personalize, s3, shop):
    ws = shop["ws"]
    now = int(time.time()) // 900 * 900 + 60  # one 15-minute window
    source = f"import-{ws.suffix}"
    body = "\n".join(
        [
            "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE,RECOMMENDATION_ID,EVENT_ATTRIBUTION_SOURCE",
            f"u01,i01,{now},click,,,{source}",
            f"u02,i02,{now + 5},click,,,{source}",
            f"u03,i03,{now + 9},click,,,",
            f"u04,i02,{now + 20},purchase,,,{source}",  # PRICE 3.5
            f"u05,i06,{now + 30},watch,12.25,,{source}",
        ]
    )
    key = f"increments/{ws.suffix}.csv"
    s3.put_object(Bucket=ws.bucket, Key=key, Body=body.encode())
    job = personalize.create_dataset_import_job(
        jobName=f"attr-increment-{ws.suffix}",
        datasetArn=shop["datasets"]["Interactions"],
        dataSource={"dataLocation": f"s3://{ws.bucket}/{key}"},
        roleArn=ws.role,
        importMode="INCREMENTAL",
        publishAttributionMetricsToS3=True,
    )["datasetImportJobArn"]
    done = wait_for(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job), "datasetImportJob"
    )
    assert done["status"] == "ACTIVE", done.get("failureReason")
    assert done["publishAttributionMetricsToS3"] is True

    reports = [o["Key"] for o in s3.list_objects_v2(Bucket=ws.bucket, Prefix="attribution/")["Contents"]]
    assert len(reports) == 1 and reports[0].startswith(
        "attribution/AggregatedAttributionMetrics - INCREMENTAL - "
    )
    rows = list(
        csv.DictReader(io.StringIO(s3.get_object(Bucket=ws.bucket, Key=reports[0])["Body"].read().decode()))
    )
    window = str(now - now % 900)
    got = {(r["METRIC_NAME"], r["EVENT_ATTRIBUTION_SOURCE"]): r for r in rows}
    assert set(got) == {
        ("CLICKS", source),
        ("CLICKS", "SOURCE_NAME_UNDEFINED"),
        ("REVENUE", source),
        ("MINUTES", source),
    }
    assert got[("CLICKS", source)] == {
        "METRIC_NAME": "CLICKS",
        "EVENT_TYPE": "click",
        "VALUE": "2.0",
        "MATH_FUNCTION": "samplecount",
        "EVENT_ATTRIBUTION_SOURCE": source,
        "TIMESTAMP": window,
    }
    assert (got[("REVENUE", source)]["VALUE"], got[("REVENUE", source)]["MATH_FUNCTION"]) == ("3.5", "sum")
    assert got[("MINUTES", source)]["VALUE"] == "12.25"
    # Incremental bulk data also goes to CloudWatch.
    _wait_for_sums(target.client("cloudwatch"), ws.group, {("CLICKS", source): 2, ("REVENUE", source): 3.5})


def test_metrics_are_checked_against_the_schemas(personalize, target, s3, shop):
    ws = shop["ws"]
    errors = personalize.exceptions
    output = {"roleArn": ws.role}

    def create(group: str, metrics: list[dict[str, str]], name: str = "bad") -> None:
        personalize.create_metric_attribution(
            name=f"{name}-{ws.suffix}", datasetGroupArn=group, metrics=metrics, metricsOutputConfig=output
        )

    with pytest.raises(errors.LimitExceededException, match="at most one"):
        create(ws.group, METRICS[:1])
    other = new_workspace(target, personalize, s3, "attrbad")
    import_into(
        personalize, s3, other, f"attrbad-{other.suffix}", {"Interactions": (INTERACTIONS, _interactions(1))}
    )
    for expression, message in (
        ("SUM(Items.PRICE)", "no Items dataset"),
        ("SUM(Interactions.NOPE)", "no column NOPE"),
        ("SUM(Interactions.USER_ID)", "numeric column"),
        ("SUM(Users.AGE)", "Interactions or Items"),
        ("AVG(Interactions.EVENT_VALUE)", "SAMPLECOUNT"),
    ):
        with pytest.raises(errors.InvalidInputException, match=message):
            create(other.group, [{"eventType": "click", "expression": expression, "metricName": "M"}])
    with pytest.raises(errors.InvalidInputException, match="unique"):
        create(other.group, [METRICS[0], {**METRICS[0], "eventType": "view"}])
    with pytest.raises(errors.InvalidInputException, match="at least one"):
        create(other.group, [])
    with pytest.raises(errors.ResourceNotFoundException):
        create(other.group.replace("attrbad-group", "missing-group"), METRICS[:1])
    # Nothing was half-created by the refusals.
    assert personalize.list_metric_attributions(datasetGroupArn=other.group)["metricAttributions"] == []
    # A report needs an attribution with an S3 path.
    with pytest.raises(errors.InvalidInputException, match="needs a metric attribution"):
        personalize.create_dataset_import_job(
            jobName=f"attrbad-report-{other.suffix}",
            datasetArn=_dataset(personalize, other.group),
            dataSource={"dataLocation": f"s3://{other.bucket}/x.csv"},
            roleArn=other.role,
            publishAttributionMetricsToS3=True,
        )
    with pytest.raises(errors.InvalidInputException, match="reports on interactions"):
        personalize.create_dataset_import_job(
            jobName=f"attr-items-report-{ws.suffix}",
            datasetArn=shop["datasets"]["Items"],
            dataSource={"dataLocation": f"s3://{ws.bucket}/x.csv"},
            roleArn=ws.role,
            publishAttributionMetricsToS3=True,
        )


def _dataset(personalize, group: str) -> str:
    return personalize.list_datasets(datasetGroupArn=group)["datasets"][0]["datasetArn"]


def test_update_adds_and_removes_metrics_and_delete_ends_the_attribution(target, personalize, s3):
    ws = new_workspace(target, personalize, s3, "attrupd")
    import_into(
        personalize, s3, ws, f"attrupd-{ws.suffix}", {"Interactions": (INTERACTIONS, _interactions(1))}
    )
    arn = personalize.create_metric_attribution(
        name=f"attrupd-{ws.suffix}",
        datasetGroupArn=ws.group,
        metrics=[METRICS[0], METRICS[2]],
        metricsOutputConfig={"roleArn": ws.role},
    )["metricAttributionArn"]
    errors = personalize.exceptions
    with pytest.raises(errors.ResourceAlreadyExistsException, match="CLICKS"):
        personalize.update_metric_attribution(metricAttributionArn=arn, addMetrics=[METRICS[0]])
    with pytest.raises(errors.InvalidInputException, match="no metric REVENUE"):
        personalize.update_metric_attribution(metricAttributionArn=arn, removeMetrics=["REVENUE"])
    too_many = [
        {"eventType": f"e{i}", "expression": "SAMPLECOUNT()", "metricName": f"M{i}"} for i in range(9)
    ]
    with pytest.raises(errors.InvalidInputException, match="at most 10"):
        personalize.update_metric_attribution(metricAttributionArn=arn, addMetrics=too_many)
    personalize.update_metric_attribution(
        metricAttributionArn=arn,
        removeMetrics=["MINUTES"],
        addMetrics=[{"eventType": "view", "expression": "SAMPLECOUNT()", "metricName": "VIEWS"}],
        metricsOutputConfig={"roleArn": ws.role, "s3DataDestination": {"path": f"s3://{ws.bucket}/reports"}},
    )
    metrics = personalize.list_metric_attribution_metrics(metricAttributionArn=arn)["metrics"]
    assert sorted(m["metricName"] for m in metrics) == ["CLICKS", "VIEWS"]
    doc = personalize.describe_metric_attribution(metricAttributionArn=arn)["metricAttribution"]
    assert doc["metricsOutputConfig"]["s3DataDestination"]["path"] == f"s3://{ws.bucket}/reports"
    assert doc["lastUpdatedDateTime"] >= doc["creationDateTime"]

    personalize.delete_metric_attribution(metricAttributionArn=arn)
    assert personalize.list_metric_attributions(datasetGroupArn=ws.group)["metricAttributions"] == []
    with pytest.raises(errors.ResourceNotFoundException):
        personalize.describe_metric_attribution(metricAttributionArn=arn)
    with pytest.raises(errors.InvalidInputException, match="does not exist"):
        personalize.list_metric_attribution_metrics(metricAttributionArn=arn)
