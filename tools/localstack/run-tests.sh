#!/usr/bin/env bash
# The LocalStack tier: set up (once), start LocalStack, deploy the CDK app with cdklocal, run the
# integration suite against the deployed API, and stop LocalStack by PID whatever happened.
# Extra arguments go to pytest.
set -euo pipefail
HERE="$(dirname "$0")"
source "$HERE/env.sh"
"$HERE/setup.sh"
trap '"$HERE/stop.sh"' EXIT
"$HERE/start.sh"
"$HERE/deploy.sh"
cd "$ROOT"
started=$(date +%s%N)
status=0
TAILOR_TARGET=localstack TAILOR_STACK_NAME="$STACK_NAME" .venv/bin/python -m pytest -q -rs -m integration \
  tests/integration "$@" || status=$?
elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
printf 'localstack tier: integration suite took %d.%03d s\n' $((elapsed_ms / 1000)) $((elapsed_ms % 1000))
exit $status
