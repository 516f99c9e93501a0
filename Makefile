# assetstream developer entry points. On a fresh machine only python3, Java 17 and
# Maven are needed: `make run` (the demo) and `make test` (the whole suite) install
# the rest themselves. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help venv up down run test lint bench

help:
	@echo "make run    bring up Kafka + Redis, run the worker (the main job)"
	@echo "make test   the whole test suite against a real broker and Redis"
	@echo "make up     start Kafka and Redis (reusing running ones) and print their addresses"
	@echo "make down   stop only what 'make up' started in this checkout"
	@echo "make lint   ruff check, ruff format --check, mypy"
	@echo "make bench  benchmarks/engine_bench.py, when present"
	@echo "make venv   create .venv and install the project (re-run when pyproject.toml changes)"

venv: $(VENV_STAMP)

# Re-installs only when pyproject.toml is newer than the stamp.
$(VENV_STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

up: venv
	@bash scripts/up.sh

down:
	@bash scripts/down.sh

run: venv
	@bash scripts/run-demo.sh

test: venv
	@bash scripts/test.sh $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: venv
	@if [ -f benchmarks/engine_bench.py ]; then \
		$(VENV)/bin/python benchmarks/engine_bench.py; \
	else \
		echo "benchmarks/engine_bench.py does not exist yet; nothing to run"; \
	fi

# A local 3-broker KRaft cluster (127.0.0.1:19192-19194) and a SASL_SSL/SCRAM-SHA-512
# broker (127.0.0.1:19392), for replication and secure-transport tests; see
# scripts/kafka-cluster.sh and scripts/kafka-secure.sh. The -down targets delete their data.
.PHONY: cluster cluster-down secure secure-down

cluster: venv
	@bash scripts/kafka.sh cluster start
	@bash scripts/kafka.sh cluster env

cluster-down:
	@bash scripts/kafka.sh cluster stop --wipe

secure: venv
	@bash scripts/kafka.sh secure start

secure-down:
	@bash scripts/kafka.sh secure stop --wipe
