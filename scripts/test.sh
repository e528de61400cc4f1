#!/usr/bin/env bash
# Run the whole test suite from a fresh machine: sets up what it needs, then pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -m "not containers" tests/query).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# Style is checked, not remembered: lint and format (pyproject.toml [tool.ruff]) before the tests.
.venv/bin/ruff check --quiet . || { echo "test: ruff check failed (.venv/bin/ruff check --fix . mends most)" >&2; exit 1; }
.venv/bin/ruff format --check --quiet . || { echo "test: not formatted (run .venv/bin/ruff format .)" >&2; exit 1; }
exec .venv/bin/python -m pytest "$@"
