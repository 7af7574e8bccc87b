# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup demo stop dev test lint

$(BIN)/missions: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

setup: $(BIN)/missions

# Leaves the stack running so the demo's missions can be browsed; `make stop` ends it.
demo: setup
	$(BIN)/missions demo --keep-stack

stop: setup
	$(BIN)/missions stop

dev: setup
	$(BIN)/missions dev

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy missions workflows activities workers api stripe_sandbox

test: lint
	$(BIN)/pytest
