"""The main job on built-in sample data: synthetic Kepler metrics in a local Prometheus, then query,
train and export with `kepler-model`. No cluster needed; the power function is known, so the
printed comparison shows how close the trained models come to the truth.

`--kepler 0.7` (default): Kepler 0.7 containers, `kepler-model run`. `--kepler 0.10`: a Kepler 0.10
node (per-zone functions of the node's CPU time, feature group CPUTimeOnly). `--vm`: a Kepler 0.10
VM host and its guests' node_exporter in a second Prometheus (VM models, feature group OSCounters).
Where this build cannot train the case yet, the demo says so after serving the data.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional

from .demo07 import demo_07


def build_parser() -> argparse.ArgumentParser:
    """The demo's flags."""
    parser = argparse.ArgumentParser(
        prog="python -m steps.demo",
        description="Run query -> train -> export on generated Kepler data served by a local Prometheus.",
    )
    parser.add_argument(
        "--workspace",
        default="demo-workspace",
        help="folder for the workspace, the models and the model database (default: %(default)s)",
    )
    parser.add_argument("--kepler", choices=("0.7", "0.10"), default="0.7", help="Kepler generation (default: 0.7)")
    parser.add_argument("--vm", action="store_true", help="a Kepler 0.10 VM host and its guests (implies 0.10)")
    parser.add_argument("--vms", type=int, default=4, help="VMs with --vm (default: %(default)s)")
    parser.add_argument("--containers", type=int, default=10, help="benchmark containers (default: %(default)s)")
    parser.add_argument("--duration", type=int, default=7200, help="seconds of data (default: %(default)s)")
    parser.add_argument(
        "--power",
        choices=("linear", "saturating"),
        default="linear",
        help="the known power function (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of the data (default: %(default)s)")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run the demo end to end; its exit status."""
    args = build_parser().parse_args(argv)
    root = Path(args.workspace).resolve()
    if args.vm or args.kepler == "0.10":
        from .demo010 import demo_010

        return demo_010(args, root)
    return demo_07(args, root)


if __name__ == "__main__":
    sys.exit(main())
