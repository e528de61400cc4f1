#!/usr/bin/env bash
# The main job end to end on built-in sample data, from a fresh machine: set up, start a local
# Prometheus with generated Kepler metrics, run query -> train -> export. Arguments go to the demo
# (see: .venv/bin/python -m steps.demo --help):
#   bash scripts/demo.sh                  Kepler 0.7: 10 containers, 2 h, the known power function vs. the models
#   bash scripts/demo.sh --kepler 0.10    Kepler 0.10 node: known per-zone functions of CPU time (CPUTimeOnly)
#   bash scripts/demo.sh --vm             Kepler 0.10 VM host + guests' node_exporter in a second Prometheus:
#                                         the known per-VM relation vs. OSCounters models (--vms N, default 4)
# A 0.10 case this build cannot train yet is generated and served, and the demo says what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m steps.demo "$@"
