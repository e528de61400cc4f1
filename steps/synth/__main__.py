"""Entry point of `python -m steps.synth`."""

import sys

from .cli import main

sys.exit(main())
