#!/usr/bin/env bash
# The whole test suite: lint, types, unit tests, integration tests (real RabbitMQ,
# real PostgreSQL, the OPS-COM simulator over HTTP), then the pipeline tests again on
# PostgreSQL with quorum queues. Called by `make test` and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
scripts/services.sh
echo "== ruff";  "$BIN/ruff" check .
echo "== mypy";  "$BIN/mypy"
echo "== unit";  "$BIN/pytest" -q tests/unit
echo "== integration (SQLite, classic queues)"
"$BIN/pytest" -q --durations=10 tests/integration
echo "== pipeline again (PostgreSQL, quorum queues)"
BRIDGE_TEST_DB=postgresql BRIDGE_TEST_QUEUE_TYPE=quorum "$BIN/pytest" -q \
  tests/integration/test_pipeline.py tests/integration/test_outage.py \
  tests/integration/test_ingress_poison.py tests/integration/test_webhooks_e2e.py \
  tests/integration/test_scale_out.py tests/integration/test_resilience.py
