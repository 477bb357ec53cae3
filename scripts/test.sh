#!/usr/bin/env bash
# The whole test suite: lint, types, unit tests, integration tests (real RabbitMQ,
# real PostgreSQL, the OPS-COM simulator over HTTP). Called by `make test` and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
scripts/services.sh
echo "== ruff";  "$BIN/ruff" check .
echo "== mypy";  "$BIN/mypy"
echo "== unit";  "$BIN/pytest" -q tests/unit
echo "== integration"; "$BIN/pytest" -q tests/integration
