"""`python -m steps <command>` runs the same CLI as `kepler-model`."""

from .cli import entrypoint

entrypoint()
