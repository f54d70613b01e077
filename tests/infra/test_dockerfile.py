"""training/Dockerfile against the code it packages (no Docker here: the file is parsed, not built)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from functions import wiring
from functions.workflows import steps
from infra.workflows import IMAGE_CONTEXT_EXCLUDES, TRAINING_DOCKERFILE
from training import entrypoint

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / TRAINING_DOCKERFILE


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def _args() -> dict[str, str]:
    return dict(arg.split("=", 1) for kw, arg in _instructions() if kw == "ARG" and "=" in arg)


def _env() -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in _instructions():
        if keyword == "ENV":
            env.update(dict(pair.split("=", 1) for pair in rest.split()))
    return env


def _pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return dict(dep.split("==", 1) for dep in project["dependencies"] if "==" in dep)


def test_entrypoint_is_the_training_module():
    entry = [json.loads(rest) for kw, rest in _instructions() if kw == "ENTRYPOINT"]
    assert entry == [["python", "-m", "training.entrypoint"]]
    assert (ROOT / "training" / "entrypoint.py").is_file()
    assert callable(entrypoint.main)


def test_sagemaker_directories_match_the_entrypoint_defaults():
    env = _env()
    assert env["SM_INPUT_DIR"] == entrypoint.DEFAULT_INPUT_DIR == "/opt/ml/input"
    assert env["SM_MODEL_DIR"] == entrypoint.DEFAULT_MODEL_DIR == "/opt/ml/model"
    assert env["SM_OUTPUT_DIR"] == entrypoint.DEFAULT_OUTPUT_DIR == "/opt/ml/output"
    made = " ".join(rest for kw, rest in _instructions() if kw == "RUN")
    for path in ("/opt/ml/input/config", "/opt/ml/input/data", "/opt/ml/model", "/opt/ml/output"):
        assert path in made


def test_sagemaker_invocation_with_train_argument_is_accepted(tmp_path):
    """SageMaker runs `<image> train`: the word must reach the training code, not argparse's exit 2."""
    code = entrypoint.main(
        [
            "train",
            "--input-dir",
            str(tmp_path / "in"),
            "--model-dir",
            str(tmp_path / "m"),
            "--output-dir",
            str(tmp_path / "out"),
        ]
    )
    assert code == 1  # no hyperparameters.json: a training failure, reported the SageMaker way
    assert (tmp_path / "out" / "failure").read_text().strip()
    with pytest.raises(SystemExit):
        entrypoint.main(["serve"])


def test_channel_names_agree():
    assert steps.CHANNEL == entrypoint.INTERACTIONS_CHANNEL


def test_torch_is_the_pinned_version_in_a_cuda_build_by_default():
    args = _args()
    assert args["TORCH_VERSION"] == _pins()["torch"].split("+")[0]
    assert args["TORCH_VARIANT"] == "cuda"
    run = " ".join(rest for kw, rest in _instructions() if kw == "RUN")
    assert '"torch==${TORCH_VERSION}"' in run
    assert "download.pytorch.org/whl/cpu" in run  # only on the cpu branch


def test_base_python_satisfies_the_project():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    minimum = project["requires-python"].removeprefix(">=")
    assert tuple(map(int, _args()["PYTHON_VERSION"].split("."))) >= tuple(map(int, minimum.split(".")))
    froms = [rest for kw, rest in _instructions() if kw == "FROM"]
    assert froms == ["python:${PYTHON_VERSION}-slim-bookworm"]


def test_copied_sources_exist_and_are_in_the_build_context():
    copies = [rest.split()[0] for kw, rest in _instructions() if kw == "COPY"]
    assert copies == ["pyproject.toml", "functions", "training"]
    for source in copies:
        assert (ROOT / source).exists()
        assert f"!{source}" in IMAGE_CONTEXT_EXCLUDES, f"{source} is excluded from the Docker context"


def test_lambda_entry_is_the_workflow_handler():
    """The CPU build doubles as the Lambda training step: awslambdaric must be installed for it."""
    run = " ".join(rest for kw, rest in _instructions() if kw == "RUN")
    assert "awslambdaric==${AWSLAMBDARIC_VERSION}" in run
    assert re.fullmatch(r"\d+\.\d+\.\d+", _args()["AWSLAMBDARIC_VERSION"])
    handler = wiring.FUNCTIONS["train"].handler
    module = handler.rpartition(".")[0]
    assert (ROOT / (module.replace(".", "/") + ".py")).is_file()
