# The two set-up commands: `make demo` and `make test`. Both build .venv from nothing.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint serve bench-quality bench-latency clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) demo/movielens.py

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -rs

lint: $(STAMP)
	$(VENV)/bin/ruff check .

serve: $(STAMP)
	$(VENV)/bin/tailor serve --port 4599

bench-quality: $(STAMP)
	$(PY) bench/quality.py

bench-latency: $(STAMP)
	$(PY) bench/latency.py

clean:
	rm -rf $(VENV) .tailor .pytest_cache .ruff_cache
