"""The shared body of the batch jobs that answer a JSON Lines input: batch inference, batch segment.

The input path is one file or a folder (every object under it); each object is read as UTF-8 text. Every
non-blank line is parsed here: a line that is not JSON, or not a JSON object, is answered with
``"output": null`` and its ``"error"``, so the job's answer function only ever sees objects. For each
input file ``<name>`` the job writes ``<name>.out`` under the output path, one line per non-blank input
line, in order. The outputs are written only once every line of every file is answered, and only if the
job is still running by then, so a failed, stopped or deleted job leaves no partial file.

A job kind supplies ``prepare(job, version, filter_expression, line_count)``: it loads what the lines
need and returns the per-line answer function. It may raise ``WorkflowFailed`` (a limit on the number of
lines, say), which fails the job before anything is written.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from typing import Any

from functions.resources import lifecycle as lc
from functions.stores.blobs import BlobStore, split_s3_uri
from functions.stores.resources import ResourceStore
from functions.workflows.run import PENDING, RUNNING, WorkflowFailed, _set, object_keys

Answer = Callable[[dict[str, Any]], dict[str, Any]]
Prepare = Callable[[dict[str, Any], dict[str, Any], str | None, int], Answer]


def _filter_expression(store: ResourceStore, job: dict[str, Any]) -> str | None:
    if not job.get("filterArn"):
        return None
    flt = store.find(job["filterArn"])
    if flt is None:
        raise WorkflowFailed(f"Filter {job['filterArn']} was deleted before the job ran.")
    return flt["filterExpression"]


def _read_lines(blobs: BlobStore, bucket: str, key: str) -> list[str]:
    try:
        text = blobs.get(bucket, key).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WorkflowFailed(f"s3://{bucket}/{key} is not UTF-8 text: {exc}.") from exc
    except Exception as exc:  # noqa: BLE001 - any S3 failure is the user's to fix (permissions, region)
        raise WorkflowFailed(f"Could not read s3://{bucket}/{key}: {exc}") from exc
    return [line for line in text.splitlines() if line.strip()]


def _answer_line(answer: Answer, line: str) -> dict[str, Any]:
    try:
        request = json.loads(line)
    except json.JSONDecodeError as exc:
        return {"input": line, "output": None, "error": f"The line is not valid JSON: {exc.msg}."}
    if not isinstance(request, dict):
        return {"input": request, "output": None, "error": "The line must be a JSON object."}
    return answer(request)


def _output(answer: Answer, out_prefix: str, key: str, lines: list[str]) -> tuple[str, bytes]:
    name = posixpath.basename(key) + ".out"
    target = posixpath.join(out_prefix, name) if out_prefix else name
    answered = [json.dumps(_answer_line(answer, line)) for line in lines]
    return target, ("\n".join(answered) + "\n").encode()


def run_json_lines_job(job_arn: str, prepare: Prepare) -> None:
    job = _set(job_arn, lc.CREATE_IN_PROGRESS, expect=PENDING)
    store = ResourceStore()
    version = store.get(job["solutionVersionArn"], lc.SOLUTION_VERSION)
    expression = _filter_expression(store, job)
    try:
        path = job["jobInput"]["s3DataSource"]["path"]
        bucket, keys = object_keys(path, lambda k: not k.endswith("/"), "nothing")
        out_bucket, out_prefix = split_s3_uri(job["jobOutput"]["s3DataDestination"]["path"])
    except ValueError as exc:
        raise WorkflowFailed(str(exc)) from exc
    blobs = BlobStore()
    inputs = [(key, _read_lines(blobs, bucket, key)) for key in keys]
    answer = prepare(job, version, expression, sum(len(lines) for _, lines in inputs))
    outputs = [_output(answer, out_prefix, key, lines) for key, lines in inputs]
    _set(job_arn, lc.CREATE_IN_PROGRESS, expect=RUNNING)  # a deleted or stopped job must not write
    for target, body in outputs:
        try:
            blobs.put(out_bucket, target, body)
        except Exception as exc:  # noqa: BLE001
            raise WorkflowFailed(f"Could not write s3://{out_bucket}/{target}: {exc}") from exc
    _set(job_arn, lc.ACTIVE, expect=RUNNING)
