"""Serving benchmarks through the local endpoint: latency, throughput, freshness, batch inference.

For each catalogue size (default 10k and 100k items, generated data with a categorical GENRE on every
item) it runs the whole workflow (S3 upload, imports, one-epoch training of aws-user-personalization
and aws-personalized-ranking, campaigns) and measures, on this machine:

- GetRecommendations and GetPersonalizedRanking (inputList of 50) p50/p99 of sequential requests and
  requests/s with concurrent clients, each with and without a filter
  (``INCLUDE ItemID WHERE Items.GENRE IN ($GENRE)`` for one of 10 genres);
- freshness: seconds from PutEvents returning to GetRecommendations no longer offering the item;
- PutEvents requests/s with concurrent clients (one event each);
- batch inference users/s (a job over ``--batch-users`` users, from CreateBatchInferenceJob to ACTIVE).

Run on purpose (``make bench-serving``); prints tables.

    python bench/serving.py [--items 10000 100000] [--requests 1000] [--threads 8] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tailor_local.launcher import start_service, stop_service

GENRES = [f"g{i}" for i in range(10)]


def _schema(name: str, fields: list[dict[str, Any]]) -> str:
    return json.dumps(
        {
            "type": "record",
            "name": name,
            "namespace": "com.amazonaws.personalize.schema",
            "fields": fields,
            "version": "1.0",
        }
    )


INTERACTIONS = _schema(
    "Interactions",
    [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
    ],
)
ITEMS = _schema(
    "Items",
    [{"name": "ITEM_ID", "type": "string"}, {"name": "GENRE", "type": "string", "categorical": True}],
)


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


def generated_items(items: int) -> str:
    return "ITEM_ID,GENRE\n" + "".join(f"i{i},{GENRES[i % len(GENRES)]}\n" for i in range(items))


def session_clients(url: str) -> dict[str, Any]:
    session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1")
    config = Config(retries={"max_attempts": 1}, max_pool_connections=64)
    return {
        name: session.client(name, endpoint_url=url, config=config)
        for name in ("s3", "personalize", "personalize-runtime", "personalize-events", "iam")
    }


def wait(describe: Callable[[], dict[str, Any]], key: str) -> dict[str, Any]:
    while True:
        doc = describe()[key]
        if doc["status"] in ("ACTIVE", "CREATE FAILED"):
            if doc["status"] != "ACTIVE":
                raise SystemExit(doc.get("failureReason"))
            return doc
        time.sleep(0.5)


def build(url: str, items: int) -> dict[str, Any]:
    c = session_clients(url)
    p, s3 = c["personalize"], c["s3"]
    users = max(2000, items // 20)
    bucket = f"bench-{items}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="i.csv", Body=generated_interactions(items, users, 30).encode())
    s3.put_object(Bucket=bucket, Key="items.csv", Body=generated_items(items).encode())
    group = p.create_dataset_group(name=f"bench-{items}")["datasetGroupArn"]
    for kind, schema, key in (("Interactions", INTERACTIONS, "i.csv"), ("Items", ITEMS, "items.csv")):
        schema_arn = p.create_schema(name=f"bench-{items}-{kind}", schema=schema)["schemaArn"]
        dataset = p.create_dataset(
            name=f"bench-{items}-{kind}", schemaArn=schema_arn, datasetGroupArn=group, datasetType=kind
        )["datasetArn"]
        job = p.create_dataset_import_job(
            jobName=f"bench-{items}-{kind}",
            datasetArn=dataset,
            dataSource={"dataLocation": f"s3://{bucket}/{key}"},
        )["datasetImportJobArn"]
        wait(lambda job=job: p.describe_dataset_import_job(datasetImportJobArn=job), "datasetImportJob")
    campaigns, versions = {}, {}
    for recipe in ("aws-user-personalization", "aws-personalized-ranking"):
        solution = p.create_solution(
            name=f"bench-{items}-{recipe}",
            datasetGroupArn=group,
            recipeArn=f"arn:aws:personalize:::recipe/{recipe}",
            # One epoch at 64 dimensions: serving cost is what is measured here (scoring every item per
            # request); quality is bench/quality.py's business.
            # (The co-occurrence initialisation, a factorisation of the item co-occurrence matrix, is skipped:
            # at 100k items it takes longer than the epoch.)
            solutionConfig={
                "algorithmHyperParameters": {
                    "epochs": "1",
                    "hidden_dimension": "64",
                    "cooccurrence_init": "false",
                }
            },
        )["solutionArn"]
        # One training at a time: two jobs with two threads each on two cores slow both down many times.
        version = versions[recipe] = p.create_solution_version(solutionArn=solution)["solutionVersionArn"]
        wait(
            lambda version=version: p.describe_solution_version(solutionVersionArn=version), "solutionVersion"
        )
    for recipe, version in versions.items():
        campaigns[recipe] = p.create_campaign(name=f"bench-{items}-{recipe}", solutionVersionArn=version)[
            "campaignArn"
        ]
    for campaign in campaigns.values():
        wait(lambda campaign=campaign: p.describe_campaign(campaignArn=campaign), "campaign")
    genre_filter = p.create_filter(
        name=f"bench-{items}-genre",
        datasetGroupArn=group,
        filterExpression="INCLUDE ItemID WHERE Items.GENRE IN ($GENRE)",
    )["filterArn"]
    tracking_id = p.create_event_tracker(name=f"bench-{items}", datasetGroupArn=group)["trackingId"]
    return {
        "bucket": bucket,
        "campaigns": campaigns,
        "versions": versions,
        "filter": genre_filter,
        "tracking_id": tracking_id,
        "users": [f"u{u}" for u in range(users)],
        "items": items,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(url: str, call: Callable[[Any, int], Any], requests: int, threads: int, seconds: float) -> dict:
    client = session_clients(url)["personalize-runtime"]
    for i in range(50):  # warm the model, the caches and the connection
        call(client, i)
    latencies = []
    for i in range(requests):
        started = time.perf_counter()
        call(client, i)
        latencies.append((time.perf_counter() - started) * 1000)
    count = [0] * threads
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        own = session_clients(url)["personalize-runtime"]
        while time.monotonic() < stop:
            call(own, index * 7919 + count[index])
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


def runtime_calls(built: dict[str, Any]) -> dict[str, Callable[[Any, int], Any]]:
    users, items = built["users"], built["items"]
    rec, rank = built["campaigns"]["aws-user-personalization"], built["campaigns"]["aws-personalized-ranking"]
    rng = random.Random(1)
    lists = [[f"i{rng.randrange(items)}" for _ in range(50)] for _ in range(97)]

    def genre(i: int) -> dict[str, str]:
        return {"GENRE": f'"{GENRES[i % len(GENRES)]}"'}

    return {
        "GetRecommendations": lambda c, i: c.get_recommendations(
            campaignArn=rec, userId=users[i % len(users)]
        ),
        "GetRecommendations + filter": lambda c, i: c.get_recommendations(
            campaignArn=rec, userId=users[i % len(users)], filterArn=built["filter"], filterValues=genre(i)
        ),
        "GetPersonalizedRanking (50)": lambda c, i: c.get_personalized_ranking(
            campaignArn=rank, userId=users[i % len(users)], inputList=lists[i % len(lists)]
        ),
        "GetPersonalizedRanking (50) + filter": lambda c, i: c.get_personalized_ranking(
            campaignArn=rank,
            userId=users[i % len(users)],
            inputList=lists[i % len(lists)],
            filterArn=built["filter"],
            filterValues=genre(i),
        ),
    }


def measure_freshness(url: str, built: dict[str, Any], samples: int) -> tuple[float, float]:
    """p50/p99 seconds from PutEvents returning to GetRecommendations no longer offering the item."""
    c = session_clients(url)
    client, events = c["personalize-runtime"], c["personalize-events"]
    campaign = built["campaigns"]["aws-user-personalization"]
    delays = []
    for i in range(samples):
        user = built["users"][-(i + 1)]
        top = client.get_recommendations(campaignArn=campaign, userId=user)["itemList"][0]["itemId"]
        events.put_events(
            trackingId=built["tracking_id"],
            userId=user,
            sessionId=f"s-{user}",
            eventList=[{"eventType": "click", "itemId": top, "sentAt": time.time()}],
        )
        sent = time.perf_counter()
        while time.perf_counter() - sent < 10:
            items = [
                e["itemId"] for e in client.get_recommendations(campaignArn=campaign, userId=user)["itemList"]
            ]
            if top not in items:
                break
            time.sleep(0.005)
        delays.append(time.perf_counter() - sent)
    return percentile(delays, 0.5), percentile(delays, 0.99)


def measure_put_events(url: str, built: dict[str, Any], threads: int, seconds: float) -> float:
    count = [0] * threads
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        events = session_clients(url)["personalize-events"]
        while time.monotonic() < stop:
            n = count[index]
            events.put_events(
                trackingId=built["tracking_id"],
                userId=f"pe-{index}-{n % 500}",
                sessionId=f"pe-{index}",
                eventList=[
                    {
                        "eventType": "click",
                        "itemId": f"i{(index * 31 + n) % built['items']}",
                        "sentAt": time.time(),
                    }
                ],
            )
            count[index] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(count) / seconds


def measure_batch(url: str, built: dict[str, Any], users: int) -> float:
    c = session_clients(url)
    p, s3 = c["personalize"], c["s3"]
    body = "".join(json.dumps({"userId": u}) + "\n" for u in built["users"][:users])
    s3.put_object(Bucket=built["bucket"], Key="batch/users.json", Body=body.encode())
    role = c["iam"].create_role(RoleName=f"bench-{built['items']}", AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    started = time.monotonic()
    job = p.create_batch_inference_job(
        jobName=f"bench-{built['items']}",
        solutionVersionArn=built["versions"]["aws-user-personalization"],
        jobInput={"s3DataSource": {"path": f"s3://{built['bucket']}/batch/users.json"}},
        jobOutput={"s3DataDestination": {"path": f"s3://{built['bucket']}/batch/out/"}},
        roleArn=role,
    )["batchInferenceJobArn"]
    wait(lambda: p.describe_batch_inference_job(batchInferenceJobArn=job), "batchInferenceJob")
    return users / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch-users", type=int, default=2000)
    parser.add_argument("--training-threads", type=int, default=2)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="tailor-bench-"))
    # Training runs one job at a time here, so it may use both cores.
    process, url = start_service(state, {"TAILOR_TRAINING_THREADS": str(args.training_threads)})
    runtime_rows, other_rows = [], []
    try:
        for items in args.items:
            started = time.monotonic()
            built = build(url, items)
            build_s = time.monotonic() - started
            for name, call in runtime_calls(built).items():
                result = measure(url, call, args.requests, args.threads, args.seconds)
                runtime_rows.append((items, name, result))
                print(f"{items} {name}: {result}", flush=True)  # progress; the tables follow at the end
            fresh = measure_freshness(url, built, 30)
            put_rps = measure_put_events(url, built, args.threads, args.seconds)
            batch = measure_batch(url, built, args.batch_users)
            other_rows.append((items, build_s, fresh, put_rps, batch))
            print(
                f"{items}: build {build_s:.0f} s, fresh {fresh}, "
                f"PutEvents {put_rps:.0f}/s, batch {batch:.0f}/s",
                flush=True,
            )
    finally:
        stop_service(process)
    print(f"\nRuntime through the local endpoint (numResults 25; {args.threads} clients for req/s)")
    print("| items | operation | p50 (ms) | p99 (ms) | req/s |")
    print("|---:|---|---:|---:|---:|")
    for items, name, r in runtime_rows:
        print(f"| {items:,} | {name} | {r['p50']:.2f} | {r['p99']:.2f} | {r['rps']:.0f} |")
    print("\nEvents and batch")
    print("| items | build (s) | event visible p50 / p99 (s) | PutEvents req/s | batch users/s |")
    print("|---:|---:|---:|---:|---:|")
    for items, build_s, (p50, p99), put_rps, batch in other_rows:
        print(f"| {items:,} | {build_s:.0f} | {p50:.3f} / {p99:.3f} | {put_rps:.0f} | {batch:.0f} |")


if __name__ == "__main__":
    main()
