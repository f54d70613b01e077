# Sourced by start.sh, deploy.sh and run-tests.sh: where the LocalStack tier lives and how to reach it.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="$ROOT/.localstack"
LOCALSTACK_PORT="${LOCALSTACK_PORT:-4566}"
PID_FILE="$STATE/localstack.pid"
LOG_FILE="$STATE/localstack.log"
STACK_NAME="${TAILOR_LOCALSTACK_STACK:-TailorLocal}"
OUTPUTS_FILE="$STATE/outputs.json"
# Clients (cdklocal, boto3, localstack-client): cdklocal's default host name does not resolve here,
# and it refuses AWS_ENDPOINT_URL without AWS_ENDPOINT_URL_S3.
export AWS_ENDPOINT_URL="http://127.0.0.1:$LOCALSTACK_PORT"
export AWS_ENDPOINT_URL_S3="$AWS_ENDPOINT_URL"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
# The CDK CLI offline, its caches inside the project.
export CDK_HOME="$ROOT/.cache/cdk-home" JSII_RUNTIME_PACKAGE_CACHE_ROOT="$ROOT/.cache/jsii"
export CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=1 JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20
