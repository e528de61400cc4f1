"""The `kepler-model` command: dispatch to one step, turn failures into one line and an exit status."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from typing import Dict, List, Optional, TextIO

from . import __version__
from .common.config import Environment
from .common.console import Console
from .common.errors import StepError, UsageError
from .common.flags import add_legacy_flags, ignored_legacy_flags, parse_bool
from .common.signals import Interrupted
from .common.signals import install as install_signal_handlers

# command -> module with build_parser() and run(args, env, console) -> int
COMMANDS: Dict[str, str] = {
    "query": "steps.query.cli",
    "train": "steps.train.cli",
    "export": "steps.export.cli",
    "run": "steps.local_run.cli",
}
SUMMARY = {
    "query": "collect Kepler metrics for a benchmark window from Prometheus into the workspace",
    "train": "train power models from collected metrics into a pipeline folder",
    "export": "publish the models under the error thresholds into a kepler-model-db folder",
    "run": "run query, train and export in order on this machine (no cluster needed)",
}
# Set in each step image: the steps that image can run (workspace.md §1.1).
IMAGE_STEPS_VARIABLE = "KEPLER_MODEL_IMAGE_STEPS"


def _top_help() -> str:
    lines = ["usage: kepler-model <command> [flags]", "", "commands:"]
    lines += [f"  {name:<7} {SUMMARY[name]}" for name in COMMANDS]
    lines += ["", "Run 'kepler-model <command> --help' for the flags of a command."]
    return "\n".join(lines)


def main(
    argv: Optional[List[str]] = None,
    environ: Optional[dict] = None,
    out: Optional[TextIO] = None,
    err: Optional[TextIO] = None,
) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    env = Environment(dict(os.environ) if environ is None else environ)
    out = out or sys.stdout
    err = err or sys.stderr
    if not argv or argv[0] in ("-h", "--help"):
        print(_top_help(), file=out if argv else err)
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"kepler-model {__version__}", file=out)
        return 0
    command = argv[0]
    console = Console(command if command in COMMANDS else "", out=out, err=err)
    try:
        if command not in COMMANDS:
            console.command = command
            raise UsageError(f"unknown command {command!r}; choose one of {', '.join(COMMANDS)}")
        allowed = env.get(IMAGE_STEPS_VARIABLE)
        if allowed and command not in [s.strip() for s in allowed.split(",")]:
            raise StepError(f"this image does not provide the '{command}' step")
        module = importlib.import_module(COMMANDS[command])
        parser = module.build_parser()
        add_legacy_flags(parser)
        args = parser.parse_args(argv[1:])
        for flag in ignored_legacy_flags(args):
            console.warn(f"{flag} is not used by {command} and is ignored")
        return int(module.run(args, env, console) or 0)
    except SystemExit as stop:  # argparse --help
        return int(stop.code or 0)
    except StepError as failure:
        console.error(str(failure))
        _maybe_traceback(env, err)
        return failure.exit_code
    except Interrupted as stop:
        console.error(stop.message)
        _maybe_traceback(env, err)
        return stop.exit_code
    except KeyboardInterrupt:
        console.error("interrupted")
        return 130
    except Exception as failure:  # noqa: BLE001 - the one place that turns bugs into one line
        console.error(f"unexpected {type(failure).__name__}: {failure} (set KEPLER_MODEL_DEBUG=true for details)")
        _maybe_traceback(env, err)
        return 1


def _maybe_traceback(env: Environment, err: TextIO) -> None:
    try:
        debug = parse_bool(env.get("KEPLER_MODEL_DEBUG") or "false")
    except UsageError:
        debug = False
    if debug:
        traceback.print_exc(file=err)


def entrypoint() -> None:
    """Console-script entry point: SIGTERM/SIGINT end a step with one line (steps/common/signals.py)."""
    install_signal_handlers()
    sys.exit(main())


if __name__ == "__main__":
    entrypoint()
