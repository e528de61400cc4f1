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
from .common.signals import finish as finish_signals
from .common.signals import install as install_signal_handlers
from .contract import CONSOLE_COMMAND, IMAGE_STEPS_VARIABLE, CliCommand, Step, commands_by_name, image_provides

# command -> what implements it (build_parser() and run(args, env, console) -> int): the three pipeline
# steps and `run`, from the step contract (steps/contract/).
COMMANDS: Dict[str, CliCommand] = commands_by_name()


def _top_help() -> str:
    lines = [f"usage: {CONSOLE_COMMAND} <command> [flags]", "", "pipeline steps (each has its own image):"]
    lines += [f"  {c.name:<7} {c.summary}" for c in COMMANDS.values() if isinstance(c, Step)]
    lines += ["", "other commands:"]
    lines += [f"  {c.name:<7} {c.summary}" for c in COMMANDS.values() if not isinstance(c, Step)]
    lines += ["", f"Run '{CONSOLE_COMMAND} <command> --help' for the flags of a command."]
    return "\n".join(lines)


def main(
    argv: Optional[List[str]] = None,
    environ: Optional[dict] = None,
    out: Optional[TextIO] = None,
    err: Optional[TextIO] = None,
) -> int:
    """Run one command; its exit status (0 success, 1 failure, 2 usage error)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    env = Environment(dict(os.environ) if environ is None else environ)
    out = out or sys.stdout
    err = err or sys.stderr
    if not argv or argv[0] in ("-h", "--help"):
        print(_top_help(), file=out if argv else err)
        return 0 if argv else 2
    if argv[0] == "--version":
        print(f"{CONSOLE_COMMAND} {__version__}", file=out)
        return 0
    command = argv[0]
    console = Console(command if command in COMMANDS else "", out=out, err=err)
    try:
        if command not in COMMANDS:
            console.command = command
            raise UsageError(f"unknown command {command!r}; choose one of {', '.join(COMMANDS)}")
        allowed = env.get(IMAGE_STEPS_VARIABLE)
        if allowed and not image_provides(allowed, command):
            raise StepError(f"this image does not provide the '{command}' step")
        module = importlib.import_module(COMMANDS[command].module)
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
    try:
        code = main()
    except Interrupted as stop:  # landed after main's own handling ended
        print(f"kepler-model: error: {stop.message}", file=sys.stderr)
        code = stop.exit_code
    finally:
        finish_signals()
    sys.exit(code)


if __name__ == "__main__":
    entrypoint()
