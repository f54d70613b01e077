"""The REST API: exactly the routes of ``functions.wiring.ROUTES``, each to its function."""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from functions import wiring


class PersonalizeApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        functions: dict[str, lambda_.IFunction],
        throttle_rate: int,
        throttle_burst: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name="tailor",
            description="Amazon Personalize API (control plane, runtime, events) served by Tailor",
            deploy_options=apigw.StageOptions(
                stage_name="prod",
                tracing_enabled=True,
                metrics_enabled=True,
                # Authentication happens in the functions, so unauthenticated floods reach them:
                # the stage's throttle caps what such a flood can cost.
                throttling_rate_limit=throttle_rate,
                throttling_burst_limit=throttle_burst,
            ),
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # API Gateway's logging role is one per account and region: a stack that creates it
            # fights every other stack that does. Execution metrics need no role.
            cloud_watch_role=False,
        )
        integrations = {name: apigw.LambdaIntegration(fn, proxy=True) for name, fn in functions.items()}
        for route in wiring.ROUTES:
            resource = self.api.root if route.path == "/" else self.api.root.resource_for_path(route.path)
            # Authentication is SigV4 against Tailor's own key store, verified in the function that
            # has the body (authorization NONE here); API Gateway's IAM auth would demand the caller's
            # AWS IAM credentials instead of Tailor's keys. Any other path or method gets API
            # Gateway's own 403 MissingAuthenticationTokenException, as AWS answers unknown routes.
            resource.add_method(
                route.method, integrations[route.function], authorization_type=apigw.AuthorizationType.NONE
            )

    @property
    def url(self) -> str:
        return self.api.url
