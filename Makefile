# The few verbs people type. `make run` and `make test` work on a fresh machine.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: run test unit integration lint bench topology clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: simulator + web + worker on embedded defaults (SQLite, local RabbitMQ)
run: $(STAMP)
	$(BIN)/opscom-bridge run

## test: lint, types, unit and integration tests (starts RabbitMQ/PostgreSQL if needed)
test: $(STAMP)
	VENV=$(VENV) scripts/test.sh

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

integration: $(STAMP)
	scripts/services.sh && $(BIN)/pytest -q tests/integration

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/mypy

## bench: run the benchmarks, results in bench/results/*.json
bench: $(STAMP)
	scripts/services.sh && $(BIN)/python -m bench

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
