"""The Lambda code asset: ``functions/`` and ``training/`` (the control plane reads the recipe
catalogue from ``training.recipes``; the Lambda training step runs ``training.entrypoint``).

On AWS the Python dependencies must be in the asset. Docker bundling is not an option on machines
without Docker, so a local bundler runs ``pip install`` for Lambda's platform (manylinux wheels only,
Python 3.12) into the bundle, next to the copied sources. With ``hostRuntime`` (LocalStack's
host-process executor, template tests) the asset is the sources alone: the host interpreter already
has every dependency, and synth stays offline.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = Path(__file__).resolve().parent / "lambda-requirements.txt"
PACKAGES = ("functions", "training")
LAMBDA_PYTHON = "3.12"
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_12
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.md")

# Everything but the packages (an allow-list: a new top-level folder never leaks into the asset).
# "*" does not match names that start with a dot, hence ".*" (else every dot-folder is staged, empty).
ASSET_EXCLUDES = ["*", ".*", "**/__pycache__", "**/*.pyc", "**/*.md"]
for _package in PACKAGES:
    ASSET_EXCLUDES += [f"!{_package}", f"!{_package}/**"]


def copy_sources(root: Path, output_dir: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(root / package, output_dir / package, ignore=IGNORED, dirs_exist_ok=True)


def pip_command(output_dir: str, requirements: Path = REQUIREMENTS) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--platform",
        "manylinux2014_x86_64",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON,
        "--target",
        output_dir,
        "-r",
        str(requirements),
    ]


@jsii.implements(ILocalBundling)
class PipLocalBundler:
    """Builds the bundle on this machine; returning True tells CDK not to try Docker."""

    def __init__(self, root: Path = ROOT) -> None:
        self._root = root

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_: object) -> bool:
        subprocess.run(pip_command(output_dir), check=True)
        copy_sources(self._root, Path(output_dir))
        return True


def function_code(host_runtime: bool, root: Path = ROOT) -> lambda_.Code:
    if host_runtime:
        return lambda_.Code.from_asset(str(root), exclude=ASSET_EXCLUDES)
    return lambda_.Code.from_asset(
        str(root),
        exclude=ASSET_EXCLUDES,
        bundling=BundlingOptions(
            local=PipLocalBundler(root),
            # The same bundle in Lambda's build image, for a CDK that prefers Docker to the local
            # bundler (it does not by default: a local bundler that returns True wins).
            image=LAMBDA_RUNTIME.bundling_image,
            command=[
                "bash",
                "-c",
                "pip install --quiet -r /asset-input/infra/lambda-requirements.txt -t /asset-output"
                " && cp -r " + " ".join(f"/asset-input/{p}" for p in PACKAGES) + " /asset-output/",
            ],
        ),
    )
