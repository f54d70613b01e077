"""`make demo`: Amazon Personalize's workflow on MovieLens, against a Tailor started for the occasion.

Everything below is plain boto3 as a Personalize notebook writes it; only ``endpoint_url`` differs.
Data: ../shared/data/ml-latest-small when present, else the GroupLens download, else a generated set.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import time
import urllib.request
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3

from functions import wiring
from tailor_local.launcher import start_service, stop_service

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data" / "ml-latest-small"
GROUPLENS_ZIP = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
NAMESPACE = wiring.METRIC_ATTRIBUTION_NAMESPACE
DEMO_USER = "1"
TERMINATOR_2 = "589"


def load_movielens() -> tuple[list[dict[str, str]], dict[str, str], str]:
    """Ratings rows and movie titles, and where they came from."""
    if (SHARED / "ratings.csv").exists():
        ratings = list(csv.DictReader(open(SHARED / "ratings.csv", encoding="utf-8")))
        movies = {
            r["movieId"]: r["title"] for r in csv.DictReader(open(SHARED / "movies.csv", encoding="utf-8"))
        }
        return ratings, movies, str(SHARED)
    try:
        with urllib.request.urlopen(GROUPLENS_ZIP, timeout=20) as response:
            archive = zipfile.ZipFile(io.BytesIO(response.read()))
        read = lambda name: io.TextIOWrapper(archive.open(f"ml-latest-small/{name}"), encoding="utf-8")  # noqa: E731
        ratings = list(csv.DictReader(read("ratings.csv")))
        movies = {r["movieId"]: r["title"] for r in csv.DictReader(read("movies.csv"))}
        return ratings, movies, GROUPLENS_ZIP
    except OSError as exc:
        print(f"MovieLens not available ({exc}); generating a synthetic catalogue instead.")
        return synthetic_ratings()


def synthetic_ratings() -> tuple[list[dict[str, str]], dict[str, str], str]:
    rng = random.Random(0)
    genres = ["Action", "Comedy", "Drama", "Sci-Fi", "Horror"]
    movies = {str(i): f"Synthetic {genres[i % 5]} film #{i}" for i in range(1, 2001)}
    movies[TERMINATOR_2] = "Terminator 2: Judgment Day (1991)"
    ratings = []
    for user in range(1, 401):
        taste = user % 5
        for _ in range(rng.randint(20, 120)):
            movie = rng.choice(
                [m for m in range(1, 2001) if m % 5 == taste] if rng.random() < 0.8 else range(1, 2001)
            )
            ratings.append(
                {
                    "userId": str(user),
                    "movieId": str(movie),
                    "rating": str(rng.choice([2, 3, 4, 4.5, 5])),
                    "timestamp": str(1_500_000_000 + rng.randint(0, 10**7)),
                }
            )
    return ratings, movies, "generated"


def interactions_csv(ratings: list[dict[str, str]]) -> str:
    """Amazon Personalize's sample preparation: `click` for rating > 1, `watch` for rating > 3."""
    out = io.StringIO()
    out.write("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE\n")
    for r in ratings:
        rating = float(r["rating"])
        if rating > 1:
            out.write(f"{r['userId']},{r['movieId']},{r['timestamp']},click\n")
        if rating > 3:
            out.write(f"{r['userId']},{r['movieId']},{r['timestamp']},watch\n")
    return out.getvalue()


def wait(describe, key: str, label: str) -> dict[str, Any]:
    started = time.monotonic()
    while True:
        doc = describe()[key]
        if doc["status"] in ("ACTIVE", "CREATE FAILED"):
            print(f"  {label}: {doc['status']} after {time.monotonic() - started:.1f}s")
            if doc["status"] != "ACTIVE":
                raise SystemExit(f"{label} failed: {doc.get('failureReason')}")
            return doc
        time.sleep(1)


def show(title: str, items: list[dict[str, Any]], movies: dict[str, str]) -> None:
    print(f"\n{title}")
    for rank, item in enumerate(items, 1):
        print(
            f"  {rank:2d}. {movies.get(item['itemId'], item['itemId'])}  (score {item.get('score', 0):.4f})"
        )


def main() -> None:
    state = ROOT / ".tailor" / "demo"
    state.mkdir(parents=True, exist_ok=True)
    ratings, movies, source = load_movielens()
    data = interactions_csv(ratings)
    print(f"MovieLens from {source}: {len(ratings):,} ratings -> {data.count(chr(10)) - 1:,} interactions")

    process, url = start_service(state)
    print(f"Tailor running at {url}")
    try:
        run_workflow(url, data, movies)
    finally:
        stop_service(process)
        print("\nTailor stopped.")


def run_workflow(url: str, data: str, movies: dict[str, str]) -> None:
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    s3, iam = session.client("s3", endpoint_url=url), session.client("iam", endpoint_url=url)
    personalize = session.client("personalize", endpoint_url=url)
    runtime = session.client("personalize-runtime", endpoint_url=url)
    events = session.client("personalize-events", endpoint_url=url)

    s3.create_bucket(Bucket="movielens-demo")
    s3.put_object(Bucket="movielens-demo", Key="interactions.csv", Body=data.encode())
    role = iam.create_role(
        RoleName="PersonalizeDemo",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "personalize.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    schema = {
        "type": "record",
        "name": "Interactions",
        "namespace": "com.amazonaws.personalize.schema",
        "fields": [
            {"name": "USER_ID", "type": "string"},
            {"name": "ITEM_ID", "type": "string"},
            {"name": "TIMESTAMP", "type": "long"},
            {"name": "EVENT_TYPE", "type": "string"},
        ],
        "version": "1.0",
    }
    print("\nCreating the dataset group, schema and dataset, then importing from S3")
    schema_arn = personalize.create_schema(name="movielens-interactions", schema=json.dumps(schema))[
        "schemaArn"
    ]
    group = personalize.create_dataset_group(name="movielens-demo")["datasetGroupArn"]
    dataset = personalize.create_dataset(
        name="movielens-interactions", schemaArn=schema_arn, datasetGroupArn=group, datasetType="Interactions"
    )["datasetArn"]
    job = personalize.create_dataset_import_job(
        jobName="movielens-import",
        datasetArn=dataset,
        roleArn=role,
        dataSource={"dataLocation": "s3://movielens-demo/interactions.csv"},
    )["datasetImportJobArn"]
    wait(
        lambda: personalize.describe_dataset_import_job(datasetImportJobArn=job), "datasetImportJob", "import"
    )

    print("\nTraining aws-user-personalization and aws-sims")
    versions = {}
    for recipe in ("aws-user-personalization", "aws-sims"):
        solution = personalize.create_solution(
            name=f"movielens-{recipe}",
            datasetGroupArn=group,
            recipeArn=f"arn:aws:personalize:::recipe/{recipe}",
        )["solutionArn"]
        versions[recipe] = personalize.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    for recipe, arn in versions.items():
        wait(
            lambda arn=arn: personalize.describe_solution_version(solutionVersionArn=arn),
            "solutionVersion",
            recipe,
        )

    print("\nOffline metrics (Personalize's split: 10% of users, their newest 10% of interactions)")
    for recipe, arn in versions.items():
        metrics = personalize.get_solution_metrics(solutionVersionArn=arn)["metrics"]
        print(f"  {recipe}: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items())))

    campaigns = {
        recipe: personalize.create_campaign(name=f"movielens-{recipe}", solutionVersionArn=arn)["campaignArn"]
        for recipe, arn in versions.items()
    }
    for recipe, arn in campaigns.items():
        wait(lambda arn=arn: personalize.describe_campaign(campaignArn=arn), "campaign", f"campaign {recipe}")

    personal = campaigns["aws-user-personalization"]
    recs = runtime.get_recommendations(campaignArn=personal, userId=DEMO_USER, numResults=10)["itemList"]
    show(f"Recommendations for user {DEMO_USER}", recs, movies)
    similar = runtime.get_recommendations(
        campaignArn=campaigns["aws-sims"], itemId=TERMINATOR_2, numResults=10
    )
    show(f"Similar to {movies.get(TERMINATOR_2, 'Terminator 2')}", similar["itemList"], movies)

    # Which campaign's recommendations get watched: a metric attribution, and events that carry the
    # recommendationId of the list they came from.
    personalize.create_metric_attribution(
        name="movielens-impact",
        datasetGroupArn=group,
        metrics=[{"eventType": "watch", "expression": "SAMPLECOUNT()", "metricName": "WATCHES"}],
        metricsOutputConfig={"roleArn": role},
    )
    tracker = personalize.create_event_tracker(name="movielens-events", datasetGroupArn=group)
    clicked = [i["itemId"] for i in similar["itemList"][:3]]
    events.put_events(
        trackingId=tracker["trackingId"],
        userId=DEMO_USER,
        sessionId="demo-session",
        eventList=[
            {
                "eventId": f"demo-{i}",
                "eventType": "watch",
                "itemId": item,
                "sentAt": time.time() + i,
                "recommendationId": similar["recommendationId"],
            }
            for i, item in enumerate(clicked)
        ],
    )
    print("\nUser watched: " + "; ".join(movies.get(i, i) for i in clicked))
    time.sleep(1.0)
    after = runtime.get_recommendations(campaignArn=personal, userId=DEMO_USER, numResults=10)["itemList"]
    show(f"Recommendations for user {DEMO_USER} after those events", after, movies)
    show_attribution(session.client("cloudwatch", endpoint_url=url), group)


def show_attribution(cloudwatch: Any, group: str) -> None:
    """The metric attribution's WATCHES in CloudWatch, per event attribution source (the 15-minute sums)."""
    deadline = time.monotonic() + 30
    while True:
        listed = cloudwatch.list_metrics(Namespace=NAMESPACE, MetricName="WATCHES")["Metrics"]
        if listed or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    print("\nWatch events by the campaign whose recommendations they came from (CloudWatch, WATCHES)")
    now = datetime.now(UTC)
    for metric in listed:
        dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        if dimensions.get(wiring.ATTRIBUTION_GROUP_DIMENSION) != group:
            continue
        points = cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName="WATCHES",
            Dimensions=metric["Dimensions"],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(hours=1),
            Period=900,
            Statistics=["Sum"],
        )["Datapoints"]
        source = dimensions[wiring.ATTRIBUTION_SOURCE_DIMENSION].rsplit("/", 1)[-1]
        print(f"  {source}: {sum(p['Sum'] for p in points):.0f}")


if __name__ == "__main__":
    os.environ.pop("AWS_ENDPOINT_URL", None)
    main()
