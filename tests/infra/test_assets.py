"""The Lambda asset: its contents, its dependency pins and the local bundler's pip command."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from infra import assets

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]


def _requirements() -> dict[str, str]:
    lines = [line.strip() for line in assets.REQUIREMENTS.read_text().splitlines()]
    return dict(line.split("==", 1) for line in lines if line and not line.startswith("#"))


def test_lambda_requirements_pin_the_project_versions():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = dict(dep.split("==", 1) for dep in project["dependencies"] if "==" in dep)
    requirements = _requirements()
    assert requirements, "no requirements"
    for name, version in requirements.items():
        assert pins.get(name) == version, (
            f"{name}: {version} in the Lambda bundle, {pins.get(name)} in pyproject"
        )
    # torch does not fit a zip asset; moto and Werkzeug are the local service's, not Lambda's.
    assert not {"torch", "moto[server]", "Werkzeug"} & set(requirements)


def test_pip_command_targets_lambdas_platform_with_wheels_only(tmp_path):
    command = assets.pip_command(str(tmp_path))
    joined = " ".join(command)
    assert "--platform manylinux2014_x86_64" in joined
    assert "--only-binary=:all:" in command
    assert f"--python-version {assets.LAMBDA_PYTHON}" in joined
    assert assets.LAMBDA_RUNTIME.name == f"python{assets.LAMBDA_PYTHON}"
    assert command[command.index("--target") + 1] == str(tmp_path)


def test_local_bundler_copies_the_packages_and_installs(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(assets.subprocess, "run", lambda cmd, check: calls.append(cmd))
    out = tmp_path / "bundle"
    out.mkdir()
    assert assets.PipLocalBundler(ROOT).try_bundle(str(out), image=None) is True
    assert calls == [assets.pip_command(str(out))]
    assert (out / "functions" / "handlers" / "control.py").is_file()
    assert (out / "training" / "recipes" / "__init__.py").is_file()
    assert not list(out.rglob("__pycache__"))


def test_synthesised_asset_holds_only_the_packages(tmp_path):
    import aws_cdk as cdk

    from infra.stack import TailorStack

    app = cdk.App(outdir=str(tmp_path), context={"hostRuntime": True, "trainingBackend": "lambda"})
    TailorStack(app, "AssetCheck")
    app.synth()
    staged = [p for p in tmp_path.glob("asset.*") if p.is_dir()]
    assert staged
    for asset in staged:
        assert {p.name for p in asset.iterdir()} <= {"functions", "training", "pyproject.toml"}
