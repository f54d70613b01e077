"""GetRecommendations latency and throughput through the local endpoint.

Builds a user-personalization campaign on generated data with 10k and 100k items (the whole workflow:
S3 upload, import, training, campaign), then measures p50/p99 of sequential requests and requests/s
with concurrent clients. Run on purpose (`make bench-latency`); prints a table.

    python bench/latency.py [--items 10000 100000] [--requests 2000] [--threads 4] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tailor_local.launcher import start_service, stop_service

SCHEMA = {
    "type": "record",
    "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
    ],
    "version": "1.0",
}


def generated_interactions(items: int, users: int, per_user: int, seed: int = 0) -> str:
    """Every item interacted with at least once (so the catalogue really has ``items`` items), plus
    ``per_user`` interactions per user, half from a Zipf-like head, half uniform."""
    rng = random.Random(seed)
    lines = ["USER_ID,ITEM_ID,TIMESTAMP"]
    for item in range(items):
        lines.append(f"u{item % users},i{item},{1_500_000_000 + item}")
    for u in range(users):
        for step in range(per_user):
            head = min(int(rng.paretovariate(1.2)) - 1, items - 1)
            item = head if rng.random() < 0.5 else rng.randrange(items)
            lines.append(f"u{u},i{item},{1_600_000_000 + u * 1000 + step}")
    return "\n".join(lines) + "\n"


def wait(describe, key: str) -> dict[str, Any]:
    while True:
        doc = describe()[key]
        if doc["status"] in ("ACTIVE", "CREATE FAILED"):
            if doc["status"] != "ACTIVE":
                raise SystemExit(doc.get("failureReason"))
            return doc
        time.sleep(1)


def build_campaign(url: str, items: int) -> tuple[str, str, list[str]]:
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    s3, p = session.client("s3", endpoint_url=url), session.client("personalize", endpoint_url=url)
    users = max(2000, items // 20)
    s3.create_bucket(Bucket=f"bench-{items}")
    s3.put_object(
        Bucket=f"bench-{items}", Key="i.csv", Body=generated_interactions(items, users, 30).encode()
    )
    schema = p.create_schema(name=f"bench-{items}", schema=json.dumps(SCHEMA))["schemaArn"]
    group = p.create_dataset_group(name=f"bench-{items}")["datasetGroupArn"]
    dataset = p.create_dataset(
        name=f"bench-{items}", schemaArn=schema, datasetGroupArn=group, datasetType="Interactions"
    )["datasetArn"]
    job = p.create_dataset_import_job(
        jobName=f"bench-{items}", datasetArn=dataset, dataSource={"dataLocation": f"s3://bench-{items}/i.csv"}
    )["datasetImportJobArn"]
    wait(lambda: p.describe_dataset_import_job(datasetImportJobArn=job), "datasetImportJob")
    solution = p.create_solution(
        name=f"bench-{items}",
        datasetGroupArn=group,
        recipeArn="arn:aws:personalize:::recipe/aws-user-personalization",
        solutionConfig={"algorithmHyperParameters": {"epochs": "1"}},
    )["solutionArn"]
    version = p.create_solution_version(solutionArn=solution)["solutionVersionArn"]
    wait(lambda: p.describe_solution_version(solutionVersionArn=version), "solutionVersion")
    campaign = p.create_campaign(name=f"bench-{items}", solutionVersionArn=version)["campaignArn"]
    wait(lambda: p.describe_campaign(campaignArn=campaign), "campaign")
    tracking_id = p.create_event_tracker(name=f"bench-{items}", datasetGroupArn=group)["trackingId"]
    return campaign, tracking_id, [f"u{u}" for u in range(users)]


def runtime_client(url: str) -> Any:
    return boto3.client(
        "personalize-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, max_pool_connections=32),
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(url: str, campaign: str, users: list[str], requests: int, threads: int, seconds: float) -> dict:
    client = runtime_client(url)
    for user in users[:50]:  # warm the model and connection
        client.get_recommendations(campaignArn=campaign, userId=user)
    latencies = []
    for i in range(requests):
        started = time.perf_counter()
        client.get_recommendations(campaignArn=campaign, userId=users[i % len(users)])
        latencies.append((time.perf_counter() - started) * 1000)
    count = [0] * threads
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        own = runtime_client(url)
        while time.monotonic() < stop:
            own.get_recommendations(
                campaignArn=campaign, userId=users[(index * 7919 + count[index]) % len(users)]
            )
            count[index] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return {
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "rps": sum(count) / seconds,
    }


def measure_freshness(url: str, campaign: str, tracking_id: str, users: list[str], samples: int) -> float:
    """Median seconds from PutEvents returning to GetRecommendations no longer offering the item."""
    client = runtime_client(url)
    events = boto3.client(
        "personalize-events",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    delays = []
    for i in range(samples):
        user = users[-(i + 1)]
        top = client.get_recommendations(campaignArn=campaign, userId=user)["itemList"][0]["itemId"]
        events.put_events(
            trackingId=tracking_id,
            userId=user,
            sessionId=f"s-{user}",
            eventList=[{"eventType": "click", "itemId": top, "sentAt": time.time()}],
        )
        sent = time.perf_counter()
        while time.perf_counter() - sent < 10:
            items = [
                i["itemId"] for i in client.get_recommendations(campaignArn=campaign, userId=user)["itemList"]
            ]
            if top not in items:
                break
            time.sleep(0.005)
        delays.append(time.perf_counter() - sent)
    return percentile(delays, 0.5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="tailor-bench-"))
    process, url = start_service(state)
    rows = []
    try:
        for items in args.items:
            started = time.monotonic()
            campaign, tracking_id, users = build_campaign(url, items)
            built = time.monotonic() - started
            result = measure(url, campaign, users, args.requests, args.threads, args.seconds)
            result["fresh"] = measure_freshness(url, campaign, tracking_id, users, 30)
            rows.append((items, built, result))
    finally:
        stop_service(process)
    print("\nGetRecommendations through the local endpoint (user-personalization, numResults=25)")
    print(
        f"| items | build (s) | p50 (ms) | p99 (ms) | req/s ({args.threads} clients) "
        "| event visible (p50, s) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for items, built, r in rows:
        print(
            f"| {items:,} | {built:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['rps']:.0f} "
            f"| {r['fresh']:.3f} |"
        )


if __name__ == "__main__":
    main()
