"""The CDK template, synthesised once: what the deployment promises, checked against the wiring."""

from __future__ import annotations

import json
from typing import Any

import pytest

from functions import wiring

pytestmark = pytest.mark.infra


def _resources(template: Any, kind: str) -> dict[str, Any]:
    return template.find_resources(kind)


def _by_handler(template: Any) -> dict[str, dict[str, Any]]:
    return {f["Properties"].get("Handler"): f for f in _resources(template, "AWS::Lambda::Function").values()}


def _path_of(resource_id: Any, api_resources: dict[str, Any]) -> str:
    """The full path of an API Gateway resource reference ({"Ref": id} or the root's GetAtt)."""
    if "Fn::GetAtt" in resource_id:
        return "/"
    logical = resource_id["Ref"]
    props = api_resources[logical]["Properties"]
    parent = _path_of(props["ParentId"], api_resources)
    return parent.rstrip("/") + "/" + props["PathPart"]


def test_every_route_is_a_method_to_its_function_and_nothing_else(template):
    methods = _resources(template, "AWS::ApiGateway::Method")
    api_resources = _resources(template, "AWS::ApiGateway::Resource")
    functions = {k: v for k, v in _resources(template, "AWS::Lambda::Function").items()}
    handler_of = {logical: fn["Properties"].get("Handler") for logical, fn in functions.items()}
    found = set()
    for method in methods.values():
        props = method["Properties"]
        path = _path_of(props["ResourceId"], api_resources)
        # The integration URI names the function's ARN: find which function.
        uri = json.dumps(props["Integration"]["Uri"])
        targets = [handler_of[logical] for logical in functions if f'"{logical}"' in uri]
        assert len(targets) == 1, (path, uri)
        assert props["Integration"]["Type"] == "AWS_PROXY"
        found.add((props["HttpMethod"], path, targets[0]))
    expected = {(r.method, r.path, wiring.FUNCTIONS[r.function].handler) for r in wiring.ROUTES}
    assert found == expected
    assert len(methods) == len(wiring.ROUTES)


def test_no_method_is_any_and_auth_is_sigv4_in_the_function(template):
    for method in _resources(template, "AWS::ApiGateway::Method").values():
        props = method["Properties"]
        assert props["HttpMethod"] != "ANY", "an ANY method would answer every path unauthenticated"
        # SigV4 against Tailor's key store is verified by the function (it has the body); API
        # Gateway's own auth would demand AWS IAM credentials. So: NONE, on declared routes only.
        assert props["AuthorizationType"] == "NONE"
    # Unknown paths get API Gateway's MissingAuthenticationTokenException: no proxy resource exists.
    for resource in _resources(template, "AWS::ApiGateway::Resource").values():
        assert "{proxy+}" not in resource["Properties"]["PathPart"]


def test_stage_throttles_and_traces(template):
    stage = next(iter(_resources(template, "AWS::ApiGateway::Stage").values()))["Properties"]
    assert stage["TracingEnabled"] is True
    settings = stage["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0


def test_event_source_mapping_matches_the_declared_consumer(template):
    spec = wiring.EVENTS_CONSUMER
    mappings = _resources(template, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 1
    props = next(iter(mappings.values()))["Properties"]
    assert props["BatchSize"] == spec.batch_size
    assert props.get("MaximumBatchingWindowInSeconds", 0) == spec.max_batching_window_s
    assert props["BisectBatchOnFunctionError"] is spec.bisect_on_error
    assert props["MaximumRetryAttempts"] == spec.max_retry_attempts
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert "Ref" in json.dumps(props["FunctionName"]) and "IngestFunction" in json.dumps(
        props["FunctionName"]
    )
    # The on-failure destination is the declared dead-letter queue.
    queues = _resources(template, "AWS::SQS::Queue")
    destination = json.dumps(props["DestinationConfig"]["OnFailure"]["Destination"])
    assert any(logical in destination for logical in queues)


def test_dead_letter_queue_is_encrypted_and_kept_14_days(template):
    queues = _resources(template, "AWS::SQS::Queue")
    assert len(queues) == len(wiring.QUEUE_ENVS)
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
        assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 86400


def test_stream_is_encrypted(template):
    for stream in _resources(template, "AWS::Kinesis::Stream").values():
        assert stream["Properties"]["StreamEncryption"]["EncryptionType"] == "KMS"


def test_tables_have_pitr_on_demand_encryption_and_declared_keys(template):
    tables = _resources(template, "AWS::DynamoDB::Table")
    assert len(tables) == len(wiring.TABLES)
    keys = set()
    for table in tables.values():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["SSESpecification"]["SSEEnabled"] is True
        assert table["DeletionPolicy"] == "Retain"
        ttl = props.get("TimeToLiveSpecification", {}).get("AttributeName")
        keys.add((props["KeySchema"][0]["AttributeName"], ttl))
    assert keys == {(t.partition_key, t.ttl_attribute) for t in wiring.TABLES}


def test_bucket_is_encrypted_versioned_private_and_tls_only(template):
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )
    policy = json.dumps(next(iter(_resources(template, "AWS::S3::BucketPolicy").values())))
    assert "aws:SecureTransport" in policy


def test_functions_use_the_wired_handlers_env_and_powertools(template):
    functions = _by_handler(template)
    needed = {r.function for r in wiring.ROUTES} | {wiring.EVENTS_CONSUMER.function, "workflow"}
    for name in needed:
        spec = wiring.FUNCTIONS[name]
        fn = functions[spec.handler]["Properties"]
        assert fn["MemorySize"] == spec.memory_mb and fn["Timeout"] == spec.timeout_s
        assert fn["TracingConfig"] == {"Mode": "Active"}
        variables = fn["Environment"]["Variables"]
        for env in [t.env for t in wiring.TABLES] + list(wiring.BUCKET_ENVS) + list(wiring.STREAM_ENVS):
            assert env in variables, (name, env)
        assert variables[wiring.ENV_WORKFLOW_BACKEND] == "stepfunctions"
        assert variables["POWERTOOLS_SERVICE_NAME"] == f"tailor-{name}"
        assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "Tailor"
    # The functions behind routes verify SigV4 against the admin key secret, and start workflows.
    control = functions[wiring.FUNCTIONS["control"].handler]["Properties"]["Environment"]["Variables"]
    assert wiring.ENV_ADMIN_KEY_SECRET in control
    for kind in wiring.WORKFLOWS:
        assert wiring.state_machine_env(kind) in control


def test_one_state_machine_per_workflow_kind(template):
    machines = _resources(template, "AWS::StepFunctions::StateMachine")
    assert len(machines) == len(wiring.WORKFLOWS)
    text = json.dumps(machines)
    for kind in wiring.WORKFLOWS:
        assert f'\\"kind\\":\\"{kind}\\"' in text, kind


def _definition(machine: dict[str, Any]) -> str:
    return json.dumps(machine["Properties"]["DefinitionString"])


def test_training_runs_as_a_sagemaker_job_on_the_configured_gpu(template):
    machines = _resources(template, "AWS::StepFunctions::StateMachine")
    training = [m for m in machines.values() if "sagemaker:createTrainingJob.sync" in _definition(m)]
    assert len(training) == sum(w.container_step for w in wiring.WORKFLOWS.values())
    definition = _definition(training[0])
    assert "ml.g5.xlarge" in definition
    # Prepare -> Train -> Publish, every step caught into RecordFailure.
    for step in ("Prepare", "Train", "Publish", "RecordFailure"):
        assert step in definition
    assert definition.count("States.ALL") >= 3
    # The training image is a Docker image asset of training/Dockerfile.
    assert "dkr.ecr" in definition or "ContainerAssetsRepository" in definition


def test_lambda_training_backend_has_a_train_function_and_no_sagemaker(lambda_template):
    machines = _resources(lambda_template, "AWS::StepFunctions::StateMachine")
    assert not any("sagemaker" in _definition(m) for m in machines.values())
    train = _by_handler(lambda_template)[wiring.FUNCTIONS["train"].handler]["Properties"]
    assert train["MemorySize"] == wiring.FUNCTIONS["train"].memory_mb
    assert train["Environment"]["Variables"]["TAILOR_QUOTA_DATASET_GROUPS"] == "7"
    assert train["EphemeralStorage"]["Size"] == 10240


def test_admin_key_is_a_generated_secret(template):
    secret = next(iter(_resources(template, "AWS::SecretsManager::Secret").values()))["Properties"]
    generate = secret["GenerateSecretString"]
    assert generate["GenerateStringKey"] == "secretAccessKey"
    assert generate["PasswordLength"] >= 40
    assert "accessKeyId" in json.dumps(generate["SecretStringTemplate"])
    outputs = template.find_outputs("*")
    assert {"ApiUrl", "AdminKeySecretName", "AdminKeySecretArn", "AlarmTopicArn"} <= set(outputs)


def test_alarms_cover_errors_throttles_iterator_age_and_dlq_depth(template):
    alarms = list(_resources(template, "AWS::CloudWatch::Alarm").values())
    metrics = [(a["Properties"].get("Namespace"), a["Properties"].get("MetricName")) for a in alarms]
    functions = len(_resources(template, "AWS::Lambda::Function"))
    assert metrics.count(("AWS/Lambda", "Errors")) == functions
    assert metrics.count(("AWS/Lambda", "Throttles")) == functions
    assert ("AWS/Lambda", "IteratorAge") in metrics
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in metrics
    assert metrics.count(("AWS/States", "ExecutionsFailed")) == len(wiring.WORKFLOWS)
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"], "every alarm notifies the alarm topic"


@pytest.mark.parametrize("fixture", ["template", "lambda_template"])
def test_no_iam_statement_grants_wildcard_actions(fixture, request):
    templ = request.getfixturevalue(fixture)
    policies = list(_resources(templ, "AWS::IAM::Policy").values())
    roles = list(_resources(templ, "AWS::IAM::Role").values())
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    statements += [
        s
        for r in roles
        for p in r["Properties"].get("Policies", [])
        for s in p["PolicyDocument"]["Statement"]
    ]
    assert statements
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any("*" in action for action in actions), statement
        assert statement["Effect"] == "Allow"
    for role in roles:
        # No AWS managed policy grants more than the statements above (e.g. AdministratorAccess).
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            assert "AWSLambdaBasicExecutionRole" in json.dumps(arn), arn


def test_resource_wildcards_are_conditioned(template):
    """A `*` resource is allowed only where AWS has no resource-level permissions, or with a condition."""
    # X-Ray, PutMetricData (namespace-conditioned), ECR's login token and CloudWatch Logs' log-delivery
    # API, which Step Functions logging needs, have no resource-level permissions.
    unscoped_ok = {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "cloudwatch:PutMetricData",
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
        "ecr:GetAuthorizationToken",
    }
    for policy in _resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            resources = statement.get("Resource")
            resources = resources if isinstance(resources, list) else [resources]
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "*" in resources:
                assert set(actions) <= unscoped_ok, statement
            if any(isinstance(r, str) and r.startswith("arn:aws:s3:::*") for r in resources):
                assert "s3:ResourceAccount" in json.dumps(statement.get("Condition", {})), statement


def test_only_the_workflow_function_writes_to_users_buckets(template):
    """Batch jobs and dataset exports write their output where the request says: this account's buckets."""
    writers = set()
    for policy in _resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            resources = statement.get("Resource")
            resources = resources if isinstance(resources, list) else [resources]
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if "s3:PutObject" in actions and "arn:aws:s3:::*/*" in resources:
                writers.update(json.dumps(role) for role in policy["Properties"]["Roles"])
    assert len(writers) == 1 and "Workflow" in next(iter(writers)), writers


def test_automatic_training_runs_on_a_schedule_and_may_start_training(template):
    rules = _resources(template, "AWS::Events::Rule")
    functions = _resources(template, "AWS::Lambda::Function")
    for schedule in wiring.SCHEDULES:
        handler = wiring.FUNCTIONS[schedule.function].handler
        logical = next(k for k, f in functions.items() if f["Properties"].get("Handler") == handler)
        matching = [
            r["Properties"]
            for r in rules.values()
            if r["Properties"].get("ScheduleExpression") == f"rate({schedule.rate_minutes} minutes)"
            and logical in json.dumps(r["Properties"]["Targets"])
        ]
        assert len(matching) == 1 and matching[0]["State"] == "ENABLED", schedule
        variables = functions[logical]["Properties"]["Environment"]["Variables"]
        assert wiring.state_machine_env(wiring.WORKFLOW_SOLUTION_VERSION) in variables
        # EventBridge may invoke it, and its role may start the training state machine.
        permissions = _resources(template, "AWS::Lambda::Permission").values()
        assert any(
            p["Properties"]["Principal"] == "events.amazonaws.com" and logical in json.dumps(p["Properties"])
            for p in permissions
        )
        role = functions[logical]["Properties"]["Role"]["Fn::GetAtt"][0]
        own = [
            p
            for p in _resources(template, "AWS::IAM::Policy").values()
            if {"Ref": role} in p["Properties"]["Roles"]
        ]
        assert "states:StartExecution" in json.dumps(own)


def test_only_ingest_and_workflow_report_metric_attributions(template):
    """PutEvents reports come from the stream consumer, import reports from the workflow function; each
    may put data in the attribution namespace only."""
    reporters = set()
    for policy in _resources(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            condition = statement.get("Condition", {}).get("StringEquals", {})
            if condition.get("cloudwatch:namespace") == wiring.METRIC_ATTRIBUTION_NAMESPACE:
                assert actions == ["cloudwatch:PutMetricData"], statement
                reporters.update(json.dumps(role) for role in policy["Properties"]["Roles"])
    assert len(reporters) == 2, reporters
    assert any("Ingest" in r for r in reporters) and any("Workflow" in r for r in reporters), reporters
