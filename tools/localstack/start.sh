#!/usr/bin/env bash
# Starts LocalStack as a host process (no Docker) and waits until it is ready. Stop it with stop.sh.
set -euo pipefail
source "$(dirname "$0")/env.sh"
if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
  echo "start: LocalStack already runs (pid $(cat "$PID_FILE")); stop it with tools/localstack/stop.sh" >&2
  exit 1
fi
[ -x "$STATE/venv/bin/python" ] || { echo "start: run tools/localstack/setup.sh first" >&2; exit 1; }
mkdir -p "$STATE/fs" "$STATE/tmp"
started=$(date +%s.%N)
(
  cd "$STATE"
  # OVERRIDE_IN_DOCKER=0: the sandbox looks like a container, and LocalStack would write to /var/lib
  # and /etc. The ESM poll settings make PutEvents reach the ingest function within about a second,
  # as on AWS (LocalStack backs off up to 10 s on an idle stream by default).
  exec env OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$STATE/fs" TMPDIR="$STATE/tmp" \
    DISABLE_EVENTS=1 SKIP_SSL_CERT_DOWNLOAD=1 GATEWAY_LISTEN="127.0.0.1:$LOCALSTACK_PORT" \
    LAMBDA_RUNTIME_EXECUTOR=tailor-host TAILOR_LAMBDA_PYTHON="$ROOT/.venv/bin/python" \
    TAILOR_LAMBDA_STATE="$STATE/lambda" \
    LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC=0.2 LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC=0.5 \
    "$STATE/venv/bin/python" -m localstack.runtime.main
) > "$LOG_FILE" 2>&1 &
echo $! > "$PID_FILE"
for _ in $(seq 1 300); do
  if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
    echo "start: LocalStack exited; last lines of $LOG_FILE:" >&2; tail -n 30 "$LOG_FILE" >&2
    rm -f "$PID_FILE"; exit 1
  fi
  if curl -fsS "$AWS_ENDPOINT_URL/_localstack/health" >/dev/null 2>&1; then
    printf 'start: LocalStack ready at %s (pid %s) in %.1f s\n' "$AWS_ENDPOINT_URL" "$(cat "$PID_FILE")" \
      "$(echo "$(date +%s.%N) - $started" | bc)"
    exit 0
  fi
  sleep 0.2
done
echo "start: LocalStack not ready after 60 s; stopping it" >&2
"$(dirname "$0")/stop.sh"
exit 1
