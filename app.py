#!/usr/bin/env python3
"""CDK app entry point (`cdk synth`, `cdk deploy`): one Tailor stack.

Deployment choices are CDK context (cdk.json, or `-c key=value`): see infra/settings.py.
"""

from __future__ import annotations

import aws_cdk as cdk

from infra.stack import TailorStack

app = cdk.App()
TailorStack(app, app.node.try_get_context("stackName") or "Tailor")
app.synth()
