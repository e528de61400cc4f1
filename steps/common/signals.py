"""SIGTERM and SIGINT as an exception, so a stopped step cleans up and says so in one line.

Kubernetes stops a pod with SIGTERM. Python's default is to die at once, leaving staging folders
behind and printing nothing. `install()` turns the signal into `Interrupted`, which unwinds
through every `finally` (staging is discarded, workers stopped) up to the command line, which
prints one error line and exits with 128 + the signal number. `Interrupted` is not an
`Exception`: code that turns any error of one model into a failed model must not swallow it.

The handler only records the request; the step raises it at its next `check()`, which it calls
between units of work (an input read, a training set, a pool result, a request answered, a plot,
before a commit). An exception thrown from a signal handler into arbitrary code is not safe: the
crash matrix found it swallowed by a library's bare `except` inside an import (leaving the import
lock taken: a later import hung), and matplotlib left in a state that raised odd errors or
crashed. Only inside `interruptible()` (the query step's network waits) does the handler raise at
once, and never inside `deferred()` or while an import holds the interpreter's import lock.
"""

from __future__ import annotations

import _imp
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


# Main thread only. requested: the first signal received (0: none); raised: it was raised once by
# the handler (a second signal must not cut short the clean-up the first one started); deferring:
# nesting depth of `deferred`; finished: the step's outputs are published, nothing is left to stop.
_state = {"requested": 0, "raised": False, "deferring": 0, "finished": False, "interruptible": 0}


def _handle(signum: int, _frame: Any) -> None:
    if _state["finished"]:
        return
    if not _state["requested"]:
        _state["requested"] = signum
    if _state["raised"] or not _state["interruptible"] or _state["deferring"] or _imp.lock_held():
        return  # raised by the next check() or at the end of `deferred`
    _state["raised"] = True
    raise Interrupted(_state["requested"])


def install() -> None:
    """Raise `Interrupted` in the main thread on SIGTERM and SIGINT (no-op outside the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return
    _state.update(requested=0, raised=False, deferring=0, finished=False, interruptible=0)
    for signum in HANDLED:
        signal.signal(signum, _handle)


def requested() -> bool:
    """Whether a stop was asked for (for loops that wait with a timeout)."""
    return bool(_state["requested"])


def finish() -> None:
    """The step's outputs are in place (or it has ended): from now on a signal changes nothing and is
    ignored, so a step stopped in its last moments still exits 0 with complete outputs."""
    _state["finished"] = True
    if threading.current_thread() is threading.main_thread():
        for signum in HANDLED:
            # The kernel ignores it from now on: at exit the interpreter puts back the default action
            # for a Python handler (a late SIGTERM would then kill a finished step), not for SIG_IGN.
            if signal.getsignal(signum) is _handle:
                signal.signal(signum, signal.SIG_IGN)


def check() -> None:
    """Raise `Interrupted` if a signal came: call between units of work, in the main thread."""
    if _state["finished"]:
        return
    if _state["requested"] and not _state["deferring"] and threading.current_thread() is threading.main_thread():
        _state["raised"] = True
        raise Interrupted(_state["requested"])


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """A block whose waits a signal may cut short at once (network calls: nothing to corrupt that
    outlives the step); a stop asked for before it is raised on entry."""
    check()
    _state["interruptible"] += 1
    try:
        yield
    finally:
        _state["interruptible"] -= 1


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGTERM and SIGINT until the block ends: the few renames of a commit run as one unit.

    A signal that arrives meanwhile raises `Interrupted` right after the block (unless the block
    failed, or `finish` was called in it: a commit that got through has nothing left to stop).
    The handler, not the signal mask, holds it: the kernel may hand a process signal to any thread
    (BLAS, zip writers), and CPython runs the handler in the main thread regardless.
    SIGKILL cannot be held; the commit journal (steps/common/publish.py) covers it.
    """
    _state["deferring"] += 1
    try:
        yield
    finally:
        _state["deferring"] -= 1
    check()


def mark_outcome(stop: Interrupted, outcome: str) -> None:
    """Record what the interrupted step left behind, unless an inner step already said."""
    if stop.outcome is None:
        stop.outcome = outcome


PAUSE_VARIABLE = "KEPLER_MODEL_TEST_PAUSE_AT"


def checkpoint(name: str) -> None:
    """A named moment of a commit. The crash-safety tests set KEPLER_MODEL_TEST_PAUSE_AT to one of
    them: the process stops itself (SIGSTOP) there, so that a real SIGTERM or SIGKILL lands at
    exactly that moment. Unset (always, outside those tests), it does nothing."""
    if os.environ.get(PAUSE_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGSTOP)
