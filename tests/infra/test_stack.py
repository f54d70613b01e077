"""The CDK template, synthesised once: what the deployment promises, checked against the wiring."""

from __future__ import annotations

from pathlib import Path

import pytest

from functions import wiring

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template():
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.stack import TailorStack

    app = cdk.App()
    return Template.from_stack(TailorStack(app, "TailorTest", code_path=str(ROOT / "functions")))


def _resources(template, kind: str) -> dict:
    return template.find_resources(kind)


def test_every_route_is_a_method_and_nothing_else(template):
    methods = _resources(template, "AWS::ApiGateway::Method")
    assert len(methods) == len(wiring.ROUTES)
    assert {m["Properties"]["HttpMethod"] for m in methods.values()} == {"POST"}
    paths = {
        m["Properties"]["ResourceId"].get("Ref", "root")
        if isinstance(m["Properties"]["ResourceId"], dict)
        else "root"
        for m in methods.values()
    }
    assert len(paths) == len(wiring.ROUTES)
    api_resources = _resources(template, "AWS::ApiGateway::Resource")
    assert {r["Properties"]["PathPart"] for r in api_resources.values()} == {
        r.path.strip("/") for r in wiring.ROUTES if r.path != "/"
    }


def test_event_source_mapping_matches_the_declared_consumer(template):
    spec = wiring.EVENTS_CONSUMER
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "BatchSize": spec.batch_size,
            "BisectBatchOnFunctionError": spec.bisect_on_error,
            "MaximumRetryAttempts": spec.max_retry_attempts,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "StartingPosition": "TRIM_HORIZON",
        },
    )
    mapping = next(iter(_resources(template, "AWS::Lambda::EventSourceMapping").values()))
    assert "OnFailure" in mapping["Properties"]["DestinationConfig"]


def test_tables_have_pitr_and_on_demand(template):
    tables = _resources(template, "AWS::DynamoDB::Table")
    assert len(tables) == len(wiring.TABLES)
    for table in tables.values():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_bucket_is_encrypted_versioned_and_private(template):
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )


def test_functions_use_the_wired_handlers_and_env(template):
    functions = _resources(template, "AWS::Lambda::Function")
    handlers = {f["Properties"]["Handler"] for f in functions.values()}
    assert {f.handler for f in wiring.FUNCTIONS.values()} <= handlers
    for fn in functions.values():
        if fn["Properties"]["Handler"] in handlers - {f.handler for f in wiring.FUNCTIONS.values()}:
            continue  # CDK's own helper functions (e.g. bucket notifications)
        variables = fn["Properties"]["Environment"]["Variables"]
        for name in (wiring.ENV_RESOURCES_TABLE, wiring.ENV_ARTIFACTS_BUCKET, wiring.ENV_EVENTS_STREAM):
            assert name in variables


def test_no_iam_statement_grants_wildcard_actions(template):
    for policy in _resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert "*" not in actions and not any(a.endswith(":*") for a in actions), statement
