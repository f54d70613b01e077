"""The embedded local service end to end: one port, moto behind it, the stream poller, the job runner.

The Personalize handlers are replaced by fakes (``functions_override``) so that these tests check the
service's own plumbing, not the handlers, which have their own tests.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import types
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import KinesisDataStreamModel
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from functions.config import settings
from functions.stores import workflows
from tailor_local.jobs import JobRunner
from tailor_local.server import LocalService

pytestmark = pytest.mark.functional

REGION = "us-east-1"
ROOT = Path(__file__).resolve().parents[2]


class FakeIngest:
    """A stream consumer whose behaviour is written in each record: ``{"id", "mode", "fail"}``.

    mode ``ok`` succeeds; ``flaky`` is reported in ``batchItemFailures`` ``fail`` times, then succeeds;
    ``poison-report`` is always reported; ``poison-raise`` makes the whole invocation raise.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple[str, float]] = []  # (id, time) for every delivery
        self.acked: list[str] = []  # ids before the first failure of each invocation, as Lambda counts
        self.failed: Counter[str] = Counter()
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        KinesisDataStreamModel.model_validate(event)
        assert context.function_name == "tailor-ingest"
        now = time.time()
        batch = [(r, json.loads(base64.b64decode(r["kinesis"]["data"]))) for r in event["Records"]]
        with self.lock:
            self.events.append(event)
            self.seen.extend((body["id"], now) for _, body in batch)
            if any(body["mode"] == "poison-raise" for _, body in batch):
                raise RuntimeError("poison record")
            failures = []
            for record, body in batch:
                if body["mode"] == "poison-report" or (
                    body["mode"] == "flaky" and self.failed[body["id"]] < body["fail"]
                ):
                    self.failed[body["id"]] += 1
                    failures.append(record["kinesis"]["sequenceNumber"])
            first = next(
                (i for i, (r, _) in enumerate(batch) if r["kinesis"]["sequenceNumber"] in failures),
                len(batch),
            )
            self.acked.extend(body["id"] for _, body in batch[:first])
        return {"batchItemFailures": [{"itemIdentifier": seq} for seq in failures]}

    def deliveries(self, record_id: str) -> int:
        with self.lock:
            return sum(1 for rid, _ in self.seen if rid == record_id)


class FakeFunction:
    """Answers like a handler and keeps the proxy events it got."""

    def __init__(self, respond: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.events: list[dict[str, Any]] = []
        self.respond = respond

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        return self.respond(event)


def json_response(
    status: int, body: dict[str, Any], content_type: str = "application/json"
) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": content_type}, "body": json.dumps(body)}


def control_response(event: dict[str, Any]) -> dict[str, Any]:
    if event["headers"].get("X-Amz-Target") == "AmazonPersonalize.ListDatasetGroups":
        return json_response(200, {"datasetGroups": []}, "application/x-amz-json-1.1")
    raise RuntimeError("unexpected operation")


def runtime_response(event: dict[str, Any]) -> dict[str, Any]:
    if not event["headers"].get("Authorization"):
        return {
            "statusCode": 403,
            "headers": {"x-amzn-ErrorType": "MissingAuthenticationTokenException"},
            "body": json.dumps({"message": "Missing Authentication Token"}),
        }
    return json_response(200, {"itemList": [{"itemId": "i1"}], "recommendationId": "r1"})


class Crashes:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.done = threading.Event()

    def __call__(self, kind: str, arn: str, reason: str) -> None:
        self.calls.append((kind, arn, reason))
        self.done.set()


@pytest.fixture(scope="module")
def fakes() -> dict[str, Any]:
    return {
        "ingest": FakeIngest(),
        "control": FakeFunction(control_response),
        "runtime": FakeFunction(runtime_response),
        "events": FakeFunction(lambda event: json_response(200, {"echo": True})),
        "crashes": Crashes(),
    }


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, fakes: dict[str, Any]) -> Iterator[LocalService]:
    state = tmp_path_factory.mktemp("tailor-state")
    crash_script = "\n".join(
        [
            "import sys",
            "print('starting')",
            "sys.stderr.write('loading\\nTraining died: out of memory\\n')",
            "sys.exit(3)",
        ]
    )
    svc = LocalService(
        port=0,
        state_dir=state,
        functions_override={name: fakes[name] for name in ("ingest", "control", "runtime", "events")},
        poller_options={"retry_backoff_s": 0.01},
        job_command=lambda kind, arn: [sys.executable, "-c", crash_script],
        crash_recorder=fakes["crashes"],
    )
    with svc:
        yield svc


def client(service: LocalService, name: str) -> Any:
    return boto3.client(
        name,
        endpoint_url=service.url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def http(
    url: str, method: str = "GET", data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


# -- the gateway -------------------------------------------------------------------------------------


def test_health(service: LocalService) -> None:
    status, headers, body = http(f"{service.url}/_tailor/health")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    health = json.loads(body)
    assert health["status"] == "ok"
    assert health["moto"]["ready"] is True
    assert settings().events_stream in health["moto"]["resources"]["streams"]
    assert set(health["functions"]) >= {"control", "runtime", "events", "ingest"}
    assert health["poller"]["running"] is True
    assert {"started", "running", "queued", "failed"} <= set(health["jobs"])


def test_environment_points_the_functions_at_the_service(service: LocalService) -> None:
    assert os.environ["AWS_ENDPOINT_URL"] == service.url
    assert os.environ["TAILOR_WORKFLOW_BACKEND"] == "local"
    assert os.environ["TAILOR_MODEL_CACHE_DIR"] == str(service.state_dir / "models")
    assert workflows.starter() is service.jobs


def test_s3_path_style(service: LocalService) -> None:
    s3 = client(service, "s3")
    s3.create_bucket(Bucket="tailor-test-data")
    s3.put_object(Bucket="tailor-test-data", Key="interactions/part 1.csv", Body=b"USER_ID,ITEM_ID\nu1,i1\n")
    got = s3.get_object(Bucket="tailor-test-data", Key="interactions/part 1.csv")
    assert got["Body"].read() == b"USER_ID,ITEM_ID\nu1,i1\n"
    listed = s3.list_objects_v2(Bucket="tailor-test-data", Prefix="interactions/")
    assert [o["Key"] for o in listed["Contents"]] == ["interactions/part 1.csv"]
    # Presigned URLs are signed in the query string and must reach moto too.
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "tailor-test-data", "Key": "interactions/part 1.csv"}
    )
    assert url.startswith(f"{service.url}/tailor-test-data/")
    status, _, body = http(url)
    assert (status, body) == (200, b"USER_ID,ITEM_ID\nu1,i1\n")


def test_s3_bucket_named_like_a_personalize_path_stays_s3(service: LocalService) -> None:
    s3 = client(service, "s3")
    s3.create_bucket(Bucket="events")
    s3.put_object(Bucket="events", Key="a", Body=b"1")
    deleted = s3.delete_objects(Bucket="events", Delete={"Objects": [{"Key": "a"}]})  # POST /events?delete
    assert [d["Key"] for d in deleted["Deleted"]] == ["a"]


def test_iam_sts_kinesis_dynamodb_sqs_reach_moto(service: LocalService) -> None:
    iam = client(service, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "personalize.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName="PersonalizeRole", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    assert role["Arn"] == "arn:aws:iam::123456789012:role/PersonalizeRole"
    assert client(service, "sts").get_caller_identity()["Account"] == "123456789012"
    assert settings().events_stream in client(service, "kinesis").list_streams()["StreamNames"]
    tables = client(service, "dynamodb").list_tables()["TableNames"]
    assert {settings().resources_table, settings().history_table} <= set(tables)
    assert client(service, "sqs").get_queue_url(QueueName=settings().dlq_queue)["QueueUrl"]


def signed(service: LocalService, path: str, body: bytes, headers: dict[str, str]) -> AWSRequest:
    request = AWSRequest(method="POST", url=f"{service.url}{path}", data=body, headers=headers)
    SigV4Auth(Credentials("test", "test"), "personalize", REGION).add_auth(request)
    return request


def test_unknown_personalize_path_is_404(service: LocalService) -> None:
    request = signed(service, "/no-such-operation", b"{}", {"Content-Type": "application/json"})
    status, headers, body = http(request.url, "POST", body_of(request), dict(request.headers.items()))
    assert status == 404
    assert headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert "message" in json.loads(body)


def body_of(request: AWSRequest) -> bytes:
    data = request.data
    return data if isinstance(data, bytes) else str(data).encode()


def test_personalize_clients_reach_the_handlers_through_proxy_events(
    service: LocalService, fakes: dict[str, Any]
) -> None:
    assert client(service, "personalize").list_dataset_groups()["datasetGroups"] == []
    event = fakes["control"].events[-1]
    assert event["resource"] == "/" and event["path"] == "/" and event["httpMethod"] == "POST"
    assert event["headers"]["X-Amz-Target"] == "AmazonPersonalize.ListDatasetGroups"
    assert "Credential=test/" in event["headers"]["Authorization"]
    assert event["requestContext"]["stage"] == "local"
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert event["isBase64Encoded"] is False and json.loads(event["body"]) == {}

    runtime = client(service, "personalize-runtime")
    campaign = "arn:aws:personalize:us-east-1:123456789012:campaign/c"
    got = runtime.get_recommendations(campaignArn=campaign, userId="u1")
    assert got["itemList"] == [{"itemId": "i1"}]
    assert json.loads(fakes["runtime"].events[-1]["body"]) == {"campaignArn": campaign, "userId": "u1"}


def test_unsigned_personalize_requests_reach_the_handler(
    service: LocalService, fakes: dict[str, Any]
) -> None:
    status, headers, body = http(
        f"{service.url}/recommendations?x=1", "POST", b"{}", {"Content-Type": "application/json"}
    )
    assert status == 403
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert fakes["runtime"].events[-1]["multiValueQueryStringParameters"] == {"x": ["1"]}

    status, _, _ = http(
        f"{service.url}/", "POST", b"{}", {"X-Amz-Target": "AmazonPersonalize.ListDatasetGroups"}
    )
    assert status == 200
    assert "Authorization" not in fakes["control"].events[-1]["headers"]

    status, _, _ = http(f"{service.url}/events", "POST", b"\xff\x00binary")
    assert status == 200
    event = fakes["events"].events[-1]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\x00binary"


def test_a_failing_handler_is_a_502(service: LocalService) -> None:
    # The fake control function raises on any operation but ListDatasetGroups.
    request = signed(
        service,
        "/",
        b"{}",
        {"X-Amz-Target": "AmazonPersonalize.ListSolutions", "Content-Type": "application/json"},
    )
    status, headers, body = http(request.url, "POST", body_of(request), dict(request.headers.items()))
    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}


# -- the stream poller -------------------------------------------------------------------------------


def put(service: LocalService, *bodies: dict[str, Any]) -> None:
    result = client(service, "kinesis").put_records(
        StreamName=settings().events_stream,
        Records=[{"PartitionKey": "p", "Data": json.dumps(b).encode()} for b in bodies],
    )
    assert result["FailedRecordCount"] == 0


def test_poller_delivers_in_order_and_quickly(service: LocalService, fakes: dict[str, Any]) -> None:
    ingest: FakeIngest = fakes["ingest"]
    tag = uuid.uuid4().hex[:8]
    ids = [f"{tag}-{i}" for i in range(30)]
    sent = time.time()
    put(service, *({"id": i, "mode": "ok"} for i in ids))
    wait_for(lambda: set(ids) <= set(ingest.acked))
    with ingest.lock:
        order = [rid for rid, _ in ingest.seen if rid.startswith(tag)]
        first_seen = min(t for rid, t in ingest.seen if rid.startswith(tag))
    assert order == ids
    assert first_seen - sent < 1.0
    record = ingest.events[-1]["Records"][0]
    assert record["eventSourceARN"].endswith(f":stream/{settings().events_stream}")
    assert record["eventID"].startswith("shardId-")


def test_poller_retries_reported_failures_without_skipping(
    service: LocalService, fakes: dict[str, Any]
) -> None:
    ingest: FakeIngest = fakes["ingest"]
    tag = uuid.uuid4().hex[:8]
    before, flaky, after = f"{tag}-a", f"{tag}-flaky", [f"{tag}-c", f"{tag}-d"]
    put(
        service,
        {"id": before, "mode": "ok"},
        {"id": flaky, "mode": "flaky", "fail": 2},
        *({"id": i, "mode": "ok"} for i in after),
    )
    wait_for(lambda: {before, flaky, *after} <= set(ingest.acked))
    assert ingest.deliveries(flaky) == 3
    assert ingest.deliveries(before) == 1
    with ingest.lock:
        # Each retry starts at the failed record and carries everything after it.
        first = [rid for rid, _ in ingest.seen if rid.startswith(tag)]
    assert first[:4] == [before, flaky, *after]


@pytest.mark.parametrize("mode", ["poison-raise", "poison-report"])
def test_poison_record_ends_in_the_dlq_and_its_batch_mates_are_delivered(
    service: LocalService, fakes: dict[str, Any], mode: str
) -> None:
    ingest: FakeIngest = fakes["ingest"]
    sqs = client(service, "sqs")
    queue = sqs.get_queue_url(QueueName=settings().dlq_queue)["QueueUrl"]
    tag = uuid.uuid4().hex[:8]
    mates = [f"{tag}-{i}" for i in range(4)]
    poison = f"{tag}-poison"
    put(
        service,
        *({"id": i, "mode": "ok"} for i in mates[:2]),
        {"id": poison, "mode": mode},
        *({"id": i, "mode": "ok"} for i in mates[2:]),
    )
    wait_for(lambda: set(mates) <= set(ingest.acked))
    messages = []
    deadline = time.monotonic() + 5
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
    assert len(messages) == 1
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=messages[0]["ReceiptHandle"])
    body = json.loads(messages[0]["Body"])
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["KinesisBatchInfo"]["batchSize"] == 1
    [record] = body["payload"]["Records"]
    assert json.loads(base64.b64decode(record["kinesis"]["data"]))["id"] == poison
    assert body["reason"]
    # Tried once and retried max_retry_attempts times while alone at the head.
    assert ingest.deliveries(poison) >= 1 + service.consumer.max_retry_attempts
    assert poison not in ingest.acked
    health = json.loads(http(f"{service.url}/_tailor/health")[2])
    assert health["poller"]["records_dlq"] >= 1


# -- the job runner ----------------------------------------------------------------------------------


def test_service_job_runner_records_a_crash(service: LocalService, fakes: dict[str, Any]) -> None:
    arn = "arn:aws:personalize:us-east-1:123456789012:solution/s/abc"
    workflows.starter().start(workflows.SOLUTION_VERSION, arn)
    assert fakes["crashes"].done.wait(10)
    assert fakes["crashes"].calls == [(workflows.SOLUTION_VERSION, arn, "Training died: out of memory")]
    log = service.state_dir / "jobs" / "arn_aws_personalize_us-east-1_123456789012_solution_s_abc.log"
    assert "starting" in log.read_text() and "Training died" in log.read_text()
    assert service.jobs is not None and service.jobs.health()["failed"] == 1


def test_job_runner_default_crash_recorder_and_success(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str, str]] = []
    fake_run = types.ModuleType("functions.workflows.run")
    fake_run.record_crash = lambda kind, arn, reason: calls.append((kind, arn, reason))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "functions.workflows.run", fake_run)
    scripts = {"ok": "print('fine')", "bad": "raise SystemExit('boom: bad input')"}
    runner = JobRunner(tmp_path, command=lambda kind, arn: [sys.executable, "-c", scripts[arn]])
    runner.start("dataset-import", "ok")
    runner.start("dataset-import", "bad")
    assert runner.wait(10)
    runner.stop()
    assert calls == [("dataset-import", "bad", "boom: bad input")]
    assert runner.health()["succeeded"] == 1 and runner.health()["failed"] == 1


def test_job_runner_tells_the_service_which_workflows_succeeded(tmp_path: Path) -> None:
    done: list[tuple[str, str]] = []
    scripts = {"ok": "pass", "bad": "raise SystemExit(1)"}
    runner = JobRunner(
        tmp_path,
        command=lambda kind, arn: [sys.executable, "-c", scripts[arn]],
        crash_recorder=Crashes(),
        on_success=lambda kind, arn: done.append((kind, arn)),
    )
    runner.start("data-deletion", "ok")
    runner.start("data-deletion", "bad")
    assert runner.wait(10)
    runner.stop()
    assert done == [("data-deletion", "ok")]


def test_job_runner_bounds_concurrency_and_terminates_on_stop(tmp_path: Path) -> None:
    crashes = Crashes()
    runner = JobRunner(
        tmp_path,
        command=lambda kind, arn: [sys.executable, "-c", "import time; time.sleep(60)"],
        crash_recorder=crashes,
    )
    for i in range(3):
        runner.start("dataset-import", f"job-{i}")
    wait_for(lambda: runner.health()["running"] == 2, timeout=5)
    assert runner.health()["queued"] == 1
    started = time.monotonic()
    runner.stop(grace_s=3)
    assert time.monotonic() - started < 4
    health = runner.health()
    assert health["running"] == 0 and health["cancelled"] == 1
    assert crashes.calls == []  # killed by shutdown, not crashed


def test_job_runner_stop_reaches_the_processes_a_workflow_started(tmp_path: Path) -> None:
    script = (
        "import subprocess, sys, time; "
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
        "print(child.pid, flush=True); time.sleep(60)"
    )
    runner = JobRunner(
        tmp_path, command=lambda kind, arn: [sys.executable, "-c", script], crash_recorder=Crashes()
    )
    runner.start("solution-version", "train")
    log = tmp_path / "jobs" / "train.log"
    wait_for(lambda: log.exists() and len(log.read_text().splitlines()) >= 2, timeout=10)
    grandchild = int(log.read_text().splitlines()[-1])
    runner.stop(grace_s=2)

    def gone() -> bool:
        try:
            state = Path(f"/proc/{grandchild}/stat").read_text().split(")")[-1].split()[0]
        except FileNotFoundError:
            return True
        return state in ("Z", "X")  # a zombie waiting for a reaper has stopped running

    wait_for(gone, timeout=5)


# -- the command line --------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_tailor_serve_prints_ready_and_exits_cleanly(tmp_path: Path, signum: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TAILOR_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    process = subprocess.Popen(
        [sys.executable, "-m", "tailor_local.cli", "serve", "--port", "0", "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(30)
        assert lines, "no ready line within 30 s"
        match = re.fullmatch(r"Tailor ready at http://127\.0\.0\.1:(\d+)\n", lines[0])
        assert match, lines[0]
        port = int(match.group(1))
        assert port > 0
        status, _, body = http(f"http://127.0.0.1:{port}/_tailor/health")
        assert status == 200 and json.loads(body)["status"] == "ok"
        started = time.monotonic()
        process.send_signal(signum)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
