"""`python -m steps <command>` runs the same CLI as `kepler-model`."""

import sys

from .common.signals import Interrupted, install

install()  # before the heavier imports: a SIGTERM during start-up also ends with one line
try:
    from .cli import entrypoint
except Interrupted as stop:
    print(f"kepler-model: error: {stop.message}", file=sys.stderr)
    sys.exit(stop.exit_code)

entrypoint()
