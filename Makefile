# assetstream developer entry points. On a fresh machine only python3, Java 17 and
# Maven are needed: `make run` (the demo) and `make test` (the whole suite) install
# the rest themselves. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help venv up down run test test-fast lint bench

help:
	@echo "make run        bring up Kafka + Redis, run the worker and API with demo data (the main job)"
	@echo "make test       the whole test suite against a real broker, cluster and Redis (what CI runs)"
	@echo "make test-fast  the same without the slow fault trials (cluster, soak, secure broker)"
	@echo "make up         start Kafka and Redis (reusing running ones) and print their addresses"
	@echo "make down       stop only what this checkout started (broker, cluster, secure broker, Redis)"
	@echo "make lint       ruff check, ruff format --check, mypy --strict"
	@echo "make bench      engine cost per event and worker throughput against its ceiling"
	@echo "make cluster    start a local 3-broker KRaft cluster and print its env (cluster-down: stop, wipe)"
	@echo "make secure     start a SASL_SSL/SCRAM-SHA-512 broker and print its env (secure-down: stop, wipe)"
	@echo "make venv       create .venv from requirements.lock (hash-checked), then the project"
	@echo "make lock       regenerate requirements.lock with uv (LOCK_ARGS=--upgrade for newer versions)"

venv: $(VENV_STAMP)

# Every package, pip and the build backend included, comes from the hash-checked lock
# (runtime + dev, Python 3.11, Linux x86_64); the project itself is then installed with
# no resolving and no build isolation, so nothing unhashed is downloaded. Re-installs
# when the lock or pyproject.toml is newer than the stamp.
LOCK := requirements.lock
PIP := $(VENV)/bin/python -m pip --quiet --disable-pip-version-check

$(VENV_STAMP): $(LOCK) pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes -r $(LOCK)
	$(PIP) install --no-deps --no-build-isolation -e .
	@touch $@

# Regenerates the lock from pyproject.toml with uv, run from a throwaway venv under
# .cache/ (never the project's). Versions already locked are kept unless
# LOCK_ARGS=--upgrade (or --upgrade-package NAME) asks for newer ones.
UV_VERSION := 0.13.9
LOCK_TOOLS := .cache/lock-tools
LOCK_ARGS ?=
# Locked too, though no package depends on them: pip, and the build backend that
# `pip install --no-build-isolation -e .` uses (pyproject's [build-system]).
LOCK_EXTRAS := 'pip' 'setuptools>=69' 'wheel'

.PHONY: lock
lock:
	@test -x $(LOCK_TOOLS)/bin/uv || { $(PYTHON) -m venv $(LOCK_TOOLS) && \
		$(LOCK_TOOLS)/bin/python -m pip install --quiet uv==$(UV_VERSION); }
	printf '%s\n' $(LOCK_EXTRAS) | $(LOCK_TOOLS)/bin/uv pip compile --quiet pyproject.toml - \
		--extra dev --generate-hashes --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu --custom-compile-command 'make lock' \
		--output-file $(LOCK) $(LOCK_ARGS)

up: venv
	@bash scripts/up.sh

down:
	@bash scripts/down.sh

run: venv
	@bash scripts/run-demo.sh

test: venv
	@bash scripts/test.sh $(PYTEST_ARGS)

test-fast: venv
	@bash scripts/test.sh -m "not slow" $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: venv up
	$(VENV)/bin/python benchmarks/engine_bench.py
	$(VENV)/bin/python -m benchmarks.worker_throughput

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
