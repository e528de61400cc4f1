"""Guards of a local run: every step's arguments checked before the first step, one error line per failure.

`check_commands` puts each step's command line through that step's own parser and the pure function
the step itself calls first to turn flags into settings, so a bad `--publisher` (export) or window
(query) stops `kepler-model run` before query has written anything, by the steps' own rules: none is
repeated here. Nothing is read from a server and nothing is written.

`ErrorLineWatch` wraps the stream a step writes its errors to, so that the run adds its own error
line only when the failing step printed none.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Dict, List, Mapping, Sequence, TextIO, Tuple

from ..common.config import Environment
from ..common.errors import StepError, UsageError
from ..common.flags import add_legacy_flags
from ..contract import step_named


def _query(args: Any, env: Environment) -> None:
    from ..query.cli import settings_from_args
    from ..query.window import check_request

    settings = settings_from_args(args, env)
    check_request(settings.window, settings.output)  # the window flags: query's first check, before any write


def _train(args: Any, env: Environment) -> None:
    from ..train.cli import options_from_args

    options_from_args(args, env)


def _export(args: Any, env: Environment) -> None:
    from ..export.settings import settings_from_args

    settings_from_args(args, env)


# step -> its pure flags-to-settings check (usage errors only, no file read or written)
CHECKS: Dict[str, Callable[[Any, Environment], None]] = {"query": _query, "train": _train, "export": _export}


def check_commands(commands: Sequence[Tuple[str, List[str]]], environ: Mapping[str, str]) -> None:
    """Parse and check every step's arguments as the step would; the first problem is raised, prefixed
    with the step that refuses it (a UsageError stays a UsageError: exit 2)."""
    env = Environment(dict(environ))
    for step, argv in commands:
        parser = importlib.import_module(step_named(step).module).build_parser()
        add_legacy_flags(parser)  # as the dispatcher does
        try:
            CHECKS[step](parser.parse_args(argv), env)
        except StepError as failure:
            error = UsageError if isinstance(failure, UsageError) else StepError
            raise error(f"{step}: {failure}") from None


class ErrorLineWatch:
    """A text stream passing everything to `stream`, noting whether an `error:` line went through."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.seen = False

    def write(self, text: str) -> int:
        if ": error: " in text:
            self.seen = True
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())
