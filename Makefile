# Two entry points: `make demo` and `make test`. Both set up everything they need first.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint typecheck unit parity bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,flink]'
	@touch $(STAMP)

setup: $(STAMP)
	@bash scripts/ensure-debs.sh redis-server:redis-server wrk:wrk \
		/usr/lib/postgresql/15/bin/initdb:postgresql-15 \
		/usr/lib/postgresql/15/lib/wal2json.so:postgresql-15-wal2json \
		chromium:chromium

demo: setup
	$(VENV)/bin/shopstream demo

lint: setup
	$(PY) -m ruff check shopstream tests bench

typecheck: setup
	$(PY) -m mypy

unit: setup
	$(PY) -m pytest -q

test: lint typecheck unit

# The runner conformance suite alone: embedded, Flink at parallelism 1 and 2 (about a minute).
parity: setup
	$(PY) -m pytest -q tests/parity

bench: setup
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) bench/foundation_bench.py
	$(PY) bench/rules_bench.py
	$(PY) bench/serve_bench.py
	$(PY) bench/kafka_bench.py
	$(PY) bench/collector_bench.py
	$(PY) bench/recommend_bench.py
	$(PY) bench/flink_bench.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache .hypothesis
