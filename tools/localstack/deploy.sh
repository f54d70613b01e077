#!/usr/bin/env bash
# Deploys the real CDK app into the running LocalStack with cdklocal: training as the Lambda step
# (LocalStack has no SageMaker), functions as source-only assets run by the host executor, and the
# service settings the integration suite expects (tests/integration/targets.py TEST_SERVICE_ENV).
# Writes the stack outputs to .localstack/outputs.json.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
FUNCTION_ENV="$(.venv/bin/python -c 'import json; from tests.integration.targets import TEST_SERVICE_ENV as e; print(json.dumps(e))')"
CDKLOCAL="$ROOT/node_modules/.bin/cdklocal"
started=$(date +%s.%N)
"$CDKLOCAL" bootstrap --no-notices "aws://000000000000/$AWS_DEFAULT_REGION" >"$STATE/bootstrap.log" 2>&1 \
  || { tail -n 40 "$STATE/bootstrap.log" >&2; exit 1; }
"$CDKLOCAL" deploy --no-notices --require-approval never --progress events \
  -o "$ROOT/.cache/cdk.out.localstack" \
  -c stackName="$STACK_NAME" -c hostRuntime=true -c trainingBackend=lambda \
  -c functionEnv="$FUNCTION_ENV" \
  --outputs-file "$OUTPUTS_FILE" >"$STATE/deploy.log" 2>&1 \
  || { tail -n 60 "$STATE/deploy.log" >&2; exit 1; }
printf 'deploy: %s deployed in %.1f s; outputs in %s\n' "$STACK_NAME" "$(echo "$(date +%s.%N) - $started" | bc)" "$OUTPUTS_FILE"
