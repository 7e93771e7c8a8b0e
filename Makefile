# Crossroads — the two commands a newcomer needs are `make demo` and `make test`.
# Both create .venv, install everything and start the local stack (Kafka + ClickHouse) themselves.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint unit component integration bench stack-up stack-down stack-status tools clean-venv

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	@touch $(STAMP)

# System tools the tests use besides the stack itself (the stack installs its own packages).
tools:
	@command -v docker-compose >/dev/null || { \
	  echo "installing Debian's docker-compose (used to validate docker-compose.yml; no engine needed)"; \
	  $(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -qq docker-compose >/dev/null; }

## The main job: the local stack, the topics, the warehouse, and a declaration's journey through them.
demo: $(STAMP)
	$(BIN)/crossroads demo

## The whole suite: lint, types, unit, component and integration tests (the fixtures start the stack).
test: $(STAMP) tools lint
	$(BIN)/python -m pytest tests

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy streams

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

component: $(STAMP)
	$(BIN)/python -m pytest tests/component

integration: $(STAMP) tools
	$(BIN)/python -m pytest -m integration tests/integration

## Benchmarks, on demand: `crossroads bench` runs every bench/bench_*.py in sequence (each against a baseline measured
## in the same run), then writes bench/results/summary.json and BENCHMARKS.md; the stack must be up (make stack-up).
## Smoke-sized: make bench BENCH_ARGS=--quick; one bench: make bench BENCH_ARGS="--only directory".
bench: $(STAMP)
	$(BIN)/crossroads bench --command "make bench $(BENCH_ARGS)" $(BENCH_ARGS)

stack-up: $(STAMP)
	$(BIN)/crossroads stack up

stack-down: $(STAMP)
	$(BIN)/crossroads stack down

stack-status: $(STAMP)
	$(BIN)/crossroads stack status

clean-venv:
	rm -rf $(VENV)
