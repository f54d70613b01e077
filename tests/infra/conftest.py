"""One synthesis per session: the jsii kernel starts once (about 5 s), each further stack is cheap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _synth(context: dict[str, Any]) -> Any:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.stack import TailorStack

    app = cdk.App(context=context)
    return Template.from_stack(TailorStack(app, "TailorTest"))


@pytest.fixture(scope="session")
def template() -> Any:
    """The AWS deployment as cdk.json configures it (SageMaker training). hostRuntime only skips the
    pip bundling of the code asset, which needs PyPI; the template is otherwise the same."""
    return _synth({"hostRuntime": True})


@pytest.fixture(scope="session")
def lambda_template() -> Any:
    """The LocalStack deployment: training as the Lambda step."""
    return _synth(
        {
            "hostRuntime": True,
            "trainingBackend": "lambda",
            "functionEnv": {"TAILOR_QUOTA_DATASET_GROUPS": "7"},
        }
    )
