#!/usr/bin/env bash
# The main job end to end on built-in sample data, from a fresh machine: set up, start a local
# Prometheus with generated Kepler metrics, run query -> train -> export. Arguments go to the demo
# (see: .venv/bin/python -m steps.demo --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m steps.demo "$@"
