"""Tables, the artifacts bucket and the admin key: everything that holds state."""

from __future__ import annotations

import hashlib

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from functions import wiring


def logical_id(env_name: str) -> str:
    """TAILOR_HISTORY_TABLE -> TailorHistoryTable: construct ids follow the wiring's names."""
    return env_name.title().replace("_", "")


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.env: dict[str, str] = {}
        self.tables: dict[str, dynamodb.Table] = {}
        for spec in wiring.TABLES:
            table = dynamodb.Table(
                self,
                logical_id(spec.env),
                partition_key=dynamodb.Attribute(name=spec.partition_key, type=dynamodb.AttributeType.STRING),
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                time_to_live_attribute=spec.ttl_attribute,
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                # Resource documents and histories are the users' data: never lost to a stack delete.
                removal_policy=RemovalPolicy.RETAIN,
            )
            self.tables[spec.env] = table
            self.env[spec.env] = table.table_name

        self.buckets: dict[str, s3.Bucket] = {}
        for name in wiring.BUCKET_ENVS:
            bucket = s3.Bucket(
                self,
                logical_id(name),
                encryption=s3.BucketEncryption.S3_MANAGED,
                versioned=True,  # models are stored here; a version survives an accidental overwrite
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                removal_policy=RemovalPolicy.RETAIN,
            )
            self.buckets[name] = bucket
            self.env[name] = bucket.bucket_name

        # The admin key: an access key id fixed per stack (so that it survives updates) and a
        # secret Secrets Manager generates, never seen by CloudFormation or this code.
        stack = Stack.of(self)
        key_id = "TLR" + hashlib.sha256(stack.stack_name.encode()).hexdigest()[:17].upper()
        self.admin_key = secretsmanager.Secret(
            self,
            "AdminKey",
            # A name a person can find and type: <stack>/admin-key.
            secret_name=f"{stack.stack_name}/admin-key",
            description="Tailor admin access key: {accessKeyId, secretAccessKey, accountId}",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=stack.to_json_string(
                    {"accessKeyId": key_id, "accountId": Aws.ACCOUNT_ID}
                ),
                generate_string_key="secretAccessKey",
                password_length=40,
                exclude_punctuation=True,
            ),
        )
        self.admin_access_key_id = key_id
        self.env[wiring.ENV_ADMIN_KEY_SECRET] = self.admin_key.secret_arn
