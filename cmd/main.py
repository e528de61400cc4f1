"""`python cmd/main.py <command> ...` from a checkout, as the user documentation invokes it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from steps.cli import entrypoint  # noqa: E402

if __name__ == "__main__":
    entrypoint()
