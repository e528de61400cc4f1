"""SIGTERM and SIGINT as an exception, so a stopped step cleans up and says so in one line.

Kubernetes stops a pod with SIGTERM. Python's default is to die at once, leaving staging folders
behind and printing nothing. `install()` turns the signal into `Interrupted`, which unwinds
through every `finally` (staging is discarded, workers stopped) up to the command line, which
prints one error line and exits with 128 + the signal number. `Interrupted` is not an
`Exception`: code that turns any error of one model into a failed model must not swallow it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from typing import Any, Iterator, Optional

HANDLED = (signal.SIGTERM, signal.SIGINT)


class Interrupted(BaseException):
    """The process got SIGTERM or SIGINT; `outcome` says what the step left (set by the step)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.outcome: Optional[str] = None

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def message(self) -> str:
        text = f"interrupted by {signal.Signals(self.signum).name}"
        return f"{text}; {self.outcome}" if self.outcome else text


_raised = threading.Event()
_deferral = {"depth": 0, "pending": 0}  # main thread only: nesting of `deferred`, signal held meanwhile


def _raise(signum: int, _frame: Any) -> None:
    # Once only: a second signal must not cut short the clean-up the first one started.
    if _raised.is_set():
        return
    if _deferral["depth"]:
        _deferral["pending"] = signum
        return
    _raised.set()
    raise Interrupted(signum)


def install() -> None:
    """Raise `Interrupted` in the main thread on SIGTERM and SIGINT (no-op outside the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return
    _raised.clear()
    _deferral.update(depth=0, pending=0)
    for signum in HANDLED:
        signal.signal(signum, _raise)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGTERM and SIGINT until the block ends: the few renames of a commit run as one unit.

    A signal that arrives meanwhile raises `Interrupted` right after the block (unless the block
    failed). The handler, not the signal mask, holds it: the kernel may hand a process signal to
    any thread (BLAS, zip writers), and CPython runs the handler in the main thread regardless.
    SIGKILL cannot be held; the commit journal (steps/common/publish.py) covers it.
    """
    _deferral["depth"] += 1
    try:
        yield
    finally:
        _deferral["depth"] -= 1
    pending = _deferral["pending"]
    if pending and not _deferral["depth"]:
        _deferral["pending"] = 0
        _raise(pending, None)


def mark_outcome(stop: Interrupted, outcome: str) -> None:
    """Record what the interrupted step left behind, unless an inner step already said."""
    if stop.outcome is None:
        stop.outcome = outcome


PAUSE_VARIABLE = "KEPLER_MODEL_TEST_PAUSE_AT"


def checkpoint(name: str) -> None:
    """A named moment of a commit. The crash-safety tests set KEPLER_MODEL_TEST_PAUSE_AT to one of
    them: the process stops itself there (SIGSTOP), so that a real SIGTERM or SIGKILL lands at
    exactly that moment. Unset (always, outside those tests), it does nothing."""
    if os.environ.get(PAUSE_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGSTOP)
