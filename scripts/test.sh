#!/usr/bin/env bash
# Run the whole test suite from a fresh machine: sets up what it needs, then pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -m "not containers" tests/query).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
exec .venv/bin/python -m pytest "$@"
