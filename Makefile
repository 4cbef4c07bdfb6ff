# Two entry points: `make demo` and `make test`. Both set up everything they need first:
# `make demo` only the runtime extras (no Debian packages, no development tools);
# `make test` the rest (development tools, Flink, the docs site, Redis, PostgreSQL with
# wal2json, wrk, chromium).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
RUNTIME_STAMP := $(VENV)/.installed-runtime
STAMP := $(VENV)/.installed

.PHONY: setup setup-runtime demo test lint typecheck unit docs parity bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[runtime]'
	@touch $(RUNTIME_STAMP)

# dev includes every runtime extra, so it also stands for the runtime stamp.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev,flink]'
	@touch $(STAMP) $(RUNTIME_STAMP)

setup-runtime: $(RUNTIME_STAMP)

setup: $(STAMP)
	@bash scripts/ensure-debs.sh redis-server:redis-server wrk:wrk \
		/usr/lib/postgresql/15/bin/initdb:postgresql-15 \
		/usr/lib/postgresql/15/lib/wal2json.so:postgresql-15-wal2json \
		chromium:chromium

demo: setup-runtime
	$(VENV)/bin/shopstream demo

lint: setup
	$(PY) -m ruff check shopstream tests bench

typecheck: setup
	$(PY) -m mypy

# Two workers (pytest-xdist): the suite waits on servers and JVMs as much as it computes.
# --dist loadscope keeps a module on one worker, so a module fixture (a Flink cluster, a
# broker) starts once.
unit: setup
	$(PY) -m pytest -q -n 2 --dist loadscope --durations=15

# The docs site, warnings as errors (a broken link or a missing page fails the build).
docs: setup
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet --site-dir site

test: lint typecheck docs unit

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
	rm -rf $(VENV) out site .pytest_cache .mypy_cache .ruff_cache .hypothesis
