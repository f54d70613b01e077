"""The deployment's seams in the functions: the Step Functions starter, the Secrets Manager key store,
and the workflow steps' own logic (what Step Functions hands them and what they tell the user)."""

from __future__ import annotations

import json
import re

import pytest

from functions import wiring
from functions.protocol.key_store import (
    ChainedKeyStore,
    Credential,
    SecretsManagerKeyStore,
    StaticKeyStore,
    credential_from_secret,
    key_store_from_env,
)
from functions.stores import workflows
from functions.workflows import steps

pytestmark = pytest.mark.unit

SECRET = json.dumps({"accessKeyId": "TLRADMIN", "secretAccessKey": "s3cret", "accountId": "000000000000"})


# -- Step Functions starter --------------------------------------------------------------------
class FakeStepFunctions:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def start_execution(self, **kwargs: str) -> dict:
        self.calls.append(kwargs)
        return {"executionArn": "arn"}


def _machines() -> dict[str, str]:
    return {
        wiring.state_machine_env(k): f"arn:aws:states:us-east-1:1:stateMachine:{k}" for k in wiring.WORKFLOWS
    }


def test_starter_starts_the_kinds_state_machine_with_kind_and_arn():
    client = FakeStepFunctions()
    starter = workflows.StepFunctionsStarter(client, environ=_machines())
    arn = "arn:aws:personalize:us-east-1:000000000000:solution/my-solution/abc123"
    starter.start(workflows.SOLUTION_VERSION, arn)
    (call,) = client.calls
    assert call["stateMachineArn"].endswith(f":{workflows.SOLUTION_VERSION}")
    assert json.loads(call["input"]) == {"kind": workflows.SOLUTION_VERSION, "arn": arn}
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}", call["name"]) and "abc123" in call["name"]


def test_execution_names_are_unique_and_valid_for_long_arns():
    arn = "arn:aws:personalize:us-east-1:000000000000:campaign/" + "x" * 200
    names = {workflows.execution_name(workflows.CAMPAIGN_DEPLOY, arn) for _ in range(20)}
    assert len(names) == 20
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,80}", n) for n in names)


def test_starter_fails_at_start_up_without_every_state_machine():
    env = _machines()
    env.pop(wiring.state_machine_env(workflows.DATASET_IMPORT))
    with pytest.raises(RuntimeError, match=wiring.state_machine_env(workflows.DATASET_IMPORT)):
        workflows.StepFunctionsStarter(FakeStepFunctions(), environ=env)


def test_backend_stepfunctions_registers_the_starter(monkeypatch):
    for name, value in _machines().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(wiring.ENV_WORKFLOW_BACKEND, "stepfunctions")
    from functions.config import settings

    settings.cache_clear()
    workflows.set_starter(None)
    try:
        assert isinstance(workflows.starter(), workflows.StepFunctionsStarter)
    finally:
        workflows.set_starter(None)
        settings.cache_clear()


def test_every_kind_has_a_runner():
    from functions.workflows.run import RUNNERS

    assert set(wiring.WORKFLOWS) == set(RUNNERS)
    for spec in wiring.WORKFLOWS.values():
        assert spec.function in wiring.FUNCTIONS


# -- Secrets Manager key store --------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_secret_key_store_caches_and_refreshes_after_ttl():
    fetches: list[str] = []
    clock = Clock()

    def fetch(secret_id: str) -> str:
        fetches.append(secret_id)
        return SECRET

    store = SecretsManagerKeyStore("Tailor/admin-key", fetch, ttl_s=300, miss_refresh_s=30, clock=clock)
    assert store.secret_for("TLRADMIN") == Credential("TLRADMIN", "s3cret", "000000000000")
    clock.now = 100
    assert store.secret_for("TLRADMIN") is not None
    assert fetches == ["Tailor/admin-key"]
    clock.now = 301
    store.secret_for("TLRADMIN")
    assert len(fetches) == 2


def test_unknown_keys_refresh_at_most_every_miss_interval():
    secrets = [SECRET]
    clock = Clock()
    store = SecretsManagerKeyStore("s", lambda _: secrets[-1], ttl_s=300, miss_refresh_s=30, clock=clock)
    assert store.secret_for("OTHER") is None
    rotated = json.dumps({"accessKeyId": "ROTATED", "secretAccessKey": "new", "accountId": "000000000000"})
    secrets.append(rotated)
    clock.now = 10
    assert store.secret_for("ROTATED") is None  # too soon: a flood of bad keys costs one fetch
    clock.now = 31
    assert store.secret_for("ROTATED") == Credential("ROTATED", "new", "000000000000")


@pytest.mark.parametrize(
    "secret",
    [
        "not json",
        json.dumps({"accessKeyId": "A"}),
        json.dumps({"accessKeyId": "A", "secretAccessKey": "s", "accountId": "12"}),
    ],
)
def test_bad_secrets_fail_without_echoing_it(secret):
    with pytest.raises(ValueError) as info:
        credential_from_secret(secret)
    assert 'secretAccessKey": "s' not in str(info.value)


def test_env_with_a_secret_has_no_default_key_and_chains_explicit_keys():
    store = key_store_from_env({"TAILOR_ADMIN_KEY_SECRET": "Tailor/admin-key"})
    assert isinstance(store, SecretsManagerKeyStore)
    chained = key_store_from_env({"TAILOR_ADMIN_KEY_SECRET": "x", "TAILOR_ACCESS_KEYS": "AK:sk"})
    assert isinstance(chained, ChainedKeyStore)
    static = StaticKeyStore.of(Credential("AK", "sk"))
    assert ChainedKeyStore(SecretsManagerKeyStore("s", lambda _: SECRET), static).secret_for("AK") is not None


# -- workflow steps -------------------------------------------------------------------------------
def test_failure_reason_prefers_sagemaker_then_lambda_messages():
    sagemaker = json.dumps({"FailureReason": "AlgorithmError: Too few interactions: 12 (need 1000)."})
    assert steps.failure_reason("States.TaskFailed", sagemaker).startswith("AlgorithmError: Too few")
    lambda_error = json.dumps({"errorMessage": "boom", "errorType": "KeyError"})
    assert steps.failure_reason("KeyError", lambda_error) == "boom"
    assert steps.failure_reason("States.Timeout", None) == "Internal error: States.Timeout."


def test_training_job_names_follow_sagemaker_rules():
    name = steps.training_job_name("arn:aws:personalize:us-east-1:1:solution/s/" + "v" * 100)
    assert re.fullmatch(r"[a-zA-Z0-9-]{1,63}", name) and name.startswith("tailor-")


@pytest.mark.parametrize(
    "event",
    [
        {"step": "run", "kind": "no-such-kind", "arn": "a"},
        {"step": "run", "kind": workflows.DATASET_IMPORT},
        {"step": "prepare", "kind": workflows.DATASET_IMPORT, "arn": "a"},  # no container step
        {"step": "dance", "kind": workflows.SOLUTION_VERSION, "arn": "a"},
    ],
)
def test_bad_step_events_are_refused(event):
    with pytest.raises(steps.StepError):
        steps.run_step(event)
