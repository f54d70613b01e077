# The two set-up commands: `make demo` and `make test`. Both build .venv from nothing.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

NODE_STAMP := node_modules/.installed
# The AWS CLI (v1, from PyPI) pins its own botocore, so it gets a venv of its own (tests/clients).
CLI_VENV := .venv-awscli
CLI_STAMP := $(CLI_VENV)/.installed
AWSCLI_VERSION := 1.46.3

.PHONY: demo test install localstack-setup test-fast test-localstack test-deployed synth lint serve bench-quality bench-serving bench-recbole bench-onnx clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The CDK CLI and cdklocal, pinned by package-lock.json (tests/infra runs `cdk synth` offline).
$(NODE_STAMP): package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $(NODE_STAMP)

$(CLI_STAMP): Makefile
	test -x $(CLI_VENV)/bin/python || $(PYTHON) -m venv $(CLI_VENV)
	$(CLI_VENV)/bin/python -m pip install --quiet awscli==$(AWSCLI_VERSION)
	touch $(CLI_STAMP)

demo: $(STAMP)
	$(PY) demo/movielens.py

# Every tier: unit, functional, infra, smoke and integration (against the embedded service), then
# the integration suite again against the CDK stack deployed into LocalStack.
test: install
	$(MAKE) --no-print-directory test-fast test-localstack

# The project's venv, the AWS CLI's venv and LocalStack's (with the node packages) do not depend on
# each other: built side by side they take about as long as the largest alone.
install:
	$(MAKE) --no-print-directory -j3 $(STAMP) $(CLI_STAMP) localstack-setup

localstack-setup: $(NODE_STAMP)
	tools/localstack/setup.sh

test-fast: $(STAMP) $(NODE_STAMP) $(CLI_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q -rs

# The LocalStack tier alone: setup (cached under .localstack/), start, cdklocal deploy, the suite, stop.
test-localstack: $(STAMP) $(NODE_STAMP)
	tools/localstack/run-tests.sh

# The same suite against your own deployment: TAILOR_STACK_NAME (default Tailor) and AWS credentials.
test-deployed: $(STAMP)
	TAILOR_TARGET=deployed $(PY) -m pytest -q -rs -m integration tests/integration

synth: $(STAMP) $(NODE_STAMP)
	CDK_DISABLE_CLI_TELEMETRY=true CDK_DISABLE_VERSION_CHECK=1 CDK_HOME=$(CURDIR)/.cache/cdk-home \
	JSII_RUNTIME_PACKAGE_CACHE_ROOT=$(CURDIR)/.cache/jsii JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 \
	node_modules/.bin/cdk synth --no-notices -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

serve: $(STAMP)
	$(VENV)/bin/tailor serve --port 4599

bench-quality: $(STAMP)
	$(PY) bench/quality.py

bench-serving: $(STAMP)
	$(PY) bench/serving.py

# RecBole beside Tailor on MovieLens 100K (creates RecBole's venv under .bench/ once; long: see bench/RESULTS.md).
bench-recbole: $(STAMP)
	nice -n 15 $(PY) bench/recbole_compare.py

bench-onnx: $(STAMP)
	$(PY) bench/onnx_speed.py

clean:
	rm -rf $(VENV) $(CLI_VENV) .tailor .pytest_cache .ruff_cache .cache .localstack node_modules cdk.out
