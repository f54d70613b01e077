#!/usr/bin/env bash
# Stops the LocalStack that start.sh started, by its PID (SIGTERM, then SIGKILL after 20 s), and the
# Lambda worker processes it left (each runs in its own process group, named in LocalStack's tmp).
set -uo pipefail
source "$(dirname "$0")/env.sh"
[ -f "$PID_FILE" ] || { echo "stop: no LocalStack started by start.sh"; exit 0; }
pid="$(cat "$PID_FILE")"
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "stop: LocalStack did not stop in 20 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null
  fi
fi
rm -f "$PID_FILE"
# Lambda workers LocalStack did not stop (their process group ids are the file names).
for group in "$STATE"/lambda/groups/*; do
  [ -e "$group" ] || continue
  kill -TERM -- "-$(basename "$group")" 2>/dev/null || true
  rm -f "$group"
done
echo "stop: LocalStack (pid $pid) stopped"
