"""`cdk synth` through the pinned CLI, once, offline: what `cdk deploy` would run first."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from functions import wiring

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"


def test_cdk_synth_offline(tmp_path):
    assert CDK.exists(), "the pinned CDK CLI is missing: run `npm ci` (make test does)"
    env = {
        **os.environ,
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        # Caches inside the project, never the user's home.
        "CDK_HOME": str(ROOT / ".cache" / "cdk-home"),
        "JSII_RUNTIME_PACKAGE_CACHE_ROOT": str(ROOT / ".cache" / "jsii"),
    }
    started = time.monotonic()
    # hostRuntime skips the pip bundling of the Lambda asset (which needs PyPI); all else is cdk.json's.
    result = subprocess.run(
        [str(CDK), "synth", "--no-notices", "-q", "-c", "hostRuntime=true", "-o", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr[-3000:]
    template = json.loads((tmp_path / "Tailor.template.json").read_text())
    types = [r["Type"] for r in template["Resources"].values()]
    assert types.count("AWS::ApiGateway::Method") == len(wiring.ROUTES)
    assert types.count("AWS::StepFunctions::StateMachine") == len(wiring.WORKFLOWS)
    # The training image is a Docker image asset of training/Dockerfile (staged, not built).
    assets = json.loads((tmp_path / "Tailor.assets.json").read_text())
    images = assets.get("dockerImages", {}).values()
    assert any(i["source"].get("dockerFile") == "training/Dockerfile" for i in images)
    print(f"cdk synth: {seconds:.1f} s")
